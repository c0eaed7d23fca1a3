"""Behind a proxy (issue 14 "Behind a proxy", issue 16 item 5): with REGISTRY_PROXY_HOPS trusted
hops, rate limits and the audit trail see the client's address from X-Forwarded-For; with 0 the
header is whatever a client wrote, and is ignored."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.config import ConfigError
from registry.extensions import db
from registry.models import AuditEvent
from tests import factories as f


def _verify(client, address):
    return client.get("/verify/YWZS-2026-000001", headers={"X-Forwarded-For": address}).status_code


def test_item5_two_clients_behind_one_hop_are_limited_separately(make_app):
    app = make_app(RATELIMIT_ENABLED=True, PROXY_HOPS=1, VERIFY_RATELIMIT="2 per minute",
                   LOGIN_RATELIMIT="2 per minute")
    client = app.test_client()
    assert [_verify(client, "203.0.113.9") for _ in range(3)] == [404, 404, 429]
    assert [_verify(client, "198.51.100.7") for _ in range(3)] == [404, 404, 429]  # not the whole city's limit
    logins = [client.post("/login", data={"username": "x", "password": "wrong-guess"},
                          headers={"X-Forwarded-For": address}).status_code
              for address in ("203.0.113.9", "203.0.113.9", "203.0.113.9", "198.51.100.7")]
    assert logins == [400, 400, 429, 400]


def test_item5_with_no_trusted_hop_the_header_is_ignored(make_app):
    app = make_app(RATELIMIT_ENABLED=True, PROXY_HOPS=0, VERIFY_RATELIMIT="2 per minute")
    client = app.test_client()
    assert [_verify(client, f"203.0.113.{i}") for i in range(3)] == [404, 404, 429]


def test_item5_one_hop_trusts_only_the_entry_its_proxy_wrote(make_app):
    """A client writing its own X-Forwarded-For gets the proxy's entry after it: only that counts."""
    app = make_app(RATELIMIT_ENABLED=True, PROXY_HOPS=1, VERIFY_RATELIMIT="2 per minute")
    client = app.test_client()
    codes = [_verify(client, f"10.0.0.{i}, 203.0.113.9") for i in range(3)]
    assert codes == [404, 404, 429]


def test_item5_the_audit_trail_records_the_clients_address(make_app):
    app = make_app(PROXY_HOPS=1)
    f.admin(username="chen")
    client = app.test_client()
    client.post("/login", data={"username": "chen", "password": f.PASSWORD},
                headers={"X-Forwarded-For": "203.0.113.9"})
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in")).one()
    assert event.client_address == "203.0.113.9"


@pytest.mark.parametrize("hops", [-1, "one", True])
def test_item5_proxy_hops_must_be_a_whole_number(_schema, tmp_path, hops):
    from registry import create_app
    from tests.conftest import _config

    with pytest.raises(ConfigError):
        create_app({**_config(_schema, tmp_path), "PROXY_HOPS": hops})
