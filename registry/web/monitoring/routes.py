"""Online monitoring pages (issue 17): the staff's telemetry CSV upload (read by a job of the
queue whatever its size, with a progress bar: issue 16 item 6) and the online meters."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from registry import access, queue
from registry.extensions import db
from registry.services import jobs
from registry.services.job_handlers import REPORT
from registry.web.exchange import background

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")


class TelemetryUploadForm(FlaskForm):
    file = FileField(_l("Telemetry (.csv: telemetry_id, at, totalizer_m3, flow_m3h)"))


def _uploader_only():
    access.require(current_user, "reading.edit")


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
    root = Path(current_app.config["UPLOAD_DIR"]) / "imports"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"telemetry-{secrets.token_hex(16)}.csv"
    storage.save(str(path))
    if path.stat().st_size > limit:  # nothing else is read here: the lines are the job's (issue 16 item 6)
        path.unlink(missing_ok=True)
        form.file.errors = [_l("The file is larger than %(n)d MB.", n=limit // 2**20)]
        return render_template("monitoring/upload.html", form=form), 400
    job_id = queue.submit("telemetry_csv", current_user, {"path": str(path), "locale": str(get_locale())})
    return redirect(url_for("monitoring.job", job_id=job_id), 303)


def _progress(job: dict):
    return render_template("monitoring/progress.html", job=job, message=background.message(job))


@bp.route("/telemetry/jobs/<job_id>")
@login_required
def job(job_id):
    _uploader_only()
    found = jobs.for_owner(db.session, job_id, current_user.id, "telemetry_csv")
    if found is None:  # another person's job is unknown here (404), as an out-of-scope record
        abort(404)
    shown = jobs.view(found)
    if request.args.get("format") == "json":
        return jsonify({k: shown.get(k) for k in ("state", "done", "total")} | {"message": background.message(shown)})
    if shown["state"] != "done":
        return _progress(shown)
    path = jobs.directory(current_app.config["BATCH_DIR"], found.id) / REPORT
    if not path.exists():
        abort(404)
    outcome = json.loads(path.read_text())
    if outcome.get("refused"):  # the file as a whole could not be read: the upload form again, saying why
        form = TelemetryUploadForm()
        form.file.errors = [outcome["refused"]]
        return render_template("monitoring/upload.html", form=form), 422
    return render_template("monitoring/result.html", outcome=outcome)


@bp.route("/")
@login_required
def index():
    """Online meters: completeness over the rules' window, last seen, the silent ones first."""
    access.require(current_user, "monitoring.view")
    from registry import clock
    from registry.services import monitoring, rules_versions

    rules = rules_versions.current(db.session)
    silent_only = request.args.get("silent") == "1"
    meters = monitoring.online_meters(db.session, current_user, today=clock.today(), now=clock.now(), rules=rules,
                                      silent_only=silent_only)
    return render_template("monitoring/index.html", meters=meters, rules=rules, silent_only=silent_only)


@bp.route("/meters/<int:meter_id>")
@login_required
def meter(meter_id: int):
    """One online meter: the daily series of the rules' window with its gaps, completeness, and
    its monthly readings with their flags (the evidence behind a flagged month)."""
    from datetime import timedelta

    from sqlalchemy import select

    from registry import clock
    from registry.domain import telemetry as series
    from registry.models import Meter, Reading
    from registry.services import rules_versions
    from registry.web import charts

    found = db.session.get(Meter, meter_id)
    if found is None or not access.in_scope(current_user, found.water_user_id):
        abort(404)
    access.require(current_user, "monitoring.view")  # scope first: a 403 never confirms a meter
    rules = rules_versions.current(db.session)
    today = clock.today()
    window = rules.evaluation.online_monitoring.window_days
    first = today - timedelta(days=window - 1)
    daily = {r.read_on: r.volume_m3 for r in db.session.scalars(
        select(Reading).where(Reading.meter_id == found.id, Reading.read_on >= first, Reading.read_on <= today,
                              Reading.closed_at.is_(None), Reading.status != "rejected"))}
    completeness = series.completeness(set(daily), today, window, history_from=found.installed_on)
    days = [first + timedelta(days=n) for n in range(window)]
    labels = [d.strftime("%m-%d") if n % 14 == 0 else "" for n, d in enumerate(days)]
    chart = charts.columns(
        labels, [(charts.Series(str(_l("Daily volume")), "#0d6efd"), [daily.get(d) for d in days], [None] * len(days))],
        title=str(_l("Daily volume of the last %(n)d days", n=window)),
        desc=str(_l("%(k)d days with data of %(n)d; a day without a column had no data.",
                    k=completeness.days_with_data, n=completeness.window_days)), unit="m³", width=900)
    months = db.session.scalars(select(Reading).where(Reading.meter_id == found.id, Reading.read_on.is_(None),
                                                      Reading.closed_at.is_(None))
                                .order_by(Reading.period.desc()).limit(24)).all()
    return render_template("monitoring/meter.html", meter=found, chart=chart, completeness=completeness,
                           months=months, rules=rules)
