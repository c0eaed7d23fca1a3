"""Large imports run in a background job (the certificates' job machinery): the page shows a
progress bar while the file is checked or imported, then the same result page. The report is
kept as JSON next to the job, worded in the language of the person who started it."""
from __future__ import annotations

import json
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from registry.extensions import db
from registry.models import Account
from registry.services import exchange
from registry.web.certificates import jobs
from registry.web.exchange.uploads import Upload, remember_job

BIG = 5_000  # rows: above this the check and the import run in the background
REPORT = "report.json"


def is_big(upload: Upload) -> bool:
    return exchange.count_rows(upload.path, upload.fmt) > BIG


def start(upload: Upload, owner_id: int, phase: str) -> str:
    apply = phase == "import"
    locale = str(get_locale())
    path, fmt = upload.path, upload.fmt

    def work(directory: Path, progress: jobs.Progress) -> str:
        progress.phase("importing" if apply else "checking", exchange.count_rows(path, fmt))
        actor = db.session.get(Account, owner_id)
        report = exchange.run(db.session, actor, path, fmt, apply=apply, progress=progress.advance)
        with force_locale(locale):
            (directory / REPORT).write_text(json.dumps(report.to_json(), ensure_ascii=False))
        return REPORT

    job_id = jobs.start(current_app._get_current_object(), owner_id, 0, work)
    remember_job(upload, phase, job_id)
    return job_id


def state(upload: Upload, owner_id: int, phase: str):
    """(job state, the report when done) of the upload's job for ``phase``, or None."""
    job_id = upload.jobs.get(phase)
    found = jobs.load(current_app, job_id, owner_id) if job_id else None
    if found is None:
        return None
    job, directory = found
    report = None
    if job.get("state") == "done":
        report = exchange.Report.from_json(json.loads((directory / REPORT).read_text()))
    return job, report


def message(job: dict) -> str:
    done, total = job.get("done", 0), job.get("total", 0)
    return {
        "queued": _("Waiting to start…"),
        "checking": _("Checking the file: %(done)d of %(total)d rows.", done=done, total=total),
        "importing": _("Importing: %(done)d of %(total)d rows.", done=done, total=total),
        "done": _("Finished."),
        "failed": _("The work stopped on an unexpected error; nothing was changed. Try again or tell the administrator."),
    }.get(job.get("state"), "")
