"""Sign-in and sign-out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from registry.extensions import db, limiter, login_manager
from registry.models import Account
from registry.services import ValidationError
from registry.services import accounts
from registry.services.accounts import authenticate
from registry.models import utcnow
from registry.web.auth import throttle
from registry.web.auth.forms import ChangePasswordForm, LoginForm, LogoutForm, RegistrationForm

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_account(session_id: str):
    """The account of a session ``"<id>:<session version>"`` (``Account.get_id``), or None when
    the account has ended its sessions since (sign-out, password change, scope change, disabled)."""
    account_id, _sep, version = (session_id or "").partition(":")
    try:
        account = db.session.get(Account, int(account_id))
        version = int(version)
    except (TypeError, ValueError):
        return None
    if account is None or not account.is_active or account.is_locked or account.session_version != version:
        return None
    return account


def forget_an_earlier_requests_account():
    """Every request loads its account from its own session (``load_account``). Flask-Login keeps
    the loaded account on ``g``, which lives as long as the app context: where one context serves
    several requests (the test client inside an app context) an account loaded for an earlier
    request must not stand for this one, or an ended session would seem alive."""
    g.pop("_login_user", None)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in is a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
@throttle.guard
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
            session["seen"] = session["signed_in"] = utcnow().timestamp()
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            accounts.sign_out(db.session, current_user._get_current_object())
        logout_user()
        session.clear()
        flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


def _signed_out(message: str):
    logout_user()
    session.clear()
    flash(message, "info")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


@bp.after_app_request
def signed_in_pages_are_not_stored(response):
    """A signed-in page shows a person's files: no browser or proxy cache keeps a copy (the back
    button after sign-out shows nothing). Only the account this request already loaded is asked:
    loading it here could fail after an error page was made (the database being down)."""
    user = g.get("_login_user")
    if request.endpoint != "static" and user is not None and user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


# Pages a signed-in person may open before changing a temporary password.
_OPEN_WHILE_FORCED = {"auth.change_password", "auth.logout", "static"}


@bp.before_app_request
def session_limits_and_forced_change():
    """Sign out after the idle timeout and after the absolute lifetime (server-side, whatever
    the cookie says), and send anyone holding a temporary password to change it first."""
    if not current_user.is_authenticated:
        return None
    now = utcnow().timestamp()
    seen, signed_in = session.get("seen", now), session.get("signed_in", 0)
    if now - seen > current_app.permanent_session_lifetime.total_seconds():
        return _signed_out(_("You were signed out after a period without activity."))
    if now - signed_in > current_app.config["SESSION_ABSOLUTE_LIFETIME"]:  # ASVS V7.3: sessions end
        return _signed_out(_("Your session has ended: please sign in again."))
    session["seen"] = now
    if current_user.must_change_password and request.endpoint not in _OPEN_WHILE_FORCED:
        return redirect(url_for("auth.change_password"))
    return None


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.change_password(db.session, current_user, form.current.data, form.new.data, form.repeat.data)
        except ValidationError as err:
            from registry.web import binding

            binding.bind_errors(form, err.errors)
            status = 400
        else:
            # The change ended every session of the account (accounts.end_sessions); this one goes on.
            login_user(current_user._get_current_object())
            flash(_("Your password was changed."), "success")
            return redirect(url_for("main.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/change_password.html", form=form), status


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATELIMIT"], methods=["POST"])
def register():
    """An enterprise asks for an account; the bureau checks the USCC against its file."""
    form = RegistrationForm()
    status, summary = 200, None
    if form.validate_on_submit():
        from registry.web import binding

        try:
            accounts.request_registration(db.session, binding.values(form))
        except ValidationError as err:
            summary, status = binding.bind_errors(form, err.errors), 400
        else:
            return render_template("auth/registered.html")
    elif request.method == "POST":
        status = 400
    return render_template("auth/register.html", form=form, summary=summary), status
