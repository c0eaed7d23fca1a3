"""Bureau administration of accounts: create, link, disable, reset; enterprise registrations."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional

from registry import access
from registry.extensions import db
from registry.models import ROLES, Account, RegistrationRequest
from registry.services import ValidationError, accounts
from registry.web import binding
from registry.web.admin.routes import bp
from registry.i18n import label
from registry.web.choices import division_choices


class AccountForm(FlaskForm):
    username = StringField(_l("Username"), [Optional()])
    display_name = StringField(_l("Name shown"), [Optional()])
    email = StringField(_l("E-mail"), [Optional()])
    role = SelectField(_l("Role"), [Optional()], choices=[], validate_choice=False)
    divisions = SelectMultipleField(_l("Divisions (inspectors)"), [Optional()], choices=[], validate_choice=False)
    city_wide = BooleanField(_l("City-wide (inspectors)"))
    water_users = StringField(_l("File numbers of linked water users (enterprises), separated by commas"), [Optional()])
    password = PasswordField(_l("Initial password (at least 10 characters; the holder changes it at first sign-in)"),
                             [Optional()])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), [Optional()], render_kw={"rows": 2})


def _file_numbers(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace("，", ",").split(",") if part.strip()]


def _account(account_id: int) -> Account:
    found = db.session.get(Account, account_id)
    if found is None:
        abort(404)
    return found


@bp.route("/accounts")
@login_required
@access.allows("account.manage")
def accounts_index():
    role = request.args.get("role", "")
    stmt = select(Account).order_by(Account.role, Account.username)
    if role in ROLES:
        stmt = stmt.where(Account.role == role)
    pending = db.session.scalars(select(RegistrationRequest).where(RegistrationRequest.status == "pending")
                                 .order_by(RegistrationRequest.id)).all()
    return render_template("admin/accounts.html", accounts=db.session.scalars(stmt.limit(500)).all(), role=role,
                           pending=pending, form=ReasonForm())


@bp.route("/accounts/new", methods=["GET", "POST"])
@login_required
@access.allows("account.manage")
def account_new():
    form = AccountForm()
    form.role.choices = [(r, label("role", r)) for r in ROLES]
    form.divisions.choices = division_choices()
    status, summary = 200, None
    if form.validate_on_submit():
        try:
            account = accounts.create_account(
                db.session, current_user, username=(form.username.data or "").strip(), role=form.role.data,
                password=form.password.data or "", division_codes=form.divisions.data or [],
                file_numbers=_file_numbers(form.water_users.data), city_wide=form.city_wide.data,
                display_name=form.display_name.data)
        except ValidationError as err:
            summary, status = binding.bind_errors(form, err.errors), 400
        else:
            flash(_("Account %(u)s created; the holder must change the password at first sign-in.", u=account.username),
                  "success")
            return redirect(url_for("admin.accounts_index"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/account_form.html", form=form, summary=summary, account=None), status


@bp.route("/accounts/<int:account_id>", methods=["GET", "POST"])
@login_required
@access.allows("account.manage")
def account_edit(account_id: int):
    account = _account(account_id)
    form = AccountForm(obj=None)
    form.divisions.choices = division_choices()
    if request.method == "GET":
        form.display_name.data, form.email.data = account.display_name, account.email
        form.divisions.data = [d.code for d in account.divisions]
        form.city_wide.data = account.city_wide
        form.water_users.data = ", ".join(w.file_no for w in account.water_users)
    saved, summary, status = binding.submit(form, lambda: accounts.update_account(
        db.session, current_user, account, display_name=form.display_name.data, email=form.email.data,
        division_codes=form.divisions.data or [], file_numbers=_file_numbers(form.water_users.data),
        city_wide=form.city_wide.data))
    if saved:
        flash(_("Saved."), "success")
        return redirect(url_for("admin.accounts_index"))
    return render_template("admin/account_form.html", form=form, summary=summary, account=account,
                           reason_form=ReasonForm()), status


@bp.route("/accounts/<int:account_id>/active", methods=["POST"])
@login_required
@access.allows("account.manage")
def account_active(account_id: int):
    account = _account(account_id)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            accounts.set_active(db.session, current_user, account, request.form.get("active") == "1", form.reason.data)
        except ValidationError as err:
            for message in err.errors.values():
                flash(str(message), "info")
        else:
            flash(_("Saved."), "success")
    return redirect(url_for("admin.account_edit", account_id=account.id))


@bp.route("/accounts/<int:account_id>/reset-password", methods=["POST"])
@login_required
@access.allows("account.manage")
def account_reset(account_id: int):
    account = _account(account_id)
    if not ReasonForm().validate_on_submit():
        abort(400)
    temporary = accounts.reset_password(db.session, current_user, account)
    return render_template("admin/temporary_password.html", account=account, temporary=temporary)


@bp.route("/registrations/<int:request_id>", methods=["POST"])
@login_required
@access.allows("account.manage")
def registration_decide(request_id: int):
    row = db.session.get(RegistrationRequest, request_id)
    if row is None:
        abort(404)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            accounts.decide_registration(db.session, current_user, row, request.form.get("decision") == "approve",
                                         form.reason.data)
        except ValidationError as err:
            for message in err.errors.values():
                flash(str(message), "info")
        else:
            flash(_("Approved: the enterprise can sign in now.") if row.status == "approved" else _("Rejected."), "success")
    return redirect(url_for("admin.accounts_index"))
