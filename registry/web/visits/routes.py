"""The inspector's tablet: my visits (/visits), the site inspection (/visits/<id>/inspect), its record
and printable PDF, and the verification of answered rectification orders.

Routes parse and render; ``services.inspections`` authorises, validates, writes and commits. Every
page goes through ``access``: staff only, files outside the account's scope answer 404.
"""
from __future__ import annotations

import io
from datetime import timedelta

from flask import (Blueprint, current_app, flash, jsonify, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, func

from registry import access, clock
from registry.extensions import db
from registry.models import Inspection, Reading, Rectification
from registry.pdf import PdfSettings
from registry.services import ValidationError, inspections, photos
from registry.services.validators import CHECKLIST_CODES
from registry.presentation import paging
from registry.web import binding
from registry.web.visits import submission
from registry.web.visits.forms import DecisionForm, InspectionVisitForm

bp = Blueprint("visits", __name__)
STATIC_FOR_OFFLINE = ("vendor/bootstrap/bootstrap.min.css", "vendor/bootstrap/bootstrap.bundle.min.js",
                      "css/registry.css", "css/tablet.css", "js/inspection-draft.js")


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _photo_limit() -> int:
    return int(current_app.config.get("PHOTO_MAX_BYTES") or photos.DEFAULT_MAX_BYTES)


@bp.route("/visits")
@login_required
@access.allows("visits.use")
def index():
    today, q, due_only = clock.today(), (request.args.get("q") or "")[:100], request.args.get("due") == "1"
    page = paging.paginate(db.session, inspections.my_visits(db.session, current_user, today, q=q, due_only=due_only),
                           page=request.args.get("page", 1, type=int), per_page=current_app.config["PER_PAGE"])
    due = inspections.due_items_of(db.session, [row[0].id for row in page.items], today)
    return render_template("visits/list.html", page=page, due=due, q=q, due_only=due_only, today=today,
                           answers=inspections.answers_to_verify(db.session, current_user),
                           offline_assets=[url_for("static", filename=f) for f in STATIC_FOR_OFFLINE])


@bp.route("/visits/<int:water_user_id>/inspect", methods=["GET", "POST"])
@login_required
@access.allows("inspection.edit")
def inspect(water_user_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    form = InspectionVisitForm()
    values, errors, status = submission.defaults(wu, clock.today()), {}, 200
    if request.method == "GET":
        form.idempotency_key.data = binding.new_key()
    elif form.validate_on_submit():
        try:
            insp = inspections.record(db.session, current_user, wu,
                                      submission.parse(request.form, request.files, _photo_limit()),
                                      upload_dir=current_app.config["UPLOAD_DIR"], photo_max_bytes=_photo_limit(),
                                      idempotency_key=form.idempotency_key.data)
        except ValidationError as err:
            values, errors, status = submission.posted(request.form), err.errors, 400
        else:
            done = url_for("visits.inspection", water_user_id=wu.id, inspection_id=insp.id)
            if _wants_json():
                return jsonify(ok=True, inspection_id=insp.id, redirect=done)
            flash(_("The inspection was saved."), "success")
            return redirect(done)
    else:
        values, errors, status = submission.posted(request.form), {"_": _("The form expired. Send it again.")}, 400
    if status == 400 and _wants_json():
        return jsonify(ok=False, errors=submission.error_list(errors)), 400
    return render_template("visits/inspect.html", form=form, wu=wu, values=values, checklist=CHECKLIST_CODES,
                           errors=errors, error_list=submission.error_list(errors), **_glance(wu)), status


def _glance(wu) -> dict:
    """The file at a glance for the inspector on site, and the choices of the reading."""
    today = clock.today()
    meters = [m for m in wu.meters if m.in_service and m.closed_at is None]
    previous: dict[int, Reading] = {}  # the last monthly dial reading of each meter, to show beside the field
    live = (Reading.meter_id.in_([m.id for m in meters] or [-1]), Reading.meter_index.is_not(None),
            Reading.read_on.is_(None), Reading.closed_at.is_(None), Reading.status != "rejected")
    latest = db.select(Reading.meter_id, func.max(Reading.period).label("period")).where(*live) \
        .group_by(Reading.meter_id).subquery()
    for reading in db.session.scalars(db.select(Reading).where(*live).join(
            latest, and_(latest.c.meter_id == Reading.meter_id, latest.c.period == Reading.period))):
        previous[reading.meter_id] = reading
    orders = db.session.scalars(db.select(Rectification).join(Inspection).where(
        Rectification.water_user_id == wu.id, Rectification.closed_at.is_(None), Inspection.closed_at.is_(None),
        Rectification.status != "verified").order_by(Rectification.deadline)).all()
    last = db.session.scalars(db.select(Inspection).where(Inspection.water_user_id == wu.id, Inspection.closed_at.is_(None))
                              .order_by(Inspection.inspected_on.desc(), Inspection.id.desc()).limit(1)).first()
    return {"meters": meters, "previous": previous, "orders": orders, "last": last,
            "due": inspections.due_items_of(db.session, [wu.id], today).get(wu.id, []), "today": today,
            "photo_max_bytes": _photo_limit(), "photo_megabytes": inspections.megabytes(_photo_limit()),
            "offline_assets": [url_for("static", filename=f) for f in STATIC_FOR_OFFLINE]}


@bp.route("/visits/<int:water_user_id>/inspections/<int:inspection_id>")
@login_required
def inspection(water_user_id: int, inspection_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    insp = access.get_record(current_user, Inspection, inspection_id, within=wu)
    access.require(current_user, "visits.use")
    return render_template("visits/inspection.html", wu=wu, insp=insp, today=clock.today(),
                           files=inspections.attachments(db.session, insp))


@bp.route("/visits/<int:water_user_id>/inspections/<int:inspection_id>.pdf")
@login_required
def inspection_pdf(water_user_id: int, inspection_id: int):
    """The inspection record on A4, for the site contact to sign on paper when the site asks for it."""
    from registry.pdf import inspection as inspection_pdf

    wu = access.get_water_user(current_user, water_user_id)
    insp = access.get_record(current_user, Inspection, inspection_id, within=wu)
    access.require(current_user, "visits.use")
    content = inspection_pdf.render(insp, inspections.attachments(db.session, insp),
                                     current_app.config["UPLOAD_DIR"], PdfSettings.from_config(current_app.config))
    response = send_file(io.BytesIO(content), mimetype="application/pdf",
                         download_name=f"{wu.file_no}-inspection-{insp.inspected_on.isoformat()}.pdf")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/visits/<int:water_user_id>/rectifications/<int:rectification_id>", methods=["GET", "POST"])
@login_required
def rectification(water_user_id: int, rectification_id: int):
    """An answered order: the inspector verifies it, or reopens it with a reason and a new deadline."""
    wu = access.get_water_user(current_user, water_user_id)
    rect = access.get_record(current_user, Rectification, rectification_id, within=wu)
    access.require(current_user, "rectification.edit")
    form, status = DecisionForm(), 200
    if request.method == "GET":
        form.deadline.data = (clock.today() + timedelta(days=submission.DEFAULT_DEADLINE_DAYS)).isoformat()
    if form.validate_on_submit():
        try:
            if form.decision.data == "verify":
                inspections.verify(db.session, current_user, rect)
            elif form.decision.data == "reopen":
                inspections.reopen(db.session, current_user, rect, binding.values(form))
            else:
                raise ValidationError({"decision": _("Choose one of the listed options.")})
        except ValidationError as err:
            binding.bind_errors(form, err.errors)
            form.form_errors.extend(m for k, m in err.errors.items() if k not in form._fields)
            status = 400
        else:
            flash(_("The rectification order is verified.") if rect.status == "verified"
                  else _("The rectification order is open again."), "success")
            return redirect(url_for("visits.index"))
    elif request.method == "POST":
        status = 400
    return render_template("visits/rectification.html", wu=wu, rect=rect, form=form, today=clock.today()), status


@bp.route("/visits/sw.js")
@login_required
@access.allows("visits.use")
def service_worker():
    """The offline helper, served from /visits/ so that its scope covers the visit pages."""
    response = send_file(current_app.static_folder + "/js/visits-sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = url_for("visits.index")  # /visits itself, not only /visits/...
    return response
