"""What the plausibility rules (registry.domain.plausibility) need around readings, read in a
few set-based queries for a whole batch: the meter's intake capacity and register, the file's
permitted volume, the meter's verification, and its accepted readings of the 24 months before."""
from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date

from sqlalchemy import Integer, select
from sqlalchemy.orm import Session

from registry import clock
from registry.domain import due
from registry.domain.dates import add_months
from registry.domain.plausibility import Context
from registry.models import IntakePoint, Meter, Reading


def build(session: Session, pairs: set[tuple[int, date]], *, rules, today: date | None = None,
          indexes: dict[tuple[int, date], float | None] | None = None) -> dict[tuple[int, date], Context]:
    """A Context for each (meter id, month) of ``pairs``; ``indexes``: the dial readings sent."""
    from registry.services import evaluations
    from registry.services.readings_bulk import _one_of

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
    from registry.services import rules_versions

    rules = rules or rules_versions.current(session)
    got = build(session, {(meter_id, m) for m in months}, rules=rules, today=today)
    return {p: c for (_, p), c in got.items()}
