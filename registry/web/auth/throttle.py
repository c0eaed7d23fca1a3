"""Sign-in throttling: growing delays per account name and per client, never a lock.

Three Flask-Limiter limits guard ``POST /login`` (memory in tests and development, Redis with
``REGISTRY_RATELIMIT_STORAGE_URI`` or ``REGISTRY_REDIS_URL`` in production):

- ``LOGIN_RATELIMIT``: every attempt from one client address (ProxyFix gives the client's, not
  the proxy's, behind ``REGISTRY_PROXY_HOPS`` trusted hops);
- ``LOGIN_FAILURE_RATELIMIT``: refused attempts on one account name from one client, in steps
  (e.g. 5 a minute, 10 in 15 minutes, 20 a day): each step is a longer wait, so guessing slows
  down the more it fails;
- ``LOGIN_ACCOUNT_RATELIMIT``: refused attempts on one account name from anywhere, set high, so a
  guesser spread over many addresses still slows down, while one address cannot hold the owner
  out (that takes the per-client limit, which the owner's own address does not share).

The name is the one typed, known or not, so a throttled answer tells nothing about which
names exist (OWASP ASVS 5.0 V6.3, NIST SP 800-63B §5.2.2).
"""
from __future__ import annotations

import hashlib

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from registry.extensions import limiter


def _name() -> str:
    typed = (request.form.get("username") or "").strip()[:60]
    return hashlib.sha256(typed.encode("utf-8", "replace")).hexdigest()[:32]


def name_key() -> str:
    return f"login-name:{_name()}"


def name_and_client_key() -> str:
    return f"login-name-client:{_name()}:{get_remote_address()}"


def refused(response) -> bool:
    """Only a refused sign-in counts towards the failure limits (not a success, not a throttled one)."""
    return response.status_code == 400


def throttled(_limit):
    """The sign-in page again, saying to wait: the same answer whatever the name (429)."""
    from registry.web.auth.forms import LoginForm

    form = LoginForm()
    form.form_errors.append(_("Too many sign-in attempts: wait a few minutes, then try again."))
    response = current_app.make_response((render_template("auth/login.html", form=form), 429))
    response.headers["Retry-After"] = "60"
    return response


def guard(view):
    """The three limits on a sign-in view, outermost the per-client one."""
    view = limiter.limit(lambda: current_app.config["LOGIN_ACCOUNT_RATELIMIT"], key_func=name_key,
                         methods=["POST"], deduct_when=refused, on_breach=throttled, scope="login-name")(view)
    view = limiter.limit(lambda: current_app.config["LOGIN_FAILURE_RATELIMIT"], key_func=name_and_client_key,
                         methods=["POST"], deduct_when=refused, on_breach=throttled,
                         scope="login-name-client")(view)
    return limiter.limit(lambda: current_app.config["LOGIN_RATELIMIT"], methods=["POST"], on_breach=throttled,
                         scope="login-client")(view)
