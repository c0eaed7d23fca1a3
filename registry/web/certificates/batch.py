"""Batch printing (bureau): choose certificates by division and grade, or issue for every file
that earns one and holds none, and get one PDF or a ZIP. The work runs in a background job
(``jobs``) writing to disk as it goes; the page polls its progress (static/js/batch-progress.js).
"""
from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import clock
from registry.extensions import db
from registry.i18n import division_name
from registry.models import Division
from registry.pdf import batch as batch_pdf
from registry.services import certificates, rules_versions
from registry.web.certificates import jobs
from registry.web.certificates.forms import BatchForm
from registry.web.certificates.routes import _issuer_only, bp


@bp.route("/certificates/batch", methods=["GET", "POST"])
@login_required
def batch():
    _issuer_only()
    rules = rules_versions.current(db.session)
    form = BatchForm()
    divisions = db.session.scalars(db.select(Division).order_by(Division.code))
    form.division.choices = [("", _("All divisions"))] + [(d.code, f"{d.code} {division_name(d)}") for d in divisions]
    form.grade.choices = [("", _("All certificate grades"))] + [(g, g) for g in rules.certificate.grades]
    if form.validate_on_submit():
        filters = certificates.BatchFilters(
            which=form.which.data if form.which.data in certificates.BATCH_KINDS else "valid",
            division=form.division.data or "", grade=form.grade.data or "")
        fmt = form.output.data if form.output.data in batch_pdf.FORMATS else "pdf"
        ids = certificates.batch_selection(db.session, current_user, filters, rules=rules)
        if not ids:
            flash(_("Nothing matches: no certificate was printed."), "info")
            return redirect(url_for("certificates.batch"))
        job_id = jobs.start(current_app._get_current_object(), current_user.id, len(ids),
                            _work(current_user.id, filters.which, ids, fmt))
        return redirect(url_for("certificates.batch_job", job_id=job_id))
    return render_template("certificates/batch.html", form=form), 400 if request.method == "POST" else 200


def _work(owner_id: int, which: str, ids: list[int], fmt: str):
    """The job: issue first when asked, then write the file (runs in the job's thread)."""
    def work(directory: Path, progress: jobs.Progress) -> str:
        cert_ids = ids
        if which == "missing":
            progress.phase("issuing", len(ids))
            actor = certificates.actor_by_id(db.session, owner_id)
            cert_ids = certificates.issue_many(db.session, actor, ids, progress=progress.advance)
        progress.phase("writing", len(cert_ids))
        name = f"certificates-{clock.today().isoformat()}.{fmt}"
        batch_pdf.write(directory / name, fmt, certificates.iter_pdfs(db.session, cert_ids),
                        title="自备取水户规范评价合格证书", progress=progress.advance)
        return name
    return work


def _job(job_id: str):
    """The signed-in officer's job, or None (said on the batch page). Only issuers have jobs:
    for anyone else there is nothing at this address."""
    if current_user.role not in certificates.ISSUERS:
        abort(404)
    found = jobs.load(current_app, job_id, current_user.id)
    if found is None and not _wants_json():
        flash(_("This batch is no longer available (batches are kept for a day); start a new one."), "info")
    return found


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json"


@bp.route("/certificates/batch/<job_id>")
@login_required
def batch_job(job_id: str):
    found = _job(job_id)
    if _wants_json():
        if found is None:
            abort(404)
        state = found[0]
        return jsonify({k: state.get(k) for k in ("state", "done", "total")} | {"message": _message(state)})
    if found is None:
        return redirect(url_for("certificates.batch"))
    return render_template("certificates/batch_job.html", job=found[0], job_id=job_id, message=_message(found[0]))


@bp.route("/certificates/batch/<job_id>/file")
@login_required
def batch_file(job_id: str):
    found = _job(job_id)
    if found is None or found[0].get("state") != "done" or not found[0].get("file"):
        return redirect(url_for("certificates.batch"))
    state, directory = found
    mimetype = "application/pdf" if state["file"].endswith(".pdf") else "application/zip"
    return send_file(directory / state["file"], mimetype=mimetype, as_attachment=True, download_name=state["file"])


def _message(state: dict) -> str:
    done, total = state.get("done", 0), state.get("total", 0)
    return {
        "queued": _("Waiting to start…"),
        "issuing": _("Issuing certificates: %(done)d of %(total)d files.", done=done, total=total),
        "writing": _("Writing the file: %(done)d of %(total)d certificates.", done=done, total=total),
        "done": _("Ready: %(total)d certificates.", total=total),
        "failed": _("The batch failed; nothing was lost. Try again, or ask the administrator to look at the log."),
    }.get(state.get("state"), "")
