"""Re-scoring the files that bulk readings touched, after the request that brought them.

``POST /api/v1/readings`` marks the files whose score its readings can change
(``evaluations.queue``, rows of ``pending_evaluations`` committed with the readings) and calls
:func:`notify`. What happens then is the setting ``EVALUATE_PENDING``:

- ``queue`` (the default): one **re-scoring job** of the task queue (``registry.queue``, a
  registry Job of kind ``rescore``, shown in /admin/jobs with its progress and, at the end, the
  files scored and their rate) drains the marks (``evaluations.drain``). Jobs coalesce: while a
  re-scoring job is waiting, later batches add their marks and no second job; the job waits
  ``QUIET_SECONDS`` before it starts, so a gateway's burst of batches becomes one job, and a
  batch that arrives while it runs gets the next one. A file is scored once per job however many
  batches marked it.
- ``inline``: drained within the request, before the answer (the test suite's default, where a
  request should leave nothing running behind it).
- ``off``: left for ``registry recompute --pending`` (a timer) or the nightly ``recompute --all``.

A restart loses nothing: the marks are rows, the job is a row, and the queue's minutely
``recover`` task (:func:`sweep`) gives marks left without a job (a message the queue lost, a
crash between the commit and the enqueue) a job; the nightly run scores every file anyway.
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from registry.extensions import db
from registry.models import Job, PendingEvaluation

log = logging.getLogger(__name__)
MODES = ("queue", "inline", "off")  # REGISTRY_EVALUATE_PENDING, checked by config.load
KIND = "rescore"
QUIET_SECONDS = 1.0  # a re-scoring job starts this long after the batch that asked for it


def notify(app) -> str | None:
    """Files were marked for re-scoring and committed: have them re-scored per ``EVALUATE_PENDING``.
    Returns the id of the re-scoring job queued for them, if a new one was needed."""
    mode = app.config.get("EVALUATE_PENDING", "queue")
    if mode == "inline":
        from registry.services import evaluations

        evaluations.drain(db.session)
    elif mode == "queue":
        return _request_job(app)
    return None


def sweep(app) -> str | None:
    """Marks waiting while no re-scoring job runs (after a restart, a lost message): a job for them,
    new, or the waiting one sent again when its message is older than a stale job's heartbeat."""
    if app.config.get("EVALUATE_PENDING", "queue") != "queue":
        return None
    running = db.session.scalar(select(func.count()).select_from(Job).where(Job.kind == KIND, Job.state == "running"))
    waiting = db.session.scalar(select(func.count()).select_from(PendingEvaluation))
    db.session.commit()
    if running or not waiting:
        return None
    return _request_job(app)


def _request_job(app) -> str | None:
    from registry import queue
    from registry.services import jobs

    stale = float(app.config.get("JOB_STALE_SECONDS", jobs.STALE_SECONDS))
    job_id = jobs.coalesce(db.session, KIND, stale_seconds=stale)
    if job_id is not None:
        try:
            queue.enqueue(job_id, app, delay=QUIET_SECONDS)
        except Exception:  # the readings are stored and marked: the queue's minutely sweep sends it again
            log.exception("could not queue re-scoring job %s; it waits for the next sweep", job_id)
    return job_id
