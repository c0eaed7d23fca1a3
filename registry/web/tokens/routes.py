"""API tokens in the web UI: everyone signed in manages their own (/account/tokens); the bureau
admin sees and revokes every account's (/admin/tokens). The secret is shown once, on the page
that answers the creation, and never stored."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Optional

from registry import access
from registry.extensions import db
from registry.services import NotFound, ValidationError, tokens
from registry.web import binding

bp = Blueprint("tokens", __name__)


class TokenForm(FlaskForm):
    name = StringField(_l("Name (which system uses it)"), [Optional()], render_kw={"maxlength": 100})


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), [Optional()], render_kw={"rows": 1})


def _page(form: TokenForm, *, secret: str | None = None, errors: dict | None = None, status: int = 200):
    response = make_response(render_template(
        "tokens/index.html", form=form, rows=tokens.visible_to(db.session, current_user), secret=secret,
        revoke_errors=errors or {}, everyone=False), status)
    if secret:
        response.headers["Cache-Control"] = "no-store"  # the one showing of the secret stays out of caches
    return response


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def index():
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400 if request.method == "POST" else 200)
    try:
        secret = tokens.create_token(db.session, current_user, current_user, form.name.data or "")
    except ValidationError as err:
        binding.bind_errors(form, err.errors)
        return _page(form, status=400)
    return _page(TokenForm(formdata=None), secret=secret)


@bp.route("/admin/tokens")
@login_required
@access.allows("token.manage_all")
def everyone():
    return render_template("tokens/index.html", rows=tokens.visible_to(db.session, current_user, everyone=True),
                           revoke_errors={}, everyone=True)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    try:
        row = tokens.get_for(db.session, current_user, token_id)
    except NotFound:
        abort(404)
    form = RevokeForm()
    back_to_all = request.form.get("back") == "all" and access.can(current_user, "token.manage_all")
    if form.validate_on_submit():
        try:
            tokens.revoke(db.session, current_user, row, form.reason.data or "")
        except ValidationError as err:
            errors = {row.id: next(iter(err.errors.values()))}
            if back_to_all:
                return render_template("tokens/index.html", everyone=True, revoke_errors=errors,
                                       rows=tokens.visible_to(db.session, current_user, everyone=True)), 400
            return _page(TokenForm(formdata=None), errors=errors, status=400)
        flash(_("Token %(name)s revoked: programs using it are refused from now on.", name=row.name), "success")
    return redirect(url_for("tokens.everyone" if back_to_all else "tokens.index"))
