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
                                    for on or before today
metering.no_intake_points           no intake point on file: nothing shows what is metered
metering.intake_without_meter       intake points with no meter in service
metering.no_meter_in_service        no meter in service: no verified meter to count
metering.meter_unverified           in-service meters past their verification due date,
                                    or whose last verification failed
metering.meter_past_service_life    in-service mechanical meters past their service life
                                    (JJG 162-2019): recalibration does not help
online.coverage                     online monitoring required (≥ 10,000 m³/yr permitted)
                                    and too few days of the window had an online reading
planned_use.no_plan                 a plan is required (≥ 3,000 m³/yr permitted) and this
                                    year's plan is missing
planned_use.over_plan               year-to-date use above the plan pro rata by day (no
                                    plan: the permitted volume pro rata); ``severity`` the
                                    over-plan tier
planned_use.over_permit             year-to-date use above the whole permitted annual
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

- *Valid permit*: status ``valid`` or ``renewal_due`` on ``today`` (not revoked from its
  date, not superseded, started, not expired). Several valid permits: their intake points
  are pooled for coverage, and the *largest* annual volume counts. With no valid permit,
  the volume of the permit that lapsed last (among those already started) still decides
  the thresholds and the pro rata, so a lapse waives nothing; with no permit ever, 0 m³.
  Permit coverage of "every active intake point" holds vacuously with no intake points
  (metering catches that case). A renewal counts as applied only when
  ``renewal_applied_on`` ≤ today; one deduction whatever the number of expiring permits.
  Deductions apply in table order, clamped so the rule never goes below 0.
- *Metering*: intake points are those the loader passes (closed ones are left out);
  meters in service on ``today`` (a meter on a point no longer on file still counts in
  the calibration share, not in coverage). No intake point → the coverage share is 0, not full;
  no meter in service → the calibration share is 0, not full: a file with nothing to
  measure by earns nothing for measuring. A meter counts as verified on ``today`` when its
  last verification did not fail and ``calibration.is_verified_on(today, due, life)``,
  where the due date is the certificate's ``last_next_due_on`` when given, else
  ``calibration.calibration_due_on``; both dates are the last verified day.
- *Online monitoring*: the window is the ``window_days`` days ending *yesterday* (today's
  readings may still be arriving); the denominator is always ``window_days``.
- *Planned use*: year-to-date use is the sum of accepted monthly readings of this calendar
  year for months that have ended (January: none, so use 0 ≤ allowance 0 is within). The
  allowance is this year's plan (else the permitted volume) × days from 1 January to the
  end of the last ended month ÷ days in the year. Over % = (use − allowance) ÷ allowance ×
  100, exact, matched against the rules' tiers with their ``including`` flags; with an
  allowance of 0 any use is over without bound (last tier, ``over_percent`` None).
- *Water-balance test*: due date of :func:`registry.domain.due.balance_test_due_on`, the
  last day in time; the day after it is overdue.
- *Records*: the window is the last ``window_months`` ended months, not before the month
  the file was opened. A month counts when it has an accepted reading first submitted on
  or before the rules' due day of the next month; a reading without a submission date is
  late (no proof it was on time). A month whose due day has not yet passed and with no
  on-time reading is *pending*: left out of both counts, so nobody loses points before
  the deadline. No month left → full points.
- *Inspections*: a rectification is overdue when its status is not ``verified`` (an
  answered one awaiting verification included) and its deadline < today. One finding
  each, earliest deadline first; once the floor 0 is reached further ones lose 0.
- *Rounding*: all arithmetic is exact (fractions; volumes read as their decimal text); each
  rule's points are rounded half up to ``points_decimals``; the total is the sum of the
  rounded points. Findings' ``lost`` are rounded the same way and the largest one absorbs
  the rounding gap, so a row's ``lost`` always add up to ``maximum − points``.
- ``params`` hold JSON values only (dates as ISO strings, lists not tuples); ``Finding``
  is therefore not hashable.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from registry.domain import balance, calibration
from registry.domain.dates import add_months, month_start
from registry.domain.due import (
    annual_permitted_volume,
    balance_test_due_on,
    last_balance_test,
    meter_calibration_due_on,
    meter_service_life_ends_on,
    meters_in_service,
    online_monitoring_required,
    permit_status_of,
    plan_of_year,
    plan_required,
    reading_due_on,
    reading_month_id,
    reference_permit,
    renewal_applied,
    valid_permits,
)
from registry.domain.facts import FileFacts, MeterFact, PermitFact
from registry.domain.rules import RULE_IDS, Rules

Record = tuple[str, int]


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
            "params": copy.deepcopy(self.params),
            "records": [[kind, record_id] for kind, record_id in self.records],
            "restore": self.restore,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            code=str(data["code"]),
            lost=float(data["lost"]),
            params=copy.deepcopy(dict(data["params"])),
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


# --- judging ---------------------------------------------------------------------------


@dataclass
class _Loss:
    code: str
    raw: Fraction  # exact points lost, before rounding
    params: dict[str, Any]
    records: tuple[Record, ...]
    restore: str


@dataclass
class _Judgement:
    points: Fraction
    losses: list[_Loss] = field(default_factory=list)
    veto: bool = False
    cap: str | None = None


@dataclass(frozen=True)
class _Context:
    facts: FileFacts
    today: date
    rules: Rules
    valid: tuple[PermitFact, ...]
    reference: PermitFact | None
    volume: float


def _exact(value: float | int) -> Fraction:
    """A float as the decimal it was written as (``0.95`` → 19/20, not its binary value)."""
    return Fraction(repr(float(value)))


def _round(value: Fraction, decimals: int) -> Fraction:
    """Half up (四舍五入) to ``decimals`` places, exactly."""
    scale = 10**decimals
    return Fraction(math.floor(value * scale + Fraction(1, 2)), scale)


def _percent(value: Fraction | None) -> float | None:
    """Two decimals for a sentence; None beyond what a float holds (an absurd basis)."""
    try:
        return None if value is None else round(float(value), 2)
    except OverflowError:
        return None


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _clamped(deductions: list[tuple[int, _Loss]], points: int) -> _Judgement:
    """Fixed deductions taken in order, never below 0 (later ones may lose 0)."""
    remaining = Fraction(points)
    losses = []
    for deduction, loss in deductions:
        loss.raw = min(Fraction(deduction), remaining)
        remaining -= loss.raw
        losses.append(loss)
    return _Judgement(remaining, losses)


def _permit(c: _Context) -> _Judgement:
    section = c.rules.evaluation.permit
    if not c.valid:
        latest = max(c.facts.permits, key=lambda p: (p.valid_to, p.id), default=None)
        params = {
            "latest_number": None if latest is None else latest.number,
            "latest_valid_to": None if latest is None else latest.valid_to.isoformat(),
            "latest_status": None if latest is None else permit_status_of(latest, c.today, c.rules),
        }
        records = () if latest is None else (("permit", latest.id),)
        loss = _Loss("permit.none_valid", Fraction(section.points), params, records, "apply_permit")
        return _Judgement(Fraction(0), [loss], veto=section.veto_without_valid_permit)
    deductions: list[tuple[int, _Loss]] = []
    covered = frozenset().union(*(p.intake_point_ids for p in c.valid))
    uncovered = [point for point in c.facts.intake_points if point.id not in covered]
    if uncovered:
        params = {
            "uncovered": len(uncovered),
            "intake_points": len(c.facts.intake_points),
            "names": [point.name for point in uncovered],
        }
        records = tuple(("intake_point", point.id) for point in uncovered)
        loss = _Loss("permit.uncovered_intake", Fraction(0), params, records,
                     "extend_permit_coverage")
        deductions.append((section.uncovered_intake_deduction, loss))
    expiring = sorted(
        (
            p
            for p in c.valid
            if permit_status_of(p, c.today, c.rules) == "renewal_due"
            and not renewal_applied(p, c.today)
        ),
        key=lambda p: (p.valid_to, p.id),
    )
    if expiring:
        first = expiring[0]
        params = {
            "days_left": (first.valid_to - c.today).days,
            "valid_to": first.valid_to.isoformat(),
            "window_days": c.rules.permit.renewal_window_days,
            "numbers": [p.number for p in expiring],
        }
        records = tuple(("permit", p.id) for p in expiring)
        loss = _Loss("permit.renewal_not_applied", Fraction(0), params, records,
                     "apply_permit_renewal")
        deductions.append((section.renewal_not_applied_deduction, loss))
    return _clamped(deductions, section.points)


def _meter_records(meters: list[MeterFact]) -> tuple[Record, ...]:
    records: list[Record] = []
    for meter in meters:
        records.append(("meter", meter.id))
        if meter.last_calibration_id is not None:
            records.append(("calibration", meter.last_calibration_id))
    return tuple(records)


def _metering(c: _Context) -> _Judgement:
    section = c.rules.evaluation.metering
    points = c.facts.intake_points
    meters = meters_in_service(c.facts, c.today)
    losses: list[_Loss] = []
    if not points:
        coverage = Fraction(0)
        losses.append(_Loss("metering.no_intake_points", Fraction(section.coverage_points), {},
                            (), "register_intake_point"))
    else:
        metered = {m.intake_point_id for m in meters}
        without = [p for p in points if p.id not in metered]
        coverage = Fraction(section.coverage_points * (len(points) - len(without)), len(points))
        if without:
            params = {
                "without_meter": len(without),
                "intake_points": len(points),
                "names": [p.name for p in without],
            }
            records = tuple(("intake_point", p.id) for p in without)
            losses.append(_Loss("metering.intake_without_meter",
                                section.coverage_points - coverage, params, records, "add_meter"))
    if not meters:
        return _Judgement(coverage, losses + [
            _Loss("metering.no_meter_in_service", Fraction(section.calibration_points), {}, (),
                  "add_meter")
        ])
    past_life, unverified = [], []
    for meter in meters:
        due_on = meter_calibration_due_on(meter, c.rules)
        life_ends_on = meter_service_life_ends_on(meter, c.rules)
        if life_ends_on is not None and c.today > life_ends_on:
            past_life.append(meter)
        elif meter.last_passed is False or not calibration.is_verified_on(
            c.today, due_on, life_ends_on
        ):
            unverified.append(meter)
    share = Fraction(section.calibration_points, len(meters))
    verified = share * (len(meters) - len(past_life) - len(unverified))
    for code, group, restore in (
        ("metering.meter_unverified", unverified, "calibrate_meter"),
        ("metering.meter_past_service_life", past_life, "replace_meter"),
    ):
        if group:
            params = {
                "count": len(group),
                "in_service": len(meters),
                "serials": [m.serial for m in group],
            }
            losses.append(_Loss(code, share * len(group), params, _meter_records(group), restore))
    return _Judgement(coverage + verified, losses)


def _online_monitoring(c: _Context) -> _Judgement:
    section = c.rules.evaluation.online_monitoring
    full = Fraction(section.points)
    if not online_monitoring_required(c.volume, c.rules):
        return _Judgement(full)
    last = c.today - timedelta(days=1)  # today is not over: its data may still arrive
    first = c.today - timedelta(days=section.window_days)
    days = sum(1 for day in c.facts.online_days if first <= day <= last)
    ratio = Fraction(days, section.window_days)
    earned = full * min(Fraction(1), ratio / _exact(section.target_ratio))
    if earned == full:
        return _Judgement(full)
    params = {
        "days_with_data": days,
        "window_days": section.window_days,
        "target_ratio": section.target_ratio,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "permitted_m3": float(c.volume),
    }
    records = tuple(("meter", m.id) for m in meters_in_service(c.facts, c.today))
    loss = _Loss("online.coverage", full - earned, params, records, "connect_online_monitoring")
    return _Judgement(earned, [loss])


def _planned_use(c: _Context) -> _Judgement:
    section = c.rules.evaluation.planned_use
    year = c.today.year
    plan = plan_of_year(c.facts, year)
    permit_record = () if c.reference is None else (("permit", c.reference.id),)
    losses: list[_Loss] = []
    earned = Fraction(section.plan_points)
    if plan is None and plan_required(c.volume, c.rules):
        earned = Fraction(0)
        params = {"year": year, "permitted_m3": float(c.volume),
                  "threshold_m3": c.rules.thresholds.plan_required_m3_per_year}
        losses.append(_Loss("planned_use.no_plan", Fraction(section.plan_points), params,
                            permit_record, "submit_plan"))

    year_start, through = date(year, 1, 1), month_start(c.today)  # months before `through`
    months = sorted(
        (r for r in c.facts.monthly_readings if year_start <= r.period < through),
        key=lambda r: r.period,
    )
    use = sum((_exact(r.volume_m3) for r in months), Fraction(0))
    if plan is not None:
        basis, basis_kind, basis_records = plan.planned_volume_m3, "plan", (("plan", plan.id),)
    else:
        basis, basis_kind, basis_records = c.volume, "permit", permit_record
    elapsed = (through - year_start).days
    allowance = _exact(basis) * elapsed / (date(year + 1, 1, 1) - year_start).days
    if allowance > 0:
        over: Fraction | None = (use - allowance) / allowance * 100
    else:
        over = Fraction(0) if use == 0 else None  # any use against nothing allowed
    tiers = section.over_plan_tiers
    tier = section.tier_for(math.inf if over is None else over)  # exact: Fraction vs float
    earned += tier.points
    use_params = {
        "use_m3": float(use),
        "through": (through - timedelta(days=1)).isoformat() if elapsed else None,
        "basis": basis_kind,
        "basis_m3": float(basis),
    }
    month_records = tuple(("reading_month", reading_month_id(r.period)) for r in months)
    if tier.points < tiers[0].points:
        params = {
            **use_params,
            "allowance_m3": round(float(allowance), 2),
            "over_percent": _percent(over),
            "severity": tier.severity,
        }
        losses.append(_Loss("planned_use.over_plan", Fraction(tiers[0].points - tier.points),
                            params, basis_records + month_records, "reduce_intake"))
    cap = None
    if use > _exact(c.volume):
        cap = section.over_permit_grade_cap
        params = {**use_params, "permitted_m3": float(c.volume), "grade_cap": cap}
        losses.append(_Loss("planned_use.over_permit", Fraction(0), params,
                            permit_record + month_records, "apply_permit_change"))
    return _Judgement(earned, losses, cap=cap)


def _water_balance(c: _Context) -> _Judgement:
    full = Fraction(c.rules.evaluation.water_balance.points)
    if not balance.balance_test_required(c.facts.industry_code, c.rules):
        return _Judgement(full)
    due_on = balance_test_due_on(c.facts, c.rules)
    if c.today <= due_on:
        return _Judgement(full)
    last = last_balance_test(c.facts)
    params: dict[str, Any] = {"due_on": due_on.isoformat(), "days_overdue": (c.today - due_on).days}
    if last is None:
        params |= {"opened_on": c.facts.opened_on.isoformat(),
                   "first_test_due_months": c.rules.water_balance.first_test_due_months}
        loss = _Loss("water_balance.never_tested", full, params, (), "book_balance_test")
    else:
        params |= {"last_tested_on": last.tested_on.isoformat(),
                   "interval_years": c.rules.water_balance.interval_years}
        loss = _Loss("water_balance.overdue", full, params, (("balance_test", last.id),),
                     "book_balance_test")
    return _Judgement(Fraction(0), [loss])


def _records(c: _Context) -> _Judgement:
    section = c.rules.evaluation.records
    full = Fraction(section.points)
    this_month = month_start(c.today)
    month = max(add_months(this_month, -section.window_months), month_start(c.facts.opened_on))
    by_period = {r.period: r for r in c.facts.monthly_readings}
    on_time, late, missing = 0, [], []
    while month < this_month:
        deadline = reading_due_on(month, c.rules)
        reading = by_period.get(month)
        submitted = None if reading is None else reading.first_submitted_on
        if submitted is not None and submitted <= deadline:
            on_time += 1
        elif c.today > deadline:  # else pending: still time to submit
            (missing if reading is None else late).append(reading_month_id(month))
        month = add_months(month, 1)
    counted = on_time + len(late) + len(missing)
    if counted == 0 or on_time == counted:
        return _Judgement(full)
    earned = full * on_time / counted
    params = {
        "on_time": on_time,
        "months": counted,
        "late_months": late,
        "missing_months": missing,
        "due_day": c.rules.readings.due_day_of_next_month,
    }
    records = tuple(("reading_month", m) for m in sorted(late + missing))
    loss = _Loss("records.late_or_missing", full - earned, params, records, "submit_readings")
    return _Judgement(earned, [loss])


def _inspections(c: _Context) -> _Judgement:
    section = c.rules.evaluation.inspections
    overdue = sorted(
        (r for r in c.facts.rectifications if r.status != "verified" and r.deadline < c.today),
        key=lambda r: (r.deadline, r.id),
    )
    deductions = []
    for r in overdue:
        params = {
            "deadline": r.deadline.isoformat(),
            "days_overdue": (c.today - r.deadline).days,
            "inspection_id": r.inspection_id,
            "status": r.status,
        }
        loss = _Loss("inspections.overdue_rectification", Fraction(0), params,
                     (("rectification", r.id),), "rectify")
        deductions.append((section.overdue_rectification_deduction, loss))
    return _clamped(deductions, section.points)


_JUDGES = {
    "permit": _permit,
    "metering": _metering,
    "online_monitoring": _online_monitoring,
    "planned_use": _planned_use,
    "water_balance": _water_balance,
    "records": _records,
    "inspections": _inspections,
}


def _row(rule: str, judgement: _Judgement, rules: Rules) -> RuleRow:
    decimals = rules.evaluation.points_decimals
    maximum = rules.evaluation.points_of(rule)
    points = _round(min(max(judgement.points, Fraction(0)), Fraction(maximum)), decimals)
    losses = judgement.losses
    lost = [_round(loss.raw, decimals) for loss in losses]
    gap = maximum - points - sum(lost, Fraction(0))
    if gap and losses:
        largest = max(range(len(losses)), key=lambda i: losses[i].raw)
        lost[largest] += gap
    findings = tuple(
        Finding(loss.code, float(amount), loss.params, loss.records, loss.restore)
        for loss, amount in zip(losses, lost, strict=True)
    )
    return RuleRow(rule, float(points), float(maximum), findings)


def evaluate(facts: FileFacts, today: date, rules: Rules) -> Evaluation:
    """Score ``facts`` on ``today`` against ``rules`` (see the module doc for every case)."""
    context = _Context(
        facts=facts,
        today=today,
        rules=rules,
        valid=valid_permits(facts, today, rules),
        reference=reference_permit(facts, today, rules),
        volume=annual_permitted_volume(facts, today, rules),
    )
    judgements = {rule: _JUDGES[rule](context) for rule in RULE_IDS}
    rows = tuple(_row(rule, judgements[rule], rules) for rule in RULE_IDS)
    total = float(_round(sum((_exact(row.points) for row in rows), Fraction(0)),
                         rules.evaluation.points_decimals))
    veto = any(j.veto for j in judgements.values())
    caps = [j.cap for j in judgements.values() if j.cap is not None]
    cap = max(caps, key=rules.evaluation.grade_names.index, default=None)
    grade = rules.evaluation.grade_for(total, veto=veto, cap=cap)
    return Evaluation(total, grade, veto, cap, rules.version, today, rows)
