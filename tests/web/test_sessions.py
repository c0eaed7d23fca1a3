"""Sessions that end (issue 16 item 4; OWASP ASVS 5.0 V7): sign-out, a password change, a change
of what the account may see and disabling end every session of the account; a session ends 12
hours after sign-in whatever its activity; signed-in pages are never stored by a cache."""
from __future__ import annotations

import pytest

from registry.extensions import db
from registry.models import utcnow
from tests import factories as f


def _signed_in(app, username="chen"):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": f.PASSWORD}).status_code == 302
    return client


def _replay(app, cookie: str):
    """Another browser holding a copy of the session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def test_item4_a_cookie_replayed_after_sign_out_is_refused(app):
    f.admin(username="chen")
    client = _signed_in(app)
    copied = client.get_cookie("session").value
    assert _replay(app, copied).get("/").status_code == 200
    client.post("/logout")
    response = _replay(app, copied).get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_item4_sign_out_ends_every_session_of_the_account(app):
    f.admin(username="chen")
    phone, desk = _signed_in(app), _signed_in(app)
    phone.post("/logout")
    assert desk.get("/").status_code == 302


def test_item4_a_password_change_ends_the_other_sessions_and_keeps_this_one(app):
    f.admin(username="chen")
    here, elsewhere = _signed_in(app), _signed_in(app)
    changed = here.post("/account/password", data={"current": f.PASSWORD, "new": "Choujiang-river-77",
                                                    "repeat": "Choujiang-river-77"})
    assert changed.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302


@pytest.mark.parametrize("change", ["disable", "scope", "reset"])
def test_item4_disabling_a_scope_change_or_a_reset_ends_the_sessions(app, change):
    wu, other = f.WaterUserFactory(), f.WaterUserFactory()
    f.admin(username="boss")
    ent = f.enterprise(wu, username="chen")
    client = _signed_in(app)
    assert client.get(f"/water-users/{wu.id}").status_code == 200
    officer = _signed_in(app, "boss")
    if change == "disable":
        officer.post(f"/admin/accounts/{ent.id}/active", data={"active": "0", "reason": "企业已注销"})
    elif change == "scope":
        response = officer.post(f"/admin/accounts/{ent.id}", data={"water_users": [other.file_no]})
        assert response.status_code == 302, response.get_data(as_text=True)[:800]
    else:
        officer.post(f"/admin/accounts/{ent.id}/reset-password")
    assert client.get(f"/water-users/{wu.id}").status_code == 302


def test_item4_a_session_ends_after_its_absolute_lifetime(app):
    assert app.config["SESSION_ABSOLUTE_LIFETIME"] == 12 * 3600  # the default
    f.admin(username="chen")
    client = _signed_in(app)
    with client.session_transaction() as session:  # active a moment ago, signed in 12 hours and a minute ago
        session["signed_in"] = utcnow().timestamp() - 12 * 3600 - 60
    response = client.get("/water-users/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 302


def test_item4_signed_in_pages_carry_no_store(app):
    wu = f.WaterUserFactory()
    f.admin(username="chen")
    client = _signed_in(app)
    for url in ("/", "/water-users/", f"/water-users/{wu.id}"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url
    static = client.get("/static/css/registry.css")
    assert "no-store" not in (static.headers.get("Cache-Control") or "")
    static.close()


def test_item4_sessions_from_before_the_session_version_end(app):
    """A cookie naming only the account id (as before this change) is no session any more."""
    account = f.admin(username="chen")
    client = _signed_in(app)
    with client.session_transaction() as session:
        session["_user_id"] = str(account.id)
    assert client.get("/").status_code == 302
    db.session.rollback()
