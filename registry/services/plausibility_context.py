"""What the plausibility rules (registry.domain.plausibility) need around readings, read in a
few set-based queries for a whole batch: the meter's intake capacity and register, the file's
permitted volume, the meter's verification, and its accepted readings of the 24 months before."""
from __future__ import annotations

import calendar
from dataclasses import replace
from collections import defaultdict
from datetime import date

from sqlalchemy import Integer, select
from sqlalchemy.orm import Session

from registry import clock
from registry.domain import due
from registry.domain.dates import add_months
from registry.domain.plausibility import Context
from registry.models import IntakePoint, Meter, Reading
from registry.bulk import one_of as _one_of
from registry.services import evaluations, rules_in_force as rules_versions


def build(session: Session, pairs: set[tuple[int, date]], *, rules, today: date | None = None,
          indexes: dict[tuple[int, date], float | None] | None = None) -> dict[tuple[int, date], Context]:
    """A Context for each (meter id, month) of ``pairs``; ``indexes``: the dial readings sent."""

    if not pairs:
        return {}
    today = today or clock.today()
    meter_ids = {m for m, _ in pairs}
    meters = {r.id: r for r in session.execute(
        select(Meter.id, Meter.water_user_id, Meter.register_capacity_m3, IntakePoint.design_capacity_m3h)
        .join(IntakePoint, IntakePoint.id == Meter.intake_point_id)
        .where(_one_of(session, Meter.id, meter_ids, Integer)))}
    wu_ids = sorted({r.water_user_id for r in meters.values()})
    facts = {f.water_user_id: f for f in evaluations.iter_facts(session, today, wu_ids)}
    meter_facts = {m.id: m for f in facts.values() for m in f.meters}
    first = add_months(min(p for _, p in pairs), -24)
    history: dict[int, dict[date, tuple[float, float | None]]] = defaultdict(dict)
    for r in session.execute(
            select(Reading.meter_id, Reading.period, Reading.volume_m3, Reading.meter_index)
            .where(_one_of(session, Reading.meter_id, meter_ids, Integer), Reading.period >= first,
                   Reading.read_on.is_(None), Reading.status == "accepted", Reading.closed_at.is_(None))):
        history[r.meter_id][r.period] = (r.volume_m3, r.meter_index)
    out = {}
    permitted_cache: dict[tuple[int, int], float | None] = {}
    for meter_id, period in pairs:
        meter = meters.get(meter_id)
        if meter is None:
            continue
        file = facts.get(meter.water_user_id)
        key = (meter.water_user_id, period.year)
        if key not in permitted_cache:
            permitted_cache[key] = (due.max_permitted_volume(file.permits, date(period.year, 1, 1),
                                                             date(period.year, 12, 31)) if file else None)
        past = history.get(meter_id, {})
        before = sorted((p for p in past if p < period), reverse=True)
        previous_index = next((past[p][1] for p in before if past[p][1] is not None), None)
        last_12 = tuple(past[p][0] for p in before if p >= add_months(period, -12))
        zeros = 0
        month = add_months(period, -1)
        while month in past and past[month][0] == 0:
            zeros += 1
            month = add_months(month, -1)
        end = date(period.year, period.month, calendar.monthrange(period.year, period.month)[1])
        mf = meter_facts.get(meter_id)
        verified = True if mf is None else due.meter_verified_on(mf, min(end, today), rules)
        same = past.get(add_months(period, -12))
        out[(meter_id, period)] = Context(
            period=period, design_capacity_m3h=meter.design_capacity_m3h,
            permitted_annual_m3=permitted_cache[key],
            meter_index=(indexes or {}).get((meter_id, period)), previous_index=previous_index,
            register_capacity_m3=meter.register_capacity_m3,
            same_month_last_year=None if same is None else same[0], previous_12=last_12,
            previous_zero_months=zeros, meter_verified=verified)
    return out


def for_meter_months(session: Session, meter_id: int, months: list[date], *, rules=None,
                     today: date | None = None) -> dict[date, Context]:

    rules = rules or rules_versions.current(session)
    got = build(session, {(meter_id, m) for m in months}, rules=rules, today=today)
    return {p: c for (_, p), c in got.items()}


def message(finding) -> str:
    """A finding in the user's language, with its figures and the rule behind it."""
    from flask_babel import gettext as _

    f = finding.figures
    code = finding.code
    if code == "negative":
        return _("A volume cannot be negative.")
    if code == "above_capacity":
        return _("%(v)s m³ is more than the intake can deliver in the month: design capacity %(c)s m³/h × %(h)d h × "
                 "%(k)s = %(l)s m³ (domain rule: design capacity × hours × factor).", v=f"{f['volume_m3']:,.1f}",
                 c=f"{f['capacity_m3h']:g}", h=f["hours"], k=f"{f['factor']:g}", l=f"{f['limit_m3']:,.1f}")
    if code == "index_backwards":
        return _("The meter index %(i)s is below the previous %(p)s without a rollover of the register.",
                 i=f"{f['meter_index']:g}", p=f"{f['previous_index']:g}")
    if code == "above_permit_share":
        return _("%(v)s m³ is more than the permitted %(p)s m³ a year ÷ 12 × %(k)s = %(l)s m³.",
                 v=f"{f['volume_m3']:,.1f}", p=f"{f['permitted_m3']:,.0f}", k=f"{f['factor']:g}",
                 l=f"{f['limit_m3']:,.1f}")
    if code == "index_jump":
        return _("%(v)s m³ differs from the meter index difference %(i)s m³ by more than %(t)s %%.",
                 v=f"{f['volume_m3']:,.1f}", i=f"{f['index_volume_m3']:,.1f}", t=f"{f['tolerance_percent']:g}")
    if code == "change_vs_last_year":
        return _("%(v)s m³ is %(c)s %% against %(y)s m³ in the same month last year (allowed ±%(l)s %%).",
                 v=f"{f['volume_m3']:,.1f}", c=f"{f['change_percent']:+g}", y=f"{f['last_year_m3']:,.1f}",
                 l=f"{f['limit_percent']:g}")
    if code == "above_median":
        return _("%(v)s m³ is more than %(k)s × the median %(m)s m³ of the 12 months before.",
                 v=f"{f['volume_m3']:,.1f}", k=f"{f['factor']:g}", m=f"{f['median_m3']:,.1f}")
    if code == "below_median":
        return _("%(v)s m³ is less than the median %(m)s m³ of the 12 months before ÷ %(k)s.",
                 v=f"{f['volume_m3']:,.1f}", k=f"{f['factor']:g}", m=f"{f['median_m3']:,.1f}")
    if code == "zero_use":
        return _("No use for %(n)d months from a meter in service.", n=f["months"])
    if code == "flat_line":
        return _("The totalizer stayed unchanged for %(h)s hours (allowed: under %(l)d hours).",
                 h=f"{f['hours']:g}", l=f["limit_hours"])
    if code == "unverified_meter":
        return _("Unverified meter: past its verification date or service life (JJG 162-2019).")
    if code == "compared_with_typed":
        return _("Compared with the typed reading %(t)s m³: difference %(d)s m³.", t=f"{f['typed_m3']:,.1f}",
                 d=f"{f['difference_m3']:+,.1f}")
    if code == "beside_telemetry":
        return _("Kept beside the online meter's %(t)s m³ for comparison; not counted.", t=f"{f['telemetry_m3']:,.1f}")
    return code


def flag_messages(flags) -> list[str]:
    """The stored flags of a reading (JSON) worded for the review queue."""
    from registry.domain.plausibility import Finding

    out = []
    for item in flags or []:
        if isinstance(item, dict) and "code" in item:
            figures = {k: v for k, v in item.items() if k != "code"}
            try:
                out.append(message(Finding(item["code"], figures)))
            except (KeyError, TypeError, ValueError):  # a flag of an older shape: its code
                out.append(str(item["code"]))
    return out


def judge(session: Session, items: list[tuple[object, int, date, float, float | None]], *, rules,
          today: date | None = None):
    """Findings of many readings: ``items`` are (key, meter id, month, volume, meter index);
    answers {key: (hard findings, flags JSON or None)}."""
    from registry.domain import plausibility

    contexts = build(session, {(m, p) for _, m, p, _, _ in items}, rules=rules, today=today)
    out = {}
    for key, meter_id, period, volume, index in items:
        ctx = contexts.get((meter_id, period))
        if ctx is None:
            out[key] = ([], None)
            continue
        if index is not None:
            ctx = replace(ctx, meter_index=index)
        found = plausibility.check(float(volume), ctx, rules)
        out[key] = (plausibility.refused(found), plausibility.flags(found))
    return out
