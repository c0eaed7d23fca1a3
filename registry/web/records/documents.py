"""Documents of a file: upload (checked by content), download as attachment, close."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import access
from registry.extensions import db
from registry.models import Document
from registry.services import documents as service
from registry.web import binding
from registry.web.records.forms import CloseForm, DocumentForm
from registry.web.records.routes import bp


@bp.route("/documents/new", methods=["GET", "POST"])
@login_required
@access.allows("document.edit")
def new_document(water_user_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    form = DocumentForm()
    saved, summary, status = binding.submit(form, lambda: service.attach(
        db.session, current_user, wu, {"title": form.title.data, "kind": form.kind.data}, **binding.upload_of(form)))
    if saved:
        flash(_("The document was attached."), "success")
        return redirect(url_for("water_users.detail", water_user_id=wu.id, _anchor="documents"))
    return render_template("records/document_form.html", form=form, wu=wu, summary=summary), status


@bp.route("/documents/<int:document_id>")
@login_required
def download_document(water_user_id: int, document_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    doc = access.get_record(current_user, Document, document_id, within=wu)
    if doc.image_state in ("pending", "failed"):  # the upload as received is never served
        return render_template("records/image_not_ready.html", wu=wu, doc=doc), 409
    path = service.path_for(current_app.config["UPLOAD_DIR"], doc.sha256)
    if not path.exists():
        abort(404)
    # The name is checked again: files attached before names were checked may carry "x.pdf.html".
    response = send_file(path, mimetype=doc.content_type, as_attachment=True,
                         download_name=service.download_name(doc.filename, doc.content_type))
    response.headers["X-Content-Type-Options"] = "nosniff"  # never rendered as anything but its type
    return response


@bp.route("/documents/<int:document_id>/close", methods=["GET", "POST"])
@login_required
def close_document(water_user_id: int, document_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    doc = access.get_record(current_user, Document, document_id, within=wu)
    access.require(current_user, "document.edit")
    form = CloseForm()
    saved, _summary, status = binding.submit(
        form, lambda: service.close(db.session, current_user, doc, form.reason.data))
    if saved:
        flash(_("The record was closed. It stays in the file's history."), "success")
        return redirect(url_for("water_users.detail", water_user_id=wu.id, _anchor="documents"))
    return render_template("records/close.html", form=form, wu=wu, kind=None, obj=doc), status
