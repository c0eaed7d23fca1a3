"""Re-scoring the files that bulk readings touched, after the request that brought them.

``POST /api/v1/readings`` marks the files whose score its readings can change
(``evaluations.queue``) and calls :func:`notify`. What happens then is the setting
``EVALUATE_PENDING``:

- ``thread`` (the default): a worker thread of this process drains the queue
  (``evaluations.drain``) once the gateway has its answer and its burst of batches has paused
  (no batch received or in progress for 0.3 s; ten seconds at most). One thread per process, started on first use (after
  gunicorn forks its workers); a batch that arrives while it drains is picked up by its next pass.
- ``inline``: drained within the request, before the answer (the test suite, where a request
  should leave nothing running behind it).
- ``off``: left for ``registry recompute --pending`` (a timer) or the nightly ``recompute --all``.

Whatever the setting, a mark survives a crash (it is a row), and ``recompute --pending`` or the
nightly run scores it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager

from registry.extensions import db

log = logging.getLogger(__name__)
MODES = ("thread", "inline", "off")  # REGISTRY_EVALUATE_PENDING, checked by config.load
RETRY_SECONDS = 30  # after a failed drain (the database went away): try again, do not spin
QUIET_SECONDS = 0.3  # scoring starts once no batch came or is coming for this long ...
MAX_DELAY_SECONDS = 10  # ... or this long after the first batch of a burst


class _Worker:
    def __init__(self, app):
        self.app = app
        self.wake = threading.Event()
        self.idle = threading.Event()  # set while nothing is being drained (tests, the bench wait on it)
        self.idle.set()
        self.receiving = 0  # bulk-reading requests of this process in progress
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, name="rescoring", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from registry.services import evaluations

        while True:
            self.wake.wait()
            self.wake.clear()
            # A gateway sends batch after batch: let the burst end (or run MAX_DELAY_SECONDS) so
            # a file touched by several batches is scored once, and scoring does not slow them.
            # A batch being received counts as not quiet: batches sent back to back leave no gap.
            started = time.monotonic()
            while time.monotonic() - started < MAX_DELAY_SECONDS:
                if self.wake.wait(QUIET_SECONDS):
                    self.wake.clear()
                elif not self.receiving:
                    break
            self.wake.clear()
            with self.app.app_context():
                try:
                    outcome = evaluations.drain(db.session)
                    log.info("re-scored %d files after bulk readings (%d changed)", outcome.evaluated, outcome.changed)
                except Exception:  # the marks stay; the next batch, a timer or the nightly run scores them
                    log.exception("re-scoring after bulk readings failed; the files stay marked")
                    db.session.rollback()
                    self.wake.wait(RETRY_SECONDS)
                    self.wake.set()
                finally:
                    db.session.remove()
            with _lock:  # against notify(): idle only if no batch came in meanwhile
                if not self.wake.is_set():
                    self.idle.set()


_lock = threading.Lock()
_start_lock = threading.Lock()


def notify(app) -> None:
    """Files were marked for re-scoring and committed: have them re-scored per ``EVALUATE_PENDING``."""
    mode = app.config.get("EVALUATE_PENDING", "thread")
    if mode == "inline":
        from registry.services import evaluations

        evaluations.drain(db.session)
    elif mode == "thread":
        worker = _worker(app)
        with _lock:
            worker.idle.clear()
            worker.wake.set()


@contextmanager
def receiving(app):
    """Around a bulk-reading request: the re-scoring thread waits while one is in progress."""
    worker = _worker(app) if app.config.get("EVALUATE_PENDING", "thread") == "thread" else None
    if worker is not None:
        with _lock:
            worker.receiving += 1
    try:
        yield
    finally:
        if worker is not None:
            with _lock:
                worker.receiving -= 1


def wait_idle(app, timeout: float | None = None) -> bool:
    """Until this process's worker has drained what it was woken for (True), or ``timeout``."""
    worker = app.extensions.get("rescoring")
    return worker is None or worker.idle.wait(timeout)


def _worker(app) -> _Worker:
    with _start_lock:
        worker = app.extensions.get("rescoring")
        if worker is None or worker.pid != os.getpid() or not worker.thread.is_alive():
            # A forked child inherits the parent's object, not its thread: start its own.
            worker = app.extensions["rescoring"] = _Worker(app)
        return worker
