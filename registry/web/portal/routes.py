"""The enterprise portal: "am I compliant, and what must I do by when", and the submissions
that wait for staff review. Staff review them at /review."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from registry import access, clock
from registry.extensions import db
from registry.models import Account, Document, DueItem, PlanProposal, Reading, Rectification, WaterUser
from registry.services import ValidationError, communications, plans, portal
from registry.services import warnings as use_warnings
from registry.services.work_queue import ANCHORS
from registry.web import binding
from registry.web.communications.forms import ConfirmForm as AcknowledgeForm
from registry.web.plans.forms import ProposalForm
from registry.web.portal.forms import AnswerForm, SubmitDocumentForm, SubmitReadingForm

bp = Blueprint("portal", __name__)


@bp.route("/portal")
@login_required
@access.allows("portal.use")
def home():
    files = list(db.session.scalars(access.scoped(select(WaterUser), current_user).order_by(WaterUser.file_no)))
    ids = [w.id for w in files]
    due = list(db.session.scalars(select(DueItem).where(DueItem.water_user_id.in_(ids))
                                  .order_by(DueItem.status.desc(), DueItem.due_on)))
    readings = list(db.session.scalars(select(Reading).where(Reading.water_user_id.in_(ids), Reading.source == "enterprise")
                                       .order_by(Reading.id.desc()).limit(24)))
    # What the enterprise sent, whatever became of it: an accepted document stays listed with its state.
    docs = list(db.session.scalars(select(Document).join(Account, Account.id == Document.uploaded_by_id).where(
        Document.water_user_id.in_(ids), Account.role == "enterprise").order_by(Document.id.desc()).limit(24)))
    orders = list(db.session.scalars(select(Rectification).where(
        Rectification.water_user_id.in_(ids), Rectification.status != "verified", Rectification.closed_at.is_(None))
        .order_by(Rectification.deadline)))
    notices = communications.notices(db.session, current_user, ids)
    proposals = list(db.session.scalars(select(PlanProposal).where(
        PlanProposal.water_user_id.in_(ids), PlanProposal.closed_at.is_(None)).order_by(PlanProposal.id.desc()).limit(24)))
    return render_template("portal/home.html", files=files, due=due, readings=readings, docs=docs, orders=orders,
                           anchors=ANCHORS, today=clock.today(), notices=notices, proposals=proposals,
                           use_warnings=use_warnings.live_for_files(db.session, ids))


@bp.route("/portal/water-users/<int:water_user_id>/readings/new", methods=["GET", "POST"])
@login_required
@access.allows("portal.use")
def submit_reading(water_user_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    form = SubmitReadingForm()
    form.meter_id.choices = [("", "—")] + [(str(m.id), m.serial) for m in wu.meters if m.in_service]
    due = _reading_due(wu)
    if request.method == "GET" and due is not None:
        form.period.data = due["month"]
    saved, summary, status = binding.submit(form, lambda: portal.submit_reading(
        db.session, current_user, wu, binding.values(form), idempotency_key=form.idempotency_key.data))
    if saved:
        flash(_("Reading submitted. The bureau reviews it; you will see here when it is accepted."), "success")
        return redirect(url_for("portal.home"))
    return render_template("portal/form.html", form=form, wu=wu, summary=summary, multipart=False,
                           title=_("Submit a monthly reading"), button=_("Submit the reading"),
                           reading_due=due, last_readings=_last_accepted(wu)), status


def _reading_due(wu) -> dict | None:
    """The month whose reading is due (the monthly-readings item of the file), by when, and its state."""
    item = db.session.scalars(select(DueItem).where(DueItem.water_user_id == wu.id,
                                                    DueItem.kind == "monthly_readings")).first()
    month = (item.params or {}).get("month") if item is not None else None
    if not isinstance(month, int) or month < 100:
        return None
    return {"month": f"{month // 100:04d}-{month % 100:02d}", "due_on": item.due_on, "status": item.status}


def _last_accepted(wu) -> list[tuple]:
    """Per meter in service, its last accepted monthly reading: (serial, reading or None)."""
    out = []
    for meter in (m for m in wu.meters if m.in_service and m.closed_at is None):
        last = db.session.scalars(select(Reading).where(
            Reading.meter_id == meter.id, Reading.status == "accepted", Reading.read_on.is_(None),
            Reading.closed_at.is_(None)).order_by(Reading.period.desc()).limit(1)).first()
        out.append((meter.serial, last))
    return out


@bp.route("/portal/water-users/<int:water_user_id>/plans/propose", methods=["GET", "POST"])
@login_required
@access.allows("plan.propose")
def propose_plan(water_user_id: int):
    """Next year's plan with the past year's report, before the deadline of the rules (issue 19)."""
    wu = access.get_water_user(current_user, water_user_id)
    form = ProposalForm()
    if request.method == "GET" and not form.year.data:
        form.year.data = str(clock.today().year + 1)
    saved, summary, status = binding.submit(form, lambda: plans.propose(
        db.session, current_user, wu, binding.values(form), idempotency_key=form.idempotency_key.data))
    if saved:
        flash(_("Plan proposal sent. The bureau decides; you will see its decision here."), "success")
        return redirect(url_for("portal.home", _anchor="plans"))
    return render_template("portal/form.html", form=form, wu=wu, summary=summary, multipart=False,
                           title=_("Propose a water-use plan"), button=_("Send the proposal"),
                           scripts=("js/plan-shares.js",)), status


@bp.route("/portal/water-users/<int:water_user_id>/tax-statements")
@login_required
@access.allows("portal.use")
def tax_statements(water_user_id: int):
    """The statements the bureau signed and handed over for this file (issue 19)."""
    from registry.web.tax.routes import portal_list

    return portal_list(water_user_id)


@bp.route("/portal/water-users/<int:water_user_id>/documents/new", methods=["GET", "POST"])
@login_required
@access.allows("portal.use")
def submit_document(water_user_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    form = SubmitDocumentForm()
    saved, summary, status = binding.submit(form, lambda: portal.submit_document(
        db.session, current_user, wu, {"title": form.title.data, "kind": form.kind.data}, **binding.upload_of(form)))
    if saved:
        flash(_("Document submitted for review."), "success")
        return redirect(url_for("portal.home"))
    return render_template("portal/form.html", form=form, wu=wu, summary=summary, multipart=True,
                           title=_("Submit a document"), button=_("Submit the document")), status


@bp.route("/portal/water-users/<int:water_user_id>/rectifications/<int:rectification_id>/answer", methods=["GET", "POST"])
@login_required
def answer(water_user_id: int, rectification_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    rect = access.get_record(current_user, Rectification, rectification_id, within=wu)
    access.require(current_user, "portal.use")
    form = AnswerForm()
    saved, summary, status = binding.submit(
        form, lambda: portal.answer_rectification(db.session, current_user, wu, rect, binding.values(form)))
    if saved:
        flash(_("Your answer was sent; the inspector will verify the rectification."), "success")
        return redirect(url_for("portal.home"))
    return render_template("portal/form.html", form=form, wu=wu, summary=summary, multipart=False, order=rect,
                           title=_("Answer a rectification order"), button=_("Send the answer")), status


@bp.route("/portal/water-users/<int:water_user_id>/notices/<int:communication_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge(water_user_id: int, communication_id: int):
    """The enterprise confirms it has read a reminder; the file's history shows who and when."""
    wu = access.get_water_user(current_user, water_user_id)
    notice = communications.get(db.session, current_user, wu.id, communication_id)
    access.require(current_user, "portal.use")
    if not AcknowledgeForm().validate_on_submit():
        abort(400)
    try:
        communications.acknowledge(db.session, current_user, notice)
    except ValidationError as err:
        flash(str(next(iter(err.errors.values()))), "info")
    else:
        flash(_("Thank you: the bureau can see that you have read this reminder."), "success")
    return redirect(url_for("portal.home", _anchor="notices"))
