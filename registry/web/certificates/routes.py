"""Certificates 合规证书: issue and revoke (bureau), download (staff; an enterprise its own),
public verification (no login, rate-limited), and the dossier 档案 of a whole file.

Routes only parse and render; ``services.certificates`` authorises, checks, numbers, audits and
commits. Objects outside the account's scope answer 404, forbidden actions in scope 403.
"""
from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import access, clock
from registry.extensions import db, limiter
from registry.pdf import PdfSettings
from registry.services import certificates, documents, rules_versions
from registry.services.certificates import CertificateRefused
from registry.web import binding
from registry.web.certificates.forms import IssueForm, RevokeForm

bp = Blueprint("certificates", __name__)


@bp.app_template_global()
def certificate_status(cert) -> str:
    return certificates.status_of(cert)


@bp.app_template_global()
def certificate_reason(cert) -> str:
    return certificates.reason_text(cert)


@bp.app_template_global()
def certificate_issuable(wu) -> bool:
    """Whether the file page offers "Issue a certificate" (the issue page says why not, if not)."""
    if not access.can(current_user, "certificate.issue") or wu.status != "active":
        return False
    grades = rules_versions.current(db.session).certificate.grades
    return wu.grade in grades and not any(certificates.status_of(c) == "valid" for c in wu.certificates)


def _back(wu):
    return redirect(url_for("water_users.detail", water_user_id=wu.id, _anchor="certificates"))


@bp.route("/water-users/<int:water_user_id>/certificates/new", methods=["GET", "POST"])
@login_required
@access.allows("certificate.issue")
def new(water_user_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    form = IssueForm()
    if request.method == "GET":
        form.idempotency_key.data = binding.new_key()
    rules = rules_versions.current(db.session)
    refusal, status = certificates.refusal_for(db.session, wu, rules=rules), 200
    if form.validate_on_submit():
        try:
            cert = certificates.issue(db.session, current_user, wu, rules=rules,
                                      idempotency_key=form.idempotency_key.data)
        except CertificateRefused as err:
            db.session.rollback()
            refusal, status = err.errors["_"], 409
        else:
            flash(_("Certificate %(n)s was issued.", n=cert.number), "success")
            return _back(wu)
    elif request.method == "POST":
        status = 400
    evaluation = wu.evaluations[0] if wu.evaluations else None
    return render_template("certificates/issue.html", form=form, wu=wu, ev=evaluation, refusal=refusal,
                           rules=rules, today=clock.today()), status


@bp.route("/water-users/<int:water_user_id>/certificates/<number>/revoke", methods=["GET", "POST"])
@login_required
def revoke(water_user_id: int, number: str):
    wu = access.get_water_user(current_user, water_user_id)
    cert = certificates.get(db.session, current_user, number)
    if cert.water_user_id != wu.id:
        abort(404)
    access.require(current_user, "certificate.issue")
    form = RevokeForm()
    saved, _summary, status = binding.submit(
        form, lambda: certificates.revoke(db.session, current_user, cert, form.reason.data))
    if saved:
        flash(_("Certificate %(n)s was revoked; the verification page says so now.", n=cert.number), "success")
        return _back(wu)
    return render_template("certificates/revoke.html", form=form, wu=wu, cert=cert), status


@bp.route("/certificates/<number>.pdf")
@login_required
def download(number: str):
    """The issued bytes, identical at every download (their sha256 is on the certificate)."""
    cert = certificates.get(db.session, current_user, number)
    path = documents.path_for(current_app.config["UPLOAD_DIR"], cert.pdf_sha256 or "0" * 64)
    if certificates.status_of(cert) == "revoked":  # never the clean original (issue 18)
        from registry.pdf.certificate import render_revoked

        content = render_revoked(certificates.data_of(cert), cert.revoked_on, PdfSettings.from_config(current_app.config))
        response = send_file(io.BytesIO(content), mimetype="application/pdf", download_name=f"{cert.number}-revoked.pdf")
    elif path.exists():
        response = send_file(path, mimetype="application/pdf", download_name=f"{cert.number}.pdf")
    else:
        response = send_file(io.BytesIO(certificates.pdf_bytes(cert)), mimetype="application/pdf",
                             download_name=f"{cert.number}.pdf")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/verify/<number>")
@limiter.limit(lambda: current_app.config["VERIFY_RATELIMIT"])
def verify(number: str):
    """Public: anyone holding the paper (a bank, a customer, an auditor) checks it by phone."""
    cert = certificates.lookup(db.session, number)
    state = certificates.status_of(cert) if cert is not None else "unknown"
    # Without the key of the QR code only the state shows: numbers run in sequence, and the
    # details of every company must not be one counter away (issue 16, item 12).
    full = cert is not None and certificates.holds_key(cert, request.args.get("k"))
    body = render_template("certificates/verify.html", cert=cert, state=state, number=(number or "")[:40], full=full,
                           data=certificates.data_of(cert) if full else None,
                           reason=certificates.reason_text(cert) if full else "")
    response = current_app.make_response((body, 404 if cert is None else 200))
    response.headers["Cache-Control"] = "no-store"  # a revocation shows at once, never a cached "valid"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/water-users/<int:water_user_id>/dossier.pdf")
@login_required
@access.allows("dossier.read")
def dossier(water_user_id: int):
    """The whole file as one PDF (档案), in the reader's language."""
    from registry.pdf import dossier as dossier_pdf
    from registry.services.file_view import load_file

    view = load_file(db.session, current_user, water_user_id)
    from registry.web import timeline

    content = dossier_pdf.render(view, PdfSettings.from_config(current_app.config),
                                 timeline.rows(db.session, view.timeline, dossier_pdf.TIMELINE_ROWS))
    response = send_file(io.BytesIO(content), mimetype="application/pdf",
                         download_name=f"{view.water_user.file_no}-dossier.pdf")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


from registry.web.certificates import batch  # noqa: E402,F401  (registers the batch routes on bp)
