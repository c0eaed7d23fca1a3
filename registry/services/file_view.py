"""Read models: the one file (一户一档) and the water-user list, each in a fixed number of queries.

Statuses shown here (permit valid / renewal due, calibration due, balance test due) are computed
by ``registry.domain`` from the records and the rules; nothing here is stored by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session, aliased, selectinload

from registry import access, clock
from registry.domain import balance as balance_rules
from registry.domain import calibration as calib
from registry.domain.dates import add_months, month_start
from registry.domain.due import balance_required_since
from registry.domain.facts import FileFacts
from registry.domain.permits import days_to_expiry, permit_status
from registry.domain.reference import industry_by_code
from registry.models import (AuditEvent, BalanceTest, DueItem, Inspection, Meter, NameBigram, Permit, Reading,
                             Rectification, WaterUser)
from registry.models.cached import searchable_bigram
from registry.models.reading import UNCOUNTED_STATUSES
from registry.services import rules_versions
from registry.services.checks import CONTROL_CHARS
from registry.services.work_queue import status_is
from registry.services.errors import NotFound

TIMELINE_LIMIT = 200


@dataclass
class Chip:
    """A status shown in the file's header: what matters today, red when overdue."""

    kind: str
    status: str  # ok | due_soon | overdue
    text: str
    anchor: str
    due_on: date | None = None


@dataclass
class FileView:
    water_user: WaterUser
    today: date
    permits: list = field(default_factory=list)  # (permit, status, days_left)
    meters: list = field(default_factory=list)  # (meter, due_on, life_ends_on, status)
    meter_faults: dict = field(default_factory=dict)  # meter id -> why it is unverified (calibration.*)
    calibration_tolerance: float = 5.0
    readings: list = field(default_factory=list)  # monthly readings of the last 12 months
    online_days: int = 0  # days of the last 90 with an online reading
    monthly: list = field(default_factory=list)  # (month, volume, planned_pro_rata)
    balance_tests: list = field(default_factory=list)  # (test, indicators)
    balance_due_on: date | None = None
    balance_required: bool = False
    balance_error_limit: str = ""  # the rules' limit in percent, as written there ("5")
    open_rectifications: list = field(default_factory=list)
    timeline: list = field(default_factory=list)
    chips: list[Chip] = field(default_factory=list)

    @property
    def industry(self):
        return industry_by_code(self.water_user.industry_code)


def _live(items):
    return [i for i in items if i.closed_at is None]


def load_file(session: Session, account, water_user_id: int, today: date | None = None, rules=None) -> FileView:
    """Everything about one water user, in the same number of queries however large the file,
    judged under ``rules`` (default: the rules in force)."""
    today = today or clock.today()
    rules = rules or rules_versions.current(session)
    stmt = access.scoped(select(WaterUser).where(WaterUser.id == water_user_id), account).options(
        selectinload(WaterUser.intake_points),
        selectinload(WaterUser.permits).selectinload(Permit.intake_points),
        selectinload(WaterUser.permits).selectinload(Permit.renewed_by),
        selectinload(WaterUser.plans),
        selectinload(WaterUser.meters).selectinload(Meter.calibrations),
        selectinload(WaterUser.meters).selectinload(Meter.intake_point),
        selectinload(WaterUser.balance_tests),
        selectinload(WaterUser.industry_history),
        selectinload(WaterUser.inspections).selectinload(Inspection.items),
        selectinload(WaterUser.inspections).selectinload(Inspection.rectifications),
        selectinload(WaterUser.inspections).selectinload(Inspection.inspector),
        selectinload(WaterUser.documents),
        selectinload(WaterUser.evaluations),
        selectinload(WaterUser.certificates),
    )
    wu = session.execute(stmt).scalar_one_or_none()
    if wu is None:
        raise NotFound()
    view = FileView(water_user=wu, today=today)

    since = month_start(add_months(today, -11))
    view.readings = list(session.execute(
        select(Reading).where(Reading.water_user_id == wu.id, Reading.period >= since, Reading.read_on.is_(None))
        .options(selectinload(Reading.meter)).order_by(Reading.period.desc(), Reading.id.desc())).scalars())
    view.online_days = session.execute(
        select(func.count(func.distinct(Reading.read_on))).where(
            Reading.water_user_id == wu.id, Reading.read_on >= today - timedelta(days=90),
            Reading.source == "online", Reading.closed_at.is_(None))).scalar_one()
    view.timeline = list(session.execute(
        select(AuditEvent).where(AuditEvent.water_user_id == wu.id)
        .options(selectinload(AuditEvent.actor)).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(TIMELINE_LIMIT)).scalars())

    _permits(view, rules)
    _meters(view, rules)
    _monthly(view, since)
    _balance(view, rules)
    _rectifications(view)
    if wu.status == "suspended":  # due items paused (domain.due.is_paused): shown as suspended
        view.chips = [Chip("status", "due_soon", "file_suspended", "status")]
    return view


def _permits(view: FileView, rules) -> None:
    for p in view.water_user.permits:
        renewal = p.renewed_by if p.renewed_by is not None and p.renewed_by.closed_at is None else None
        status = "closed" if p.closed_at else permit_status(
            p.valid_from, p.valid_to, view.today, revoked_on=p.revoked_on,
            superseded=renewal is not None and renewal.valid_from <= view.today, rules=rules,
            renewal_applied_on=p.renewal_applied_on)
        view.permits.append((p, status, days_to_expiry(p.valid_to, view.today)))
    current = [row for row in view.permits if row[1] in ("valid", "renewal_due", "renewal_pending")]
    if current:
        p, status, days = min(current, key=lambda row: row[0].valid_to)
        if status == "renewal_pending":  # applied in time (art. 25), the bureau has not decided
            view.chips.append(Chip("permit", "due_soon", "renewal_pending_decision", "permits", p.valid_to))
            return
        chip_status = "due_soon" if status == "renewal_due" else "ok"
        view.chips.append(Chip("permit", chip_status, "permit_valid_until", "permits", p.valid_to))
    else:
        view.chips.append(Chip("permit", "overdue", "no_valid_permit", "permits"))


def _meters(view: FileView, rules) -> None:
    earliest = None
    view.calibration_tolerance = rules.calibration.in_place_tolerance_percent
    for m in view.water_user.meters:
        # Only verifications count (首次检定 / 后续检定); the calibrations come newest first.
        live = [c for c in m.calibrations if c.closed_at is None]
        verifications = [c for c in live if c.kind in calib.VERIFICATION_KINDS]
        last = max(verifications, key=lambda c: (c.calibrated_on, c.id), default=None)
        first = min((c.calibrated_on for c in verifications if c.kind == "initial" and c.passed), default=None)
        fault = (calib.NEVER_VERIFIED if last is None
                 else calib.verification_fault(last.kind, last.passed, last.error_pct, rules))
        due = None if last is None else calib.verification_due_on(
            m.meter_type, m.dn, m.q3, last.calibrated_on, rules, m.interval_months, last.next_due_on)
        life = calib.service_life_ends_on(m.meter_type, m.dn, m.q3, m.installed_on, rules,
                                          life_years_override=m.service_life_years, first_verified_on=first)
        deadline = calib.meter_deadline(due, life)
        status = calib.meter_due_status(deadline, view.today) if m.in_service else "ok"
        if fault is not None and m.in_service:
            status = "overdue"
            view.meter_faults[m.id] = fault
            deadline = last.calibrated_on if last is not None else m.installed_on
        view.meters.append((m, due, life, status))
        if m.in_service and deadline is not None and (earliest is None or deadline < earliest[0]):
            earliest = (deadline, status)
    if earliest is not None:
        view.chips.append(Chip("calibration", earliest[1], "calibration_due", "meters", earliest[0]))


def _monthly(view: FileView, since: date) -> None:
    by_month: dict[date, float] = {}
    for r in view.readings:
        if r.closed_at is None and r.status not in UNCOUNTED_STATUSES and r.read_on is None:
            by_month[r.period] = by_month.get(r.period, 0.0) + r.volume_m3
    plan = next((p for p in view.water_user.plans if p.year == view.today.year and p.closed_at is None), None)
    month = since
    months = []
    while month <= view.today:
        planned = plan.planned_volume_m3 / 12 if plan and month.year == plan.year else None
        months.append((month, by_month.get(month), planned))
        month = add_months(month, 1)
    view.monthly = months
    last_month = add_months(month_start(view.today), -1)
    active_meters = [m for m, *_ in view.meters if m.in_service]
    # Owed only from the file's history on: its opening and its first meter (domain.due).
    first_meter = min((m.installed_on for m, *_ in view.meters), default=None)
    starts = None if first_meter is None else month_start(max(view.water_user.opened_on, first_meter))
    if (active_meters and starts is not None and starts <= last_month and last_month not in by_month
            and view.today.day > 10):
        view.chips.append(Chip("readings", "overdue", "readings_missing", "readings", last_month))


def _balance(view: FileView, rules) -> None:
    wu = view.water_user
    tests = _live(wu.balance_tests)  # newest first
    for t in wu.balance_tests:
        view.balance_tests.append((t, balance_rules.indicators(t.vf, t.vr, t.vco, t.vd, t.vl, rules)))
    # A failed test (balance error beyond the rules' limit) is shown, and does not count.
    tests = [t for t in tests if not balance_rules.test_failed(t.vf, t.vr, t.vco, t.vd, t.vl, rules)]
    view.balance_required = balance_rules.balance_test_required(wu.industry_code, rules)
    view.balance_error_limit = f"{rules.water_balance.balance_error_limit_percent:g}"
    last = tests[0].tested_on if tests else None
    history = tuple((p.since, p.industry_code) for p in wu.industry_history)
    start = wu.opened_on if last is not None else balance_required_since(
        FileFacts(water_user_id=wu.id, opened_on=wu.opened_on, industry_code=wu.industry_code,
                  industry_history=history), rules)
    view.balance_due_on = balance_rules.balance_test_due_on(last, start, rules)
    if view.balance_required:
        status = calib.meter_due_status(view.balance_due_on, view.today, soon_days=90)
        view.chips.append(Chip("balance", status, "balance_due", "balance-tests", view.balance_due_on))


def _rectifications(view: FileView) -> None:
    for insp in view.water_user.inspections:
        for r in insp.rectifications:
            if r.closed_at is None and r.status != "verified":
                view.open_rectifications.append(r)
    if view.open_rectifications:
        overdue = any(r.deadline < view.today for r in view.open_rectifications)
        view.chips.append(Chip("rectification", "overdue" if overdue else "due_soon", "open_rectifications",
                               "inspections", min(r.deadline for r in view.open_rectifications)))


# --- the list --------------------------------------------------------------------------------

@dataclass
class ListFilters:
    q: str = ""
    division: str = ""
    industry: str = ""
    status: str = ""
    due: str = ""  # permit_expiring | permit_expired | no_permit | calibration_overdue | calibration_due_soon
    grade: str = ""  # A | B | C | D | none (not evaluated yet)
    opened: str = ""  # YYYY-MM: files opened that month

    FIELDS = ("q", "division", "industry", "status", "grade", "due", "opened")

    @classmethod
    def of(cls, args) -> ListFilters:
        """The filters in a query string (the list page, its export links, the dashboard's links)."""
        return cls(**{k: (args.get(k) or "")[:100] for k in cls.FIELDS})


CALIBRATION_FILTERS = {"calibration_overdue": "overdue", "calibration_due_soon": "due_soon"}


def water_user_list(session: Session, account, filters: ListFilters, today: date | None = None, rules=None):
    """A select of (WaterUser, latest permit end) for the list page, scoped to the account."""
    today = today or clock.today()
    rules = rules or rules_versions.current(session)
    stmt = access.scoped(select(WaterUser, WaterUser.permit_valid_to.label("permit_end")), account)
    q = CONTROL_CHARS.sub("", filters.q or "").strip()[:100]
    if q:
        stmt = stmt.where(WaterUser.id.in_(_matching_ids(q)))
    if filters.division:
        stmt = stmt.where(WaterUser.division_code == filters.division)
    if filters.industry:
        stmt = stmt.where(WaterUser.industry_code == filters.industry)
    if filters.status:
        stmt = stmt.where(WaterUser.status == filters.status)
    if filters.grade == "none":
        stmt = stmt.where(WaterUser.grade.is_(None))
    elif filters.grade:
        stmt = stmt.where(WaterUser.grade == filters.grade)
    opened = _month_of(filters.opened)
    if opened is not None:
        stmt = stmt.where(WaterUser.opened_on >= opened, WaterUser.opened_on < add_months(opened, 1))
    window = date.fromordinal(today.toordinal() + rules.permit.renewal_window_days)
    # On the file's copy of its latest live permit end (models/cached.py), indexed: worked out
    # from the permits, "no live permit" had to visit every file (0.3 s at 100,000 files).
    end = WaterUser.permit_valid_to
    if filters.due == "permit_expiring":
        stmt = stmt.where(end.between(today, window))
    elif filters.due == "permit_expired":
        stmt = stmt.where(end < today)
    elif filters.due == "no_permit":
        stmt = stmt.where(end.is_(None))
    elif filters.due in CALIBRATION_FILTERS:
        # The due items of the last refresh, computed by the due-date engine under the rules in
        # force (a verification interval or service life set by the published version).
        stmt = stmt.where(WaterUser.id.in_(
            select(DueItem.water_user_id).where(DueItem.kind.in_(("calibration", "service_life")),
                                                status_is(CALIBRATION_FILTERS[filters.due], today))))
    return stmt.order_by(WaterUser.file_no)


def water_user_rows(session: Session, ids: list[int]) -> list[tuple]:
    """(WaterUser, latest permit end) of the files ``ids``, in list order: one page of the list
    (paging.paginate_keys)."""
    if not ids:
        return []
    return [tuple(r) for r in session.execute(select(WaterUser, WaterUser.permit_valid_to)
                                               .where(WaterUser.id.in_(ids)).order_by(WaterUser.file_no))]


def _month_of(text: str) -> date | None:
    """2026-03 → 2026-03-01; anything else → None (the filter is ignored, as an unknown division is)."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1) if len(text) == 7 and 1900 <= year <= 2999 else None
    except ValueError:
        return None


def _matching_ids(q: str):
    """Ids of the files whose name, file number, USCC or a permit number contains ``q``.

    A union of one select per table rather than an OR with EXISTS on the list query: each side is
    a simple ILIKE, which PostgreSQL answers from its trigram index (pg_trgm GIN); an OR mixing a
    subquery would read every water user instead.
    """
    if searchable_bigram(q):
        # Two Chinese characters (饰品): trigrams need three, and reading every name took 0.1 s at
        # 100,000 files; the pairs of each name are kept for this (models/cached.py).
        return select(NameBigram.water_user_id).where(NameBigram.bigram == q)
    like = f"%{_escape_like(q)}%"
    # Without letters that have a case (Chinese, digits) LIKE finds the rows ILIKE finds, without
    # case-folding every name it reads.
    cased = q.lower() != q.upper()

    def contains(column):
        return column.ilike(like, escape="\\") if cased else column.like(like, escape="\\")

    user = aliased(WaterUser)
    if not q.isascii():  # file numbers, USCCs and permit numbers are ASCII (validators): only a name can match
        return select(user.id).where(contains(user.name))
    return union(
        select(user.id).where(or_(contains(user.name), contains(user.file_no), contains(user.uscc))),
        select(Permit.water_user_id).where(contains(Permit.number)))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
