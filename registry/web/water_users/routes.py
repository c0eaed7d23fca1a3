"""The water-user list and the one-file page (/water-users/, /water-users/<id>)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import access
from registry.extensions import db
from registry.i18n import LABELS
from registry.models import WATER_USER_STATUSES, Evaluation, WaterUser
from registry.services import StaleEdit, ValidationError, evaluations, rules_versions, water_users
from registry.services import warnings as use_warnings
from registry.services.file_view import ListFilters, load_file, water_user_list, water_user_rows
from registry.presentation import paging
from registry.web import binding, timeline
from registry.web.choices import division_choices, industry_choices
from registry.web.records.routes import CHECKLIST_CODES
from registry.web.water_users.forms import SearchForm, StatusForm, WaterUserForm

bp = Blueprint("water_users", __name__, url_prefix="/water-users")


@bp.app_template_global()
def can(action: str) -> bool:
    """Whether the signed-in account's role may do ``action`` (registry.access.ACTIONS): which
    buttons a page offers; the route asks again."""
    return access.can(current_user, action)


@bp.route("/")
@login_required
@access.allows("water_user.list")
def index():
    form = SearchForm(request.args)
    form.division.choices = [("", _("All divisions"))] + division_choices()
    form.industry.choices = [("", _("All industries"))] + industry_choices()
    form.status.choices = [("", _("Any status"))] + [(s, LABELS["status"][s]) for s in WATER_USER_STATUSES]
    form.due.choices = [("", _("Any")), ("permit_expiring", _("Renewal due")),
                        ("permit_expired", _("Expired")), ("no_permit", _("No permit")),
                        ("calibration_overdue", _("Meter verification overdue")),
                        ("calibration_due_soon", _("Meter verification due soon"))]
    form.grade.choices = [("", _("Any grade")), *[(g, g) for g in "ABCD"], ("none", _("Not evaluated"))]
    filters = ListFilters.of(request.args)
    keys = water_user_list(db.session, current_user, filters).with_only_columns(WaterUser.id)
    page = paging.paginate_keys(db.session, keys, lambda ids: water_user_rows(db.session, ids),
                                page=request.args.get("page", 1, type=int), per_page=current_app.config["PER_PAGE"])
    return render_template("water_users/list.html", form=form, page=page, filters=filters,
                           renewal_window=rules_versions.current(db.session).permit.renewal_window_days)


@bp.route("/new", methods=["GET", "POST"])
@login_required
@access.allows("water_user.create")
def new():
    form = WaterUserForm()
    form.division_code.choices = [("", "—")] + division_choices()
    form.industry_code.choices = [("", "—")] + industry_choices()
    if request.method == "GET":
        form.idempotency_key.data = binding.new_key()
    status, summary = 200, None
    if form.validate_on_submit():
        try:
            wu = water_users.create(db.session, current_user, binding.values(form),
                                    idempotency_key=form.idempotency_key.data)
        except ValidationError as err:
            summary, status = binding.bind_errors(form, err.errors), 400
        else:
            flash(_("The file was opened."), "success")
            _warn_uscc(wu)
            return redirect(url_for("water_users.detail", water_user_id=wu.id))
    elif request.method == "POST":
        status = 400
    return render_template("water_users/form.html", form=form, wu=None, summary=summary), status


def _warn_uscc(wu) -> None:
    """The USCC was accepted with a warning (kept on the record): say so at once."""
    from registry.services.validators import USCC_WARNINGS

    if wu.uscc_warning in USCC_WARNINGS:
        flash(str(USCC_WARNINGS[wu.uscc_warning]), "warning")


@bp.route("/<int:water_user_id>")
@login_required
@access.allows("water_user.read")
def detail(water_user_id: int):
    view = load_file(db.session, current_user, water_user_id)
    return render_template("water_users/detail.html", view=view, wu=view.water_user, checklist=CHECKLIST_CODES,
                           timeline=timeline.entries(db.session, view.timeline),
                           can_edit=lambda kind: access.can(current_user, f"{kind}.edit"),
                           rescoring_since=evaluations.pending_since(db.session, water_user_id),
                           file_warnings=use_warnings.for_file(db.session, water_user_id))


@bp.route("/<int:water_user_id>/edit", methods=["GET", "POST"])
@login_required
@access.allows("water_user.edit")
def edit(water_user_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    form = WaterUserForm(obj=wu if request.method == "GET" else None)
    form.division_code.choices = [("", "—")] + division_choices()
    form.industry_code.choices = [("", "—")] + industry_choices()
    if request.method == "GET":
        form.version.data = wu.version
    status, summary, stale = 200, None, None
    if form.validate_on_submit():
        try:
            water_users.update(db.session, current_user, wu, binding.values(form),
                               expected_version=binding.version_of(form))
        except ValidationError as err:
            summary, status = binding.bind_errors(form, err.errors), 400
        except StaleEdit as err:
            db.session.refresh(wu)
            stale, status = err.current, 409
            form.version.data = wu.version
        else:
            flash(_("Saved."), "success")
            _warn_uscc(wu)
            return redirect(url_for("water_users.detail", water_user_id=wu.id))
    elif request.method == "POST":
        status = 400
    return render_template("water_users/form.html", form=form, wu=wu, summary=summary, stale=stale), status


@bp.route("/<int:water_user_id>/status", methods=["GET", "POST"])
@login_required
@access.allows("water_user.close")
def status(water_user_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    form = StatusForm()
    code = 200
    if form.validate_on_submit():
        try:
            water_users.set_status(db.session, current_user, wu, form.status.data, form.reason.data)
        except ValidationError as err:
            binding.bind_errors(form, err.errors)
            code = 400
        else:
            flash(_("The status of the file was changed."), "success")
            return redirect(url_for("water_users.detail", water_user_id=wu.id))
    elif request.method == "POST":
        code = 400
    return render_template("water_users/status.html", form=form, wu=wu), code


@bp.route("/<int:water_user_id>/evaluations/<int:evaluation_id>")
@login_required
@access.allows("water_user.read")
def evaluation(water_user_id: int, evaluation_id: int):
    """One past evaluation, read under the rules version it was computed with."""
    wu = access.get_water_user(current_user, water_user_id)
    found = access.get_record(current_user, Evaluation, evaluation_id, within=wu)
    return render_template("water_users/evaluation.html", wu=wu, ev=found)
