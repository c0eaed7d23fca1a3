"""Create, edit and close every part of a file: /water-users/<id>/<kind>/new, .../<rid>/edit, .../<rid>/close.

Routes only parse and render; ``services.records`` authorises, validates, audits and commits.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import access, clock
from registry.domain.dates import add_years
from registry.extensions import db
from registry.services import StaleEdit, ValidationError, records
from registry.services.validators import CHECKLIST_CODES
from registry.web import binding
from registry.web.records import choices
from registry.web.records.forms import FORMS, CloseForm

bp = Blueprint("records", __name__, url_prefix="/water-users/<int:water_user_id>")

BY_SLUG = {kind.slug: kind for kind in records.KINDS.values()}


def _kind(slug: str):
    kind = BY_SLUG.get(slug)
    if kind is None:
        abort(404)
    return kind


def _back(wu, kind):
    return redirect(url_for("water_users.detail", water_user_id=wu.id, _anchor=kind.slug))


def _editable(water_user_id: int, slug: str, record_id: int):
    """The kind, file and record an edit or close page works on, once the user may change them."""
    kind = _kind(slug)
    wu = access.get_water_user(current_user, water_user_id)
    obj = access.get_record(current_user, kind.model, record_id, within=wu)
    access.require(current_user, f"{kind.name}.edit")
    return kind, wu, obj


def _form_values(form, kind) -> dict:
    data = binding.values(form)
    if kind.name == "inspection":
        data["items"] = [{"code": code, "result": request.form.get(f"item-{code}"),
                          "note": request.form.get(f"note-{code}", "")}
                         for code in CHECKLIST_CODES if request.form.get(f"item-{code}")]
    return data


def _render(form, wu, kind, *, obj=None, status=200, summary=None, stale=None, mode="new"):
    return render_template("records/form.html", form=form, wu=wu, kind=kind, obj=obj, mode=mode,
                           summary=summary or {}, stale=stale, checklist=CHECKLIST_CODES,
                           answers=_answers(obj)), status


def _answers(obj) -> dict:
    if request.method == "POST":
        return {code: {"result": request.form.get(f"item-{code}"), "note": request.form.get(f"note-{code}", "")}
                for code in CHECKLIST_CODES}
    items = getattr(obj, "items", None) or []
    return {i.code: {"result": i.result, "note": i.note or ""} for i in items}


@bp.route("/<slug>/new", methods=["GET", "POST"])
@login_required
def new(water_user_id: int, slug: str):
    kind = _kind(slug)
    access.require(current_user, f"{kind.name}.edit", within=water_user_id)
    wu = access.get_water_user(current_user, water_user_id)
    if kind.name == "inspection":  # one inspection workflow: the offline-safe visit form (issue 18)
        return redirect(url_for("visits.inspect", water_user_id=wu.id), 303 if request.method == "POST" else 302)
    form = FORMS[kind.name]()
    choices.fill(form, wu)
    if request.method == "GET":
        choices.preselect(form, request.args)
    saved, summary, status = binding.submit(form, lambda: records.create(
        db.session, current_user, kind.name, wu, _form_values(form, kind), idempotency_key=form.idempotency_key.data))
    if saved:
        flash(_("Saved."), "success")
        return _back(wu, kind)
    return _render(form, wu, kind, status=status, summary=summary)


@bp.route("/<slug>/<int:record_id>/edit", methods=["GET", "POST"])
@login_required
def edit(water_user_id: int, slug: str, record_id: int):
    kind, wu, obj = _editable(water_user_id, slug, record_id)
    form = FORMS[kind.name](obj=obj if request.method == "GET" else None)
    choices.fill(form, wu)
    if request.method == "GET":
        form.version.data = obj.version
        choices.load(form, obj)
    status, summary, stale = 200, None, None
    if form.validate_on_submit():
        try:
            records.update(db.session, current_user, kind.name, obj, _form_values(form, kind),
                           expected_version=binding.version_of(form))
        except ValidationError as err:
            summary, status = binding.bind_errors(form, err.errors), 400
        except StaleEdit as err:
            db.session.refresh(obj)
            stale, status = err.current or {}, 409
            form.version.data = obj.version  # saving again now overwrites knowingly
        else:
            flash(_("Saved."), "success")
            return _back(wu, kind)
    elif request.method == "POST":
        status = 400
    return _render(form, wu, kind, obj=obj, status=status, summary=summary, stale=stale, mode="edit")


@bp.route("/<slug>/<int:record_id>/close", methods=["GET", "POST"])
@login_required
def close(water_user_id: int, slug: str, record_id: int):
    kind, wu, obj = _editable(water_user_id, slug, record_id)
    form = CloseForm()
    saved, _summary, status = binding.submit(
        form, lambda: records.close(db.session, current_user, kind.name, obj, form.reason.data))
    if saved:
        flash(_("The record was closed. It stays in the file's history."), "success")
        return _back(wu, kind)
    return render_template("records/close.html", form=form, wu=wu, kind=kind, obj=obj), status


@bp.route("/permits/<int:record_id>/renew", methods=["GET", "POST"])
@login_required
def renew(water_user_id: int, record_id: int):
    kind = records.KINDS["permit"]
    wu = access.get_water_user(current_user, water_user_id)
    old = access.get_record(current_user, kind.model, record_id, within=wu)
    access.require(current_user, "permit.edit")
    form = FORMS["permit"]()
    choices.fill(form, wu)
    if request.method == "GET":
        form.issuing_authority.data = old.issuing_authority
        form.valid_from.data = old.valid_to + timedelta(days=1)
        form.valid_to.data = add_years(old.valid_to, 5)
        form.issued_on.data = min(clock.today(), old.valid_to)
        form.annual_volume_m3.data = old.annual_volume_m3
        form.purpose.data = old.purpose
        form.intake_point_ids.data = [p.id for p in old.intake_points]
    saved, summary, status = binding.submit(form, lambda: records.renew_permit(
        db.session, current_user, old, binding.values(form), idempotency_key=form.idempotency_key.data))
    if saved:
        flash(_("The permit was renewed; the old one is kept as history."), "success")
        return _back(wu, kind)
    return _render(form, wu, kind, obj=old, status=status, summary=summary, mode="renew")


from registry.web.records import documents  # noqa: E402,F401  (registers the document routes on bp)
