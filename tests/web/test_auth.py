"""Sign-in, sign-out, cookies, CSRF and lockout."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import create_app
from registry.models import Account, AuditEvent, utcnow
from tests import factories as f
from tests.conftest import csrf_token


def test_signing_in_with_the_right_password_opens_the_dashboard(client, auth):
    f.admin(username="chen")
    response = auth.login("chen")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, auth):
    f.admin(username="chen")
    response = client.post("/login?lang=en", data={"username": "chen", "password": "nope"})
    assert response.status_code == 400
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_pages_need_a_signed_in_user(client):
    response = client.get("/water-users/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_session_cookie_is_httponly_and_samesite_lax(client, auth):
    f.admin(username="chen")
    auth.login("chen")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_logout_is_a_post(client, auth):
    f.admin(username="chen")
    auth.login("chen")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    auth.logout()
    assert client.get("/").status_code == 302


def test_next_parameter_cannot_send_people_off_site(client):
    f.admin(username="chen")
    response = client.post("/login?next=//evil.example/x", data={"username": "chen", "password": f.PASSWORD})
    assert response.headers["Location"] == "/"


def test_five_failures_lock_the_account_for_fifteen_minutes(client, db_session):
    account = f.admin(username="chen")
    for _ in range(5):
        client.post("/login", data={"username": "chen", "password": "wrong"})
    response = client.post("/login?lang=en", data={"username": "chen", "password": f.PASSWORD})
    assert "locked" in response.get_data(as_text=True)
    db_session.refresh(account)
    assert account.locked_until > utcnow() + timedelta(minutes=14)
    assert db_session.execute(select(AuditEvent).where(AuditEvent.action == "lock")).scalar_one()


def test_disabled_account_cannot_sign_in(client, auth, db_session):
    account = f.admin(username="chen")
    account.active = False
    db_session.commit()
    assert auth.login("chen").status_code == 400


@pytest.fixture
def csrf_client(_schema, tmp_path):
    from tests.conftest import _config

    from registry.extensions import db

    app = create_app({**_config(_schema, tmp_path), "WTF_CSRF_ENABLED": True})
    with app.app_context():
        yield app.test_client()
        db.session.remove()
        db.engine.dispose()


def test_forms_without_a_csrf_token_are_refused(csrf_client, app):
    f.admin(username="chen")
    assert csrf_client.post("/login", data={"username": "chen", "password": f.PASSWORD}).status_code == 400
    token = csrf_token(csrf_client.get("/login").get_data(as_text=True))
    response = csrf_client.post("/login", data={"username": "chen", "password": f.PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    # Every form of the signed-in pages carries the token too.
    page = csrf_client.get("/water-users/new").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert csrf_client.post("/water-users/new", data={"name": "x"}).status_code == 400
    assert csrf_client.post("/logout").status_code == 400


def test_create_account_command_makes_an_inspector(app, runner=None):
    result = app.test_cli_runner().invoke(args=["registry", "create-account", "lou", "--role", "inspector",
                                                "--division", "001", "--division", "100", "--password", "a-long-pass-2026"])
    assert result.exit_code == 0, result.output
    from registry.extensions import db

    account = db.session.execute(select(Account).where(Account.username == "lou")).scalar_one()
    assert {d.code for d in account.divisions} == {"001", "100"} and account.must_change_password


def test_create_account_command_refuses_an_inspector_without_scope(app):
    result = app.test_cli_runner().invoke(args=["registry", "create-account", "lou", "--role", "inspector",
                                                "--password", "a-long-pass-2026"])
    assert result.exit_code == 2 and "divisions" in result.output
