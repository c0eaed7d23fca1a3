"""Online meters at a glance (issue 17): each meter's data completeness over the rules' window
(registry.domain.telemetry.completeness) and how long it has been silent; the ones silent longer
than the rules allow (``monitoring.silence_hours``) come first, as the work queue's list of
online meters to chase."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Integer, func, select
from sqlalchemy.orm import Session

from registry import access
from registry.bulk import one_of as _one_of
from registry.domain import telemetry as series
from registry.models import Meter, Reading, TelemetryPoint, WaterUser


@dataclass
class OnlineMeter:
    meter_id: int
    serial: str
    telemetry_id: str
    water_user_id: int
    file_no: str
    name: str
    completeness: series.Completeness
    last_point: datetime | None
    silent_hours: float | None
    silent: bool  # beyond the rules' allowed silence (or never heard from)


def online_meters(session: Session, actor, *, today: date, now: datetime, rules, silent_only: bool = False,
                  limit: int = 200) -> list[OnlineMeter]:
    """The online meters in service in the actor's scope, silent ones first."""

    window = rules.evaluation.online_monitoring.window_days
    stmt = access.scoped(
        select(Meter.id, Meter.serial, Meter.telemetry_id, Meter.installed_on, WaterUser.id, WaterUser.file_no,
               WaterUser.name)
        .join(WaterUser, WaterUser.id == Meter.water_user_id)
        .where(Meter.telemetry_id.is_not(None), Meter.removed_on.is_(None), Meter.closed_at.is_(None),
               WaterUser.status == "active"), actor).order_by(WaterUser.file_no, Meter.serial)
    meters = session.execute(stmt).all()
    if not meters:
        return []
    ids = [m[0] for m in meters]
    last = dict(session.execute(select(TelemetryPoint.meter_id, func.max(TelemetryPoint.at))
                                .where(_one_of(session, TelemetryPoint.meter_id, ids, Integer))
                                .group_by(TelemetryPoint.meter_id)).all())
    first_day = today - timedelta(days=window - 1)
    days: dict[int, set] = {}
    for meter_id, day in session.execute(
            select(Reading.meter_id, Reading.read_on).where(
                _one_of(session, Reading.meter_id, ids, Integer), Reading.read_on >= first_day,
                Reading.read_on <= today, Reading.source == "online", Reading.closed_at.is_(None),
                Reading.status != "rejected").distinct()):
        days.setdefault(meter_id, set()).add(day)
    out = []
    allowed = rules.monitoring.silence_hours
    for meter_id, serial, tid, installed_on, wu_id, file_no, name in meters:
        point = last.get(meter_id)
        hours = series.silent_hours(point, now)
        c = series.completeness(days.get(meter_id, set()), today, window, history_from=installed_on)
        if c.last_seen is None and point is None:
            silent = True
        else:
            silent = hours is None or hours > allowed
            if point is None and c.last_seen is not None:  # daily readings only (no points): judge by day
                silent = (today - c.last_seen).days * 24 > allowed
        if silent_only and not silent:
            continue
        out.append(OnlineMeter(meter_id, serial, tid, wu_id, file_no, name, c, point, hours, silent))
    out.sort(key=lambda m: (not m.silent, -(m.silent_hours or 1e9) if m.silent else 0, m.file_no))
    return out[:limit]
