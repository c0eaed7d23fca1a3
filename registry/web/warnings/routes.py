"""Warnings 预警 (issue 17): /warnings the city's list in the account's scope (filters kind,
division, industry, status), /warnings/<id> one warning with its evidence drawn on the server,
and the forms that assign it to an inspector and close it with an outcome."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from registry import access, clock
from registry.extensions import db
from registry.models import WARNING_KINDS, WARNING_STATUSES, UseWarning
from registry.presentation import paging
from registry.services import analysis, rules_versions, warnings
from registry.web import binding, charts
from registry.web.records.forms import options
from registry.web.warnings.forms import AssignForm, CloseForm
from registry.web.choices import division_choices, industry_choices

bp = Blueprint("warnings", __name__, url_prefix="/warnings")

FILTERS = ("kind", "division", "industry", "status")


@bp.route("", strict_slashes=False)
@login_required
@access.allows("warning.read")
def index():
    filters = {k: (request.args.get(k) or "")[:20] for k in FILTERS}
    page = paging.paginate(db.session, warnings.listing(current_user, filters),
                           page=request.args.get("page", 1, type=int), per_page=current_app.config["PER_PAGE"])
    return render_template("warnings/index.html", page=page, filters=filters, kinds=WARNING_KINDS,
                           statuses=WARNING_STATUSES, divisions=division_choices(), industries=industry_choices())


def _warning(warning_id: int) -> UseWarning:
    """The warning if its file is in the account's scope (404 otherwise, before the role)."""
    found = db.session.get(UseWarning, warning_id) if 0 < warning_id < 2**63 else None
    if found is None or not access.in_scope(current_user, found.water_user_id):
        abort(404)
    return found


def _page(w: UseWarning, assign: AssignForm | None = None, close: CloseForm | None = None, status: int = 200):
    rules = rules_versions.current(db.session)
    ev = analysis.warning_series(db.session, w, rules, clock.today())
    if w.meter is not None and w.meter.telemetry_id:
        link = url_for("monitoring.meter", meter_id=w.meter_id)
    else:
        link = url_for("water_users.detail", water_user_id=w.water_user_id, _anchor="readings")
    labels = [m.strftime("%y-%m") for m in ev.months]
    chart = charts.columns(
        labels, [(charts.Series(str(_l("Monthly volume")), "#0d6efd"), ev.volumes, [link] * len(labels))],
        title=str(_l("Monthly volume and the expected band")),
        desc=str(_l("Columns: the monthly readings; shaded: the band the rules expect (the same month last year "
                    "± the allowed change, else the 12-month median ÷/× the factor); at the warning's month, "
                    "the band of its finding.")),
        unit="m³", width=900, band=(charts.Series(str(_l("Expected band")), "#ffc107"), ev.bands))
    assign = assign or AssignForm()
    assign.assignee_id.choices = options([("", "—")] + [(str(a.id), a.label)
                                                        for a in warnings.inspectors(db.session, w)])
    if w.assignee_id and not assign.assignee_id.data:
        assign.assignee_id.data = str(w.assignee_id)
    return render_template("warnings/detail.html", w=w, chart=chart, assign=assign, close=close or CloseForm(),
                           reason=warnings.describe(w.kind, w.evidence or {}),
                           may_handle=access.can(current_user, "warning.handle")), status


@bp.route("/<int:warning_id>")
@login_required
def detail(warning_id: int):
    w = _warning(warning_id)
    access.require(current_user, "warning.read")
    return _page(w)


@bp.route("/<int:warning_id>/assign", methods=["POST"])
@login_required
def assign(warning_id: int):
    w = _warning(warning_id)
    access.require(current_user, "warning.handle")
    form = AssignForm()
    saved, _summary, status = binding.submit(form, lambda: warnings.assign(
        db.session, current_user, w, {"assignee_id": form.assignee_id.data}))
    if not saved:
        return _page(w, assign=form, status=status)
    flash(_("The warning is assigned."), "success")
    return redirect(url_for("warnings.detail", warning_id=w.id))


@bp.route("/<int:warning_id>/close", methods=["POST"])
@login_required
def close(warning_id: int):
    w = _warning(warning_id)
    access.require(current_user, "warning.handle")
    form = CloseForm()
    saved, _summary, status = binding.submit(form, lambda: warnings.close(
        db.session, current_user, w, {"outcome": form.outcome.data, "note": form.note.data}))
    if not saved:
        return _page(w, close=form, status=status)
    flash(_("The warning is closed."), "success")
    return redirect(url_for("warnings.detail", warning_id=w.id))
