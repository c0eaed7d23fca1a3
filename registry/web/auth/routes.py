"""Sign-in and sign-out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from registry.extensions import db, limiter, login_manager
from registry.models import Account
from registry.services import ValidationError
from registry.services.accounts import authenticate
from registry.web.auth.forms import LoginForm, LogoutForm

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_account(account_id: str):
    try:
        account = db.session.get(Account, int(account_id))
    except (TypeError, ValueError):
        return None
    return account if account is not None and account.is_active else None


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in is a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATELIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            account = authenticate(db.session, form.username.data, form.password.data)
        except ValidationError as err:
            form.form_errors.append(err.errors.get("_"))
            status = 400
        else:
            lang = session.get("lang")
            session.clear()  # a fresh session on sign-in: no fixation
            if lang:
                session["lang"] = lang
            session.permanent = True
            login_user(account)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        session.clear()
        flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))
