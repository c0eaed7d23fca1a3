"""Re-scoring after bulk readings when things happen at once: the nightly run and a batch that
commits while it runs, two drains together, a batch arriving while a drain holds its files, and the
re-scoring job of the queue meeting a dead database connection.

The PostgreSQL tests use real concurrent transactions (threads, each with its own application
context and so its own session and connection); they skip on SQLite, which has one writer at a time.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select, update

from registry import rescoring
from registry.clock import today as bureau_today
from registry.domain.dates import add_months
from registry.extensions import db
from registry.models import DueItem, Evaluation, Job, PendingEvaluation, utcnow
from registry.services import evaluations, readings_bulk, rules_versions
from tests import factories as f
from tests.pg_kill import backend_killed_after

TODAY = bureau_today()
LAST_MONTH = add_months(TODAY.replace(day=1), -1)


def _scored_file():
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=6 * 365))
    f.PermitFactory(water_user=meter.water_user)
    evaluations.refresh(db.session, rules_versions.current(db.session), TODAY, [meter.water_user_id])
    db.session.commit()
    return meter


def _reading(meter, month=LAST_MONTH) -> dict:
    return {"meter_id": meter.id, "period": f"{month:%Y-%m}", "volume_m3": 80.0, "source": "online"}


def _pending() -> list[int]:
    db.session.commit()  # see what other transactions committed
    return db.session.scalars(select(PendingEvaluation.water_user_id).order_by(PendingEvaluation.water_user_id)).all()


def _up_to_date(wu_id) -> bool:
    """What a refresh would store now is what is stored (nothing is written: rolled back)."""
    db.session.commit()
    changed = evaluations.refresh(db.session, rules_versions.current(db.session), TODAY, [wu_id]).changed
    db.session.rollback()
    return changed == 0


def _due_rows_per_file() -> dict[int, int]:
    db.session.commit()
    return dict(db.session.execute(select(DueItem.water_user_id, func.count()).group_by(DueItem.water_user_id)).all())


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers and row locks (FOR UPDATE SKIP LOCKED): PostgreSQL; this run is on SQLite")
    return app


class _Thread(threading.Thread):
    """Runs ``fn`` in its own application context (its own session and connection); keeps its error."""

    def __init__(self, app, fn):
        super().__init__(daemon=True)
        self.app, self.fn, self.error, self.result = app, fn, None, None

    def run(self):
        with self.app.app_context():
            try:
                self.result = self.fn()
            except BaseException as e:  # noqa: BLE001 - handed to the test
                self.error = e
                db.session.rollback()
            finally:
                db.session.remove()


def test_the_nightly_run_keeps_the_mark_of_a_batch_that_committed_while_it_ran(app, monkeypatch):
    """A batch marks its files (the time is taken in ``queue``) before it commits. One that began
    before the nightly run and committed after the run had read its file brings readings the run
    did not count: its mark must survive the run, or the file stays stale until the next night."""
    meter = _scored_file()
    wu_id = meter.water_user_id
    admin = f.admin()
    evaluations.queue(db.session, [wu_id])  # an older mark, scored by the run
    db.session.commit()
    began = utcnow()  # the batch's queue() ran now, before the run; it commits only during the run
    real_store = evaluations._store

    def store_after_a_batch_commits(session, *args, **kwargs):
        # The run has read the file's facts (the batch was not committed yet); now it commits.
        readings_bulk.ingest(session, admin, [_reading(meter)], today=TODAY)
        session.execute(update(PendingEvaluation).where(PendingEvaluation.water_user_id == wu_id)
                        .values(queued_at=began))
        session.commit()
        monkeypatch.setattr(evaluations, "_store", real_store)
        return real_store(session, *args, **kwargs)

    monkeypatch.setattr(evaluations, "_store", store_after_a_batch_commits)
    evaluations.recompute(db.session, rules_versions.current(db.session), TODAY, workers=1)

    assert not _up_to_date(wu_id)  # the run did not count the batch's reading ...
    assert _pending() == [wu_id]  # ... so the file stays marked
    evaluations.drain(db.session)
    assert _pending() == [] and _up_to_date(wu_id)


def test_the_nightly_run_takes_off_the_marks_it_saw_and_leaves_newer_ones(app, monkeypatch):
    seen, later = _scored_file().water_user_id, _scored_file().water_user_id
    evaluations.queue(db.session, [seen])
    db.session.commit()
    real_store = evaluations._store

    def store_after_a_new_mark(session, *args, **kwargs):
        evaluations.queue(session, [later])
        session.commit()
        monkeypatch.setattr(evaluations, "_store", real_store)
        return real_store(session, *args, **kwargs)

    monkeypatch.setattr(evaluations, "_store", store_after_a_new_mark)
    evaluations.recompute(db.session, rules_versions.current(db.session), TODAY, workers=1)
    assert _pending() == [later]


def test_two_drains_at_once_score_each_file_once(postgres, monkeypatch):
    files = sorted(_scored_file().water_user_id for _ in range(4))
    evaluations.queue(db.session, files)
    db.session.commit()
    due_before = _due_rows_per_file()
    evaluations_before = db.session.scalar(select(func.count()).select_from(Evaluation))
    together = threading.Barrier(2, timeout=10)
    scored: list[list[int]] = []
    real_refresh = evaluations.refresh

    def refresh_together(session, rules, today, ids, **kwargs):
        scored.append(list(ids))
        if len(scored) <= 2:
            together.wait()  # both drains hold a claimed batch at the same moment
        return real_refresh(session, rules, today, ids, **kwargs)

    monkeypatch.setattr(evaluations, "refresh", refresh_together)
    drains = [_Thread(postgres, lambda: evaluations.drain(db.session, today=TODAY, batch=1)) for _ in range(2)]
    for t in drains:
        t.start()
    for t in drains:
        t.join(30)
    assert not any(t.is_alive() for t in drains)
    assert [t.error for t in drains] == [None, None]

    assert sorted(i for ids in scored for i in ids) == files  # each file scored by one drain, once
    assert sum(t.result.evaluated for t in drains) == len(files)
    assert _pending() == []
    assert _due_rows_per_file() == due_before  # replaced, not doubled
    assert db.session.scalar(select(func.count()).select_from(Evaluation)) == evaluations_before


def test_a_batch_arriving_while_a_drain_holds_its_file_waits_and_its_mark_survives(postgres, monkeypatch):
    """The batch's mark (an upsert) waits for the drain's row lock; the drain deletes the mark it
    claimed and commits, then the batch's mark is written anew: the file is scored once more."""
    meter = _scored_file()
    wu_id = meter.water_user_id
    admin_id = f.admin().id
    evaluations.queue(db.session, [wu_id])
    db.session.commit()
    claimed, go = threading.Event(), threading.Event()
    real_refresh = evaluations.refresh

    def refresh_held(session, *args, **kwargs):
        claimed.set()
        assert go.wait(20)
        return real_refresh(session, *args, **kwargs)

    def ingest():
        from registry.models import Account

        return readings_bulk.ingest(db.session, db.session.get(Account, admin_id), [_reading(meter)], today=TODAY)

    monkeypatch.setattr(evaluations, "refresh", refresh_held)
    drain = _Thread(postgres, lambda: evaluations.drain(db.session, today=TODAY))
    drain.start()
    assert claimed.wait(20)
    batch = _Thread(postgres, ingest)
    batch.start()
    batch.join(1.0)
    assert batch.is_alive()  # waiting for the drain's lock on the file's mark
    go.set()
    drain.join(30)
    batch.join(30)
    assert not drain.is_alive() and not batch.is_alive()
    assert (drain.error, batch.error) == (None, None)
    assert batch.result.created == 1 and batch.result.queued == 1

    monkeypatch.setattr(evaluations, "refresh", real_refresh)
    assert _pending() == [wu_id]  # the batch's mark, written after the drain's commit
    assert not _up_to_date(wu_id)
    assert evaluations.drain(db.session, today=TODAY).evaluated == 1
    assert _pending() == [] and _up_to_date(wu_id)


@pytest.fixture
def killer(postgres):
    engine = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def test_a_rescoring_job_that_loses_its_connection_fails_keeping_the_marks_and_the_next_job_scores_them(
        postgres, killer, waiting_queue):
    """The database connection dies mid-drain: the job is marked failed with the reason (shown in
    /admin/jobs), the files stay marked, and the queue's minutely recover gives them a new job that
    scores them: nothing waits for the nightly run."""
    meter = _scored_file()
    wu_id = meter.water_user_id
    evaluations.queue(db.session, [wu_id])
    db.session.commit()
    first = rescoring.notify(postgres)

    def in_the_drain(statement):
        return "pending_evaluations" in statement and "FOR UPDATE" in statement

    with backend_killed_after(killer, in_the_drain) as fired:
        assert waiting_queue.work() == 1
    assert fired
    db.session.remove()
    job = db.session.get(Job, first)
    assert job.state == "failed" and job.error
    assert _pending() == [wu_id]

    postgres.extensions["queue_tasks"]["recover"].call_local()
    assert waiting_queue.work() == 1
    assert _pending() == [] and _up_to_date(wu_id)
    states = db.session.scalars(select(Job.state).where(Job.kind == rescoring.KIND).order_by(Job.created_at)).all()
    assert states == ["failed", "done"]


def test_a_drain_ends_when_a_mark_newer_than_its_start_arrives_during_it(app, monkeypatch):
    """A mark written while a drain runs (newer than its start) is left for the next drain: the
    loop does not chase it (nor spin on a mark its delete cannot match)."""
    first, second = _scored_file().water_user_id, _scored_file().water_user_id
    evaluations.queue(db.session, [first])
    db.session.commit()
    real_refresh, calls = evaluations.refresh, []

    def refresh_and_mark(session, *args, **kwargs):
        calls.append(1)
        assert len(calls) < 5, "the drain keeps looping"
        out = real_refresh(session, *args, **kwargs)
        time.sleep(0.002)
        evaluations.queue(session, [first, second])  # both marked again, after the drain began
        return out

    monkeypatch.setattr(evaluations, "refresh", refresh_and_mark)
    assert evaluations.drain(db.session, today=TODAY).evaluated == 1
    assert len(calls) == 1
    assert _pending() == [first, second]


@pytest.mark.parametrize("queued_at", [
    datetime(2026, 11, 29, 3, 0, 0, tzinfo=timezone.utc),  # no fraction of a second
    datetime(2026, 11, 29, 11, 0, 0, 999999, tzinfo=timezone(timedelta(hours=8))),  # another zone
], ids=["whole-second", "utc+8"])
def test_a_mark_read_back_and_deleted_by_its_time_matches_itself(app, queued_at):
    """The drain deletes a claimed mark by ``queued_at <= the time it read``: the stored time
    must compare equal to itself read back (SQLite keeps it as text), or the drain claims the
    same mark for ever."""
    wu_id = _scored_file().water_user_id
    db.session.add(PendingEvaluation(water_user_id=wu_id, queued_at=queued_at))
    db.session.commit()
    assert evaluations.pending_since(db.session, wu_id) == queued_at

    assert evaluations.drain(db.session, today=TODAY).evaluated == 1
    assert _pending() == []


def test_a_file_marked_again_is_marked_later_than_before_whatever_the_clock(app, monkeypatch):
    """A mark's time comes from the clock of the process that writes it, taken before the upsert
    waits for the row: a batch can carry an earlier time than the mark it replaces (another web
    host's clock a little ahead, a clock stepped back, or on PostgreSQL two batches for one file
    whose stamps and commits come in opposite orders). The nightly run deletes the marks it saw
    unless marked again since - "since" must hold for such a mark too, or it is deleted with
    readings the run did not count."""
    meter = _scored_file()
    wu_id = meter.water_user_id
    admin = f.admin()
    ahead = utcnow() + timedelta(seconds=5)  # written by a process whose clock is ahead
    db.session.add(PendingEvaluation(water_user_id=wu_id, queued_at=ahead))
    db.session.commit()
    real_store = evaluations._store

    def store_after_a_batch_commits(session, *args, **kwargs):
        readings_bulk.ingest(session, admin, [_reading(meter)], today=TODAY)  # marks the file again
        monkeypatch.setattr(evaluations, "_store", real_store)
        return real_store(session, *args, **kwargs)

    monkeypatch.setattr(evaluations, "_store", store_after_a_batch_commits)
    evaluations.recompute(db.session, rules_versions.current(db.session), TODAY, workers=1)

    assert evaluations.pending_since(db.session, wu_id) > ahead
    assert _pending() == [wu_id] and not _up_to_date(wu_id)
