"""Background jobs: longer work (a certificate batch, a large import, the nightly run) that the task
queue (``registry.queue``, Huey) does for someone, with its state stored in ``jobs``.

A job is created here and committed before the queue is told its id, so any worker finds it. A
worker *claims* a job with one conditional UPDATE (queued → running), so two workers never run it
at once; while it runs, a heartbeat moves ``heartbeat_at`` on. A worker that dies (killed, a host
lost) leaves a running job whose heartbeat stops: :func:`recover` puts it back in the queue, up to
``MAX_ATTEMPTS`` runs, then marks it failed. Handlers are written so that a second run finishes the
first one's work instead of repeating it (a certificate batch skips the files a first run already
issued for and prints those certificates too), and what they change commits together with the job's
own record of it, so a job is never "done" on half its work.
"""
from __future__ import annotations

import logging
import shutil
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable
from uuid import uuid4

from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from registry.models import Account, Job, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0  # a running job whose heartbeat is older than this lost its worker
SAVE_EVERY = 0.5  # seconds between progress writes outside a handler's own transactions
KEEP_SECONDS = 24 * 3600  # a job's output folder is kept for a day

Handler = Callable[[Session, Job, "Progress", Path], dict]
HANDLERS: dict[str, Handler] = {}
# kind -> fn(session, job, reason): what a job that failed as a whole leaves behind (a photo's state)
ON_FAILURE: dict[str, Callable[[Session, Job, str], None]] = {}


class JobRefused(Exception):
    """The job cannot be run (its kind is unknown, its input is gone): failed at once, not retried."""


def handler(kind: str, on_failure: Callable[[Session, Job, str], None] | None = None):
    """Register ``fn(session, job, progress, directory) -> result`` as the work of jobs of ``kind``;
    ``on_failure(session, job, reason)`` runs in the transaction that marks such a job failed."""
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        if on_failure is not None:
            ON_FAILURE[kind] = on_failure
        return fn
    return register


def _failed(session: Session, job_id: str, reason: str) -> None:
    job = session.get(Job, job_id)
    hook = ON_FAILURE.get(job.kind) if job is not None else None
    if hook is not None:
        try:
            with session.begin_nested():
                hook(session, job, reason)
        except Exception:  # the job is marked failed whatever its hook does
            log.exception("the failure hook of job %s failed", job_id)


class Progress:
    """What a handler reports: the phase it is in and how far through it. Written at most every
    ``SAVE_EVERY`` seconds through a connection of its own (:class:`_Side`), never in the handler's
    transaction: a check that rolls back, or one large import transaction, keeps its progress bar."""

    def __init__(self, side: "_Side", job: Job):
        self._side, self.job, self._saved = side, job, 0.0
        self.name, self.done, self.total = job.phase, job.done, job.total

    def phase(self, name: str, total: int) -> None:
        self.name, self.done, self.total = name, 0, total
        self.save()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self._saved >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        self._side.write(phase=self.name, done=self.done, total=self.total)
        self._saved = time.monotonic()


def create(session: Session, kind: str, owner: Account | None, params: dict, *, total: int = 0,
           job_id: str | None = None) -> Job:
    """A queued job, committed (the queue may hand it to a worker the moment it is told)."""
    if kind not in HANDLERS:
        raise JobRefused(kind)
    job = Job(id=job_id or uuid4().hex, kind=kind, owner_id=owner.id if owner else None, params=params,
              state="queued", total=total, result={})
    session.add(job)
    session.commit()
    return job


def coalesce(session: Session, kind: str, params: dict | None = None, *, total: int = 0,
             stale_seconds: float = STALE_SECONDS) -> str | None:
    """One waiting job of ``kind`` for everything that asks for one (re-scoring after bulk readings):
    the id of a new queued job for the caller to enqueue, or None when one is waiting already (it
    will do this caller's work too). A waiting job older than ``stale_seconds`` whose message the
    queue lost (a restart of the embedded queue) is returned again to be enqueued once more; of two
    messages for one job, one claims it. On PostgreSQL a transaction lock makes the look and the
    insert one step between web processes; SQLite has one writer at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:kind))"), {"kind": f"jobs.coalesce.{kind}"})
    else:  # take the write lock now (BEGIN IMMEDIATE's effect): no other writer between the look and the insert
        session.execute(update(Job).where(Job.id == "").values(state="queued"))
    waiting = session.scalars(select(Job).where(Job.kind == kind, Job.state == "queued")
                              .order_by(Job.created_at).limit(1)).one_or_none()
    if waiting is not None:
        lost = waiting.created_at < utcnow() - timedelta(seconds=stale_seconds)
        session.commit()
        return waiting.id if lost else None
    job = create(session, kind, None, params or {}, total=total)  # commits
    return job.id


def for_owner(session: Session, job_id: str, owner_id: int, kind: str | None = None) -> Job | None:
    """The job, if it exists and belongs to ``owner_id`` (anyone else: None, shown as not found)."""
    if not isinstance(job_id, str) or len(job_id) != 32 or not job_id.isalnum():
        return None
    job = session.get(Job, job_id)
    if job is None or job.owner_id != owner_id or (kind and job.kind != kind):
        return None
    return job


def recent(session: Session, limit: int = 100) -> list[Job]:
    return list(session.scalars(select(Job).order_by(Job.created_at.desc()).limit(limit)))


def directory(root: str | Path, job_id: str) -> Path:
    path = Path(root) / job_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def claim(session: Session, job_id: str) -> bool:
    """Take a queued job for this worker: one UPDATE, so of two workers told the same id one runs it."""
    now = utcnow()
    taken = session.execute(update(Job).where(Job.id == job_id, Job.state == "queued")
                            .values(state="running", attempts=Job.attempts + 1, started_at=now, heartbeat_at=now,
                                    error=None)).rowcount
    session.commit()
    return taken == 1


def run(session: Session, job_id: str, root: str | Path, engine=None) -> str | None:
    """Claim and run one job; returns its end state (None: not ours to run). Never raises for the
    job's own failure: that is stored, the log has the traceback."""
    if not claim(session, job_id):
        return None
    job = session.get(Job, job_id)
    side = _Side(engine or session.get_bind(), job_id)
    progress = Progress(side, job)
    beat = threading.Thread(target=side.beat, name=f"heartbeat-{job_id[:8]}", daemon=True)
    beat.start()
    try:
        fn = HANDLERS.get(job.kind)
        if fn is None:
            raise JobRefused(job.kind)
        result = fn(session, job, progress, directory(root, job_id))
        job = session.get(Job, job_id)
        job.result = {**(job.result or {}), **(result or {})}
        job.state, job.phase, job.finished_at = "done", None, utcnow()
        job.done, job.total = progress.done, progress.total
        session.commit()
    except Exception as exc:  # stored for the job's page; the details are in the log
        log.exception("job %s (%s) failed", job_id, job.kind)
        session.rollback()
        session.execute(update(Job).where(Job.id == job_id)
                        .values(state="failed", finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}"[:2000]))
        _failed(session, job_id, f"{type(exc).__name__}: {exc}"[:2000])
        session.commit()
    finally:
        side.stop()
        beat.join(timeout=HEARTBEAT_SECONDS * 2)
        side.close()
    return session.scalar(select(Job.state).where(Job.id == job_id))


def recover(session: Session, *, stale_seconds: float = STALE_SECONDS, now: datetime | None = None) -> list[str]:
    """Jobs whose worker died: back to the queue (returned, for the caller to enqueue) while they
    have runs left, else failed with the reason. Safe to run from every worker at once."""
    cutoff = (now or utcnow()) - timedelta(seconds=stale_seconds)
    requeue = []
    stale = session.scalars(select(Job.id).where(Job.state == "running", Job.heartbeat_at < cutoff)).all()
    for job_id in stale:
        back = session.execute(update(Job).where(Job.id == job_id, Job.state == "running", Job.heartbeat_at < cutoff,
                                                 Job.attempts < MAX_ATTEMPTS).values(state="queued")).rowcount
        if back:
            requeue.append(job_id)
            log.warning("job %s lost its worker: queued again", job_id)
            continue
        failed = session.execute(update(Job).where(Job.id == job_id, Job.state == "running", Job.heartbeat_at < cutoff)
                                 .values(state="failed", finished_at=utcnow(),
                                         error=f"the worker stopped during each of {MAX_ATTEMPTS} runs")).rowcount
        if failed:
            _failed(session, job_id, f"the worker stopped during each of {MAX_ATTEMPTS} runs")
    session.commit()
    return requeue


class _Side:
    """Writes the job's progress and heartbeat from a connection of its own, so they show while the
    handler's transaction is open and stay when it rolls back. On SQLite (one writer at a time) a
    write that would wait for the handler's transaction is skipped, not waited for: the next one
    goes through once it commits."""

    def __init__(self, engine, job_id: str):
        self.job_id, self._stop = job_id, threading.Event()
        if engine.dialect.name == "sqlite":
            self.engine, self._own = create_engine(engine.url, connect_args={"timeout": 0.05}, poolclass=NullPool), True
        else:
            self.engine, self._own = engine, False

    def write(self, **values) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(update(Job).where(Job.id == self.job_id, Job.state == "running")
                             .values(heartbeat_at=utcnow(), **values))
        except Exception:  # a busy database: the next write tries again
            log.debug("progress of job %s not written this time", self.job_id, exc_info=True)

    def beat(self) -> None:
        """Move the heartbeat on every few seconds, so a long step does not look like a dead worker."""
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.write()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._own:
            self.engine.dispose()


def clean_outputs(root: str | Path, *, keep_seconds: float = KEEP_SECONDS) -> int:
    """Remove the output folders (batch PDFs, import reports) of jobs older than a day: the pages
    say batches are kept for a day. The job rows stay, as the record of what was done."""
    root, removed = Path(root), 0
    if not root.exists():
        return 0
    cutoff = time.time() - keep_seconds
    for folder in root.iterdir():
        try:
            if folder.is_dir() and len(folder.name) == 32 and folder.name.isalnum() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


def view(job: Job) -> dict:
    """The job as its progress page and JSON show it: ``state`` is the running phase (issuing,
    writing, checking, …) or queued / done / failed."""
    result = job.result or {}
    return {"id": job.id, "kind": job.kind, "state": (job.phase or "running") if job.state == "running" else job.state,
            "done": job.done, "total": job.total, "file": result.get("file"), "issued": len(result.get("issued", [])),
            "attempts": job.attempts, "error": job.error, "result": result}
