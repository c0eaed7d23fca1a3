"""Online monitoring pages (issue 17): the staff's telemetry CSV upload (small files at once,
large ones as a job of the queue with a progress bar)."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from registry import access, queue
from registry.extensions import db
from registry.services import jobs, telemetry_csv
from registry.services.job_handlers import REPORT
from registry.web.exchange import background

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")


class TelemetryUploadForm(FlaskForm):
    file = FileField(_l("Telemetry (.csv: telemetry_id, at, totalizer_m3, flow_m3h)"))


def _uploader_only():
    if not current_user.is_staff:
        abort(404)
    if not access.can_edit(current_user, "reading"):
        abort(403)


@bp.route("/telemetry/upload", methods=["GET", "POST"])
@login_required
def upload():
    _uploader_only()
    form = TelemetryUploadForm()
    if not form.validate_on_submit():
        return render_template("monitoring/upload.html", form=form), 400 if request.method == "POST" else 200
    storage = form.file.data
    name = getattr(storage, "filename", "") or ""
    if not storage or not name:
        form.file.errors = [_l("Choose a CSV file to upload.")]
    elif not name.lower().endswith(".csv"):
        form.file.errors = [_l("The file must be a CSV file (.csv).")]
    if form.file.errors:
        return render_template("monitoring/upload.html", form=form), 400
    limit = int(current_app.config.get("IMPORT_MAX_BYTES", 50 * 2**20))
    data = storage.read(limit + 1)
    if len(data) > limit:
        form.file.errors = [_l("The file is larger than %(n)d MB.", n=limit // 2**20)]
        return render_template("monitoring/upload.html", form=form), 400
    if data.count(b"\n") > int(current_app.config.get("IMPORT_BACKGROUND_ROWS", background.BIG)):
        root = Path(current_app.config["UPLOAD_DIR"]) / "imports"
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"telemetry-{secrets.token_hex(16)}.csv"
        path.write_bytes(data)
        job_id = queue.submit("telemetry_csv", current_user, {"path": str(path), "locale": str(get_locale())})
        return _progress(jobs.view(jobs.for_owner(db.session, job_id, current_user.id, "telemetry_csv")))
    try:
        outcome = telemetry_csv.run(db.session, current_user, data,
                                    max_rows=int(current_app.config.get("IMPORT_MAX_ROWS", 200_000)))
    except telemetry_csv.CsvRefused as err:
        form.file.errors = [str(err)]
        return render_template("monitoring/upload.html", form=form), 422
    return render_template("monitoring/result.html", outcome=outcome.to_json()), 200


def _progress(job: dict):
    return render_template("monitoring/progress.html", job=job, message=background.message(job))


@bp.route("/telemetry/jobs/<job_id>")
@login_required
def job(job_id):
    _uploader_only()
    found = jobs.for_owner(db.session, job_id, current_user.id, "telemetry_csv")
    if found is None:
        abort(404)
    shown = jobs.view(found)
    if request.args.get("format") == "json":
        return jsonify({k: shown.get(k) for k in ("state", "done", "total")} | {"message": background.message(shown)})
    if shown["state"] != "done":
        return _progress(shown)
    path = jobs.directory(current_app.config["BATCH_DIR"], found.id) / REPORT
    if not path.exists():
        abort(404)
    return render_template("monitoring/result.html", outcome=json.loads(path.read_text()))


@bp.route("/")
@login_required
def index():
    """Online meters: completeness over the rules' window, last seen, the silent ones first."""
    if not current_user.is_staff:
        abort(404)
    from registry import clock
    from registry.services import monitoring, rules_versions

    rules = rules_versions.current(db.session)
    silent_only = request.args.get("silent") == "1"
    meters = monitoring.online_meters(db.session, current_user, today=clock.today(), now=clock.now(), rules=rules,
                                      silent_only=silent_only)
    return render_template("monitoring/index.html", meters=meters, rules=rules, silent_only=silent_only)
