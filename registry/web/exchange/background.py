"""Every import is checked and imported by a job of the task queue (``registry.queue``; issue 16
item 6: no web worker opens, counts or parses a spreadsheet): the page shows a progress bar while
the file is checked or imported, then the same result page. The report is kept as JSON next to
the job, worded in the language of the person who started it."""
from __future__ import annotations

import json

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from registry import queue
from registry.extensions import db
from registry.services import exchange, jobs
from registry.services.job_handlers import REPORT
from registry.web.exchange.uploads import Upload, remember_job


def start(upload: Upload, owner, phase: str) -> str:
    params = {"path": str(upload.path), "fmt": upload.fmt, "apply": phase == "import", "locale": str(get_locale()),
              "filename": upload.filename}
    job_id = queue.submit("import", owner, params)
    remember_job(upload, phase, job_id)
    return job_id


def state(upload: Upload, owner_id: int, phase: str):
    """(job state, the report when done) of the upload's job for ``phase``, or None."""
    job_id = upload.jobs.get(phase)
    job = jobs.for_owner(db.session, job_id, owner_id, "import") if job_id else None
    if job is None:
        return None
    shown, report = jobs.view(job), None
    if job.state == "done":
        path = jobs.directory(current_app.config["BATCH_DIR"], job.id) / REPORT
        if not path.exists():  # the job's folder was cleaned (a day old): the upload is as good as gone
            return None
        report = exchange.Report.from_json(json.loads(path.read_text()))
    return shown, report


def message(job: dict) -> str:
    done, total = job.get("done", 0), job.get("total", 0)
    return {
        "queued": _("Waiting to start…"),
        "checking": _("Checking the file: %(done)d of %(total)d rows.", done=done, total=total),
        "importing": _("Importing: %(done)d of %(total)d rows.", done=done, total=total),
        "done": _("Finished."),
        "failed": _("The work stopped on an unexpected error; nothing was changed. Try again or tell the administrator."),
    }.get(job.get("state"), "")
