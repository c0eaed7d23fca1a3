"""What each kind of background job does (``registry.services.jobs`` runs them in the queue's
workers). A handler may run twice for one job (its first worker died): each finishes the work of
an earlier run instead of repeating it."""
from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import clock
from registry.models import Account, Job, PendingEvaluation, WaterUser
from registry.pdf import batch as batch_pdf
from registry.services import (certificates, evaluations, exchange, images, mailer, reminders, rules_versions, tax,
                               warnings)
from registry.services.jobs import JobRefused, Progress, handler
from registry.services import telemetry_csv as csv_intake

CERTIFICATE_TITLE = "自备取水户规范评价合格证书"
REPORT = "report.json"
# Up to this many files re-scored after bulk readings are judged for warnings at once; a larger
# batch (an import) waits for the nightly detection.
WARNINGS_AFTER_READINGS = 2000


@handler("certificate_batch")
def certificate_batch(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """Issue (``which`` = missing) for the chosen files, then write one PDF or ZIP of their certificates.

    Issuing commits ``certificates.CHUNK`` files at a time together with the job's list of what it
    issued, so a run that starts again after a dead worker skips the files already issued for
    (they hold a valid certificate now) and still prints their certificates: every file ends
    with one certificate, issued once.
    """
    params = job.params
    ids, fmt = list(params["ids"]), params.get("fmt", "pdf")
    cert_ids = ids
    if params.get("which") == "missing":
        actor = session.get(Account, job.owner_id)
        issued = list((job.result or {}).get("issued", []))
        progress.phase("issuing", len(ids))

        def chunk_done(n: int, new_ids: list[int]) -> None:  # inside the chunk's transaction
            issued.extend(new_ids)
            job.result = {**(job.result or {}), "issued": list(issued)}

        certificates.issue_many(session, actor, ids, on_chunk=chunk_done, progress=progress.advance)
        cert_ids = issued
    progress.phase("writing", len(cert_ids))
    name = f"certificates-{clock.today().isoformat()}.{fmt}"
    batch_pdf.write(directory / name, fmt, certificates.iter_pdfs(session, cert_ids), title=CERTIFICATE_TITLE,
                    progress=progress.advance)
    return {"file": name, "certificates": len(cert_ids)}


class _OverBudget(Exception):
    """The import ran past ``IMPORT_MAX_SECONDS`` or ``IMPORT_MAX_MEMORY_MB``: its transaction is
    rolled back and the file refused, saying which."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


MEMORY_EVERY = 256  # rows between two looks at the worker's memory


def resident_mb() -> float | None:
    """The worker process's resident memory now (Linux /proc); None where it cannot be read."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return None


@handler("import")
def spreadsheet_import(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """Check (``apply`` false) or import a spreadsheet: one transaction, all or nothing, so a second
    run of an import whose worker died finds either nothing or everything applied (then unchanged).

    Every import runs here, whatever its size (issue 16 item 6): the web request only stored the
    file and read its zip directory, so opening, counting and parsing happen in a queue worker, within
    the sheet limits, ``IMPORT_MAX_SECONDS`` and ``IMPORT_MAX_MEMORY_MB``. A file over any of them is
    refused in its report, which says why, like a file with bad cells."""
    params = job.params
    path, fmt, apply = Path(params["path"]), params["fmt"], bool(params.get("apply"))
    if not path.exists():
        raise JobRefused("the uploaded file is no longer there")
    phase = "importing" if apply else "checking"
    progress.phase(phase, 0)
    actor = session.get(Account, job.owner_id)
    limit = float(current_app.config.get("IMPORT_MAX_SECONDS", 900))
    memory = float(current_app.config.get("IMPORT_MAX_MEMORY_MB", 2048))
    deadline, before, rows = time.monotonic() + limit, resident_mb(), [0]

    def advance(n: int = 1) -> None:
        """The time budget, row by row; the memory budget (what the worker gained since the job
        began) every MEMORY_EVERY rows, beside the sheet limits that bound it in the first place."""
        if time.monotonic() > deadline:
            raise _OverBudget(_l("Working through the file took longer than %(n)s seconds; nothing was changed. "
                                 "Import it in smaller files.", n=f"{limit:g}"))
        rows[0] += n
        if before is not None and rows[0] % MEMORY_EVERY < n:
            now = resident_mb()
            if now is not None and now - before > memory:
                raise _OverBudget(_l("Working through the file needed more than %(n)s MB of memory; nothing was "
                                     "changed. Import it in smaller files.", n=f"{memory:g}"))
        progress.advance(n)

    with force_locale(params.get("locale") or "zh_CN"):
        try:
            report = exchange.run(session, actor, path, fmt, apply=apply, progress=advance,
                                  on_total=lambda total: progress.phase(phase, total))
        except _OverBudget as over:  # exchange.run's unit of work rolled everything back
            report = exchange.Report()
            report.refuse(exchange.CellError(params.get("filename") or path.name, None, None, None, over.message))
        (directory / REPORT).write_text(json.dumps(report.to_json(), ensure_ascii=False))
    return {"file": REPORT, "rows": report.rows, "applied": report.applied}


def _images_failed(session: Session, job: Job, reason: str) -> None:
    images.fail_pending(session, list((job.params or {}).get("ids", [])))


@handler(images.KIND, on_failure=_images_failed)
def prepare_images(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """Decode and re-encode uploaded photos and scans (``services.images``): each document ready
    with its copy or failed with the reason; a second run prepares only what is still pending."""
    ids = [int(i) for i in (job.params or {}).get("ids", [])]
    progress.phase("preparing", len(ids))
    return images.prepare(session, ids, upload_dir=current_app.config["UPLOAD_DIR"], progress=progress.advance)


@handler("rescore")
def rescore(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """Re-score the files bulk readings marked (``registry.rescoring``): every mark waiting when the
    job starts, a batch per transaction; ends with the count and the rate. A second run (its
    worker died) scores what the first left marked."""
    progress.phase("scoring", session.scalar(select(func.count()).select_from(PendingEvaluation)) or 0)
    started = time.monotonic()
    # The files the new readings touched are judged for warnings (预警) too, while they are few.
    marked = session.scalars(select(PendingEvaluation.water_user_id).limit(WARNINGS_AFTER_READINGS + 1)).all()
    outcome = evaluations.drain(session, progress=progress.advance)
    seconds = max(time.monotonic() - started, 1e-6)
    found = {}
    if marked and len(marked) <= WARNINGS_AFTER_READINGS:
        detected = warnings.detect(session, today=clock.today(), now=clock.now(), rules=rules_versions.current(session),
                                   ids=sorted(marked), settings=reminders.Settings.from_config(current_app.config))
        found = {"warnings": detected.created}
    return {"evaluated": outcome.evaluated, "changed": outcome.changed, "seconds": round(seconds, 2),
            "rate": round(outcome.evaluated / seconds, 1)} | found


@handler("recompute")
def nightly_recompute(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """The nightly ``recompute --all``: every file under the rules in force (committed batch by batch)."""
    rules = rules_versions.current(session)
    total = session.execute(select(func.count()).select_from(WaterUser).where(WaterUser.status != "closed")).scalar_one()
    progress.phase("evaluating", total)
    outcome = evaluations.recompute(session, rules, _day(job), progress=progress.advance)
    if outcome.failed:
        job.result = {"evaluated": outcome.evaluated, "failed": outcome.failed[:100]}
    return {"evaluated": outcome.evaluated, "changed": outcome.changed, "failed": len(outcome.failed)}


@handler("warnings")
def nightly_warnings(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """The nightly ``detect-warnings`` (预警), before the reminders: one warning per new cause."""
    rules = rules_versions.current(session)
    progress.phase("detecting", warnings.meters_to_judge(session))
    outcome = warnings.detect(session, today=_day(job), now=clock.now(), rules=rules, progress=progress.advance,
                              settings=reminders.Settings.from_config(current_app.config))
    return {"files": outcome.files, "meters": outcome.meters, "created": outcome.created,
            "detected_again": outcome.detected_again, "notices": outcome.notices}


@handler("remind")
def nightly_remind(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """The nightly ``remind``: each due reminder once per item and step, then the queued e-mails."""
    rules = rules_versions.current(session)
    settings = reminders.Settings.from_config(current_app.config)
    progress.phase("reminding", 0)
    result = reminders.run(session, _day(job), rules, settings, progress=progress.advance)
    out = {"files": result.files, "reminders": result.reminders}
    mail = mailer.MailSettings.from_config(current_app.config)
    if mail is not None:
        sent = reminders.deliver(session, mail)
        out |= {"sent": sent.sent, "failed": sent.failed}
    return out


def _day(job: Job) -> date:
    day = (job.params or {}).get("day")
    return date.fromisoformat(day) if day else clock.today()


@handler("tax_statements")
def tax_statements(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """The city's hand-over statements of a quarter (issue 19): drafts computed or refreshed for
    every open file, signed ones left as they are. One transaction: a second run does it all again
    (drafts are recomputed, never duplicated), so a dead worker loses nothing."""
    actor = session.get(Account, job.owner_id)
    year, quarter = int(job.params["year"]), int(job.params["quarter"])
    total = session.execute(select(func.count()).select_from(WaterUser).where(WaterUser.status != "closed")).scalar_one()
    progress.phase("computing", total)
    started = time.monotonic()
    counts = tax.compute(session, actor, year, quarter, progress=progress.advance)
    seconds = max(time.monotonic() - started, 1e-6)
    return {**counts, "files": total, "seconds": round(seconds, 1), "rate": round(total / seconds, 1),
            "year": year, "quarter": quarter}


@handler("telemetry_csv")
def telemetry_csv(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """A telemetry CSV through the intake in batches, whatever its size (the web request only stored
    it: issue 16 item 6); each batch commits on its own, and a second run of a job whose worker died
    finds its points stored ("unchanged"). A file that cannot be read as a whole (no such columns,
    not text, too many rows) is refused in the report, which says why."""

    params = job.params
    path = Path(params["path"])
    if not path.exists():
        raise JobRefused("the uploaded file is no longer there")
    progress.phase("importing", csv_intake.count_rows(path))
    actor = session.get(Account, job.owner_id)
    with force_locale(params.get("locale") or "zh_CN"):
        try:
            outcome = csv_intake.run(session, actor, path.read_bytes(),
                                     max_rows=int(current_app.config.get("IMPORT_MAX_ROWS", 200_000)),
                                     progress=progress.advance)
        except csv_intake.CsvRefused as err:
            (directory / REPORT).write_text(json.dumps({"refused": str(err)}, ensure_ascii=False))
            path.unlink(missing_ok=True)
            return {"file": REPORT, "rows": 0, "created": 0, "refused": True}
        (directory / REPORT).write_text(json.dumps(outcome.to_json(), ensure_ascii=False))
    path.unlink(missing_ok=True)
    return {"file": REPORT, "rows": outcome.rows, "created": outcome.created}
