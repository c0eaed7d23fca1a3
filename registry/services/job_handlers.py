"""What each kind of background job does (``registry.services.jobs`` runs them in the queue's
workers). A handler may run twice for one job (its first worker died): each finishes the work of
an earlier run instead of repeating it."""
from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import clock
from registry.models import Account, Job, WaterUser
from registry.pdf import batch as batch_pdf
from registry.services import certificates, evaluations, exchange, rules_versions
from registry.services.jobs import JobRefused, Progress, handler

CERTIFICATE_TITLE = "自备取水户规范评价合格证书"
REPORT = "report.json"


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


@handler("import")
def spreadsheet_import(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """Check (``apply`` false) or import a spreadsheet: one transaction, all or nothing, so a second
    run of an import whose worker died finds either nothing or everything applied (then unchanged)."""
    params = job.params
    path, fmt, apply = Path(params["path"]), params["fmt"], bool(params.get("apply"))
    if not path.exists():
        raise JobRefused("the uploaded file is no longer there")
    progress.phase("importing" if apply else "checking", exchange.count_rows(path, fmt))
    actor = session.get(Account, job.owner_id)
    limit = float(current_app.config.get("IMPORT_MAX_SECONDS", 900))
    deadline = time.monotonic() + limit

    def advance(n: int = 1) -> None:  # the time budget, checked row by row (the sheet limits bound memory)
        if time.monotonic() > deadline:
            raise JobRefused(f"the import took longer than its budget of {limit:g} s (REGISTRY_IMPORT_MAX_SECONDS); "
                             "nothing was changed")
        progress.advance(n)

    report = exchange.run(session, actor, path, fmt, apply=apply, progress=advance)
    with force_locale(params.get("locale") or "zh_CN"):
        (directory / REPORT).write_text(json.dumps(report.to_json(), ensure_ascii=False))
    return {"file": REPORT, "rows": report.rows, "applied": report.applied}


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


@handler("remind")
def nightly_remind(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """The nightly ``remind``: each due reminder once per item and step, then the queued e-mails."""
    from registry.services import mailer, reminders

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


@handler("telemetry_csv")
def telemetry_csv(session: Session, job: Job, progress: Progress, directory: Path) -> dict:
    """A large telemetry CSV through the intake in batches; each batch commits on its own, and a
    second run of a job whose worker died finds its points stored ("unchanged")."""
    from registry.services import telemetry_csv as csv_intake

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
            raise JobRefused(str(err)) from None
        (directory / REPORT).write_text(json.dumps(outcome.to_json(), ensure_ascii=False))
    path.unlink(missing_ok=True)
    return {"file": REPORT, "rows": outcome.rows, "created": outcome.created}
