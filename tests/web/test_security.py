"""Headers, health check, deploy check: what an operator and a browser rely on."""
from __future__ import annotations

from tests import factories as f


def test_every_page_sends_a_strict_content_security_policy(client, auth):
    f.admin(username="admin")
    auth.login("admin")
    response = client.get("/water-users/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert len(response.headers["X-Request-Id"]) == 32
    assert "<script>" not in response.get_data(as_text=True) and "onclick=" not in response.get_data(as_text=True)


def test_request_id_is_passed_through(client):
    assert client.get("/login", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"


def test_health_check_asks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}


def test_deploy_check_reports_unsafe_settings(app):
    result = app.test_cli_runner().invoke(args=["registry", "check-deploy"])
    assert result.exit_code == 1
    assert "REGISTRY_ENV is not 'production'" in result.output and "rate limits are kept in memory" in result.output
    assert "REGISTRY_PROXY_HOPS is 0" in result.output
