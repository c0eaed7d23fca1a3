"""Issue 16 item 9: writes that meet at once on PostgreSQL. Eight parallel edits of one record
version: one is saved, the others are told the record changed (412 for the API, the 409 page for
the web), never a 500 (StaleDataError). Four identical reading batches at once: each answers 200
(created or unchanged, idempotent on meter and month), never a 500 (UniqueViolation).

Real threads, each with its own test client and so its own application context, session and
connection; skipped on SQLite, which has one writer at a time."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.domain.dates import add_months
from registry.extensions import db
from registry.models import Meter, Reading, WaterUser
from registry.services.tokens import create_token
from tests import factories as f

TODAY = bureau_today()
LAST_MONTH = add_months(TODAY.replace(day=1), -1)


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers on one row: PostgreSQL; SQLite has one writer at a time")
    return app


def _at_once(app, count: int, request) -> list:
    """``request(client)`` from ``count`` threads released together; their responses."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        client = app.test_client()
        barrier.wait()
        try:
            results[i] = request(client)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _statuses(responses) -> list[int]:
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    return sorted(r.status_code for r in responses)


def test_item9_eight_parallel_api_edits_of_one_version_give_one_save_and_412s(postgres):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=400), manufacturer="旧厂家")
    token = create_token(db.session, None, f.admin(), "test")
    url = f"/api/v1/water-users/{meter.water_user_id}/meters/{meter.id}"
    etag = postgres.test_client().get(url, headers={"Authorization": f"Bearer {token}"}).headers["ETag"]
    db.session.commit()

    responses = _at_once(postgres, 8, lambda client: client.patch(
        url, json={"manufacturer": f"厂家{threading.get_ident()}"},
        headers={"Authorization": f"Bearer {token}", "If-Match": etag}))
    statuses = _statuses(responses)
    assert statuses == [200] + [412] * 7, statuses
    assert all(r.mimetype == "application/problem+json" for r in responses if r.status_code == 412)
    db.session.expire_all()
    assert db.session.get(Meter, meter.id).version == 2


def test_item9_eight_parallel_form_edits_of_one_version_give_one_save_and_409_pages(postgres):
    wu = f.WaterUserFactory(address="义乌市稠城街道旧址1号")
    f.admin(username="wang")
    version, wu_id = wu.version, wu.id
    form = {"file_no": wu.file_no, "name": wu.name, "uscc": wu.uscc, "division_code": wu.division_code,
            "industry_code": wu.industry_code, "opened_on": wu.opened_on.isoformat(), "version": str(version)}
    db.session.commit()

    def edit(client):
        client.post("/login", data={"username": "wang", "password": f.PASSWORD})
        return client.post(f"/water-users/{wu_id}/edit?lang=en",
                           data={**form, "address": f"新址{threading.get_ident()}"})

    responses = _at_once(postgres, 8, edit)
    statuses = _statuses(responses)
    assert statuses == [302] + [409] * 7, statuses
    assert all("Someone else saved this record" in r.get_data(as_text=True) for r in responses if r.status_code == 409)
    db.session.expire_all()
    assert db.session.get(WaterUser, wu_id).version == version + 1


def test_item9_four_identical_reading_batches_at_once_answer_200_and_store_one(postgres):
    meters = [f.MeterFactory(installed_on=TODAY - timedelta(days=400)) for _ in range(3)]
    token = create_token(db.session, None, f.admin(), "test")
    db.session.commit()
    batch = {"readings": [{"meter_id": m.id, "period": f"{LAST_MONTH:%Y-%m}", "volume_m3": 80.0 + i,
                           "source": "online"} for i, m in enumerate(meters)]}

    responses = _at_once(postgres, 4, lambda client: client.post(
        "/api/v1/readings", json=batch, headers={"Authorization": f"Bearer {token}"}))
    assert _statuses(responses) == [200] * 4, [r.get_data(as_text=True)[:300] for r in responses]
    bodies = [r.get_json() for r in responses]
    assert sum(b["created"] for b in bodies) == 3
    assert all(b["created"] + b["unchanged"] == 3 for b in bodies), bodies
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(Reading)).scalar_one() == 3


def test_item9_a_batch_that_lost_the_race_is_judged_again_as_unchanged(app, monkeypatch):
    """The race made deterministic (and so run on SQLite too): while our batch is being written,
    an identical one commits first, and the unique index refuses ours. It is judged again: 200,
    nothing created, everything unchanged."""
    from registry.services import readings_bulk

    meters = [f.MeterFactory(installed_on=TODAY - timedelta(days=400)) for _ in range(2)]
    boss = f.admin()
    token = create_token(db.session, None, boss, "test")
    batch = {"readings": [{"meter_id": m.id, "period": f"{LAST_MONTH:%Y-%m}", "volume_m3": 80.0, "source": "online"}
                          for m in meters]}
    real_copy, raced = readings_bulk.copy_rows, []

    def copy_after_the_other_batch(session, table, rows):
        if table is Reading.__table__ and not raced:
            raced.append(True)
            other = threading.Thread(target=lambda: app.test_client().post(
                "/api/v1/readings", json=batch, headers={"Authorization": f"Bearer {token}"}))
            session.rollback()  # SQLite: one writer; the other batch commits in the meantime
            other.start()
            other.join(30)
        real_copy(session, table, rows)

    monkeypatch.setattr(readings_bulk, "copy_rows", copy_after_the_other_batch)
    response = app.test_client().post("/api/v1/readings", json=batch, headers={"Authorization": f"Bearer {token}"})
    assert raced and response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["created"] == 0 and response.get_json()["unchanged"] == 2
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(Reading)).scalar_one() == 2
