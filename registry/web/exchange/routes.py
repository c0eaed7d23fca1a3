"""Spreadsheet import and export in the web UI (/exchange/...): upload → dry run → confirm, the
list's export links and the template. Bureau administrators import; staff export their scope."""
from __future__ import annotations

import tempfile

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from registry import access
from registry.extensions import db
from registry.services import exchange
from registry.services.exchange_columns import KINDS
from registry.services.file_view import ListFilters
from registry.services.spreadsheets import MIME, SheetError, check_upload, format_of
from registry.web.exchange import background, uploads

bp = Blueprint("exchange", __name__, url_prefix="/exchange")


class UploadForm(FlaskForm):
    file = FileField(_l("Spreadsheet (.xlsx or .csv)"))


class ConfirmForm(FlaskForm):
    pass


@bp.route("/import", methods=["GET", "POST"])
@login_required
@access.allows("import.run")
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return render_template("exchange/upload.html", form=form), 400 if request.method == "POST" else 200
    storage = form.file.data
    fmt = format_of(getattr(storage, "filename", "") or "")
    if not storage or not getattr(storage, "filename", ""):
        form.file.errors = [_("Choose a spreadsheet to upload.")]
    elif fmt is None:
        form.file.errors = [_("The file must be an Excel workbook (.xlsx) or a CSV file (.csv).")]
    if form.file.errors:
        return render_template("exchange/upload.html", form=form), 400
    saved = uploads.save(current_app.config["UPLOAD_DIR"], current_user.id, storage, fmt)
    try:  # issue 16 item 6: here only the size and the zip directory; the rows are read by a job
        check_upload(saved.path, saved.fmt)
    except SheetError as err:
        uploads.discard(saved)  # a refused file is not kept
        form.file.errors = [str(err.message)]
        return render_template("exchange/upload.html", form=form), 422
    background.start(saved, current_user, "check")
    return redirect(url_for("exchange.review", token=saved.token))


@bp.route("/import/<token>")
@login_required
@access.allows("import.run")
def review(token):
    """The dry run: what the file would change, or every cell that fails. A job of the queue reads
    the file (issue 16 item 6: no web worker parses a spreadsheet); until it is done the page is a
    progress bar that polls this address, then the result."""
    saved = uploads.load(current_app.config["UPLOAD_DIR"], token, current_user.id)
    wants_json = request.args.get("format") == "json"
    if saved is None:
        if wants_json:
            abort(404)
        flash(_("That upload is no longer available; upload the file again."), "warning")
        return redirect(url_for("exchange.upload"))
    if not saved.jobs:  # uploaded before every check was a job: start it now
        if wants_json:
            abort(404)
        background.start(saved, current_user, "check")
    return _background(saved, wants_json)


def _result(saved, report):
    return render_template("exchange/review.html", report=report, upload=saved, form=ConfirmForm(),
                           kinds=KINDS), 200 if report.ok else 422


def _background(saved, wants_json: bool):
    phase = "import" if "import" in saved.jobs else "check"
    found = background.state(saved, current_user.id, phase)
    if found is None:
        uploads.discard(saved)
        if wants_json:
            abort(404)
        flash(_("That upload is no longer available; upload the file again."), "warning")
        return redirect(url_for("exchange.upload"))
    job, report = found
    if wants_json:
        return jsonify({k: job.get(k) for k in ("state", "done", "total")} | {"message": background.message(job)})
    if report is None:
        return render_template("exchange/progress.html", job=job, upload=saved, message=background.message(job))
    if report.applied:
        uploads.discard(saved)
        return _imported(report)
    return _result(saved, report)


def _imported(report):
    flash(_("Imported %(rows)d rows: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
            rows=report.rows, created=sum(c.created for c in report.counts.values()),
            updated=sum(c.updated for c in report.counts.values()),
            unchanged=sum(c.unchanged for c in report.counts.values())), "success")
    return redirect(url_for("water_users.index"))


@bp.route("/import/<token>/apply", methods=["POST"])
@login_required
@access.allows("import.run")
def apply(token):
    saved = uploads.load(current_app.config["UPLOAD_DIR"], token, current_user.id)
    if saved is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("exchange.review", token=token))
    if "import" not in saved.jobs:  # once, however often the button is pressed
        background.start(saved, current_user, "import")
    return redirect(url_for("exchange.review", token=token))


@bp.route("/export")
@login_required
@access.allows("export.run")
def export():
    """The water users the list shows with these filters (and their records), in the account's scope."""
    fmt = request.args.get("format", "xlsx")
    if fmt not in MIME:
        abort(404)
    kind = request.args.get("kind")
    kinds = [kind] if kind in KINDS else None
    filters = ListFilters.of(request.args)
    out = tempfile.TemporaryFile()
    exchange.export(db.session, current_user, out, fmt, kinds=kinds, filters=filters)
    out.seek(0)
    name = f"registry-{(kinds or ['all'])[0] if fmt == 'xlsx' else (kinds or ['water_users'])[0]}.{fmt}"
    return send_file(out, mimetype=MIME[fmt], as_attachment=True, download_name=name)


@bp.route("/template.xlsx")
@login_required
@access.allows("export.run")
def template():
    out = tempfile.TemporaryFile()
    exchange.template(out)
    out.seek(0)
    return send_file(out, mimetype=MIME["xlsx"], as_attachment=True, download_name="registry-import-template.xlsx")
