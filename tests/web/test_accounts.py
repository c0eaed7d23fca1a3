"""Account management, password policy, forced change, idle timeout, self-registration."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import Account, AuditEvent, RegistrationRequest
from tests import factories as f


def _account(username) -> Account:
    return db.session.execute(select(Account).where(Account.username == username)).scalar_one()


def test_bureau_creates_an_inspector_who_must_change_the_password(client, auth):
    f.admin(username="admin")
    auth.login("admin")
    response = client.post("/admin/accounts/new", data={"username": "lou", "role": "inspector", "divisions": ["001", "100"],
                                                         "password": "Yiwu-water-2026"})
    assert response.status_code == 302
    lou = _account("lou")
    assert {d.code for d in lou.divisions} == {"001", "100"} and lou.must_change_password
    auth.logout()
    client.post("/login", data={"username": "lou", "password": "Yiwu-water-2026"})
    assert client.get("/water-users/").headers["Location"].endswith("/account/password")
    bad = client.post("/account/password?lang=en", data={"current": "Yiwu-water-2026", "new": "12345678", "repeat": "12345678"})
    assert bad.status_code == 400 and "at least 10 characters" in bad.get_data(as_text=True)
    common = client.post("/account/password?lang=en", data={"current": "Yiwu-water-2026", "new": "qwertyuiop",
                                                             "repeat": "qwertyuiop"})
    assert "too common" in common.get_data(as_text=True)
    ok = client.post("/account/password", data={"current": "Yiwu-water-2026", "new": "Choujiang-river-77",
                                                 "repeat": "Choujiang-river-77"})
    assert ok.status_code == 302
    assert client.get("/water-users/").status_code == 200


@pytest.mark.parametrize("password, fragment", [("short", "10 characters"), ("password123", "too common"),
                                                ("xx-newbie-xx-2026", "username")])
def test_password_policy_names_the_rule(client, auth, password, fragment):
    f.admin(username="admin")
    auth.login("admin")
    response = client.post("/admin/accounts/new?lang=en", data={"username": "newbie", "role": "bureau_admin",
                                                                 "password": password})
    assert response.status_code == 400 and fragment in response.get_data(as_text=True)


def test_disabling_and_resetting_are_audited(client, auth):
    f.admin(username="admin")
    ent = f.enterprise(f.WaterUserFactory(), username="ent")
    auth.login("admin")
    client.post(f"/admin/accounts/{ent.id}/active", data={"active": "0", "reason": "企业已注销"})
    db.session.refresh(ent)
    assert not ent.active and ent.disabled_reason == "企业已注销"
    page = client.post(f"/admin/accounts/{ent.id}/reset-password").get_data(as_text=True)
    temporary = page.split('id="temporary-password">')[1].split("<")[0]
    assert len(temporary) >= 10
    actions = {e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "Account"))}
    assert {"update", "reset_password"} <= actions
    auth.logout()
    assert auth.login("ent", temporary).status_code == 400  # still disabled


def test_idle_session_is_signed_out(app, client, auth):
    f.admin(username="admin")
    auth.login("admin")
    with client.session_transaction() as session:
        session["seen"] = time.time() - 31 * 60
    response = client.get("/water-users/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 302


def _wrong_check_character(uscc: str) -> str:
    """The USCC with another check character (GB 32100-2015): always invalid, whatever the factory drew."""
    return uscc[:-1] + ("1" if uscc[-1] == "0" else "0")


def test_enterprise_asks_for_an_account_and_the_bureau_approves_it(client, auth):
    wu = f.WaterUserFactory()
    f.admin(username="admin")
    bad = client.post("/register?lang=en", data={"display_name": wu.name, "uscc": _wrong_check_character(wu.uscc), "username": "huaxin",
                                                  "email": "a@b.cn", "phone": "13800000000", "password": "Dyeing-works-2026",
                                                  "repeat": "Dyeing-works-2026"})
    assert bad.status_code == 400 and 'value="huaxin"' in bad.get_data(as_text=True)
    ok = client.post("/register", data={"display_name": wu.name, "uscc": wu.uscc, "username": "huaxin", "email": "a@b.cn",
                                        "phone": "13800000000", "password": "Dyeing-works-2026", "repeat": "Dyeing-works-2026"})
    assert ok.status_code == 200, ok.get_data(as_text=True).split("<main")[1][:1500]
    row = db.session.execute(select(RegistrationRequest)).scalar_one()
    auth.login("admin")
    assert wu.uscc in client.get("/admin/accounts").get_data(as_text=True)
    client.post(f"/admin/registrations/{row.id}", data={"decision": "approve", "reason": ""})
    auth.logout()
    assert auth.login("huaxin", "Dyeing-works-2026").status_code == 302
    assert wu.name in client.get("/portal").get_data(as_text=True)


def test_registration_for_an_unknown_uscc_cannot_be_approved(client, auth):
    f.admin(username="admin")
    client.post("/register", data={"display_name": "某公司", "uscc": "91330100716105852F", "username": "nobody",
                                   "email": "a@b.cn", "phone": "13800000000", "password": "Unknown-firm-2026",
                                   "repeat": "Unknown-firm-2026"})
    row = db.session.execute(select(RegistrationRequest)).scalar_one()
    auth.login("admin")
    client.post(f"/admin/registrations/{row.id}", data={"decision": "approve"})
    db.session.refresh(row)
    assert row.status == "pending"
    client.post(f"/admin/registrations/{row.id}", data={"decision": "reject", "reason": "无此取水户档案"})
    db.session.refresh(row)
    assert row.status == "rejected"


def _register(client, username, password="Dyeing-works-2026", uscc="91330100716105852F"):
    return client.post("/register?lang=en", data={"display_name": "某公司", "uscc": uscc, "username": username,
                                                   "email": "a@b.cn", "phone": "13800000000", "password": password,
                                                   "repeat": password})


def test_item3_register_does_not_reveal_taken_names(client, auth):
    f.admin(username="admin")
    taken, free = _register(client, "admin"), _register(client, "nobody-yet")
    assert taken.status_code == free.status_code == 200
    assert "taken" not in taken.get_data(as_text=True)
    # The officer deciding sees it, and the request cannot take the existing account's name.
    row = db.session.execute(select(RegistrationRequest).where(RegistrationRequest.username == "admin")).scalar_one()
    auth.login("admin")
    client.post(f"/admin/registrations/{row.id}", data={"decision": "approve"})
    db.session.refresh(row)
    assert row.status == "pending"


@pytest.mark.parametrize("password, fragment", [("Short-1", "10 characters"), ("1q2w3e4r5t6y", "too common"),
                                                ("iloveyou12", "too common"), ("my-huaxin-2026", "username")])
def test_item3_password_policy_holds_on_every_path(app, client, auth, password, fragment):
    """NIST SP 800-63B §5.1.1.2 on registration, the create-account command, the admin's form
    and the password change; the admin's reset makes a one-time password that passes it."""
    from registry.domain import passwords

    f.admin(username="admin")
    registered = _register(client, "huaxin", password)
    assert registered.status_code == 400 and fragment in registered.get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["registry", "create-account", "huaxin", "--role", "bureau_admin",
                                                "--password", password])
    assert result.exit_code != 0 and fragment in result.output
    auth.login("admin")
    created = client.post("/admin/accounts/new?lang=en", data={"username": "huaxin", "role": "bureau_admin",
                                                               "password": password})
    assert created.status_code == 400 and fragment in created.get_data(as_text=True)
    f.admin(username="huaxin")
    auth.logout()
    auth.login("huaxin")
    changed = client.post("/account/password?lang=en", data={"current": f.PASSWORD, "new": password, "repeat": password})
    assert changed.status_code == 400 and fragment in changed.get_data(as_text=True)
    auth.logout()
    auth.login("admin")
    page = client.post(f"/admin/accounts/{_account('huaxin').id}/reset-password").get_data(as_text=True)
    temporary = page.split('id="temporary-password">')[1].split("<")[0]
    assert passwords.problem(temporary, "huaxin") is None


def test_item3_the_common_password_list_ships_with_thousands_of_entries():
    from registry.domain import passwords

    common = passwords.common_passwords()
    assert len(common) > 5000 and {"password123", "qwertyuiop", "woaini1314", "1234567890"} <= common
    assert passwords.problem("QwertyUiop") == "common"  # compared case-insensitively
    assert passwords.problem("Choujiang-river-77", "chen") is None
