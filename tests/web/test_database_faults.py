"""A PostgreSQL connection killed in the middle of a request (pg_terminate_backend from a second
connection, right after the service's first INSERT): the person gets the error page (problem+json
on the API), nothing of the change is kept, and the next request works.

Nothing is mocked: a test-only SQLAlchemy event on the real engine kills the real backend.
"""
from __future__ import annotations

import html

import pytest
from sqlalchemy import create_engine, func, select

from registry.extensions import db
from registry.models import AuditEvent, WaterUser
from tests import factories as f
from tests.pg_kill import backend_killed_after
from registry.web.errors import MESSAGES


def _in_chinese(message) -> str:
    from flask_babel import force_locale

    with force_locale("zh_CN"):
        return str(message)


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the fault test needs PostgreSQL (pg_terminate_backend); this run is on SQLite")
    killer = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    yield killer
    killer.dispose()


def connection_killed_after(killer, statement_start: str):
    """Terminate the backend of the connection that runs the first statement starting with
    ``statement_start``, as soon as that statement has run (before the request commits)."""
    return backend_killed_after(killer, lambda statement: statement.lstrip().upper().startswith(statement_start.upper()))


def _kept(name: str) -> tuple[int, int]:
    """Water users of that name, and audit events naming it, as a fresh connection sees them."""
    db.session.remove()
    users = db.session.execute(select(func.count()).select_from(WaterUser).where(WaterUser.name == name)).scalar_one()
    events = db.session.execute(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.summary.contains(name))).scalar_one()
    return users, events


FORM = {"file_no": "YW-2026-0901", "name": "义乌市断线测试印染有限公司", "uscc": "91330100716105852F",
        "division_code": "102", "industry_code": "1713", "opened_on": "2024-04-01"}


def test_a_connection_killed_mid_save_shows_the_error_page_and_keeps_nothing(postgres, client, auth):
    f.admin(username="admin")
    auth.login("admin")
    with connection_killed_after(postgres, "INSERT INTO water_users") as fired:
        response = client.post("/water-users/new", data=FORM)
    assert fired, "the hook never saw the INSERT"
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Traceback" not in page and "psycopg" not in page
    assert html.escape(_in_chinese(MESSAGES[503])) in page  # "数据库暂时无法连接……未保存任何内容"
    assert _kept(FORM["name"]) == (0, 0)

    # The next requests work: the dead connection was dropped from the pool.
    assert client.get("/water-users/").status_code == 200
    again = client.post("/water-users/new", data=FORM)
    assert again.status_code == 302
    assert _kept(FORM["name"]) == (1, 1)


def test_the_api_answers_problem_json_when_its_connection_is_killed(postgres, client):
    from tests.api.conftest import ApiClient
    from registry.services.tokens import create_token

    api = ApiClient(client, create_token(db.session, None, f.admin(username="api-admin"), "test"))
    body = {"file_no": "YW-2026-0902", "name": "义乌市断线接口测试有限公司", "uscc": "91330100716105852F",
            "division": "102", "industry": "1713", "opened_on": "2024-04-01"}
    with connection_killed_after(postgres, "INSERT INTO water_users") as fired:
        response = api.post("/api/v1/water-users/", json=body)
    assert fired
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.get_json()["status"] == 503
    assert _kept(body["name"]) == (0, 0)

    assert api.get("/api/v1/water-users/").status_code == 200
    created = api.post("/api/v1/water-users/", json=body)
    assert created.status_code == 201, created.get_json()
    assert _kept(body["name"]) == (1, 1)
