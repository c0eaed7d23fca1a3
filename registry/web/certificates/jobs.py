"""Background jobs for large batches: a thread of this process does the work, and the job's
state lives in a small JSON file next to its output (``BATCH_DIR/<id>/job.json``), so any
worker process can answer the progress page. Jobs and their files are removed after a day."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Callable
from uuid import uuid4

from registry.extensions import db

log = logging.getLogger(__name__)

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 24 * 3600
SAVE_EVERY = 0.5  # seconds between progress writes


class Progress:
    """What the worker reports: the phase it is in and how far through it."""

    def __init__(self, directory: Path, state: dict):
        self._directory, self.state, self._saved = directory, state, 0.0

    def phase(self, name: str, total: int) -> None:
        self.state.update(state=name, done=0, total=total)
        self.save()

    def advance(self, n: int = 1) -> None:
        self.state["done"] += n
        if time.monotonic() - self._saved >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        _save(self._directory, self.state)
        self._saved = time.monotonic()


Work = Callable[[Path, Progress], str]


def start(app, owner_id: int, total: int, work: Work) -> str:
    """Run ``work(directory, progress)`` in a thread; it returns the name of the file it wrote."""
    root = Path(app.config["BATCH_DIR"])
    _clean(root)
    job_id = uuid4().hex
    directory = root / job_id
    directory.mkdir(parents=True)
    state = {"id": job_id, "owner": owner_id, "state": "queued", "done": 0, "total": total, "file": None,
             "started": time.time()}
    _save(directory, state)
    thread = threading.Thread(target=_run, args=(app, directory, state, work), name=f"batch-{job_id[:8]}", daemon=True)
    thread.start()
    return job_id


def _run(app, directory: Path, state: dict, work: Work) -> None:
    with app.app_context():
        progress = Progress(directory, state)
        try:
            state["file"] = work(directory, progress)
            state["state"] = "done"
        except Exception:  # the page says it failed; the log has the details
            log.exception("batch job %s failed", state["id"])
            db.session.rollback()
            state["state"] = "failed"
        finally:
            db.session.remove()
            progress.save()


def load(app, job_id: str, owner_id: int) -> tuple[dict, Path] | None:
    """The job's state and folder, if it exists and belongs to ``owner_id``."""
    if not JOB_ID.match(job_id or ""):
        return None
    directory = Path(app.config["BATCH_DIR"]) / job_id
    try:
        state = json.loads((directory / "job.json").read_text())
    except (OSError, ValueError):
        return None
    if state.get("owner") != owner_id:
        return None
    return state, directory


def _save(directory: Path, state: dict) -> None:
    tmp = directory / "job.json.part"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, directory / "job.json")


def _clean(root: Path) -> None:
    """Remove the folders of jobs older than a day."""
    if not root.exists():
        return
    cutoff = time.time() - KEEP_SECONDS
    for directory in root.iterdir():
        try:
            if directory.is_dir() and JOB_ID.match(directory.name) and directory.stat().st_mtime < cutoff:
                shutil.rmtree(directory, ignore_errors=True)
        except OSError:
            continue
