"""The plan year (issue 19): the bureau's list of plan proposals, its decision, and the mid-year
adjustment of a plan. The enterprise proposes from the portal (registry.web.portal)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from registry import access
from registry.extensions import db
from registry.models import AnnualPlan, PlanProposal, WaterUser
from registry.services import plans
from registry.web import binding
from registry.web.plans.forms import AdjustForm, DecisionForm

bp = Blueprint("plans", __name__)


@bp.route("/plan-proposals")
@login_required
def proposals():
    access.require(current_user, "plan.review")
    stmt = access.scoped(select(PlanProposal, WaterUser).join(WaterUser, WaterUser.id == PlanProposal.water_user_id),
                         current_user)
    rows = db.session.execute(stmt.where(PlanProposal.closed_at.is_(None))
                              .order_by((PlanProposal.status != "pending"), PlanProposal.id.desc()).limit(300)).all()
    return render_template("plans/proposals.html", rows=rows)


def _proposal(water_user_id: int, proposal_id: int) -> tuple[WaterUser, PlanProposal]:
    wu = access.get_water_user(current_user, water_user_id)
    proposal = db.session.get(PlanProposal, proposal_id)
    if proposal is None or proposal.water_user_id != wu.id or proposal.closed_at is not None:
        abort(404)
    return wu, proposal


@bp.route("/water-users/<int:water_user_id>/plan-proposals/<int:proposal_id>", methods=["GET", "POST"])
@login_required
def decide(water_user_id: int, proposal_id: int):
    wu, proposal = _proposal(water_user_id, proposal_id)
    access.require(current_user, "plan.edit")
    form = DecisionForm()
    saved, summary, status = binding.submit(form, lambda: plans.decide(db.session, current_user, proposal,
                                                                       binding.values(form)))
    if saved:
        flash(_("Decision recorded; the enterprise sees it in its portal."), "success")
        return redirect(url_for("water_users.detail", water_user_id=wu.id, _anchor="plans"))
    return render_template("plans/decide.html", form=form, wu=wu, proposal=proposal, summary=summary), status


@bp.route("/water-users/<int:water_user_id>/plans/<int:plan_id>/adjust", methods=["GET", "POST"])
@login_required
def adjust(water_user_id: int, plan_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    plan = db.session.get(AnnualPlan, plan_id)
    if plan is None or plan.water_user_id != wu.id:
        abort(404)
    access.require(current_user, "plan.edit")
    form = AdjustForm()
    saved, summary, status = binding.submit(form, lambda: plans.adjust(db.session, current_user, plan,
                                                                       binding.values(form)))
    if saved:
        flash(_("Plan adjusted; the earlier version is kept."), "success")
        return redirect(url_for("water_users.detail", water_user_id=wu.id, _anchor="plans"))
    return render_template("plans/adjust.html", form=form, wu=wu, plan=plan, summary=summary), status


def _proposals_of(wu) -> list[PlanProposal]:
    return list(db.session.scalars(select(PlanProposal).where(
        PlanProposal.water_user_id == wu.id, PlanProposal.closed_at.is_(None)).order_by(PlanProposal.id.desc()).limit(10)))


def _verified_this_year(wu) -> dict:
    """This year's verified volume (the statements' computation, ended months) against plan and permit."""
    from registry import clock
    from registry.services import rules_versions, tax

    try:
        return tax.this_year(db.session, wu.id, clock.today(), rules_versions.current(db.session))
    except (ArithmeticError, ValueError):  # a stored value beyond any computation: the page still shows
        return None


@bp.app_context_processor
def _globals():
    return {"plan_proposals_of": _proposals_of, "verified_this_year": _verified_this_year}
