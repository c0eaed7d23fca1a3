"""API tokens in the web UI (issue 8): create (secret shown once), list with last use and scope,
revoke with a reason (audited, kept); a revoked token is refused by /api/v1."""
from __future__ import annotations

import re

from sqlalchemy import select

from registry.extensions import db
from registry.models import ApiToken, AuditEvent
from tests import factories as f


def _secret(html: str) -> str:
    match = re.search(r'id="new-token" readonly value="(ywr_[^"]+)"', html)
    assert match, "the new token is not shown"
    return match.group(1)


def _create(client, name="城市水务平台") -> str:
    response = client.post("/account/tokens", data={"name": name})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return _secret(response.get_data(as_text=True))


def _api(client, token, url="/api/v1/water-users/"):
    return client.get(url, headers={"Authorization": f"Bearer {token}"})


def test_enterprise_creates_a_token_that_sees_only_its_own_file(client, auth):
    mine, theirs = f.WaterUserFactory(division_code="001"), f.WaterUserFactory(division_code="001")
    f.enterprise(mine, username="ent")
    auth.login("ent")
    secret = _create(client)
    listed = client.get("/account/tokens").get_data(as_text=True)
    assert secret not in listed, "the secret is shown once, never again"
    assert "城市水务平台" in listed and mine.file_no in listed  # scope: the linked file

    body = _api(client, secret).json
    assert [item["file_no"] for item in body["items"]] == [mine.file_no]
    assert _api(client, secret, f"/api/v1/water-users/{theirs.id}").status_code == 404
    assert _api(client, secret, f"/api/v1/water-users/{mine.id}").status_code == 200
    row = db.session.execute(select(ApiToken)).scalar_one()
    assert row.token_hash != secret and secret not in row.token_hash
    assert row.last_used_at is not None


def test_last_use_is_listed_after_the_token_is_used(client, auth):
    f.admin(username="admin")
    auth.login("admin")
    secret = _create(client, "gateway")
    assert "<td>never</td>" in client.get("/account/tokens?lang=en").get_data(as_text=True)
    _api(client, secret)
    assert "<td>never</td>" not in client.get("/account/tokens?lang=en").get_data(as_text=True)


def test_a_token_needs_a_name_of_at_most_100_characters(client, auth):
    f.inspector(username="insp")
    auth.login("insp")
    for name, message in (("  ", "Give the token a name"), ("x" * 101, "At most 100 characters")):
        response = client.post("/account/tokens?lang=en", data={"name": name})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
        assert 'id="new-token"' not in response.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken.id)) is None


def test_revoked_token_gets_401_and_stays_listed_with_its_reason(client, auth):
    f.enterprise(f.WaterUserFactory(), username="ent")
    auth.login("ent")
    secret = _create(client, "gateway")
    assert _api(client, secret).status_code == 200
    row = db.session.execute(select(ApiToken)).scalar_one()

    refused = client.post(f"/account/tokens/{row.id}/revoke?lang=en", data={"reason": " "})
    assert refused.status_code == 400 and "Give a reason" in refused.get_data(as_text=True)
    assert _api(client, secret).status_code == 200

    assert client.post(f"/account/tokens/{row.id}/revoke", data={"reason": "网关更换"}).status_code == 302
    assert _api(client, secret).status_code == 401
    page = client.get("/account/tokens?lang=en").get_data(as_text=True)
    assert "Revoked" in page and "网关更换" in page
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id) is not None  # nothing deleted
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "ApiToken")
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create", "revoke"] and events[1].reason == "网关更换"
    again = client.post(f"/account/tokens/{row.id}/revoke?lang=en", data={"reason": "again"})
    assert again.status_code == 400 and "already revoked" in again.get_data(as_text=True)


def test_bureau_admin_sees_and_revokes_every_token_others_only_their_own(client, auth):
    wu = f.WaterUserFactory()
    f.enterprise(wu, username="ent")
    f.inspector(username="insp")
    f.admin(username="admin")
    auth.login("ent")
    secret = _create(client, "企业网关")
    token_id = db.session.scalar(select(ApiToken.id))
    auth.logout()

    auth.login("insp")
    assert "企业网关" not in client.get("/account/tokens").get_data(as_text=True)
    assert client.get("/admin/tokens").status_code == 403  # forbidden to the role
    assert client.post(f"/account/tokens/{token_id}/revoke", data={"reason": "x"}).status_code == 404
    auth.logout()

    auth.login("admin")
    everyone = client.get("/admin/tokens").get_data(as_text=True)
    assert "企业网关" in everyone and "ent" in everyone and wu.file_no in everyone
    done = client.post(f"/account/tokens/{token_id}/revoke", data={"reason": "企业申请停用", "back": "all"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/tokens")
    assert _api(client, secret).status_code == 401
