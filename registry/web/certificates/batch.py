"""Batch printing (bureau): choose certificates by division and grade, or issue for every file
that earns one and holds none, and get one PDF or a ZIP. The work runs in a background job
(``jobs``) writing to disk as it goes; the page polls its progress (static/js/batch-progress.js).
"""
from __future__ import annotations


from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import access, queue
from registry.extensions import db
from registry.i18n import division_name
from registry.models import Certificate, Division, WaterUser
from registry.pdf import batch as batch_pdf
from registry.services import certificates, jobs, rules_versions
from registry.web.certificates.forms import BatchForm
from registry.web.certificates.routes import bp


@bp.route("/certificates/batch", methods=["GET", "POST"])
@login_required
@access.allows("certificate.issue")
def batch():
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
        if form.confirmed.data != str(len(ids)):  # first the count, the split and the first rows; then confirm
            changed = bool(form.confirmed.data)
            form.confirmed.data = str(len(ids))
            return render_template("certificates/batch_confirm.html", form=form, filters=filters, fmt=fmt,
                                   changed=changed, **_preview(filters.which, ids))
        job_id = queue.submit("certificate_batch", current_user, {"which": filters.which, "ids": ids, "fmt": fmt},
                              total=len(ids))
        return redirect(url_for("certificates.batch_job", job_id=job_id))
    return render_template("certificates/batch.html", form=form), 400 if request.method == "POST" else 200


PREVIEW_ROWS = 10


def _preview(which: str, ids: list[int]) -> dict:
    """What the batch will print: the count per division and grade, and its first rows."""
    if which == "valid":
        base = (db.select(Certificate.number, WaterUser.file_no, WaterUser.name, WaterUser.division_code,
                          Certificate.grade).join(WaterUser, WaterUser.id == Certificate.water_user_id)
                .where(Certificate.id.in_(ids)))
        key, grade, order = Certificate.id, Certificate.grade, Certificate.number
    else:
        base = (db.select(db.null(), WaterUser.file_no, WaterUser.name, WaterUser.division_code, WaterUser.grade)
                .where(WaterUser.id.in_(ids)))
        key, grade, order = WaterUser.id, WaterUser.grade, WaterUser.file_no
    counts_stmt = (db.select(WaterUser.division_code, grade, db.func.count(key))
                   .select_from(Certificate if which == "valid" else WaterUser))
    if which == "valid":
        counts_stmt = counts_stmt.join(WaterUser, WaterUser.id == Certificate.water_user_id)
    counts = db.session.execute(counts_stmt.where(key.in_(ids)).group_by(WaterUser.division_code, grade)
                                .order_by(WaterUser.division_code, grade)).all()
    names = {d.code: division_name(d) for d in db.session.scalars(db.select(Division))}
    grades = sorted({g for _d, g, _n in counts if g})
    table: dict[str, dict[str, int]] = {}
    for division, g, n in counts:
        table.setdefault(division, {})[g] = n
    rows = db.session.execute(base.order_by(order).limit(PREVIEW_ROWS)).all()
    return {"total": len(ids), "grades": grades, "table": table, "division_names": names, "rows": rows,
            "more": max(0, len(ids) - PREVIEW_ROWS)}


def _job(job_id: str):
    """The signed-in officer's job, or None (said on the batch page)."""
    job = jobs.for_owner(db.session, job_id, current_user.id, "certificate_batch")
    if job is None and not _wants_json():
        flash(_("This batch is no longer available (batches are kept for a day); start a new one."), "info")
    return None if job is None else jobs.view(job)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json"


@bp.route("/certificates/batch/<job_id>")
@login_required
@access.allows("certificate.issue")
def batch_job(job_id: str):
    found = _job(job_id)
    if _wants_json():
        if found is None:
            abort(404)
        return jsonify({k: found.get(k) for k in ("state", "done", "total", "issued")} | {"message": _message(found)})
    if found is None:
        return redirect(url_for("certificates.batch"))
    return render_template("certificates/batch_job.html", job=found, job_id=job_id, message=_message(found))


@bp.route("/certificates/batch/<job_id>/file")
@login_required
@access.allows("certificate.issue")
def batch_file(job_id: str):
    found = _job(job_id)
    if found is None or found.get("state") != "done" or not found.get("file"):
        return redirect(url_for("certificates.batch"))
    name = found["file"]
    mimetype = "application/pdf" if name.endswith(".pdf") else "application/zip"
    return send_file(jobs.directory(current_app.config["BATCH_DIR"], job_id) / name, mimetype=mimetype,
                     as_attachment=True, download_name=name)


def _message(state: dict) -> str:
    done, total, issued = state.get("done", 0), state.get("total", 0), state.get("issued", 0)
    if state.get("state") == "queued" and state.get("attempts"):
        return _("The worker stopped during the batch; it goes on where it stopped (run %(n)d of %(max)d). "
                 "Certificates issued so far: %(issued)d.", n=state["attempts"] + 1, max=jobs.MAX_ATTEMPTS, issued=issued)
    if state.get("state") == "done" and state["result"].get("issued") is not None:
        return _("Ready: %(issued)d certificates issued, each once; %(total)d in the file.", issued=issued,
                 total=state["result"].get("certificates", total))
    if state.get("state") == "failed" and issued:
        return _("The batch stopped after issuing %(issued)d certificates (they are valid, each issued once); "
                 "the other files got none. Start the batch again to issue the rest.", issued=issued)
    return {
        "queued": _("Waiting to start…"),
        "issuing": _("Issuing certificates: %(done)d of %(total)d files.", done=done, total=total),
        "writing": _("Writing the file: %(done)d of %(total)d certificates.", done=done, total=total),
        "done": _("Ready: %(total)d certificates.", total=state["result"].get("certificates", total)),
        "failed": _("The batch failed; nothing was lost. Try again, or ask the administrator to look at the log."),
    }.get(state.get("state"), "")
