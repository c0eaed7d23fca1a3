"""The bureau's dashboard figures: a fixed handful of aggregate queries, whatever the number of files.

Counts are of active files in the account's scope (the list links add ``status=active``); due
items are those of the work queue (same scope, same status rule); volumes are this year's monthly
readings against the monthly share of the permits in force and of the annual plans.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from registry import access
from registry.domain.dates import add_months, month_start
from registry.models import UNCOUNTED_STATUSES, AnnualPlan, DueItem, Permit, Reading, WaterUser
from registry.services.work_queue import DUE_KINDS, status_expression

GRADES = ("A", "B", "C", "D", "none")  # "none": not evaluated yet


@dataclass
class Breakdown:
    """Active files of one division or industry, by grade, and how many were opened in the last 12 months."""

    code: str
    by_grade: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))
    opened_recently: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_grade.values())


@dataclass
class Dashboard:
    today: date
    grades: dict[str, int]
    divisions: list[Breakdown]  # largest first
    industries: list[Breakdown]
    opened_by_month: list[tuple[date, int]]  # the last 12 months, oldest first
    due: dict[str, dict[str, int]]  # kind → {"overdue": n, "due_soon": n}
    volume: list[tuple[date, float | None, float, float]]  # month, read, permitted/12, planned/12

    @property
    def active(self) -> int:
        return sum(self.grades.values())

    @property
    def has_volume(self) -> bool:
        return any(read or permitted or planned for _month, read, permitted, planned in self.volume)


def summary(session: Session, account, today: date) -> Dashboard:
    scope = access.water_user_filter(account)
    since = month_start(add_months(today, -11))
    grades = dict.fromkeys(GRADES, 0)
    divisions: dict[str, Breakdown] = {}
    industries: dict[str, Breakdown] = {}
    recent = case((WaterUser.opened_on >= since, 1), else_=0)
    rows = session.execute(
        select(WaterUser.division_code, WaterUser.industry_code, WaterUser.grade, func.count(), func.sum(recent))
        .where(scope, WaterUser.status == "active")
        .group_by(WaterUser.division_code, WaterUser.industry_code, WaterUser.grade))
    for division, industry, grade, count, opened in rows:
        grade = grade if grade in GRADES else "none"
        grades[grade] += count
        for key, table in ((division, divisions), (industry, industries)):
            b = table.setdefault(key, Breakdown(key))
            b.by_grade[grade] += count
            b.opened_recently += opened or 0

    opened: dict[date, int] = defaultdict(int)
    for day, count in session.execute(  # at most 366 days: bucketed here, the same on every database
            select(WaterUser.opened_on, func.count()).where(scope, WaterUser.opened_on >= since)
            .group_by(WaterUser.opened_on)):
        opened[month_start(day)] += count
    months = [add_months(since, i) for i in range(12)]

    status = status_expression(today)
    due = {kind: {"overdue": 0, "due_soon": 0} for kind in DUE_KINDS}
    for kind, state, count in session.execute(
            select(DueItem.kind, status, func.count()).join(WaterUser, WaterUser.id == DueItem.water_user_id)
            .where(scope, WaterUser.status == "active").group_by(DueItem.kind, status)):
        if kind in due and state in due[kind]:
            due[kind][state] = count

    return Dashboard(
        today=today, grades=grades,
        divisions=sorted(divisions.values(), key=lambda b: (-b.total, b.code)),
        industries=sorted(industries.values(), key=lambda b: (-b.total, b.code)),
        opened_by_month=[(m, opened[m]) for m in months],
        due=due, volume=_volume(session, account, scope, today))


def _of_scope(stmt, account, scope, water_user_id):
    """Limit an aggregate over a child table to the account's files; no join when it sees them all
    (on 100,000 files the join doubled the time of this year's readings total)."""
    if access.sees_every_file(account):
        return stmt
    return stmt.join(WaterUser, WaterUser.id == water_user_id).where(scope)


def _volume(session: Session, account, scope, today: date) -> list[tuple[date, float | None, float, float]]:
    """Each month of this year: the monthly readings' total (None for months to come), and the
    monthly share of the permits in force that month and of the year's annual plans."""
    months = [date(today.year, m, 1) for m in range(1, 13)]
    # Grouped by the period itself (always the first of a month): cheaper than extracting the month.
    read = dict(session.execute(_of_scope(
        select(Reading.period, func.sum(Reading.volume_m3))
        .where(Reading.period >= months[0], Reading.period <= months[-1], Reading.read_on.is_(None),
               Reading.closed_at.is_(None), Reading.status.not_in(UNCOUNTED_STATUSES))
        .group_by(Reading.period), account, scope, Reading.water_user_id)).all())

    def in_force(start: date):
        end = add_months(start, 1)
        return func.sum(case((and_(Permit.valid_from < end, Permit.valid_to >= start,
                                   or_(Permit.revoked_on.is_(None), Permit.revoked_on > start)),
                              Permit.annual_volume_m3), else_=0))

    permitted = session.execute(_of_scope(
        select(*[in_force(m) for m in months])
        .where(Permit.closed_at.is_(None), Permit.valid_from <= date(today.year, 12, 31),
               Permit.valid_to >= months[0]), account, scope, Permit.water_user_id)).one()
    planned = session.execute(_of_scope(
        select(func.sum(AnnualPlan.planned_volume_m3))
        .where(AnnualPlan.year == today.year, AnnualPlan.closed_at.is_(None)),
        account, scope, AnnualPlan.water_user_id)).scalar() or 0.0
    current = month_start(today)
    return [(m, (read.get(m) or 0.0) if m <= current else None, (permitted[i] or 0.0) / 12, planned / 12)
            for i, m in enumerate(months)]
