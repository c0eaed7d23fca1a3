"""Compliance evaluations: load the facts of many files in a fixed number of queries, judge them
with ``domain.scoring`` and ``domain.due``, and keep the results.

Set-based: one streamed SELECT per kind of record, each ordered by water user and merged in
step, so recomputing 100,000 files issues the same dozen queries as recomputing one (the
nightly :func:`recompute` repeats them per batch of 5,000 files, as it does its writes). Only
what the rules read is loaded: online readings as a count of days in the window, monthly
readings from the first month judged. A new evaluation row is written only when the result
changes (the rows are the score history); the water user's cached grade and its due items are
refreshed with it.
"""
from __future__ import annotations

import gc
import json
import logging
import os
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable, Iterable, Iterator, NamedTuple

from sqlalchemy import Integer, Interval, Text, and_, bindparam, case, cast, delete, func, literal, or_, select, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.pool import NullPool

from registry import clock
from registry.bulk import JsonText, copy_rows
from registry.domain import due as due_engine
from registry.domain import calibration as calib
from registry.domain import scoring
from registry.domain.dates import add_months, month_start
from registry.domain.plans import PlanVersionFact
from registry.domain.facts import (BalanceTestFact, FileFacts, IntakePointFact, MeterFact, MonthlyReadingFact,
                                   OnlineDaysCount, PermitFact, PlanFact, RectificationFact)
from registry.models import (AnnualPlan, PlanProposal, PlanVersion, BalanceTest, Calibration, DueItem, Evaluation, IndustryPeriod, Inspection,
                             IntakePoint, Meter,
                             PendingEvaluation, Permit, Reading, Rectification, WaterUser, permit_intake_points, utcnow)
from registry.services import certificate_status, rules_in_force

log = logging.getLogger(__name__)
STREAM_CHUNK = 2000
ONLINE_WINDOW_DAYS = 120  # covers the rules' window (90 days) with room for a changed rule


class _Stream:
    """Rows ordered by water user id; ``take(id)`` returns that user's rows and moves on."""

    def __init__(self, rows: Iterable):
        self._result = rows
        self._rows = iter(rows)
        self._next = next(self._rows, None)

    def close(self) -> None:
        """Rows of files the driving list leaves out (closed ones) may remain: a server-side
        cursor is closed here, not left to the garbage collector."""
        close = getattr(self._result, "close", None)
        if close is not None:
            close()

    def take(self, water_user_id: int) -> list:
        out = []
        while self._next is not None and self._next[0] < water_user_id:
            self._next = next(self._rows, None)
        while self._next is not None and self._next[0] == water_user_id:
            out.append(self._next)
            self._next = next(self._rows, None)
        return out


def _scope(column, ids, between) -> list:
    """Conditions on a water-user id column: in ``ids``, and from ``between[0]`` to ``between[1]``."""
    conditions = []
    if ids is not None:
        conditions.append(column.in_(ids))
    if between is not None:
        conditions.append(column.between(*between))
    return conditions


def _stream(session: Session, stmt, ids, between=None, fetch_all=False):
    """Plain rows through the session's connection (Core): no ORM bookkeeping per row."""
    stmt = stmt.where(*_scope(stmt.selected_columns[0], ids, between))
    # Options on the statement, not the connection: on the session's connection they would
    # outlive this query and put the following UPDATEs in server-side cursors (SQLAlchemy 2.1).
    if fetch_all:
        return _Stream(session.connection().execute(stmt).all())
    stmt = stmt.execution_options(stream_results=True, yield_per=STREAM_CHUNK)
    return _Stream(session.connection().execute(stmt))


def iter_facts(session: Session, today: date, ids: list[int] | None = None, *, rules=None,
               between: tuple[int, int] | None = None, fetch_all: bool = False) -> Iterator[FileFacts]:
    """The facts of every open file (or of ``ids``, or with an id from ``between[0]`` to
    ``between[1]``), in water-user order, streamed.

    With ``rules``, online readings come as the count of days with data in the rules' window
    (``online_counted``: one row per online file instead of one per day and meter); without,
    as the days themselves (``online_days``, the last ``ONLINE_WINDOW_DAYS``). ``fetch_all``
    reads every row at the first step instead of streaming (the read is over sooner: on
    SQLite, a writer waits for it).
    """
    live_renewal = aliased(Permit)
    # The start of a live renewal: the old permit is superseded from that day, not from its entry.
    renewal_starts_on = (select(func.min(live_renewal.valid_from))
                         .where(live_renewal.renews_id == Permit.id, live_renewal.closed_at.is_(None))
                         .scalar_subquery())
    # The latest live calibration of each meter of these files (ranked among theirs only).
    cal_meter = aliased(Meter)
    # Only verifications (首次检定 / 后续检定) count: in-use checks and on-site calibrations do
    # not restart the interval (calibration.VERIFICATION_KINDS); the domain judges the rest.
    first_initial = case((and_(Calibration.kind == "initial", Calibration.passed.is_(True)),
                          Calibration.calibrated_on))
    latest_cal = (select(Calibration.meter_id, Calibration.id, Calibration.calibrated_on, Calibration.next_due_on,
                         Calibration.passed, Calibration.error_pct, Calibration.kind,
                         func.min(first_initial).over(partition_by=Calibration.meter_id).label("first_verified_on"),
                         func.row_number().over(partition_by=Calibration.meter_id,
                                                order_by=(Calibration.calibrated_on.desc(), Calibration.id.desc()))
                         .label("rank"))
                  .join(cal_meter, cal_meter.id == Calibration.meter_id)
                  .where(Calibration.closed_at.is_(None), Calibration.kind.in_(calib.VERIFICATION_KINDS),
                         *_scope(cal_meter.water_user_id, ids, between)).subquery())
    since = month_start(add_months(today, -24))
    queries = {
        "points": select(IntakePoint.water_user_id, IntakePoint.id, IntakePoint.name)
        .where(IntakePoint.closed_at.is_(None)).order_by(IntakePoint.water_user_id, IntakePoint.id),
        "permits": select(Permit.water_user_id, Permit.id, Permit.number, Permit.valid_from, Permit.valid_to,
                          Permit.annual_volume_m3, Permit.renewal_applied_on, Permit.revoked_on,
                          renewal_starts_on.label("renewal_starts_on"), permit_intake_points.c.intake_point_id)
        .outerjoin(permit_intake_points, permit_intake_points.c.permit_id == Permit.id)
        .where(Permit.closed_at.is_(None)).order_by(Permit.water_user_id, Permit.id),
        "plans": select(AnnualPlan.water_user_id, AnnualPlan.id, AnnualPlan.year, AnnualPlan.planned_volume_m3,
                        AnnualPlan.breakdown, AnnualPlan.shares)
        .where(AnnualPlan.closed_at.is_(None)).order_by(AnnualPlan.water_user_id, AnnualPlan.id),
        # The versions of the plans that were adjusted or carry a breakdown (others are one
        # version of their own figures from 1 January: no row read for them).
        "plan_versions": select(AnnualPlan.water_user_id, PlanVersion.plan_id, PlanVersion.number,
                                PlanVersion.effective_from, PlanVersion.planned_volume_m3, PlanVersion.breakdown,
                                PlanVersion.shares)
        .join(AnnualPlan, AnnualPlan.id == PlanVersion.plan_id)
        .where(AnnualPlan.closed_at.is_(None), or_(
            AnnualPlan.breakdown.is_not(None),
            PlanVersion.plan_id.in_(select(PlanVersion.plan_id).where(PlanVersion.number > 1))))
        .order_by(AnnualPlan.water_user_id, PlanVersion.plan_id, PlanVersion.number),
        "meters": select(Meter.water_user_id, Meter.id, Meter.serial, Meter.intake_point_id, Meter.meter_type, Meter.dn,
                         Meter.q3, Meter.installed_on, Meter.removed_on, Meter.interval_months, Meter.service_life_years,
                         latest_cal.c.calibrated_on, latest_cal.c.id, latest_cal.c.next_due_on, latest_cal.c.passed,
                         latest_cal.c.error_pct, latest_cal.c.kind, latest_cal.c.first_verified_on)
        .outerjoin(latest_cal, and_(latest_cal.c.meter_id == Meter.id, latest_cal.c.rank == 1))
        .where(Meter.closed_at.is_(None)).order_by(Meter.water_user_id, Meter.id),
        "monthly": select(Reading.water_user_id, Reading.period, func.sum(Reading.volume_m3),
                          func.min(Reading.submitted_on))
        .where(Reading.status == "accepted", Reading.read_on.is_(None), Reading.closed_at.is_(None),
               Reading.period >= since)
        .group_by(Reading.water_user_id, Reading.period).order_by(Reading.water_user_id, Reading.period),
        "online": select(Reading.water_user_id, Reading.read_on)
        .where(Reading.read_on.is_not(None), Reading.read_on >= today - timedelta(days=ONLINE_WINDOW_DAYS),
               Reading.source == "online", Reading.status != "rejected", Reading.closed_at.is_(None))
        .group_by(Reading.water_user_id, Reading.read_on).order_by(Reading.water_user_id, Reading.read_on),
        "tests": select(BalanceTest.water_user_id, BalanceTest.id, BalanceTest.tested_on, BalanceTest.next_due_on,
                        BalanceTest.vf, BalanceTest.vr, BalanceTest.vco, BalanceTest.vd, BalanceTest.vl)
        .where(BalanceTest.closed_at.is_(None)).order_by(BalanceTest.water_user_id, BalanceTest.tested_on),
        "rects": select(Rectification.water_user_id, Rectification.id, Rectification.inspection_id,
                        Rectification.deadline, Rectification.status, Rectification.responded_on)
        .join(Inspection, Inspection.id == Rectification.inspection_id)
        .where(Rectification.closed_at.is_(None), Inspection.closed_at.is_(None))
        .order_by(Rectification.water_user_id, Rectification.id),
        # Plan years with a proposal waiting or approved (the plan-proposal reminders skip them).
        "proposals": select(PlanProposal.water_user_id, PlanProposal.year)
        .where(PlanProposal.closed_at.is_(None), PlanProposal.status != "refused")
        .order_by(PlanProposal.water_user_id, PlanProposal.year),
        # The industry history: a change into an industry that must test starts its first-test clock.
        "industries": select(IndustryPeriod.water_user_id, IndustryPeriod.since, IndustryPeriod.industry_code)
        .order_by(IndustryPeriod.water_user_id, IndustryPeriod.since, IndustryPeriod.id),
    }
    counted: _OnlineCounts | None = None
    if rules is not None:
        # Only the months and days the rules read.
        queries["monthly"] = queries["monthly"].where(Reading.period >= scoring.monthly_readings_since(today, rules))
        first, last = scoring.online_window(today, rules)
        queries["online"] = (
            select(Reading.water_user_id, func.count(func.distinct(Reading.read_on)))
            .where(Reading.read_on >= first, Reading.read_on <= last, Reading.source == "online",
                   Reading.status != "rejected", Reading.closed_at.is_(None))
            .group_by(Reading.water_user_id).order_by(Reading.water_user_id))
        counted = _OnlineCounts(first, last)
    streams = {name: _stream(session, stmt, ids, between, fetch_all) for name, stmt in queries.items()}
    users = select(WaterUser.id, WaterUser.opened_on, WaterUser.industry_code, WaterUser.status).where(
        WaterUser.status != "closed").order_by(WaterUser.id)
    if ids is not None:
        users = users.where(WaterUser.id.in_(ids))
    if between is not None:
        users = users.where(WaterUser.id.between(*between))
    # The driving list is read whole (small rows), so refreshing water_users never races its cursor.
    try:
        for wu_id, opened_on, industry, status in session.execute(users).all():
            yield _facts(wu_id, opened_on, industry, status, {name: s.take(wu_id) for name, s in streams.items()},
                         counted)
    finally:
        for stream in streams.values():
            stream.close()


class _OnlineCounts(dict):
    """One shared (frozen) count fact per number of days in the window."""

    def __init__(self, first: date, last: date):
        super().__init__()
        self.first, self.last = first, last

    def __missing__(self, days: int) -> OnlineDaysCount:
        fact = self[days] = OnlineDaysCount(self.first, self.last, days)
        return fact


def _facts(wu_id, opened_on, industry, status, rows, counted: _OnlineCounts | None) -> FileFacts:
    permits: dict[int, list] = {}
    for r in rows["permits"]:
        permits.setdefault(r[1], []).append(r)
    online_days, online_counted = frozenset(), None
    if counted is None:
        online_days = frozenset(r[1] for r in rows["online"])
    else:
        online_counted = counted[rows["online"][0][1] if rows["online"] else 0]
    return FileFacts(
        water_user_id=wu_id, opened_on=opened_on, industry_code=industry, status=status,
        intake_points=tuple(IntakePointFact(id=r[1], name=r[2]) for r in rows["points"]),
        permits=tuple(PermitFact(id=pid, number=rs[0][2], valid_from=rs[0][3], valid_to=rs[0][4],
                                 annual_volume_m3=rs[0][5], renewal_applied_on=rs[0][6], revoked_on=rs[0][7],
                                 renewal_starts_on=rs[0][8],
                                 intake_point_ids=frozenset(r[9] for r in rs if r[9] is not None))
                      for pid, rs in permits.items()),
        plans=tuple(PlanFact(id=r[1], year=r[2], planned_volume_m3=r[3],
                             versions=_plan_versions(r, rows["plan_versions"])) for r in rows["plans"]),
        meters=tuple(MeterFact(id=r[1], serial=r[2], intake_point_id=r[3], meter_type=r[4], dn=r[5], q3=r[6],
                               installed_on=r[7], removed_on=r[8], interval_months=r[9], service_life_years=r[10],
                               last_calibrated_on=r[11], last_calibration_id=r[12], last_next_due_on=r[13],
                               last_passed=r[14], last_error_pct=r[15], last_kind=r[16],
                               first_verified_on=r[17]) for r in rows["meters"]),
        monthly_readings=tuple(MonthlyReadingFact(period=r[1], volume_m3=float(r[2] or 0), first_submitted_on=r[3])
                               for r in rows["monthly"]),
        online_days=online_days,
        online_counted=online_counted,
        balance_tests=tuple(BalanceTestFact(id=r[1], tested_on=r[2], next_due_on=r[3], volumes=tuple(r[4:9]))
                            for r in rows["tests"]),
        rectifications=tuple(RectificationFact(id=r[1], inspection_id=r[2], deadline=r[3], status=r[4],
                                               responded_on=r[5])
                             for r in rows["rects"]),
        industry_history=tuple((r[1], r[2]) for r in rows["industries"]),
        proposed_years=frozenset(r[1] for r in rows["proposals"]),
    )


def _plan_versions(plan_row, version_rows) -> tuple[PlanVersionFact, ...]:
    """A plan's versions (services.plans.versions_of, from rows): none read, none kept (one
    version of the plan's own figures); the latest carries the plan's own figures."""
    mine = [r for r in version_rows if r[1] == plan_row[1]]
    if not mine and plan_row[4] is None:
        return ()
    facts = [PlanVersionFact(r[3], r[4], r[5], tuple(r[6] or ())) for r in mine]
    first_day = facts[-1].effective_from if facts else date(plan_row[2], 1, 1)
    return tuple(facts[:-1]) + (PlanVersionFact(first_day, plan_row[3], plan_row[4], tuple(plan_row[5] or ())),)


@dataclass
class Outcome:
    evaluated: int = 0
    changed: int = 0
    failed: list[int] = field(default_factory=list)  # files whose judging raised (recompute): left as they were


def _latest(session: Session, ids: list[int]) -> dict[int, tuple]:
    """The latest stored result of each of ``ids``: (total, grade, veto, rules_version, rows
    as stored JSON text)."""
    newest = select(Evaluation.water_user_id, func.max(Evaluation.id).label("id"))
    low, high = min(ids), max(ids)
    if high - low < 2 * len(ids):  # about a run of ids (a batch of the nightly run): the range
        newest = newest.where(Evaluation.water_user_id.between(low, high))
    else:
        newest = newest.where(Evaluation.water_user_id.in_(ids))
    newest = newest.group_by(Evaluation.water_user_id).subquery()
    stmt = select(Evaluation.water_user_id, Evaluation.total, Evaluation.grade, Evaluation.veto,
                  Evaluation.rules_version, cast(Evaluation.rows, Text)).join(newest, newest.c.id == Evaluation.id)
    return {r[0]: tuple(r[1:]) for r in session.execute(stmt)}


def refresh(session: Session, rules, today: date, ids: list[int] | None = None, *,
            progress: Callable[[int], None] | None = None, batch: int = 5000, fetch_all: bool = False) -> Outcome:
    """Recompute and store evaluations and due items for ``ids`` (None: every open file).

    Runs inside the caller's transaction; the caller commits (a service, once). ``fetch_all``
    reads each query whole instead of streaming it (a known, bounded set of files).
    """
    with collector_paused():
        outcome = Outcome()
        pending: list[_Judged] = []
        # Writes wait until a batch is judged: the streams stay open while we read.
        for facts in iter_facts(session, today, ids, rules=rules, fetch_all=fetch_all):
            pending.append(_judge(facts, today, rules))
            if len(pending) >= batch:
                _store(session, pending, today, outcome, progress, rules)
                pending = []
                gc.collect(1)  # whatever cyclic garbage the batch left, among young objects only
        if pending:
            _store(session, pending, today, outcome, progress, rules)
        return outcome


def recompute(session: Session, rules, today: date, *, workers: int = 1,
              progress: Callable[[int], None] | None = None, batch: int = 5000) -> Outcome:
    """The nightly run over every open file (``registry recompute --all``), committed batch by
    batch, judged by ``workers`` processes.

    Each worker reads and judges a run of water-user ids over its own connection and hands
    back plain rows; this process writes them in id order and commits each batch, so
    SQLite readers (the workers, the web) wait for one batch at most, never for the run, and
    an interrupted run keeps the batches it finished. The same queries per batch whatever
    the number of workers; ``workers=1`` judges in this process. Files waiting for re-scoring
    (:func:`queue`) when the run began are taken off the queue (the run scored them), unless
    marked again while it ran.
    """
    # The marks committed before the run: their readings are committed too, so the run reads
    # them. Not "every mark older than the start": a batch takes its mark's time before it
    # commits, and one that began before the run but committed after the run read its file
    # brought readings the run did not count - its mark must stay.
    marks = _pending_marks(session)
    outcome = _recompute(session, rules, today, workers=workers, progress=progress, batch=batch)
    failed = set(outcome.failed)  # their marks stay: a fixed release scores them
    _unmark(session, {i: at for i, at in marks.items() if i not in failed})
    session.commit()
    return outcome


def _recompute(session: Session, rules, today: date, *, workers: int = 1,
               progress: Callable[[int], None] | None = None, batch: int = 5000) -> Outcome:
    runs = _id_runs(session, batch)
    outcome = Outcome()
    if workers <= 1 or len(runs) <= 1:
        with collector_paused():
            for run in runs:
                # Read whole (a batch is small): PostgreSQL plans a streamed cursor for its first
                # rows, which made a batch's queries several times slower.
                judged = _judge_each(iter_facts(session, today, rules=rules, between=run, fetch_all=True),
                                     today, rules, outcome.failed)
                _store(session, judged, today, outcome, progress, rules)
                session.commit()
                del judged
                gc.collect(1)
        return outcome
    import multiprocessing

    session.commit()  # nothing of ours open while the workers read
    bind = session.get_bind()
    url = bind.url
    # No pooled connection may be inherited by a forked worker: its socket would be shared, and
    # a child closing or using it corrupts ours (psycopg: "pop from an empty deque" in _store).
    # The workers open their own; ours reconnects for the first write.
    bind.dispose()
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with context.Pool(min(workers, len(runs)), initializer=_worker_start, initargs=(url, rules, today)) as pool:
        with collector_paused():
            for judged, failed in pool.imap(_worker_judge, runs):
                outcome.failed.extend(failed)
                _store(session, judged, today, outcome, progress, rules)
                session.commit()
                del judged
                gc.collect(1)
    return outcome


def queue(session: Session, ids: Iterable[int]) -> int:
    """Mark the files ``ids`` as waiting for re-scoring (:func:`drain`), in the caller's
    transaction. A file already waiting is marked again with a later time, so a drain (or the
    nightly run) that took it before these changes leaves it waiting (see :func:`drain`).
    Returns how many.

    Later than the mark it replaces whatever the clock: the time is this process's, taken
    before the upsert waits for the row, so it can be earlier than the stored one (another
    host's clock ahead, a clock stepped back, two batches for one file stamping and committing
    in opposite orders), and the mark would look as old as the one a drain saw."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    table = PendingEvaluation.__table__
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY, insert

        # One statement over an array of ids (rows in the same sorted order): a batch's 1,500
        # files were two 1,000-row VALUES statements of 2 parameters a row (38 ms; 16 ms so).
        rows = select(func.unnest(literal(ids, ARRAY(Integer))), literal(now, table.c.queued_at.type))
        stmt = insert(table).from_select(["water_user_id", "queued_at"], rows)
        later = func.greatest(stmt.excluded.queued_at,
                              table.c.queued_at + literal(timedelta(microseconds=1), Interval()))
        session.execute(stmt.on_conflict_do_update(index_elements=["water_user_id"], set_={"queued_at": later}))
        return len(ids)
    from sqlalchemy.dialects.sqlite import insert

    # One writer at a time: no batch marks these files between this read and the upsert
    # (the caller has written already; otherwise its first write waits for the others).
    latest = session.scalar(select(func.max(table.c.queued_at)).where(table.c.water_user_id.in_(ids)))
    if latest is not None:
        now = max(now, latest + timedelta(microseconds=1))
    stmt = insert(table)
    later = stmt.excluded.queued_at
    stmt = stmt.on_conflict_do_update(index_elements=["water_user_id"], set_={"queued_at": later})
    session.execute(stmt, [{"water_user_id": i, "queued_at": now} for i in ids])
    return len(ids)


def drain(session: Session, rules=None, today: date | None = None, *, batch: int = 2000,
          progress: Callable[[int], None] | None = None) -> Outcome:
    """Re-score the files waiting in the queue (:func:`queue`), ``batch`` files per transaction,
    oldest first, until none is left that was waiting when the drain began; commits each batch.

    Several drains may run at once (web processes, ``registry recompute --pending``): on
    PostgreSQL a batch is claimed with ``FOR UPDATE SKIP LOCKED``, so no two score one file
    together. SQLite has no row locks: two drains (two processes) may both score a file, one
    after the other (one writer at a time), which stores the same result twice at worst; one
    process serving SQLite, as ``make run`` does, has one drain. A file marked again while its
    batch was being scored keeps its newer mark, and the next drain scores it once more.
    """
    outcome = Outcome()
    cutoff = utcnow()
    table = PendingEvaluation.__table__
    skipped: set[int] = set()  # files whose judging failed in this drain: not claimed again by it
    while True:
        claimed = dict(session.execute(
            select(table.c.water_user_id, table.c.queued_at).where(
                table.c.queued_at <= cutoff, table.c.water_user_id.not_in(skipped) if skipped else true())
            .order_by(table.c.queued_at, table.c.water_user_id).limit(batch)
            .with_for_update(skip_locked=True)).all())
        if not claimed:
            session.commit()  # nothing claimed: end the read transaction
            return outcome
        if rules is None:
            rules = rules_in_force.current(session)
        done, failed = _refresh_apart(session, rules, today or clock.today(), sorted(claimed), progress)
        outcome.evaluated += done.evaluated
        outcome.changed += done.changed
        skipped.update(failed)
        # Only marks as old as the one claimed (a newer one waits); a file that failed keeps its mark.
        _unmark(session, {i: at for i, at in claimed.items() if i not in skipped})
        session.commit()


def _refresh_apart(session: Session, rules, today: date, ids: list[int], progress) -> tuple[Outcome, list[int]]:
    """:func:`refresh` of ``ids`` in a savepoint; should judging fail (a file whose records break a
    rule's code), the halves are tried apart, down to the single files that fail, which are
    logged and left out, so that the queue does not stop behind one file. Database errors
    (the connection went away) are raised: every file would fail alike."""
    try:
        with session.begin_nested():
            # Read whole (a batch is bounded): no server-side cursor left open by a failure.
            return refresh(session, rules, today, ids, progress=progress, fetch_all=True), []
    except DBAPIError:
        raise
    except Exception:
        if len(ids) == 1:
            log.exception("scoring file %s failed; it stays marked for re-scoring", ids[0])
            return Outcome(), ids
        half = len(ids) // 2
        first, failed_first = _refresh_apart(session, rules, today, ids[:half], progress)
        second, failed_second = _refresh_apart(session, rules, today, ids[half:], progress)
        return (Outcome(first.evaluated + second.evaluated, first.changed + second.changed),
                failed_first + failed_second)


def _pending_marks(session: Session) -> dict:
    """Every file waiting for re-scoring, with the time of its mark, as committed now."""
    table = PendingEvaluation.__table__
    return dict(session.execute(select(table.c.water_user_id, table.c.queued_at).order_by(table.c.water_user_id)).all())


def _unmark(session: Session, marks: dict) -> None:
    """Take the files of ``marks`` (id: time seen) off the queue, unless marked again since.
    In id order, the order in which :func:`queue` locks them, so that waiting for a batch's
    marks (the nightly run's rows are not claimed) cannot deadlock with it on PostgreSQL."""
    if not marks:
        return
    table = PendingEvaluation.__table__
    session.connection().execute(delete(table).where(table.c.water_user_id == bindparam("id"),
                                                     table.c.queued_at <= bindparam("at")),
                                 [{"id": i, "at": at} for i, at in sorted(marks.items())])


def pending_since(session: Session, water_user_id: int):
    """When the file was marked for re-scoring, or None: its score is up to date."""
    return session.scalar(select(PendingEvaluation.queued_at).where(PendingEvaluation.water_user_id == water_user_id))


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PendingEvaluation)) or 0


def default_workers() -> int:
    """Worker processes for :func:`recompute` by default: one per CPU, at most 4 (the parent
    writes every batch, so more would wait for it)."""
    return min(os.cpu_count() or 1, 4)


def _id_runs(session: Session, size: int) -> list[tuple[int, int]]:
    """First and last id of each run of ``size`` open files, in id order."""
    ids = session.scalars(select(WaterUser.id).where(WaterUser.status != "closed").order_by(WaterUser.id)).all()
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


_WORKER: dict = {}


def _worker_start(url, rules, today) -> None:
    """A worker process: its own engine (nothing shared with the parent's connections)."""
    from sqlalchemy import create_engine

    engine = create_engine(url, poolclass=NullPool)
    _WORKER.update(session=Session(engine), rules=rules, today=today)


def _worker_judge(run: tuple[int, int]) -> tuple[list[_Judged], list[int]]:
    session, rules, today = _WORKER["session"], _WORKER["rules"], _WORKER["today"]
    with collector_paused():
        try:
            failed: list[int] = []
            return _judge_each(iter_facts(session, today, rules=rules, between=run, fetch_all=True),
                               today, rules, failed), failed
        finally:
            session.rollback()  # release the read snapshot (SQLite: its shared lock)


@contextmanager
def collector_paused():
    """The cyclic garbage collector paused: a recompute allocates millions of small acyclic
    objects (rows, facts, results), and the collections they trigger walked the whole heap,
    the application's modules included: 40 % of a run. Reference counting frees them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Judged(NamedTuple):
    """One file judged, as plain values ready to store (cheap to hand from a worker)."""

    water_user_id: int
    total: float
    grade: str
    veto: bool
    rules_version: str
    rows: str  # the rule rows as JSON text
    due: list[tuple]  # (kind, status, record_type, record_id, due_on, params as JSON text), not ok
    permit_row: scoring.RuleRow | None  # when the permit rule lost points (certificates read it)


class _Verdict(NamedTuple):
    """What ``certificates.revoke_lapsed`` reads of a result: its grade and permit row."""

    grade: str
    rows: tuple


def _judge_each(facts: Iterable[FileFacts], today: date, rules, failed: list[int]) -> list[_Judged]:
    """Judge every file; one whose judging raises (records a rule's code did not expect) is
    logged, added to ``failed`` and left as it was, so the nightly run scores all the others."""
    judged = []
    for one in facts:
        try:
            judged.append(_judge(one, today, rules))
        except Exception:
            log.exception("scoring file %s failed; its last evaluation and due items stay", one.water_user_id)
            failed.append(one.water_user_id)
    return judged


def _judge(facts: FileFacts, today: date, rules) -> _Judged:
    result = scoring.evaluate(facts, today, rules)
    items = due_engine.due_items(facts, today, rules)
    rows = result.to_dict()["rows"]
    permit = next((row for row in result.rows if row.rule == "permit"), None)
    return _Judged(
        facts.water_user_id, result.total, result.grade, result.veto, result.rules_version,
        JsonText(json.dumps(rows, ensure_ascii=False)),  # as copy_rows would write it
        [(item.kind, item.status, item.record[0] if item.record else None, item.record[1] if item.record else None,
          item.due_on, JsonText(json.dumps(_plain(item.params), ensure_ascii=False)))
         for item in items if item.status != "ok"],
        permit if permit is not None and permit.findings else None)


def _unchanged(latest: tuple | None, judged: _Judged) -> bool:
    """Whether ``judged`` is what the latest stored evaluation says (then no history row)."""
    if latest is None or latest[:4] != (judged.total, judged.grade, judged.veto, judged.rules_version):
        return False
    # Stored by this module, the text is the same; written otherwise, compare the values.
    return latest[4] == judged.rows or json.loads(latest[4]) == json.loads(judged.rows)


_DUE_COLUMNS = ("kind", "status", "record_type", "record_id", "due_on", "params")


def _store(session, pending: list[_Judged], today, outcome: Outcome, progress, rules=None) -> None:
    ids = [judged.water_user_id for judged in pending]
    latest = _latest(session, ids)
    new_rows, cached, due_rows = [], [], []
    for judged in pending:
        wu_id = judged.water_user_id
        if not _unchanged(latest.get(wu_id), judged):
            new_rows.append({"water_user_id": wu_id, "evaluated_on": today, "rules_version": judged.rules_version,
                             "total": judged.total, "grade": judged.grade, "veto": judged.veto, "rows": judged.rows})
        cached.append({"wu_id": wu_id, "grade": judged.grade, "score": judged.total,
                       "evaluated_on": today, "rules_version": judged.rules_version})
        for item in judged.due:
            row = dict(zip(_DUE_COLUMNS, item))
            row["water_user_id"] = wu_id
            due_rows.append(row)
    connection = session.connection()
    if new_rows:
        copy_rows(session, Evaluation.__table__, new_rows)
    table = WaterUser.__table__
    connection.execute(update(table).where(table.c.id == bindparam("wu_id"))
                       .values(grade=bindparam("grade"), score=bindparam("score"),
                               evaluated_on=bindparam("evaluated_on"), rules_version=bindparam("rules_version")),
                       cached)
    # Due items are a derived cache of this refresh, replaced whole (records themselves are never deleted).
    connection.execute(delete(DueItem.__table__).where(DueItem.__table__.c.water_user_id.in_(ids)))
    if due_rows:
        copy_rows(session, DueItem.__table__, due_rows)
    if rules is not None:  # certificates follow the grade (a rule option, see services.certificate_status)
        verdicts = {j.water_user_id: _Verdict(j.grade, () if j.permit_row is None else (j.permit_row,))
                    for j in pending}
        certificate_status.revoke_lapsed(session, today, rules, verdicts)
    outcome.evaluated += len(pending)
    outcome.changed += len(new_rows)
    if progress:
        progress(len(pending))


def _plain(params: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items()}


def history(session: Session, water_user_id: int, limit: int = 60) -> list[Evaluation]:
    return list(session.scalars(select(Evaluation).where(Evaluation.water_user_id == water_user_id)
                                .order_by(Evaluation.id.desc()).limit(limit)))[::-1]


def by_water_user(rows) -> dict[int, list]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.water_user_id].append(row)
    return grouped


def refresh_one(session: Session, water_user_id: int) -> Outcome:
    """After a change to one file: same queries as the nightly run, limited to this file."""
    session.flush()
    return refresh(session, rules_in_force.current(session), clock.today(), [water_user_id])
