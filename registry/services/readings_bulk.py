"""Many readings at once (telemetry gateways, the city platform): validated as a whole, all or
nothing, idempotent on (meter, month), written in bulk. The files whose score the readings can
change are marked for re-scoring in the same transaction (``evaluations.queue``) and re-scored
just after it (``registry.rescoring``): a gateway waits for its readings to be stored, not for
thousands of files to be judged, and a file touched by many batches is judged once."""
from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import psycopg
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Integer, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from registry import access, clock
from registry.bulk import copy_rows, one_of as _one_of
from registry.domain import plausibility
from registry.domain import ranges
from registry.domain.dates import add_months
from registry.models import READING_SOURCES, AuditEvent, Meter, Reading, WaterUser
from registry.services import evaluations, plausibility_context, rules_in_force as rules_versions
from registry.services.checks import range_message
from registry.services.errors import Conflict, ValidationError
from registry.services.unit_of_work import FileChange

MAX_BATCH = 10_000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_INT_MIN, _INT_MAX = -2**31, 2**31 - 1  # an INTEGER column's range
_NUMBERS = (int, float)
_VOLUME_MAX = ranges.RANGES["volume_m3"].high  # the domain range of a monthly volume


@dataclass
class Outcome:
    created: int = 0
    unchanged: int = 0
    queued: int = 0  # files marked for re-scoring (evaluations.drain)


def parse_month(value) -> date | None:
    return _parse_month(value) if isinstance(value, str) else None


@lru_cache(maxsize=4096)  # a batch names a few dozen months, 10,000 times
def _parse_month(value: str) -> date | None:
    m = _MONTH.match(value)
    if not m or not 1 <= int(m.group(2)) <= 12 or not 1950 <= int(m.group(1)) <= 2100:
        return None
    return date(int(m.group(1)), int(m.group(2)), 1)


def first_scored_month(rules, today: date) -> date:
    """The oldest month whose reading can change a file's evaluation or due items: the records
    rule looks at the last ``window_months`` ended months, planned use at this year's ended
    months, due items at last month only (domain.md, 规范评价). An older month's reading (a
    gateway's archive sent as backfill) leaves every score and due date as it was, so its file
    needs no re-evaluation; tests/api/test_readings_bulk.py checks that against a full refresh."""
    this_month = today.replace(day=1)
    return min(add_months(this_month, -rules.evaluation.records.window_months), date(today.year, 1, 1))


def ingest(session: Session, actor, items: list, *, today: date | None = None) -> Outcome:
    """Validate the whole batch, then write it (or nothing) in one transaction."""
    # 10,000 readings make some 100,000 small acyclic objects; the cyclic collector, woken by
    # them, walked the whole heap again and again: a quarter of a batch's time.
    with evaluations.collector_paused():
        for _attempt in range(_ATTEMPTS):
            try:
                return _ingest(session, actor, items, today=today)
            except (IntegrityError, OperationalError, psycopg.Error, sqlite3.Error, ValidationError) as err:
                # A batch sent at the same moment stored some of these (meter, month) first: the
                # unique index refused ours (UniqueViolation; a deadlock between two overlapping
                # batches likewise). Judged again, they are now "unchanged" or "different" (issue
                # 16 item 9: four identical batches at once gave three 500s). COPY runs on the
                # driver's connection: its errors come unwrapped (psycopg's UniqueViolation).
                # Anything else (a lost connection) is left to the error handlers as before. The
                # unit of work gives a lost unique race as the field error it caused (its cause).
                cause = err.__cause__ if isinstance(err, ValidationError) else err
                if cause is None or not _lost_a_race(cause):
                    raise
                session.rollback()
        raise Conflict("readings")


_ATTEMPTS = 3
# PostgreSQL's unique_violation, deadlock_detected and serialization_failure.
_RACE_STATES = {"23505", "40P01", "40001"}


def _lost_a_race(err) -> bool:
    orig = getattr(err, "orig", err)
    state = getattr(orig, "sqlstate", None)
    return state in _RACE_STATES or (state is None and "UNIQUE constraint failed" in str(orig))


def _ingest(session: Session, actor, items: list, *, today: date | None) -> Outcome:
    access.require(actor, "reading.submit")
    if not isinstance(items, list) or len(items) > MAX_BATCH:
        raise ValidationError({"readings": _l("Send a list of at most %(n)d readings.", n=MAX_BATCH)})
    today = today or clock.today()
    this_month = today.replace(day=1)
    errors: dict[str, object] = {}
    parsed, bad = [], set()  # bad: indexes already refused (a set: a batch full of errors stays linear)
    for i, item in enumerate(items):
        if type(item) is dict:
            meter_id, volume = item.get("meter_id"), item.get("volume_m3")
            period, source = parse_month(item.get("period")), item.get("source", "online")
            # The usual reading, checked in one test; any other goes through the checks that
            # name what is wrong (a NaN, an infinity or a 400-digit integer fails the range test).
            if (type(meter_id) is int and period is not None and period <= this_month
                    and type(volume) in _NUMBERS and 0 <= volume <= _VOLUME_MAX and source in READING_SOURCES):
                parsed.append((i, meter_id, period, volume, source))
                continue
        key = f"readings[{i}]"
        if not isinstance(item, dict):
            errors[key] = _l("Each reading is an object.")
            continue
        before = len(errors)
        meter_id = item.get("meter_id")
        if isinstance(meter_id, bool) or not isinstance(meter_id, int):
            errors[f"{key}.meter_id"] = _l("Give the meter's id as a whole number.")
        period = parse_month(item.get("period"))
        if period is None:
            errors[f"{key}.period"] = _l("Enter a month as YYYY-MM.")
        elif period > this_month:
            errors[f"{key}.period"] = _l("The month cannot be in the future.")
        volume = item.get("volume_m3")
        broken = ranges.check("volume_m3", volume) if isinstance(volume, _NUMBERS) else "type"
        if broken:
            errors[f"{key}.volume_m3"] = range_message("volume_m3", broken)
        source = item.get("source", "online")
        if source not in READING_SOURCES:
            errors[f"{key}.source"] = _l("Choose one of the listed options.")
        if len(errors) > before:
            bad.add(i)
        parsed.append((i, meter_id, period, volume, source))

    # A number beyond an INTEGER column is no meter's id ("Unknown meter."), not a driver error.
    ids = {m for i, m, *_ in parsed if i not in bad and _INT_MIN <= m <= _INT_MAX}
    meters = {}
    if ids:
        stmt = select(Meter.id, Meter.water_user_id, Meter.installed_on, Meter.removed_on, Meter.closed_at)
        if not access.sees_every_file(actor):  # every meter belongs to a file: no join to see them all
            stmt = access.scoped(stmt.join(WaterUser, WaterUser.id == Meter.water_user_id), actor)
        meters = {row[0]: row for row in session.execute(stmt.where(_one_of(session, Meter.id, ids, Integer)))}
    pairs = {(m, p) for i, m, p, *_ in parsed if i not in bad and m in meters}
    existing = {}
    if pairs:
        # Meters and months as two flat lists, the pairs picked here: a row-value IN of 10,000
        # pairs exceeds PostgreSQL's stack depth limit (the whole batch failed).
        stmt = select(Reading.meter_id, Reading.period, Reading.volume_m3).where(
            _one_of(session, Reading.meter_id, {m for m, _ in pairs}, Integer),
            _one_of(session, Reading.period, {p for _, p in pairs}, Date),
            Reading.read_on.is_(None), Reading.status.not_in(("rejected", "check")), Reading.closed_at.is_(None))
        existing = {(r[0], r[1]): r[2] for r in session.execute(stmt) if (r[0], r[1]) in pairs}

    seen: set = set()
    new_rows = []
    outcome = Outcome()
    # The actor's attributes read once (each read is an ORM attribute access, 20,000 a batch).
    enterprise, actor_id = actor.role == "enterprise", actor.id
    status = "pending" if enterprise else "accepted"
    first_months = {}  # meter id -> its installation month
    for i, meter_id, period, volume, source in parsed:
        if i in bad:
            continue
        meter = meters.get(meter_id)
        if meter is None or meter[4] is not None:
            errors[f"readings[{i}].meter_id"] = _l("Unknown meter.")
            continue
        first_month = first_months.get(meter_id) or first_months.setdefault(meter_id, meter[2].replace(day=1))
        if period < first_month:
            errors[f"readings[{i}].period"] = _l("The meter was not installed yet in that month.")
            continue
        if meter[3] is not None and period > meter[3]:
            errors[f"readings[{i}].meter_id"] = _l("The meter had been removed by then.")
            continue
        pair = (meter_id, period)
        if pair in seen:
            errors[f"readings[{i}].period"] = _l("The batch has this meter and month twice.")
            continue
        seen.add(pair)
        if pair in existing:
            if abs(existing[pair] - float(volume)) < 1e-9:
                outcome.unchanged += 1
            else:
                errors[f"readings[{i}].volume_m3"] = _l("This meter already has a different reading for that month.")
            continue
        new_rows.append({"water_user_id": meter[1], "meter_id": meter_id, "period": period, "read_on": None,
                         "volume_m3": float(volume), "source": "enterprise" if enterprise else source,
                         "status": status, "submitted_on": today, "submitted_by_id": actor_id, "channel": "api",
                         "_index": i})
    if new_rows and not errors:
        # Plausibility (registry.domain.plausibility), the same as the forms': a hard finding
        # refuses the batch naming the reading, soft ones store the reading flagged.

        judged = plausibility_context.judge(
            session, [(k, row["meter_id"], row["period"], row["volume_m3"], None) for k, row in enumerate(new_rows)],
            rules=rules_versions.current(session), today=today)
        for k, row in enumerate(new_rows):
            hard, flags = judged[k]
            for finding in hard:
                errors[f"readings[{row.pop('_index')}].volume_m3"] = plausibility_context.message(finding)
                break
            else:
                row.pop("_index")
                row["flags"] = flags
                if plausibility.held(flags):
                    row["status"] = "flagged"
    if errors:
        raise ValidationError(errors)
    # The readings, their audit events (in bulk, one per file) and the files' re-scoring marks in one
    # unit of work; the marked files are scored by a job of the queue after the answer
    # (``registry.rescoring``), not in the request: evaluate=False.
    with FileChange(session, actor, today=today, evaluate=False) as change:
        _write(change, new_rows, outcome)
    outcome.created = len(new_rows)
    return outcome


def _write(change: FileChange, new_rows: list[dict], outcome: Outcome) -> None:
    session, actor, today = change.session, change.actor, change.today
    if new_rows:
        copy_rows(session, Reading.__table__, new_rows)
        by_file = defaultdict(list)
        names = {}  # each month's YYYY-MM, written once (a batch names few months)
        for row in new_rows:
            period = row["period"]
            by_file[row["water_user_id"]].append(names.get(period) or names.setdefault(period, f"{period:%Y-%m}"))
        copy_rows(session, AuditEvent.__table__, [
            {"actor_id": actor.id, "action": "create", "entity_type": "Reading", "entity_id": None,
             "water_user_id": wu_id, "summary": f"readings via API: {len(months)}",
             "changes": {"periods": [None, sorted(months)]}, "reason": None}
            for wu_id, months in by_file.items()])
        first = first_scored_month(change.rules, today)
        outcome.queued = evaluations.queue(session, {row["water_user_id"] for row in new_rows
                                                     if row["period"] >= first})
