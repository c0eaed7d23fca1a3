"""The task queue (Huey): where longer work runs, outside the web workers.

Storage: Redis when ``REGISTRY_REDIS_URL`` is set (production: several gunicorn instances and
workers on more than one host share it), else a SQLite file (``REGISTRY_QUEUE_PATH``, default
``instance/queue.db``) for one machine; ``QUEUE_IMMEDIATE`` runs each job in the calling process
at once (the tests). ``flask --app wsgi registry worker`` runs a consumer.

One task carries a job id (``registry.services.jobs``: what to do and its state are in the
registry's database); periodic tasks run the nightly recompute and reminders (each night's run is
one job with a fixed id, so two consumers with ``--periodic`` still run it once) and put back jobs
whose worker died.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab

from registry.extensions import db

log = logging.getLogger(__name__)

RUN_JOB = "run_job"  # the task's name in the queue's messages


def init_app(app: Flask) -> None:
    app.extensions["queue"] = _bind(app, _huey(app))


def huey(app: Flask | None = None):
    return (app or current_app).extensions["queue"]


def enqueue(job_id: str, app: Flask | None = None, *, delay: float | None = None) -> None:
    """Tell the queue a committed job is waiting (in immediate mode: run it now, here); ``delay``:
    not before this many seconds (a re-scoring job lets a burst of batches end first)."""
    app = app or current_app._get_current_object()
    task = app.extensions["queue_tasks"]["run_job"]
    if delay and not huey(app).immediate:
        task.schedule(args=(job_id,), delay=delay)
    else:
        task(job_id)


def submit(kind: str, owner, params: dict, *, total: int = 0) -> str:
    """Create a job of ``kind`` for ``owner`` and queue it; returns its id."""
    from registry.services import jobs

    job = jobs.create(db.session, kind, owner, params, total=total)
    enqueue(job.id)
    return job.id


def _huey(app: Flask):
    config = app.config
    if config.get("QUEUE_IMMEDIATE"):
        return MemoryHuey("registry", immediate=True)
    if config.get("REDIS_URL"):
        return RedisHuey("registry", url=config["REDIS_URL"])
    path = config.get("QUEUE_PATH") or str(Path(app.instance_path) / "queue.db")
    return SqliteHuey("registry", filename=path)


def nightly_crontab(config) -> tuple[int, int]:
    """The UTC hour and minute of ``NIGHTLY_AT`` (HH:MM, the bureau's time; Huey's crontab is UTC)."""
    hour, minute = (int(part) for part in str(config.get("NIGHTLY_AT", "02:00")).split(":"))
    zone = ZoneInfo(config.get("TIMEZONE", "Asia/Shanghai"))
    local = datetime.combine(datetime.now(zone).date(), time(hour, minute), zone)
    at = local.astimezone(timezone.utc)
    return at.hour, at.minute


def _bind(app: Flask, queue):
    """Register the tasks on this app's queue; each runs in an app context of ``app``."""
    from registry.services import jobs

    def run_job(job_id: str) -> str | None:
        with app.app_context():
            try:
                return jobs.run(db.session, job_id, app.config["BATCH_DIR"], engine=db.engine)
            finally:
                db.session.remove()

    def recover() -> list[str]:
        from registry import rescoring

        jobs.clean_outputs(app.config["BATCH_DIR"])
        with app.app_context():
            try:
                again = jobs.recover(db.session, stale_seconds=float(app.config.get("JOB_STALE_SECONDS",
                                                                                    jobs.STALE_SECONDS)))
                rescoring.sweep(app)  # re-scoring marks left without a job (a restart) get one
            finally:
                db.session.remove()
        for job_id in again:
            tasks["run_job"](job_id)
        return again

    def nightly(kind: str) -> None:
        with app.app_context():
            try:
                day = _bureau_today(app)
                job_id = f"{kind}-{day:%Y%m%d}"[:32]
                if db.session.get(jobs.Job, job_id) is None:
                    try:
                        jobs.create(db.session, kind, None, {"day": day.isoformat()}, job_id=job_id)
                    except Exception:  # another consumer created tonight's job first
                        db.session.rollback()
                        return
                    tasks["run_job"](job_id)
            finally:
                db.session.remove()

    hour, minute = nightly_crontab(app.config)
    later = datetime(2000, 1, 1, hour, minute) + timedelta(minutes=15)
    between = datetime(2000, 1, 1, hour, minute) + timedelta(minutes=10)  # warnings, told with the reminders
    tasks = {
        "run_job": queue.task(name=RUN_JOB)(run_job),
        "recover": queue.periodic_task(crontab(minute="*"), name="recover_jobs")(recover),
        "nightly_recompute": queue.periodic_task(crontab(minute=str(minute), hour=str(hour)),
                                                 name="nightly_recompute")(lambda: nightly("recompute")),
        "nightly_warnings": queue.periodic_task(crontab(minute=str(between.minute), hour=str(between.hour)),
                                                name="nightly_warnings")(lambda: nightly("warnings")),
        "nightly_remind": queue.periodic_task(crontab(minute=str(later.minute), hour=str(later.hour)),
                                              name="nightly_remind")(lambda: nightly("remind")),
    }
    app.extensions["queue_tasks"] = tasks
    return queue


def _bureau_today(app: Flask):
    from registry import clock

    return clock.today()


def run_worker(app: Flask, *, workers: int = 2, periodic: bool = True) -> None:
    """Run a consumer until interrupted: jobs whose worker died are put back first."""
    queue = huey(app)
    if queue.immediate:
        raise RuntimeError("QUEUE_IMMEDIATE is set: jobs run in the process that submits them, there is no worker")
    again = app.extensions["queue_tasks"]["recover"].call_local()
    if again:
        log.warning("queued again after a worker stopped: %s", ", ".join(again))
    consumer = queue.create_consumer(workers=workers, worker_type="thread", periodic=periodic)
    consumer.run()
