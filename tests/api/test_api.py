"""/api/v1: tokens, scoping, whole file with ETag, optimistic concurrency, problem+json, bulk readings."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import ApiToken, Reading
from tests import factories as f

TODAY = bureau_today()
LAST = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
BEFORE = (TODAY.replace(day=1) - timedelta(days=40)).replace(day=1).strftime("%Y-%m")


def test_no_token_no_data(client):
    response = client.get("/api/v1/water-users/")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert client.get("/api/v1/water-users/", headers={"Authorization": "Bearer ywr_nope"}).status_code == 401


def test_token_is_stored_hashed_and_tracks_last_use(api_as):
    api = api_as(f.admin())
    row = db.session.execute(select(ApiToken)).scalar_one()
    assert api.token not in row.token_hash and row.last_used_at is None
    assert api.get("/api/v1/water-users/").status_code == 200
    db.session.refresh(row)
    assert row.last_used_at is not None


def test_list_is_scoped_like_the_account(api_as):
    mine, theirs = f.WaterUserFactory(division_code="001"), f.WaterUserFactory(division_code="100")
    body = api_as(f.inspector(divisions=("001",))).get("/api/v1/water-users/?per_page=10").json
    assert [i["file_no"] for i in body["items"]] == [mine.file_no]
    assert body["total"] == 1 and body["page"] == 1 and body["per_page"] == 10
    assert api_as(f.enterprise(mine)).get(f"/api/v1/water-users/{theirs.id}").status_code == 404


def test_whole_file_carries_an_etag_and_patch_needs_it(api_as):
    meter = f.MeterFactory()
    wu = meter.water_user
    api = api_as(f.admin())
    response = api.get(f"/api/v1/water-users/{wu.id}")
    assert response.status_code == 200
    body = response.json
    assert body["division"] == "001" and body["meters"][0]["serial"] == meter.serial
    etag = response.headers["ETag"]
    assert api.patch(f"/api/v1/water-users/{wu.id}", json={"contact_phone": "0579-1"}).status_code == 428
    ok = api.patch(f"/api/v1/water-users/{wu.id}", json={"contact_phone": "0579-85550000"}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json["contact_phone"] == "0579-85550000"
    stale = api.patch(f"/api/v1/water-users/{wu.id}", json={"contact_phone": "x"}, headers={"If-Match": etag})
    assert stale.status_code == 412


def test_bad_record_gets_field_errors_and_nothing_is_written(api_as):
    point = f.IntakePointFactory()
    api = api_as(f.admin())
    response = api.post(f"/api/v1/water-users/{point.water_user_id}/meters",
                        json={"serial": "EM-1", "intake_point_id": point.id, "meter_type": "laser", "dn": -5,
                              "installed_on": "2024-01-01"})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert set(response.json["errors"]) >= {"meter_type", "dn"}
    assert api.get(f"/api/v1/water-users/{point.water_user_id}/meters").json == []
    unknown = api.post(f"/api/v1/water-users/{point.water_user_id}/meters", json={"colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.json["errors"]


def test_malformed_requests_never_give_500(api_as, client):
    wu = f.WaterUserFactory()
    api = api_as(f.admin())
    for response in (
        api.post("/api/v1/readings", data="{not json", headers={"Content-Type": "application/json"}),
        api.post("/api/v1/readings", json={"readings": "many"}),
        api.post("/api/v1/readings", json=[1, 2]),
        api.post(f"/api/v1/water-users/{wu.id}/permits", data="\x00\xff", headers={"Content-Type": "application/json"}),
        api.get("/api/v1/water-users/?page=-1&per_page=100000"),
        api.get(f"/api/v1/water-users/{wu.id}/readings?from=2026-13"),
        api.patch(f"/api/v1/water-users/{wu.id}", json={"uscc": None}, headers={"If-Match": "garbage"}),
    ):
        assert 400 <= response.status_code < 500, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"


def test_record_patch_with_if_match(api_as):
    point = f.IntakePointFactory()
    api = api_as(f.admin())
    created = api.post(f"/api/v1/water-users/{point.water_user_id}/plans", json={"year": TODAY.year, "planned_volume_m3": 100})
    assert created.status_code == 201
    url = f"/api/v1/water-users/{point.water_user_id}/plans/{created.json['id']}"
    changed = api.patch(url, json={"planned_volume_m3": 200}, headers={"If-Match": created.headers["ETag"]})
    assert changed.status_code == 200 and changed.json["planned_volume_m3"] == 200
    assert api.patch(url, json={"planned_volume_m3": 300}, headers={"If-Match": created.headers["ETag"]}).status_code == 412


def _readings(meters, month=LAST, volume=100.0):
    return {"readings": [{"meter_id": m.id, "period": month, "volume_m3": volume, "source": "online"} for m in meters]}


def test_bulk_readings_are_all_or_nothing_and_name_the_item(api_as):
    meters = [f.MeterFactory(installed_on=TODAY - timedelta(days=300)) for _ in range(3)]
    api = api_as(f.admin())
    batch = _readings(meters)
    batch["readings"][1]["volume_m3"] = -4
    batch["readings"][2]["meter_id"] = 999999
    batch["readings"].append({"meter_id": meters[0].id, "period": "2999-01", "volume_m3": 1})
    response = api.post("/api/v1/readings", json=batch)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"readings[1].volume_m3", "readings[2].meter_id", "readings[3].period"}
    assert db.session.execute(select(func.count()).select_from(Reading)).scalar_one() == 0


def test_reading_batch_with_ids_beyond_any_meter_or_items_that_are_no_objects(api_as):
    meters = [f.MeterFactory(installed_on=TODAY - timedelta(days=300)) for _ in range(3)]
    api = api_as(f.admin())
    batch = _readings(meters)
    batch["readings"][1]["meter_id"] = 2 ** 40  # beyond an INTEGER column: no meter, not a server error
    batch["readings"][2]["meter_id"] = -(2 ** 70)
    batch["readings"].append({"meter_id": [meters[0].id], "period": LAST, "volume_m3": 1})  # a list: no id
    response = api.post("/api/v1/readings", json=batch)
    assert response.status_code == 422  # the type first (the document's contract), before any rule
    assert set(response.json["errors"]) == {"readings[3].meter_id"}
    batch["readings"].pop()
    response = api.post("/api/v1/readings", json=batch)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"readings[1].meter_id", "readings[2].meter_id"}
    not_objects = api.post("/api/v1/readings", json={"readings": [_readings(meters)["readings"][0], 7, "x"]})
    assert not_objects.status_code == 422 and not_objects.mimetype == "application/problem+json"
    assert set(not_objects.json["errors"]["readings"]) == {"1", "2"}
    assert db.session.execute(select(func.count()).select_from(Reading)).scalar_one() == 0


def test_resending_a_batch_changes_nothing(api_as):
    meters = [f.MeterFactory(installed_on=TODAY - timedelta(days=300)) for _ in range(4)]
    api = api_as(f.admin())
    first = api.post("/api/v1/readings", json=_readings(meters))
    assert first.status_code == 200 and first.json == {"created": 4, "unchanged": 0, "rescoring_files": 4}
    again = api.post("/api/v1/readings", json=_readings(meters))
    assert again.status_code == 200 and again.json == {"created": 0, "unchanged": 4, "rescoring_files": 0}
    different = api.post("/api/v1/readings", json=_readings(meters, volume=5.0))
    assert different.status_code == 422
    assert db.session.execute(select(func.count()).select_from(Reading)).scalar_one() == 4
    wu = meters[0].water_user
    listed = api.get(f"/api/v1/water-users/{wu.id}/readings?from={BEFORE}&to={LAST}").json
    assert [r["volume_m3"] for r in listed] == [100.0]


def test_readings_refresh_the_compliance(api_as):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=300))
    api = api_as(f.admin())
    assert api.get(f"/api/v1/water-users/{meter.water_user_id}/compliance").json["grade"] is None
    api.post("/api/v1/readings", json=_readings([meter]))
    body = api.get(f"/api/v1/water-users/{meter.water_user_id}/compliance").json
    assert body["grade"] == "D" and body["veto"] and body["rules_version"] == "YW-2026.1"
    permit_row = next(r for r in body["rows"] if r["rule"] == "permit")
    assert permit_row["points"] == 0 and "permit" in permit_row["reason"].lower() or "许可" in permit_row["reason"]


def test_enterprise_readings_wait_for_review_and_other_meters_are_unknown(api_as):
    mine = f.MeterFactory(installed_on=TODAY - timedelta(days=300))
    theirs = f.MeterFactory(installed_on=TODAY - timedelta(days=300))
    api = api_as(f.enterprise(mine.water_user))
    refused = api.post("/api/v1/readings", json=_readings([theirs]))
    assert refused.status_code == 422 and "readings[0].meter_id" in refused.json["errors"]
    assert api.post("/api/v1/readings", json=_readings([mine])).json == {"created": 1, "unchanged": 0,
                                                               "rescoring_files": 1}
    assert db.session.execute(select(Reading.status)).scalar_one() == "pending"


def test_openapi_document_lists_every_endpoint(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/water-users/", "/api/v1/water-users/{water_user_id}", "/api/v1/readings",
            "/api/v1/water-users/{water_user_id}/compliance"} <= set(spec["paths"])
    assert client.get("/api/v1/docs").status_code == 200
