"""Dynamic analysis 动态分析 (issue 17): use against plan and permit, by division and industry,
the top movers against last year, and the online coverage of the users the rules oblige to
monitor online. Read-only, in the account's scope, each in a fixed number of aggregate queries.

Counted use is what the rules count: accepted live monthly readings (a flagged month waits for
review and is left out, as everywhere else).
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from registry import access
from registry.domain import due
from registry.domain import plans as plan_rules
from registry.domain import warnings as detection
from registry.domain.dates import add_months, month_start
from registry.domain.facts import PermitFact
from registry.domain.plans import PlanVersionFact
from registry.models import AnnualPlan, Meter, Permit, PlanVersion, Reading, UseWarning, WaterUser

COUNTED = (Reading.read_on.is_(None), Reading.closed_at.is_(None), Reading.status == "accepted")


def _month_end(month: date) -> date:
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


# --- one file ----------------------------------------------------------------------------------


@dataclass
class FileMonths:
    months: list[date]
    use: list[float | None]
    plan: list[float | None]  # the plan's allowance of the month (its breakdown, its versions)
    permit: list[float | None]  # the permitted annual volume in force ÷ 12
    bands: list[tuple[float, float] | None]  # the expected band (domain.warnings.expected_band)


def permit_facts(rows) -> dict[int, list[PermitFact]]:
    """The permits of ``permit_rows`` by file, each ending the day before its revocation (the
    permitted volume of a day counts the permits in force on it)."""
    out: dict[int, list[PermitFact]] = defaultdict(list)
    for p in rows:
        end = p.valid_to if p.revoked_on is None else min(p.valid_to, p.revoked_on - timedelta(days=1))
        if end >= p.valid_from:
            out[p.water_user_id].append(PermitFact(p.id, p.number, p.valid_from, end, p.annual_volume_m3, frozenset()))
    return out


def permit_rows(where):
    return select(Permit.id, Permit.water_user_id, Permit.number, Permit.valid_from, Permit.valid_to,
                  Permit.annual_volume_m3, Permit.revoked_on).where(Permit.closed_at.is_(None), *where)


def file_months(session: Session, water_user_id: int, rules, today: date, months: int = 24) -> FileMonths:
    """The file's counted use of the last ``months`` months (this one included) against the plan's
    allowance, the permit's monthly share and the band the rules expect: four queries."""
    last = month_start(today)
    span = [add_months(last, -n) for n in range(months - 1, -1, -1)]
    first = add_months(span[0], -12)
    use: dict[date, float] = defaultdict(float)
    for period, volume in session.execute(
            select(Reading.period, func.sum(Reading.volume_m3)).where(
                Reading.water_user_id == water_user_id, Reading.period >= first, *COUNTED).group_by(Reading.period)):
        use[period] += volume or 0.0
    permits = permit_facts(session.execute(permit_rows([Permit.water_user_id == water_user_id]))).get(water_user_id, [])
    versions: dict[int, list[PlanVersionFact]] = defaultdict(list)
    plans = {p.year: p for p in session.execute(
        select(AnnualPlan.id, AnnualPlan.year, AnnualPlan.planned_volume_m3).where(
            AnnualPlan.water_user_id == water_user_id, AnnualPlan.closed_at.is_(None)))}
    for v in session.scalars(select(PlanVersion).where(PlanVersion.plan_id.in_([p.id for p in plans.values()]))):
        versions[v.plan_id].append(PlanVersionFact(v.effective_from, v.planned_volume_m3, v.breakdown,
                                                   tuple(v.shares or ())))
    plan_share, permit_share = [], []
    for m in span:
        plan = plans.get(m.year)
        if plan is None:
            plan_share.append(None)
        else:
            vs = versions.get(plan.id) or [PlanVersionFact(date(m.year, 1, 1), plan.planned_volume_m3)]
            plan_share.append(float(plan_rules.allowance(vs, m, add_months(m, 1))))
        permitted = due.max_permitted_volume(permits, m, _month_end(m))
        permit_share.append(None if permitted is None else permitted / 12)
    counted = dict(use)
    return FileMonths(span, [use.get(m) for m in span], plan_share, permit_share,
                      [detection.expected_band(counted, m, rules) for m in span])


# --- the city -------------------------------------------------------------------------------


@dataclass
class CityMonths:
    months: list[date]
    use: list[float]
    last_year: list[float]


def city_months(session: Session, account, today: date, months: int = 12) -> CityMonths:
    """Counted use of the files in scope by month, against the same months of the year before."""
    last = month_start(today)
    span = [add_months(last, -n) for n in range(months - 1, -1, -1)]
    totals = dict(session.execute(access.scoped(
        select(Reading.period, func.sum(Reading.volume_m3)).join(WaterUser, WaterUser.id == Reading.water_user_id)
        .where(Reading.period >= add_months(span[0], -12), *COUNTED).group_by(Reading.period), account)).all())
    return CityMonths(span, [totals.get(m) or 0.0 for m in span], [totals.get(add_months(m, -12)) or 0.0 for m in span])


def by_group(session: Session, account, month: date, column) -> list[tuple[str, float, float]]:
    """(group, use of ``month``, use of the same month last year) by division or industry section."""
    year_ago = add_months(month, -12)
    rows = session.execute(access.scoped(
        select(column, func.sum(case((Reading.period == month, Reading.volume_m3), else_=0.0)),
               func.sum(case((Reading.period == year_ago, Reading.volume_m3), else_=0.0)))
        .join(WaterUser, WaterUser.id == Reading.water_user_id)
        .where(Reading.period.in_([month, year_ago]), *COUNTED).group_by(column), account)).all()
    return sorted(((g, now or 0.0, before or 0.0) for g, now, before in rows), key=lambda r: -r[1])


@dataclass
class Mover:
    water_user_id: int
    file_no: str
    name: str
    use: float
    last_year: float

    @property
    def change(self) -> float:
        return self.use - self.last_year

    @property
    def percent(self) -> float | None:
        return None if not self.last_year else self.change / self.last_year * 100


def top_movers(session: Session, account, month: date, limit: int = 10) -> tuple[list[Mover], list[Mover]]:
    """The files whose use of ``month`` rose and fell most against the same month last year (by
    m³), among those with a counted reading in both: two aggregate queries."""
    year_ago = add_months(month, -12)
    now = func.sum(case((Reading.period == month, Reading.volume_m3), else_=0.0))
    before = func.sum(case((Reading.period == year_ago, Reading.volume_m3), else_=0.0))
    both = func.count(func.distinct(Reading.period)) == 2
    base = access.scoped(
        select(WaterUser.id, WaterUser.file_no, WaterUser.name, now, before)
        .join(WaterUser, WaterUser.id == Reading.water_user_id)
        .where(Reading.period.in_([month, year_ago]), *COUNTED)
        .group_by(WaterUser.id, WaterUser.file_no, WaterUser.name).having(both), account)
    up = [Mover(*r) for r in session.execute(base.order_by((now - before).desc(), WaterUser.file_no).limit(limit))]
    down = [Mover(*r) for r in session.execute(base.order_by((now - before).asc(), WaterUser.file_no).limit(limit))]
    return [m for m in up if m.change > 0], [m for m in down if m.change < 0]


@dataclass
class Coverage:
    """Online coverage of the users that must be monitored online (permitted ≥ the rules'
    ``online_monitoring_m3_per_year``, tasks 46–47), by division."""

    required: int = 0
    online: int = 0  # with an online meter in service
    reporting: int = 0  # … that reported within the rules' silence allowance
    by_division: dict[str, list[int]] = field(default_factory=dict)  # code → [required, online, reporting]


def coverage(session: Session, account, today: date, rules) -> Coverage:
    """Three queries: the permits in force today, the online meters, their last daily reading."""
    threshold = rules.thresholds.online_monitoring_m3_per_year
    files = dict(session.execute(access.scoped(select(WaterUser.id, WaterUser.division_code)
                                               .where(WaterUser.status == "active"), account)).all())
    permits = permit_facts(session.execute(access.scoped(
        permit_rows([Permit.valid_from <= today, Permit.valid_to >= today])
        .join(WaterUser, WaterUser.id == Permit.water_user_id).where(WaterUser.status == "active"), account)))
    required = {wu for wu, ps in permits.items() if wu in files and due.permitted_volume_among(ps) >= threshold}
    online = set(session.scalars(access.scoped(
        select(Meter.water_user_id).join(WaterUser, WaterUser.id == Meter.water_user_id)
        .where(Meter.telemetry_id.is_not(None), Meter.removed_on.is_(None), Meter.closed_at.is_(None)), account)))
    since = today - timedelta(days=max(1, rules.monitoring.silence_hours // 24))
    reporting = set(session.scalars(access.scoped(
        select(Reading.water_user_id).join(WaterUser, WaterUser.id == Reading.water_user_id)
        .where(Reading.read_on >= since, Reading.source == "online", Reading.closed_at.is_(None),
               Reading.status != "rejected").distinct(), account)))
    out = Coverage()
    for wu in required:
        row = out.by_division.setdefault(files[wu], [0, 0, 0])
        row[0] += 1
        out.required += 1
        if wu in online:
            row[1] += 1
            out.online += 1
            if wu in reporting:
                row[2] += 1
                out.reporting += 1
    return out


# --- one warning's evidence ------------------------------------------------------------------------------


@dataclass
class Evidence:
    months: list[date]
    volumes: list[float | None]  # the month's live reading (the meter's, else the file's total)
    bands: list[tuple[float, float] | None]  # expected band of each month (domain.warnings.expected_band)
    flagged: list[bool]


def warning_series(session: Session, warning: UseWarning, rules, today: date, months: int = 24) -> Evidence:
    """The monthly series behind a warning: its meter's (or its file's) live monthly readings of the
    ``months`` months up to the later of the warning's month and this month, with the expected band
    of each month, in one query."""
    current = date(today.year, today.month, 1)
    last = max(warning.period, current)
    span = [add_months(last, -n) for n in range(months - 1, -1, -1)]
    first = add_months(span[0], -12)
    who = (Reading.meter_id == warning.meter_id) if warning.meter_id else (Reading.water_user_id == warning.water_user_id)
    live: dict[date, float] = defaultdict(float)
    counted: dict[date, float] = defaultdict(float)
    held: set[date] = set()
    for period, volume, status in session.execute(
            select(Reading.period, Reading.volume_m3, Reading.status)
            .where(who, Reading.period >= first, Reading.read_on.is_(None), Reading.closed_at.is_(None),
                   Reading.status.in_(("accepted", "pending", "flagged")))):
        live[period] += volume
        if status == "accepted":
            counted[period] += volume
        else:
            held.add(period)
    bands = [detection.expected_band(counted, m, rules) for m in span]
    if warning.evidence.get("low") is not None and warning.evidence.get("high") is not None and warning.period in span:
        bands[span.index(warning.period)] = (warning.evidence["low"], warning.evidence["high"])
    return Evidence(span, [live.get(m) for m in span], bands, [m in held for m in span])
