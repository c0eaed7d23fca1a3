"""Verified volumes (核定水量) and the water-resource tax hand-over (水资源税, 财税〔2024〕28号).

Pure functions of plain facts (no ORM): ``services.tax`` loads the facts of many files at once and
stores what :func:`statement` answers. The rules are the ``tax`` and ``plan_year`` sections of the
rules in force (defaults marked as such for the bureau to set).

**Verified volume of an intake point for a month** (the unit of a reading). The days counted are
the month's days from the file's opening. For each meter in service on the point that month:

- *verified* on each of its days in service: the latest verification counts and the day is within
  its due date and service life plus ``unverified_grace_days``; a meter with no verification is
  counted for ``unverified_grace_days`` after its installation, one whose latest verification failed
  (or is beyond the tolerance) for that long after it. A meter unverified on any of its days that
  month is not counted for the month (a monthly reading cannot be split): its days are
  **estimated** (reason ``unverified_meter``);
- else its accepted monthly reading counts (readings of every channel, ``accepted`` only: pending,
  rejected and flagged ones do not);
- else its accepted daily online readings count; a run of days without data longer than
  ``telemetry_gap_limit_hours`` is estimated (``telemetry_gap``), shorter runs are covered by the
  totalizer's next value;
- else (nothing accepted) its days are estimated (``no_reading``).

Days with no meter in service on the point are estimated (``no_meter``). A day estimated for one
meter but measured by another on the same point is measured. ``gap_hours`` is the hook for the
telemetry's own gap detection: hours of a meter-month beyond the limit that its reading does not
include, estimated as ``telemetry_gap``.

**Estimate** (method ``design_capacity_hours``): the point's design capacity (m³/h) × 24 h × the
days estimated. A point without a design capacity is estimated at 0 and flagged ``no_capacity``.

**Split of a quarter** (per taxpayer). U_s = verified volume of source s (surface, ground);
L_s = the permitted share of s = Σ over the quarter's days of the annual volume in force that day ÷
the days of the year (permits in force as ``due.permit_status_of`` says; per source the largest);
over-permit_s = max(0, U_s − L_s); W_s = U_s − over-permit_s, W = Σ W_s. The plan share P is the
plan's allowance of the quarter (``domain.plans.allowance``: its breakdown share, else the year's
volume by day, each version for its days); without a plan of the year the basis is L = Σ L_s (so a
user without a plan has no over-plan part). Over plan = max(0, W − P), in tiers of P:
tier k is the part of it between P × up_to(k−1) % and P × up_to(k) %. Within plan = W − over plan.
The over-plan tiers are attributed to the sources in proportion to W_s.

**Tax** (indicative, for the tax office to check): Σ_s rate(s, use) × (within_s + Σ_k tier_k,s ×
multiplier_k + over-permit_s × over_permit_multiplier). Volumes are exact until they are shown,
rounded half up to 0.01 m³ and 0.01 yuan.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from collections.abc import Mapping, Sequence

from registry.domain import calibration
from registry.domain import due as due_engine
from registry.domain.dates import add_months
from registry.domain.facts import MeterFact, PermitFact, PlanFact
from registry.domain.plans import allowance, exact, quarter_bounds
from registry.domain.rules import Rules

SOURCES = ("surface", "ground")
_WHOLE = 10 ** 15  # below it, hundredths are exact as two-place decimals (Decimal's 28 digits)
PERMIT_SOURCE = {"S": "surface", "G": "ground"}
REASONS = ("no_meter", "unverified_meter", "no_reading", "telemetry_gap")


@dataclass(frozen=True)
class PointFact:
    id: int
    name: str
    source: str  # surface | ground
    design_capacity_m3h: float | None


@dataclass(frozen=True)
class TaxFacts:
    water_user_id: int
    file_no: str
    name: str
    uscc: str
    division_code: str
    industry_code: str
    opened_on: date
    points: tuple[PointFact, ...] = ()
    permits: tuple[PermitFact, ...] = ()
    plan: PlanFact | None = None  # the plan of the statement's year
    meters: tuple[MeterFact, ...] = ()
    monthly: Mapping[tuple[int, date], float] = field(default_factory=dict)  # (meter, month) -> accepted m³
    # (meter, month) -> {day: accepted m³} of daily online readings
    daily: Mapping[tuple[int, date], Mapping[date, float]] = field(default_factory=dict)
    gap_hours: Mapping[tuple[int, date], float] = field(default_factory=dict)  # the telemetry hook


def _month_days(month: date, opened_on: date) -> tuple[date, ...]:
    """The month's days from the file's opening."""
    return _days_from(max(month, opened_on), month)


@lru_cache(maxsize=4096)
def _days_from(day: date, month: date) -> tuple[date, ...]:
    """The days from ``day`` to the end of ``month`` (shared: most files opened before the month)."""
    end = add_months(month, 1)
    return tuple(day + timedelta(days=i) for i in range((end - day).days))


def verified_until(meter: MeterFact, rules: Rules) -> date | None:
    """The last day the meter's volumes count (None: no end), grace included."""
    grace = timedelta(days=rules.tax.estimation.unverified_grace_days)
    fault = due_engine.meter_verification_fault(meter, rules)
    if fault == calibration.NEVER_VERIFIED:
        return meter.installed_on + grace
    if fault is not None:
        return meter.last_calibrated_on + grace
    deadline = calibration.meter_deadline(due_engine.meter_calibration_due_on(meter, rules),
                                          due_engine.meter_service_life_ends_on(meter, rules))
    return None if deadline is None else deadline + grace


@dataclass
class PointMonth:
    point_id: int
    month: date
    measured: Fraction = Fraction(0)
    estimated_days: dict[str, int] = field(default_factory=dict)  # reason -> days
    estimated_hours: dict[str, Fraction] = field(default_factory=dict)  # reason -> hours (gap hook)
    estimated: dict[str, Fraction] = field(default_factory=dict)  # reason -> m³
    no_capacity: bool = False

    @property
    def total(self) -> Fraction:
        if not self.estimated:
            return self.measured
        return self.measured + sum(self.estimated.values(), Fraction(0))


def point_month(facts: TaxFacts, point: PointFact, month: date, rules: Rules,
                until_of: dict | None = None) -> PointMonth:
    """The verified volume of one intake point for one month (see the module). ``until_of`` keeps
    each meter's :func:`verified_until` across the months of one statement."""
    out = PointMonth(point.id, month)
    days = _month_days(month, facts.opened_on)
    if not days:
        return out
    limit = rules.tax.estimation.telemetry_gap_limit_hours
    covered: set[date] = set()
    estimated: dict[date, str] = {}
    extra_hours: dict[str, Fraction] = {}
    in_service_any: set[date] = set()
    for meter in facts.meters:
        if meter.intake_point_id != point.id:
            continue
        # Its days in service this month (installed on or before, removed after): a slice of the days.
        lo = max(0, (meter.installed_on - days[0]).days)
        hi = len(days) if meter.removed_on is None else max(0, min(len(days), (meter.removed_on - days[0]).days))
        mine = days[lo:hi]
        if not mine:
            continue
        in_service_any.update(mine)
        if until_of is None:
            until = verified_until(meter, rules)
        elif meter.id in until_of:
            until = until_of[meter.id]
        else:
            until = until_of[meter.id] = verified_until(meter, rules)
        if until is not None and mine[-1] > until:
            for d in mine:
                estimated.setdefault(d, "unverified_meter")
            continue
        key = (meter.id, month)
        if key in facts.monthly:
            out.measured += exact(facts.monthly[key])
            covered.update(mine)
            hours = facts.gap_hours.get(key)
            if hours is not None and hours > limit:
                extra_hours["telemetry_gap"] = extra_hours.get("telemetry_gap", Fraction(0)) + exact(hours)
        elif facts.daily.get(key):
            readings = facts.daily[key]
            in_mine = set(mine)
            out.measured += sum((exact(v) for d, v in readings.items() if d in in_mine), Fraction(0))
            run: list[date] = []
            for d in (*mine, None):
                if d is not None and d not in readings:
                    run.append(d)
                    continue
                if run and len(run) * 24 > limit:
                    for g in run:
                        estimated.setdefault(g, "telemetry_gap")
                else:
                    covered.update(run)
                run = []
                if d is not None:
                    covered.add(d)
        else:
            for d in mine:
                estimated.setdefault(d, "no_reading")
    if len(in_service_any) < len(days):
        for d in days:
            if d not in in_service_any:
                estimated[d] = "no_meter"
    capacity = point.design_capacity_m3h
    out.no_capacity = capacity is None
    rate = Fraction(0) if capacity is None else exact(capacity)
    for d, reason in estimated.items():
        if d in covered:
            continue
        out.estimated_days[reason] = out.estimated_days.get(reason, 0) + 1
    for reason, n in out.estimated_days.items():
        out.estimated_hours[reason] = Fraction(24 * n)
    for reason, hours in extra_hours.items():
        out.estimated_hours[reason] = out.estimated_hours.get(reason, Fraction(0)) + hours
    for reason, hours in out.estimated_hours.items():
        out.estimated[reason] = rate * hours
    return out


def permit_shares(permits: Sequence[PermitFact], start: date, end: date, rules: Rules) -> dict[str, Fraction]:
    """L_s: per source, Σ over the days from ``start`` to ``end`` (excluded) of the annual volume in
    force that day ÷ the days of its year."""
    points = {start, end}
    for p in permits:
        for d in (p.valid_from, p.valid_to + timedelta(days=1), p.revoked_on, p.renewal_starts_on,
                  p.renewal_applied_on):
            if d is not None and start < d < end:
                points.add(d)
    for year in range(start.year + 1, end.year + 1):  # a year boundary changes the days of the year
        if start < date(year, 1, 1) < end:
            points.add(date(year, 1, 1))
    bounds = sorted(points)
    shares = {s: Fraction(0) for s in SOURCES}
    for lo, hi in zip(bounds, bounds[1:]):
        valid = [p for p in permits if due_engine.permit_status_of(p, lo, rules) in due_engine.VALID_PERMIT_STATUSES]
        year_days = (date(lo.year + 1, 1, 1) - date(lo.year, 1, 1)).days
        by_source: dict[str, Fraction] = {}
        for p in valid:
            source = PERMIT_SOURCE.get(due_engine.permit_source(p.number))
            if source is None:
                continue
            by_source[source] = max(by_source.get(source, Fraction(0)), exact(p.annual_volume_m3))
        for source, volume in by_source.items():
            shares[source] += volume * (hi - lo).days / year_days
    return shares


def round2(value: Fraction) -> float:
    """Half up to 0.01 (as a tax office rounds), from the exact value."""
    n, q = value.numerator, value.denominator
    if 100 % q == 0 and -_WHOLE < n < _WHOLE:  # whole hundredths already (1/2, 3/4, 7/10 …): nothing to round
        return n * (100 // q) / 100  # correctly rounded, as float(Decimal) of the same value is
    d = Decimal(value.numerator) / Decimal(value.denominator)
    return float(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _bands(over: Fraction, base: Fraction, rules: Rules) -> list[Fraction]:
    parts, lower = [], Fraction(0)
    for tier in rules.tax.over_plan_tiers:
        upper = None if tier.up_to_percent is None else base * exact(tier.up_to_percent) / 100
        top = over if upper is None else min(over, upper)
        parts.append(max(Fraction(0), top - lower))
        if upper is not None:
            lower = upper
    return parts


def statement(facts: TaxFacts, year: int, quarter: int, rules: Rules) -> dict:
    """The quarter's hand-over statement of one taxpayer: plain JSON-ready figures, each rounded
    from its exact value (see the module for every rule)."""
    start, end = quarter_bounds(year, quarter)
    months = [start, add_months(start, 1), add_months(start, 2)]
    use = {s: Fraction(0) for s in SOURCES}
    measured = {s: Fraction(0) for s in SOURCES}
    estimated = {s: Fraction(0) for s in SOURCES}
    points = []
    until_of: dict = {}
    for point in facts.points:
        rows = [point_month(facts, point, m, rules, until_of) for m in months]
        source = point.source if point.source in SOURCES else "surface"
        for r in rows:
            total = r.total
            use[source] += total
            measured[source] += r.measured
            if r.estimated:
                estimated[source] += total - r.measured
        points.append({
            "id": point.id, "name": point.name, "source": source, "design_capacity_m3h": point.design_capacity_m3h,
            "months": [{
                "month": r.month.isoformat()[:7], "measured_m3": round2(r.measured), "total_m3": round2(r.total),
                "estimated": [{"reason": reason, "days": r.estimated_days.get(reason, 0),
                               "hours": round2(r.estimated_hours[reason]), "m3": round2(r.estimated[reason])}
                              for reason in REASONS if reason in r.estimated],
                "no_capacity": r.no_capacity and bool(r.estimated),
            } for r in rows],
        })
    limits = permit_shares(facts.permits, start, end, rules)
    over_permit = {s: max(Fraction(0), use[s] - limits[s]) for s in SOURCES}
    within_permit = {s: use[s] - over_permit[s] for s in SOURCES}
    w = sum(within_permit.values(), Fraction(0))
    if facts.plan is not None:
        from registry.domain.plans import PlanVersionFact

        versions = facts.plan.versions or (PlanVersionFact(date(year, 1, 1), facts.plan.planned_volume_m3),)
        base, basis = allowance(versions, start, end), "plan"
    else:
        base, basis = sum(limits.values(), Fraction(0)), "permit"
    over_plan = max(Fraction(0), w - base)
    bands = _bands(over_plan, base, rules)
    use_of = rules.tax.use_of(facts.industry_code)
    by_source, tax_total = {}, Fraction(0)
    for s in SOURCES:
        if over_plan:
            share = within_permit[s] / w if w else Fraction(0)
            tiers = [b * share for b in bands]
            within = within_permit[s] - sum(tiers, Fraction(0))
            over = sum((t * exact(tier.multiplier) for t, tier in zip(tiers, rules.tax.over_plan_tiers)), Fraction(0))
        else:  # nothing over plan: every band, so every tier, is 0
            tiers = [Fraction(0)] * len(bands)
            within, over = within_permit[s], Fraction(0)
        rate = exact(rules.tax.rate(s, use_of))
        tax = rate * (within + over + over_permit[s] * exact(rules.tax.over_permit_multiplier))
        tax_total += tax
        by_source[s] = {
            "verified_m3": round2(use[s]), "measured_m3": round2(measured[s]), "estimated_m3": round2(estimated[s]),
            "permitted_share_m3": round2(limits[s]), "within_plan_m3": round2(within),
            "over_plan_m3": [round2(t) for t in tiers], "over_permit_m3": round2(over_permit[s]),
            "rate_yuan_per_m3": float(rules.tax.rate(s, use_of)), "tax_yuan": round2(tax),
        }
    total_use = sum(use.values(), Fraction(0))
    return {
        "water_user": {"id": facts.water_user_id, "file_no": facts.file_no, "name": facts.name, "uscc": facts.uscc,
                       "division_code": facts.division_code, "industry_code": facts.industry_code},
        "period": {"year": year, "quarter": quarter, "from": start.isoformat(),
                   "to": (end - timedelta(days=1)).isoformat()},
        "permits": [{"number": p.number, "source": PERMIT_SOURCE.get(due_engine.permit_source(p.number), "other"),
                     "annual_volume_m3": p.annual_volume_m3, "valid_from": p.valid_from.isoformat(),
                     "valid_to": p.valid_to.isoformat()}
                    for p in sorted(facts.permits, key=lambda p: (p.valid_from, p.number))
                    if p.valid_from < end and p.valid_to >= start],
        "plan": None if facts.plan is None else {
            "year": facts.plan.year, "planned_volume_m3": facts.plan.planned_volume_m3,
            "versions": [{"effective_from": v.effective_from.isoformat(), "planned_volume_m3": v.planned_volume_m3,
                          "breakdown": v.breakdown, "shares": list(v.shares)} for v in facts.plan.versions]},
        "basis": basis, "plan_share_m3": round2(base),
        "use": use_of,
        "points": points,
        "by_source": by_source,
        "totals": {
            "verified_m3": round2(total_use), "measured_m3": round2(sum(measured.values(), Fraction(0))),
            "estimated_m3": round2(sum(estimated.values(), Fraction(0))),
            "within_plan_m3": round2(w - over_plan), "over_plan_m3": [round2(b) for b in bands],
            "over_permit_m3": round2(sum(over_permit.values(), Fraction(0))), "tax_yuan": round2(tax_total),
            "estimated_share": round2(Fraction(100) * sum(estimated.values(), Fraction(0)) / total_use)
            if total_use else 0.0,
        },
        "tiers": [{"up_to_percent": t.up_to_percent, "multiplier": t.multiplier} for t in rules.tax.over_plan_tiers],
        "over_permit_multiplier": rules.tax.over_permit_multiplier,
        "rules_version": rules.version,
        "defaults": list(rules.tax.defaults),
    }


def difference(old: dict, new: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """The figures a correction changed: (dotted path, before, after), in order."""
    out: list[tuple[str, object, object]] = []
    keys = list(dict.fromkeys([*old, *new])) if isinstance(old, dict) and isinstance(new, dict) else None
    if keys is None:
        if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            for i, (a, b) in enumerate(zip(old, new)):
                out += difference(a, b, f"{prefix}[{i}]")
        elif old != new:
            out.append((prefix, old, new))
        return out
    for k in keys:
        out += difference(old.get(k), new.get(k), f"{prefix}.{k}" if prefix else k)
    return out
