"""规范评价 (compliance evaluation) of one file against a rules version.

``evaluate(facts, today, rules)`` scores the seven rules of domain.md ("Compliance
evaluation") and returns an :class:`Evaluation`: one :class:`RuleRow` per rule (in the order
of ``RULE_IDS``) and, for every point lost, a :class:`Finding` naming the reason (``code``),
the numbers a sentence needs (``params``), the records behind it (``records``) and the action
that restores the points (``restore``). No sentence is written here: the web layer
translates the codes. Every figure comes from ``rules``; the stored ``to_dict()`` re-renders
years later with the codes and params alone.

Finding codes (``lost`` is the share of the rule's points the reason costs):

=================================== ======================================================
code                                meaning
=================================== ======================================================
permit.none_valid                   no permit in force today (valid / renewal due): all
                                    permit points lost and, per the rules, a veto (grade D)
permit.uncovered_intake             an intake point on file is covered by no valid permit
permit.renewal_not_applied          a valid permit is within the renewal window (≤ 45
                                    days to expiry, inclusive) and no renewal was applied
                                    for in time (at least 45 days before expiry, art. 25;
                                    exactly 45 is in time; a late application loses these
                                    points too)
permit.renewal_pending              expired, its renewal applied for in time and not yet
                                    decided: in force meanwhile, ``lost`` 0 (shown only)
metering.no_intake_points           no intake point on file: nothing shows what is metered
metering.intake_without_meter       intake points with no meter in service
metering.no_meter_in_service        no meter in service: no verified meter to count
metering.meter_unverified           in-service meters with no verification on record, past
                                    their verification due date, or whose latest
                                    verification failed or was beyond the tolerance
                                    (``reasons``: never_verified | overdue | failed |
                                    out_of_tolerance, one per serial)
metering.meter_past_service_life    in-service mechanical meters past their service life
                                    (JJG 162-2019): recalibration does not help
online.coverage                     online monitoring required (≥ 10,000 m³/yr permitted)
                                    and too few days of the window had an online reading
planned_use.no_plan                 a plan is required (≥ 3,000 m³/yr permitted) and this
                                    year's plan is missing
planned_use.over_plan               the plan year's use above its plan beyond the rounding
                                    tolerance (no plan: the permitted volume); ``severity``
                                    the over-plan tier
planned_use.over_permit             the plan year's use above the whole permitted annual
                                    volume: ``lost`` 0, caps the grade (``grade_cap``)
water_balance.overdue               last water-balance test older than the interval
water_balance.never_tested          never tested and the first test (months after the
                                    file opened) is past due
records.late_or_missing             months of the window without an accepted reading
                                    submitted by the due day of the next month
inspections.overdue_rectification   one per rectification past its deadline, not verified
=================================== ======================================================

Restore codes: ``apply_permit`` (obtain a new permit), ``extend_permit_coverage`` (have a
permit cover the intake point), ``apply_permit_renewal`` (apply for the renewal),
``register_intake_point`` (record the intake points), ``add_meter`` (install a meter),
``calibrate_meter`` (have the meter verified), ``replace_meter`` (replace the meter),
``connect_online_monitoring`` (restore the online data feed), ``submit_plan`` (submit this
year's plan), ``reduce_intake`` (keep use within the plan), ``apply_permit_change`` (apply
for a larger permitted volume; otherwise the cap lasts the calendar year),
``book_balance_test`` (have a water-balance test done), ``submit_readings`` (submit the
monthly readings on time), ``rectify`` (complete the rectification and have it verified).

Record types: ``permit``, ``intake_point``, ``meter``, ``calibration``, ``plan``,
``balance_test``, ``rectification``, ``reading_month`` (id ``yyyymm``).

Edge cases, decided here:

- *Valid permit*: status ``valid``, ``renewal_due`` or ``renewal_pending`` on ``today`` (not
  revoked from its date, not superseded by a renewal that has started, started, not
  expired unless its renewal was applied for in time and awaits the bureau's decision).
  Several valid permits (one per source, S surface and G ground): their intake points are
  pooled for coverage, and the permitted volume is their *sum*
  (``due.permitted_volume_among``; of two of one source, the larger) for the thresholds,
  the plan basis and the over-permit cap. With no valid permit, the volume of the permit
  that lapsed last (among those already started) still decides the thresholds, so a lapse
  waives nothing; with no permit ever, 0 m³.
  Permit coverage of "every active intake point" holds vacuously with no intake points
  (metering catches that case). A renewal counts as applied only when
  ``renewal_applied_on`` ≤ today; one deduction whatever the number of expiring permits.
  Deductions apply in table order, clamped so the rule never goes below 0.
- *Metering*: intake points are those the loader passes (closed ones are left out);
  meters in service on ``today`` (a meter on a point no longer on file still counts in
  the calibration share, not in coverage). No intake point → the coverage share is 0, not full;
  no meter in service → the calibration share is 0, not full: a file with nothing to
  measure by earns nothing for measuring. A meter counts as verified on ``today`` when it
  has a verification (首次检定 / 后续检定) on record, its latest one counts
  (``calibration.verification_fault``: passed and within the tolerance) and
  ``calibration.is_verified_on(today, due, life)``, the due date computed from that
  verification by the rules in force (the certificate's date only when earlier), the
  service life from the first verification where known; both dates are the last
  verified day.
- *Online monitoring*: the window is the ``window_days`` days ending *yesterday* (today's
  readings may still be arriving); the denominator is always ``window_days``. The days
  with data are ``online_counted.days`` when the loader counted them (over exactly this
  window: another window is an error, not a guess), else those of ``online_days`` in it.
  The window is shortened to the file's history (``due.history_starts_on``: its opening and
  first meter; without a meter, its opening): a file opened 44 days ago is judged on 44 days,
  and one whose history starts today is not judged yet (full marks).
- *Planned use* (corrections of 2026-12): judged on a plan year's totals. The plan year is
  this calendar year over its ended months; in January (none has ended) the whole of last
  year, December included, so a file over last year's plan stays over until February, when
  the new plan year's evaluation replaces it. Use is the sum of the accepted monthly
  readings of those months; the basis is that year's plan (else the permitted volume on
  its last day counted) for the whole year, not pro rata (the plans carry no breakdown).
  Over % = (use − basis) ÷ basis × 100, exact, matched against the rules' tiers with their
  ``including`` flags, the first (within plan) widened by ``over_plan_tolerance_percent``
  (0.5: a few tenths of rounding is no tier); a basis of 0 and any use is over without
  bound (last tier, ``over_percent`` None). The plan points still ask for this year's plan,
  from the first plan year after the file's opening year (``due.plan_required_in``), and not
  while the file is suspended.
- *Water-balance test*: due date of :func:`registry.domain.due.balance_test_due_on`, the
  last day in time; the day after it is overdue.
- *Records*: the window is the last ``window_months`` ended months, not before the month
  the file was opened nor before the month its first meter was installed (no meter: nothing
  counted). A suspended file's months without a reading are not counted (paused). A month counts when it has an accepted reading first submitted on
  or before the rules' due day of the next month; a reading without a submission date is
  late (no proof it was on time). A month whose due day has not yet passed and with no
  on-time reading is *pending*: left out of both counts, so nobody loses points before
  the deadline. No month left → full points.
- *Inspections*: a rectification is overdue when its status is not ``verified`` and its
  deadline < today, unless the enterprise answered it on or before the deadline and it
  waits for the inspector's verification (``due.awaiting_verification``: the wait is the
  inspector's, corrections of 2026-12). One finding
  each, earliest deadline first; once the floor 0 is reached further ones lose 0.
- *Rounding*: all arithmetic is exact (integer ratios; volumes read as their decimal text); each
  rule's points are rounded half up to ``points_decimals``; the total is the sum of the
  rounded points. Findings' ``lost`` are rounded the same way and the largest one absorbs
  the rounding gap, so a row's ``lost`` always add up to ``maximum − points``.
- ``params`` hold JSON values only (dates as ISO strings, lists not tuples); ``Finding``
  is therefore not hashable.
"""

from __future__ import annotations

import copy
import sys
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from math import fsum
from operator import attrgetter
from collections.abc import Sequence
from typing import Any, TypeVar

from registry.domain import balance, calibration, plans
from registry.domain.dates import add_months, month_start
from registry.domain.due import (
    VALID_PERMIT_STATUSES,
    awaiting_verification,
    balance_test_due_after,
    last_balance_test,
    meter_calibration_due_on,
    meter_service_life_ends_on,
    meter_verification_fault,
    history_starts_on,
    is_paused,
    meters_in_service,
    online_monitoring_required,
    permit_status_of,
    permitted_volume,
    plan_of_year,
    plan_required,
    plan_required_in,
    reading_due_on,
    reading_month_id,
    reference_permit_among,
    renewal_applied,
)
from registry.domain.facts import FileFacts, MeterFact, PermitFact
from registry.domain.rules import RULE_IDS, OverPlanTier, Rules

Record = tuple[str, int]
_T = TypeVar("_T")


def _copy_json(value: Any) -> Any:
    """``copy.deepcopy`` of plain JSON values, without deepcopy's per-object bookkeeping
    (``to_dict`` runs for every stored evaluation). Anything else still goes to deepcopy."""
    kind = type(value)
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value  # immutable: deepcopy returns the same object
    return copy.deepcopy(value)


@dataclass(frozen=True)
class Finding:
    """One reason points were lost (see the module table for ``code`` and ``restore``)."""

    code: str
    lost: float
    params: dict[str, Any]
    records: tuple[Record, ...]
    restore: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "lost": self.lost,
            "params": _copy_json(self.params),
            "records": [[kind, record_id] for kind, record_id in self.records],
            "restore": self.restore,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            code=str(data["code"]),
            lost=float(data["lost"]),
            params=_copy_json(dict(data["params"])),
            records=tuple((str(kind), int(record_id)) for kind, record_id in data["records"]),
            restore=str(data["restore"]),
        )


@dataclass(frozen=True)
class RuleRow:
    """One rule of the evaluation: points earned of ``maximum``, and why any were lost."""

    rule: str
    points: float
    maximum: float
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "points": self.points,
            "maximum": self.maximum,
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleRow:
        return cls(
            rule=str(data["rule"]),
            points=float(data["points"]),
            maximum=float(data["maximum"]),
            findings=tuple(Finding.from_dict(f) for f in data["findings"]),
        )


@dataclass(frozen=True)
class Evaluation:
    """规范评价 result; ``to_dict()`` is JSON-ready and ``from_dict(to_dict(e)) == e``."""

    total: float
    grade: str
    veto: bool
    grade_cap: str | None
    rules_version: str
    evaluated_on: date
    rows: tuple[RuleRow, ...]

    def row(self, rule: str) -> RuleRow:
        return next(r for r in self.rows if r.rule == rule)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "grade": self.grade,
            "veto": self.veto,
            "grade_cap": self.grade_cap,
            "rules_version": self.rules_version,
            "evaluated_on": self.evaluated_on.isoformat(),
            "rows": [r.to_dict() for r in self.rows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        cap = data.get("grade_cap")
        return cls(
            total=float(data["total"]),
            grade=str(data["grade"]),
            veto=bool(data["veto"]),
            grade_cap=None if cap is None else str(cap),
            rules_version=str(data["rules_version"]),
            evaluated_on=date.fromisoformat(data["evaluated_on"]),
            rows=tuple(RuleRow.from_dict(r) for r in data["rows"]),
        )


def _built(cls: type[_T], fields: dict[str, Any]) -> _T:
    """``cls(**fields)`` for the frozen result classes above, built directly: a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__``, which made up
    a quarter of scoring a file. Same instance: the fields in ``__dict__``, in order."""
    instance = _new(cls)
    instance.__dict__.update(fields)
    return instance


_new = object.__new__


assert not any(hasattr(cls, "__post_init__") for cls in (Finding, RuleRow, Evaluation))


# --- exact arithmetic ------------------------------------------------------------------
#
# Boundaries must be decided exactly (95 % of a 90-day window, an over-plan tier at exactly
# 20 %, a grade edge at 60), so every score is a rational. Fraction is exact but normalises
# by gcd at every step, which made it most of the cost of a nightly recompute of 100,000
# files. A rational here is a pair of ints ``(numerator, denominator)``, denominator > 0:
# sums over a common denominator, comparisons by cross-multiplication, rounding by floor
# division. Same values, same decisions; never normalised, because nothing needs it.

Ratio = tuple[int, int]
# Below 1e12 adjacent floats are less than 2⁻¹³ apart, far closer than 0.001: two different
# numbers of at most three decimals never read as the same float there.
_FAST_LIMIT = 1e12


def _decimal(value: float) -> Ratio:
    """A float as the decimal it was written as (``0.95`` → 95/100, not its binary value).

    That decimal is ``repr``'s: the shortest that reads back as the same float. Volumes have
    a few decimals, so first try k/10, k/100, k/1000: when ``k / scale`` (correctly rounded)
    is the float, that decimal reads back as it, is the only one of at most three decimals
    that does (see ``_FAST_LIMIT``) and no longer one is shorter, so it is ``repr``'s.
    """
    try:
        if -_FAST_LIMIT < value < _FAST_LIMIT:
            for scale in (10, 100, 1000):
                k = round(value * scale)
                if k / scale == value:
                    return k, scale
    except TypeError:
        pass  # not a number: float() reads it, or raises, as before
    return _decimal_of_repr(value)


def _decimal_of_repr(value: float) -> Ratio:
    """:func:`_decimal` the long way: read ``repr``'s digits. Exponent forms (``1e-05``),
    inf and nan are left to Fraction, which reads them exactly (or raises) as before."""
    text = repr(float(value))
    whole, dot, digits = text.partition(".")
    if dot and "e" not in digits:
        return int(whole + digits), 10 ** len(digits)
    exact = Fraction(text)
    return exact.numerator, exact.denominator


def _decimal_sum(values: list[float]) -> Ratio:
    """Σ :func:`_decimal`, exactly; monthly volumes mostly have one decimal: kept in tenths."""
    tenths, rest = 0, (0, 1)
    for value in values:
        if type(value) is float and -_FAST_LIMIT < value < _FAST_LIMIT:
            k = round(value * 10)
            if k / 10 == value:  # the decimal is k/10, as in _decimal
                tenths += k
                continue
        rest = _add(rest, _decimal(value))
    return _add((tenths, 10), rest)


def _add(total: Ratio, term: Ratio) -> Ratio:
    """``total + term``, keeping the common decimal denominator when there is one."""
    (n1, d1), (n2, d2) = total, term
    if d1 == d2:
        return n1 + n2, d1
    if d1 % d2 == 0:
        return n1 + n2 * (d1 // d2), d1
    if d2 % d1 == 0:
        return n1 * (d2 // d1) + n2, d2
    return n1 * d2 + n2 * d1, d1 * d2


def _round_half_up(value: Ratio, scale: int) -> int:
    """``value`` rounded half up (四舍五入) to units of 1/scale: floor(value·scale + ½)."""
    numerator, denominator = value
    return (2 * numerator * scale + denominator) // (2 * denominator)


def _greater(a: Ratio, b: Ratio) -> bool:
    return a[0] * b[1] > b[0] * a[1]


def _quotient(numerator: int, denominator: int) -> float:
    """``numerator / denominator`` (correctly rounded), or the largest float beyond what a float
    holds: a sum of absurd stored volumes (1.7e308 m³ twice) still names a total, and one that
    JSON (the stored findings) can hold, which inf is not (issue 16 item 2)."""
    try:
        return numerator / denominator
    except OverflowError:
        return sys.float_info.max if (numerator < 0) == (denominator < 0) else -sys.float_info.max


def _percent(numerator: int, denominator: int) -> float | None:
    """Two decimals for a sentence; None beyond what a float holds (an absurd basis).

    ``int / int`` is correctly rounded, as ``float(Fraction)`` is (it divides the same way).
    """
    try:
        return round(numerator / denominator, 2)
    except OverflowError:
        return None


# --- what a rules version and a day fix, computed once ----------------------------------
#
# The nightly recompute scores every file against one rules version on one day: everything
# that depends only on those two is derived once, not per file.


@dataclass(frozen=True)
class _Tier:
    tier: OverPlanTier
    up_to: float | None
    bound: Ratio | None  # up_to as the float's exact value (as Fraction-vs-float compares)


@dataclass(frozen=True)
class _Day:
    """What ``today`` fixes for every file."""

    online_first: date  # the online window: window_days days ending yesterday
    online_last: date
    online_window: frozenset[date]  # its days
    year_start: date
    through: date  # the months before this one have ended (records)
    # Planned use is judged on a plan year's totals: this year's ended months, or in January
    # (none has ended) the whole of last year, December included.
    plan_year: int
    plan_from: date  # first month counted
    plan_to: date  # first month not counted
    elapsed: int  # the allowance is the whole year's plan: elapsed == year_days (no pro rata)
    year_days: int
    through_iso: str | None  # last day counted
    # records window, oldest first: (month, its due date, reading_month id, its record,
    # due date passed)
    record_months: tuple[tuple[date, date, int, Record, bool], ...]
    record_month_starts: tuple[date, ...]  # their months, to bisect
    month_records: dict[date, Record]  # reading_month records of the plan year's months counted


_CACHE_SIZE = 4096  # per cache; cleared when full (they refill in a few files)


@dataclass
class _Derived:
    """What a rules version fixes, plus caches of pure functions of the rules."""

    rules: Rules
    scale: int  # 10 ** points_decimals
    maximum: dict[str, int]
    full_rows: dict[str, tuple[RuleRow, int]]  # a rule at full marks: shared row (frozen),
    # and its points in units of 1/scale
    target: Ratio  # online target_ratio, as its decimal
    tiers: tuple[_Tier, ...]
    grade_names: tuple[str, ...]
    judges: tuple[tuple[str, Any, RuleRow, int], ...]  # (rule, judge, its full row, points)
    grades: dict[tuple[float, bool, str | None], str] = field(default_factory=dict)
    balance_required: dict[str | None, bool] = field(default_factory=dict)
    days: dict[date, _Day] = field(default_factory=dict)

    def day(self, today: date) -> _Day:
        day = self.days.get(today)
        if day is None:
            if len(self.days) >= 64:  # a night uses one day; tests use many
                self.days.clear()
            day = self.days[today] = _day(today, self.rules)
        return day

    def grade(self, total: float, veto: bool, cap: str | None) -> str:
        """``rules.evaluation.grade_for``, remembered (totals are a few hundred values)."""
        key = (total, veto, cap)
        grade = self.grades.get(key)
        if grade is None:
            if len(self.grades) >= _CACHE_SIZE:
                self.grades.clear()
            grade = self.grades[key] = self.rules.evaluation.grade_for(total, veto=veto, cap=cap)
        return grade

    def balance_test_required(self, industry_code: str | None) -> bool:
        """:func:`balance.balance_test_required`, remembered per code (a few hundred exist)."""
        required = self.balance_required.get(industry_code)
        if required is None:
            if len(self.balance_required) >= _CACHE_SIZE:
                self.balance_required.clear()
            required = balance.balance_test_required(industry_code, self.rules)
            self.balance_required[industry_code] = required
        return required


def _month_starts(start: date, end: date) -> list[date]:
    months = []
    while start < end:
        months.append(start)
        start = add_months(start, 1)
    return months


def _day(today: date, rules: Rules) -> _Day:
    section = rules.evaluation
    year_start, this_month = date(today.year, 1, 1), month_start(today)
    through = this_month  # the months that have ended
    if this_month == year_start:  # January: last year's totals stand until February
        plan_from, plan_to = date(today.year - 1, 1, 1), year_start
    else:
        plan_from, plan_to = year_start, this_month
    plan_days = (date(plan_from.year + 1, 1, 1) - plan_from).days
    months = []  # records: the last window_months ended months
    for month in _month_starts(add_months(this_month, -section.records.window_months), this_month):
        deadline = reading_due_on(month, rules)
        month_id = reading_month_id(month)
        months.append((month, deadline, month_id, ("reading_month", month_id), today > deadline))
    first = today - timedelta(days=section.online_monitoring.window_days)
    last = today - timedelta(days=1)  # today is not over: its data may still arrive
    return _Day(
        online_first=first,
        online_last=last,
        online_window=frozenset(first + timedelta(days=i) for i in range((last - first).days + 1)),
        year_start=year_start,
        through=through,
        plan_year=plan_from.year,
        plan_from=plan_from,
        plan_to=plan_to,
        elapsed=plan_days,
        year_days=plan_days,
        through_iso=(plan_to - timedelta(days=1)).isoformat(),
        record_months=tuple(months),
        record_month_starts=tuple(m[0] for m in months),
        month_records={month: ("reading_month", reading_month_id(month))
                       for month in _month_starts(plan_from, plan_to)},
    )


def _full_row(rule: str, maximum: int, decimals: int) -> tuple[RuleRow, int]:
    return RuleRow(rule, float(maximum), float(maximum), ()), maximum * 10**decimals


def _tiers(section) -> tuple[_Tier, ...]:
    """The over-plan tiers, the first (within plan) widened by the rules' rounding tolerance:
    a few tenths of a percent of rounding over the plan is no tier."""
    tiers = []
    for i, t in enumerate(section.over_plan_tiers):
        if t.up_to_percent is None:
            tiers.append(_Tier(t, None, None))
            continue
        up_to = float(t.up_to_percent)
        if i == 0:
            up_to = float(Fraction(repr(up_to)) + Fraction(repr(float(section.over_plan_tolerance_percent))))
        tiers.append(_Tier(t, up_to, up_to.as_integer_ratio()))
    return tuple(tiers)


def _derive(rules: Rules) -> _Derived:
    section = rules.evaluation
    full_rows = {rule: _full_row(rule, section.points_of(rule), section.points_decimals)
                 for rule in RULE_IDS}
    return _Derived(
        rules=rules,
        scale=10**section.points_decimals,
        maximum={rule: section.points_of(rule) for rule in RULE_IDS},
        full_rows=full_rows,
        target=_decimal(section.online_monitoring.target_ratio),
        tiers=_tiers(section.planned_use),
        grade_names=section.grade_names,
        judges=tuple((rule, judge, *full_rows[rule]) for rule, judge in _JUDGES),
    )


# Keyed by id (hashing a whole Rules costs more than scoring a file); the entry keeps the
# Rules alive, so its id cannot be reused while cached.
_DERIVED: dict[int, _Derived] = {}


def _derived(rules: Rules) -> _Derived:
    derived = _DERIVED.get(id(rules))
    if derived is None or derived.rules is not rules:
        if len(_DERIVED) >= 16:
            _DERIVED.clear()
        derived = _DERIVED[id(rules)] = _derive(rules)
    return derived


# --- judging ---------------------------------------------------------------------------
#
# A judge returns None when its rule earns its full points and loses nothing (most rules
# of most files), else a _Judgement with the exact points and what was lost.


@dataclass(slots=True)
class _Loss:
    code: str
    raw: Ratio  # exact points lost, before rounding
    params: dict[str, Any]
    records: tuple[Record, ...]
    restore: str


@dataclass(slots=True)
class _Judgement:
    points: Ratio
    losses: list[_Loss]
    veto: bool = False
    cap: str | None = None


@dataclass(slots=True)
class _Context:
    facts: FileFacts
    today: date
    rules: Rules
    derived: _Derived
    day: _Day
    valid: list[PermitFact]
    renewal_due: list[PermitFact]  # the valid ones within the renewal window
    reference: PermitFact | None
    volume: float
    meters: tuple[MeterFact, ...]  # in service today
    periods: list[date]  # of facts.monthly_readings, in their order
    periods_sorted: bool  # as the loader passes them: then slices are found by bisection


def _clamped(deductions: list[tuple[int, _Loss]], points: int) -> _Judgement:
    """Fixed deductions taken in order, never below 0 (later ones may lose 0)."""
    remaining = points
    losses = []
    for deduction, loss in deductions:
        lost = min(deduction, remaining)
        loss.raw = (lost, 1)
        remaining -= lost
        losses.append(loss)
    return _Judgement((remaining, 1), losses)


def _permit_order(p: PermitFact) -> tuple[date, int]:
    return p.valid_to, p.id


def _permit(c: _Context) -> _Judgement | None:
    section = c.rules.evaluation.permit
    valid = c.valid
    if not valid:
        return _no_valid_permit(c)
    # Valid permits pool their intake points (one permit: its own set will do).
    if len(valid) == 1:
        covered = valid[0].intake_point_ids
    else:
        covered = frozenset().union(*(p.intake_point_ids for p in valid))
    intake_points = c.facts.intake_points
    uncovered = [point for point in intake_points if point.id not in covered]
    # A renewal on file (granted) needs no application of its own.
    expiring = [p for p in c.renewal_due
                if p.renewal_starts_on is None and not renewal_applied(p, c.today, c.rules)]
    pending = [p for p in valid if p not in c.renewal_due
               and p.valid_to < c.today]  # renewal_pending: applied in time, undecided
    if not uncovered and not expiring and not pending:
        return None
    deductions: list[tuple[int, _Loss]] = []
    if uncovered:
        params = {
            "uncovered": len(uncovered),
            "intake_points": len(intake_points),
            "names": [point.name for point in uncovered],
        }
        records = tuple(("intake_point", point.id) for point in uncovered)
        loss = _Loss("permit.uncovered_intake", (0, 1), params, records,
                     "extend_permit_coverage")
        deductions.append((section.uncovered_intake_deduction, loss))
    if expiring:
        expiring.sort(key=_permit_order)
        first = expiring[0]
        params = {
            "days_left": (first.valid_to - c.today).days,
            "valid_to": first.valid_to.isoformat(),
            "window_days": c.rules.permit.renewal_window_days,
            "numbers": [p.number for p in expiring],
            # 取水许可和水资源费征收管理条例 第二十五条: apply at least 45 days before expiry
            "apply_by": (first.valid_to - timedelta(days=c.rules.permit.renewal_window_days)).isoformat(),
            "applied_on": None if first.renewal_applied_on is None or first.renewal_applied_on > c.today
            else first.renewal_applied_on.isoformat(),
            "basis": "取水许可和水资源费征收管理条例 第二十五条",
        }
        records = tuple(("permit", p.id) for p in expiring)
        loss = _Loss("permit.renewal_not_applied", (0, 1), params, records,
                     "apply_permit_renewal")
        deductions.append((section.renewal_not_applied_deduction, loss))
    for p in sorted(pending, key=_permit_order):  # shown, costs nothing: the bureau decides
        params = {"number": p.number, "valid_to": p.valid_to.isoformat(),
                  "applied_on": p.renewal_applied_on.isoformat() if p.renewal_applied_on else None,
                  "basis": "取水许可和水资源费征收管理条例 第二十五条"}
        deductions.append((0, _Loss("permit.renewal_pending", (0, 1), params, (("permit", p.id),),
                                    "await_renewal_decision")))
    return _clamped(deductions, section.points)


def _no_valid_permit(c: _Context) -> _Judgement:
    section = c.rules.evaluation.permit
    latest = max(c.facts.permits, key=_permit_order, default=None)
    params = {
        "latest_number": None if latest is None else latest.number,
        "latest_valid_to": None if latest is None else latest.valid_to.isoformat(),
        "latest_status": None if latest is None else permit_status_of(latest, c.today, c.rules),
    }
    records = () if latest is None else (("permit", latest.id),)
    loss = _Loss("permit.none_valid", (section.points, 1), params, records, "apply_permit")
    return _Judgement((0, 1), [loss], veto=section.veto_without_valid_permit)


def _meter_records(meters: list[MeterFact]) -> tuple[Record, ...]:
    records: list[Record] = []
    for meter in meters:
        records.append(("meter", meter.id))
        if meter.last_calibration_id is not None:
            records.append(("calibration", meter.last_calibration_id))
    return tuple(records)


def _meter_loss(code: str, group: list[MeterFact], share: int, count: int,
                restore: str) -> _Loss:
    """``group`` of the ``count`` meters in service loses its share of ``share`` points."""
    params = {"count": len(group), "in_service": count, "serials": [m.serial for m in group]}
    return _Loss(code, (share * len(group), count), params, _meter_records(group), restore)


def _iso_or_none(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _metering(c: _Context) -> _Judgement:
    section = c.rules.evaluation.metering
    points = c.facts.intake_points
    meters = c.meters
    losses: list[_Loss] = []
    # Coverage: coverage_points × metered points ÷ points (0 with no point on file).
    if not points:
        coverage = (0, 1)
        losses.append(_Loss("metering.no_intake_points", (section.coverage_points, 1), {},
                            (), "register_intake_point"))
    else:
        metered = {m.intake_point_id for m in meters}
        without = [p for p in points if p.id not in metered]
        coverage = (section.coverage_points * (len(points) - len(without)), len(points))
        if without:
            params = {
                "without_meter": len(without),
                "intake_points": len(points),
                "names": [p.name for p in without],
            }
            records = tuple(("intake_point", p.id) for p in without)
            lost = (section.coverage_points * len(without), len(points))  # full − coverage
            losses.append(_Loss("metering.intake_without_meter", lost, params, records,
                                "add_meter"))
    if not meters:
        losses.append(_Loss("metering.no_meter_in_service", (section.calibration_points, 1),
                            {}, (), "add_meter"))
        return _Judgement(coverage, losses)
    past_life, unverified = [], []
    today, rules = c.today, c.rules
    reasons: list[str] = []
    due_dates: list[str | None] = []
    for meter in meters:
        due_on = meter_calibration_due_on(meter, rules)
        life_ends_on = meter_service_life_ends_on(meter, rules)
        if life_ends_on is not None and today > life_ends_on:
            past_life.append(meter)
            continue
        fault = meter_verification_fault(meter, rules)
        if fault is None and not calibration.is_verified_on(today, due_on, life_ends_on):
            fault = "overdue"
        if fault is not None:
            unverified.append(meter)
            reasons.append(fault)
            due_dates.append(None if due_on is None else due_on.isoformat())
    # Calibration: each meter in service is worth calibration_points ÷ meters.
    share, count = section.calibration_points, len(meters)
    verified = share * (count - len(past_life) - len(unverified))
    if unverified:
        loss = _meter_loss("metering.meter_unverified", unverified, share, count,
                           "calibrate_meter")
        loss.params |= {"reasons": reasons, "due_dates": due_dates,
                        "tolerance_percent": rules.calibration.in_place_tolerance_percent,
                        "basis": "JJG 162-2019"}
        losses.append(loss)
    if past_life:
        loss = _meter_loss("metering.meter_past_service_life", past_life, share, count,
                           "replace_meter")
        loss.params |= {"life_ends_on": [_iso_or_none(meter_service_life_ends_on(m, rules))
                                         for m in past_life], "basis": "JJG 162-2019"}
        losses.append(loss)
    if not losses and section.coverage_points + section.calibration_points == section.points:
        return None  # every point metered, every meter verified
    earned = (coverage[0] * count + verified * coverage[1], coverage[1] * count)
    return _Judgement(earned, losses)


def _online_monitoring(c: _Context) -> _Judgement | None:
    section = c.rules.evaluation.online_monitoring
    full = section.points
    if not online_monitoring_required(c.volume, c.rules):
        return None
    counted = c.facts.online_counted
    if counted is None:
        online_days = c.facts.online_days
        days = len(online_days) - len(online_days - c.day.online_window)  # days in the window
    elif counted.first == c.day.online_first and counted.last == c.day.online_last:
        days = counted.days
    else:
        raise ValueError(f"online days counted from {counted.first} to {counted.last}, "
                         f"not over the window {c.day.online_first} to {c.day.online_last}")
    # earned = full × min(1, days ÷ window ÷ target), target = p/q as written (0.95 = 95/100):
    # full marks from days·q ≥ window·p on, so 19 of 20 days at 0.95 is exactly enough.
    # The window is shortened to the file's history (opening, first meter; domain.md "Online
    # data"): a file opened 30 days ago is judged on its 30 days, not on 90.
    window, first = section.window_days, c.day.online_first
    history = history_starts_on(c.facts) or c.facts.opened_on
    if history > first:
        if history > c.day.online_last:
            return None  # no whole day of history yet: nothing to judge
        first = history
        window = (c.day.online_last - history).days + 1
        if counted is None:
            days = len([d for d in c.facts.online_days if first <= d <= c.day.online_last])
        days = min(days, window)
    p, q = c.derived.target
    if full == 0 or days * q >= window * p:
        return None
    params = {
        "days_with_data": days,
        "window_days": window,
        "target_ratio": section.target_ratio,
        "from": first.isoformat(),
        "to": c.day.online_last.isoformat(),
        "permitted_m3": float(c.volume),
        "threshold_m3": c.rules.thresholds.online_monitoring_m3_per_year,
    }
    records = tuple([("meter", m.id) for m in c.meters])
    lost = (full * (window * p - days * q), window * p)
    loss = _Loss("online.coverage", lost, params, records, "connect_online_monitoring")
    return _Judgement((full * days * q, window * p), [loss])


# Most files use well within their plan: floats show it, and only files near or over a
# limit need the exact sums below. Float errors here stay under 1e-14 relative (see
# _clearly_within); the margin is 100,000 times that.
_MARGIN = 1e-9
_TINY, _HUGE = 1e-290, 1e290  # outside, subnormals or overflow would void the error bound


def _clearly_within(volumes: list[float], basis: float, permitted: float, day: _Day,
                    up_to: float | None) -> bool:
    """True when use is surely within the first over-plan tier (over % below ``up_to``)
    and not above the permitted volume; False when unsure: decide exactly.

    Exactly, use is Σ decimal(vᵢ) and the allowance decimal(basis) × elapsed ÷ days. A
    float is within 2⁻⁵³ (relative) of its decimal, fsum rounds once, each product or
    quotient once more: with volumes ≥ 0 every float below is within 10 × 2⁻⁵³ of its
    exact value, so a comparison that holds with the margin holds exactly.
    """
    if up_to is None:
        return False
    try:
        if volumes and min(volumes) < 0:
            return False
        use = fsum(volumes)
        basis, permitted = float(basis), float(permitted)
    except (TypeError, ValueError, OverflowError):
        return False  # not plain numbers: the exact path reads them (or raises) as before
    if not (0 <= basis < _HUGE and _TINY < permitted < _HUGE):
        return False
    # over % < up_to  ⇔  100 × use < (100 + up_to) × allowance, the allowance being > 0
    right = (100.0 + up_to) * (basis * day.elapsed / day.year_days)
    if not _TINY < right < _HUGE:
        return False
    return 100.0 * use < right * (1 - _MARGIN) and use < permitted * (1 - _MARGIN)


def _over_plan_tier(tiers: tuple[_Tier, ...], over: Ratio | None) -> OverPlanTier:
    """``PlannedUseScoring.tier_for`` on an exact ratio (None: over without bound).

    The bound is compared as the float's exact value, as comparing a Fraction with a float
    does; ``including`` decides the bound itself (20 % is *major*, 40 % still *major*).
    """
    for t in tiers:
        if t.bound is None:
            return t.tier
        if over is None:
            continue
        left, right = over[0] * t.bound[1], t.bound[0] * over[1]  # over vs bound
        if left < right or (t.tier.including and left == right):
            return t.tier
    raise StopIteration  # as tier_for's next() on tiers without an unbounded last one


_period = attrgetter("period")
_volume = attrgetter("volume_m3")
_submitted = attrgetter("first_submitted_on")


def _months_this_year(c: _Context) -> tuple[Sequence[Any], list[date]]:
    """Readings of this year's ended months (1 January ≤ period < this month), by period,
    and their periods."""
    readings, periods = c.facts.monthly_readings, c.periods
    start, end = c.day.plan_from, c.day.plan_to
    if c.periods_sorted:
        lo, hi = bisect_left(periods, start), bisect_left(periods, end)
        return readings[lo:hi], periods[lo:hi]
    months = [r for r in readings if start <= r.period < end]
    months.sort(key=_period)  # stable: readings of one period keep their order
    return months, list(map(_period, months))


def _planned_use(c: _Context) -> _Judgement:
    section = c.rules.evaluation.planned_use
    day = c.day
    year = c.today.year
    plan = plan_of_year(c.facts, year)
    permit_record = (tuple([("permit", p.id) for p in c.valid]) if c.valid
                     else () if c.reference is None else (("permit", c.reference.id),))
    losses: list[_Loss] = []
    earned = section.plan_points
    # Required from the first plan year after opening, and paused while suspended.
    if (plan is None and plan_required(c.volume, c.rules) and plan_required_in(c.facts, year)
            and not is_paused(c.facts)):
        earned = 0
        params = {"year": year, "permitted_m3": float(c.volume),
                  "threshold_m3": c.rules.thresholds.plan_required_m3_per_year}
        losses.append(_Loss("planned_use.no_plan", (section.plan_points, 1), params,
                            permit_record, "submit_plan"))

    months, periods = _months_this_year(c)
    volumes = list(map(_volume, months))
    volume = c.volume
    judged = plan
    if day.plan_year != year:  # January: last year's totals, its plan and its permitted volume
        judged = plan_of_year(c.facts, day.plan_year)
        volume, then = _volume_on(c, day.plan_to - timedelta(days=1))
        permit_record = () if then is None else (("permit", then.id),)
    if judged is not None:
        basis, basis_kind, basis_records = judged.planned_volume_m3, "plan", (("plan", judged.id),)
    else:
        basis, basis_kind, basis_records = volume, "permit", permit_record
    within = c.derived.tiers[0]
    if judged is not None and plans.has_breakdown_or_adjustment(judged.versions):
        # A breakdown (the shares of the months counted) or a mid-year adjustment (the plan in
        # force on each day): the allowance of domain.plans, exact (issue 15 item 6).
        start, end = plans.scoring_window(judged.versions, day.plan_year, day.plan_from, day.plan_to)
        allowed = plans.allowance(judged.versions, start, end)
        return _judge_over(c, section, day, earned, losses, volumes, periods, volume, allowed,
                           basis_kind, basis_records, permit_record, float(judged.planned_volume_m3))
    if _clearly_within(volumes, basis, volume, day, within.up_to):
        earned += within.tier.points
        return None if not losses and earned == section.points else _Judgement((earned, 1), losses)
    basis_num, basis_den = _decimal(basis)
    allowed = Fraction(basis_num * day.elapsed, basis_den * day.year_days)
    return _judge_over(c, section, day, earned, losses, volumes, periods, volume, allowed,
                       basis_kind, basis_records, permit_record, float(basis))


def _judge_over(c: _Context, section, day: _Day, earned, losses: list[_Loss], volumes: list[float],
                periods: list[date], volume: float, allowed: Fraction, basis_kind: str,
                basis_records: tuple, permit_record: tuple, basis: float) -> _Judgement:
    """The over-plan tier and the over-permit cap of the use so far against ``allowed``."""
    use_num, use_den = _decimal_sum(volumes)
    # Over the common denominator use_den · allowed's denominator, use and allowance are the
    # integers below.
    use_scaled = use_num * allowed.denominator
    allowance_scaled = allowed.numerator * use_den
    over: Ratio | None
    if allowance_scaled > 0:
        over = (100 * (use_scaled - allowance_scaled), allowance_scaled)  # % over, exact
    else:
        over = (0, 1) if use_num == 0 else None  # any use against nothing allowed
    tiers = section.over_plan_tiers
    tier = _over_plan_tier(c.derived.tiers, over)
    earned += tier.points
    over_plan = tier.points < tiers[0].points
    volume_num, volume_den = _decimal(volume)
    over_permit = use_num * volume_den > volume_num * use_den  # above the permitted volume
    if not (over_plan or over_permit):
        return _Judgement((earned, 1), losses)
    use_params = {
        "use_m3": _quotient(use_num, use_den),  # as float(Fraction): int / int, correctly rounded
        "through": day.through_iso,
        "basis": basis_kind,
        "basis_m3": float(basis),
        "plan_year": day.plan_year,
    }
    month_records = tuple(map(day.month_records.get, periods))
    if None in month_records:  # a period not on the 1st: not precomputed
        month_records = tuple([("reading_month", reading_month_id(p)) for p in periods])
    if over_plan:
        params = {
            **use_params,
            "allowance_m3": round(float(allowed), 2),
            "over_percent": None if over is None else _percent(*over),
            "severity": tier.severity,
            "tolerance_percent": float(section.over_plan_tolerance_percent),
            "basis_law": "浙江省计划用水管理",
        }
        losses.append(_Loss("planned_use.over_plan", (tiers[0].points - tier.points, 1),
                            params, basis_records + month_records, "reduce_intake"))
    cap = None
    if over_permit:
        cap = section.over_permit_grade_cap
        params = {**use_params, "permitted_m3": float(volume), "grade_cap": cap}
        losses.append(_Loss("planned_use.over_permit", (0, 1), params,
                            permit_record + month_records, "apply_permit_change"))
    return _Judgement((earned, 1), losses, cap=cap)


def _volume_on(c: _Context, day: date) -> tuple[float, PermitFact | None]:
    """The annual permitted volume on ``day`` (the judged plan year's last day)."""
    valid = [p for p in c.facts.permits
             if permit_status_of(p, day, c.rules) in VALID_PERMIT_STATUSES]
    reference = reference_permit_among(valid, c.facts.permits, day)
    return permitted_volume(valid, c.facts.permits, day), reference


def _water_balance(c: _Context) -> _Judgement | None:
    if not c.derived.balance_test_required(c.facts.industry_code):
        return None
    last = last_balance_test(c.facts, c.rules)  # a failed test (balance error) does not count
    due_on = balance_test_due_after(last, c.facts, c.rules)
    if c.today <= due_on:
        return None
    full = c.rules.evaluation.water_balance.points
    params: dict[str, Any] = {"due_on": due_on.isoformat(), "days_overdue": (c.today - due_on).days}
    if last is None:
        params |= {"opened_on": c.facts.opened_on.isoformat(),
                   "first_test_due_months": c.rules.water_balance.first_test_due_months}
        loss = _Loss("water_balance.never_tested", (full, 1), params, (), "book_balance_test")
    else:
        params |= {"last_tested_on": last.tested_on.isoformat(),
                   "interval_years": c.rules.water_balance.interval_years}
        loss = _Loss("water_balance.overdue", (full, 1), params, (("balance_test", last.id),),
                     "book_balance_test")
    return _Judgement((0, 1), [loss])


_NO_READING = object()


def _submitted_on(c: _Context, start: date) -> dict[date, date | None]:
    """period → first submission of its reading (the last one of a period counts), for
    the periods from ``start`` to this month at least."""
    periods, readings = c.periods, c.facts.monthly_readings
    if c.periods_sorted:  # only the window's readings
        lo, hi = bisect_left(periods, start), bisect_left(periods, c.day.through)
        periods, readings = periods[lo:hi], readings[lo:hi]
    return dict(zip(periods, map(_submitted, readings)))


def _records(c: _Context) -> _Judgement | None:
    day = c.day
    # The window starts no earlier than the month the file was opened, nor than the month its
    # first meter was installed (corrections of 2026-12): no reading is owed before either.
    opened_on, starts = history_starts_on(c.facts), day.record_month_starts
    if opened_on is None:  # no meter yet: no month to count (metering loses the points)
        return None
    first = 0 if not starts or opened_on < starts[0] else bisect_left(starts, month_start(opened_on))
    submitted_on = _submitted_on(c, starts[first] if first < len(starts) else day.through).get
    paused = is_paused(c.facts)  # suspended: a month without a reading is not counted missing
    on_time, late, missing, records = 0, [], [], []
    for month, deadline, month_id, record, past_due in day.record_months[first:]:
        submitted = submitted_on(month, _NO_READING)
        if submitted is _NO_READING:
            if not past_due or paused:
                continue  # pending: still time to submit (or paused)
            missing.append(month_id)
        elif submitted is not None and submitted <= deadline:
            on_time += 1
            continue
        elif not past_due:
            continue
        else:
            late.append(month_id)  # late, or undated: no proof it was on time
        records.append(record)  # in month order, which is record id order
    if not records:  # every month counted was on time (or none was counted)
        return None
    full = c.rules.evaluation.records.points
    counted = on_time + len(records)
    params = {
        "on_time": on_time,
        "months": counted,
        "late_months": late,
        "missing_months": missing,
        "due_day": c.rules.readings.due_day_of_next_month,
    }
    lost = (full * (counted - on_time), counted)
    loss = _Loss("records.late_or_missing", lost, params, tuple(records), "submit_readings")
    return _Judgement((full * on_time, counted), [loss])


def _rectification_order(r: Any) -> tuple[date, int]:
    return r.deadline, r.id


def _inspections(c: _Context) -> _Judgement | None:
    today = c.today
    overdue = [r for r in c.facts.rectifications
               if r.status != "verified" and r.deadline < today and not awaiting_verification(r)]
    if not overdue:
        return None
    section = c.rules.evaluation.inspections
    overdue.sort(key=_rectification_order)
    deductions = []
    for r in overdue:
        params = {
            "deadline": r.deadline.isoformat(),
            "days_overdue": (today - r.deadline).days,
            "inspection_id": r.inspection_id,
            "status": r.status,
            "responded_on": None if r.responded_on is None else r.responded_on.isoformat(),
        }
        loss = _Loss("inspections.overdue_rectification", (0, 1), params,
                     (("rectification", r.id),), "rectify")
        deductions.append((section.overdue_rectification_deduction, loss))
    return _clamped(deductions, section.points)


_JUDGES = (
    ("permit", _permit),
    ("metering", _metering),
    ("online_monitoring", _online_monitoring),
    ("planned_use", _planned_use),
    ("water_balance", _water_balance),
    ("records", _records),
    ("inspections", _inspections),
)
assert tuple(rule for rule, _ in _JUDGES) == RULE_IDS


def _finding(loss: _Loss, lost: int, scale: int) -> Finding:
    return _built(Finding, {"code": loss.code, "lost": lost / scale, "params": loss.params,
                            "records": loss.records, "restore": loss.restore})


def _row(rule: str, judgement: _Judgement, derived: _Derived) -> tuple[RuleRow, int]:
    """The row, and its points in units of 1/scale (the total adds these up exactly)."""
    scale, maximum = derived.scale, derived.maximum[rule]
    full = maximum * scale
    numerator, denominator = judgement.points
    losses = judgement.losses
    if numerator >= maximum * denominator:  # clamped to 0 … maximum, then rounded
        if not losses:
            return derived.full_rows[rule]
        points = full
    elif numerator <= 0:
        points = 0
    else:
        points = _round_half_up(judgement.points, scale)
    if len(losses) == 1:  # its rounded loss plus the whole rounding gap: what is missing
        findings: tuple[Finding, ...] = (_finding(losses[0], full - points, scale),)
    else:
        lost = [_round_half_up(loss.raw, scale) for loss in losses]
        gap = full - points - sum(lost)
        if gap and losses:  # the largest loss (the first of equals) absorbs the gap
            largest = 0
            for i in range(1, len(losses)):
                if _greater(losses[i].raw, losses[largest].raw):
                    largest = i
            lost[largest] += gap
        findings = tuple([_finding(loss, amount, scale) for loss, amount in zip(losses, lost)])
    row = _built(RuleRow, {"rule": rule, "points": points / scale, "maximum": float(maximum),
                           "findings": findings})
    return row, points


def _context(facts: FileFacts, today: date, rules: Rules, derived: _Derived) -> _Context:
    # One status per permit serves valid_permits, the renewal window and reference_permit.
    valid, renewal_due = [], []
    for permit in facts.permits:
        status = permit_status_of(permit, today, rules)
        if status in VALID_PERMIT_STATUSES:
            valid.append(permit)
            if status == "renewal_due":
                renewal_due.append(permit)
    reference = reference_permit_among(valid, facts.permits, today)
    periods = list(map(_period, facts.monthly_readings))
    return _Context(
        facts,
        today,
        rules,
        derived,
        derived.day(today),
        valid,
        renewal_due,
        reference,
        permitted_volume(valid, facts.permits, today),  # annual_permitted_volume: the sum
        meters_in_service(facts, today),
        periods,
        periods == sorted(periods),
    )


def online_window(today: date, rules: Rules) -> tuple[date, date]:
    """First and last day of the online-monitoring window judged on ``today`` (for a loader
    that counts days with data: ``FileFacts.online_counted``)."""
    day = _derived(rules).day(today)
    return day.online_first, day.online_last


def monthly_readings_since(today: date, rules: Rules) -> date:
    """The first month whose reading a judgement on ``today`` reads (the records window, this
    year's use, and last month for the due list): a loader may leave out earlier months."""
    day = _derived(rules).day(today)
    last_month = add_months(month_start(today), -1)
    return min(day.plan_from, last_month, *day.record_month_starts[:1])


def evaluate(facts: FileFacts, today: date, rules: Rules) -> Evaluation:
    """Score ``facts`` on ``today`` against ``rules`` (see the module doc for every case)."""
    derived = _derived(rules)
    context = _context(facts, today, rules, derived)
    rows, units, veto, caps = [], 0, False, []
    for rule, judge, full_row, full_points in derived.judges:
        judgement = judge(context)
        if judgement is None:
            rows.append(full_row)
            units += full_points
            continue
        row, points = _row(rule, judgement, derived)
        rows.append(row)
        units += points
        veto = veto or judgement.veto
        if judgement.cap is not None:
            caps.append(judgement.cap)
    # The total is the sum of the rounded row points, each a whole number of 1/scale.
    total = units / derived.scale
    cap = max(caps, key=derived.grade_names.index) if caps else None
    grade = derived.grades.get((total, veto, cap)) or derived.grade(total, veto, cap)
    return _built(Evaluation, {"total": total, "grade": grade, "veto": veto, "grade_cap": cap,
                               "rules_version": rules.version, "evaluated_on": today,
                               "rows": tuple(rows)})
