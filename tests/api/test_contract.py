"""/api/v1 keeps its contract: an OpenAPI document that validates and types every body, the
certificate operations of spec.md with the pages' authorisation, and no malformed body a 500."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from registry.api import body as json_body
from registry.extensions import db
from registry.models import Certificate, Reading
from tests import factories as f
from tests.factories.certificates import graded_file

RECORD_PATHS = ("intake-points", "permits", "plans", "meters", "calibrations", "balance-tests", "inspections",
                "rectifications")


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json


def _resolve(spec, node):
    while "$ref" in node:
        node = spec["components"][node["$ref"].split("/")[-2]][node["$ref"].split("/")[-1]]
    return node


def test_openapi_document_validates(spec):
    validate(spec)


def test_every_record_kind_has_its_own_typed_path(spec):
    paths = spec["paths"]
    assert not [p for p in paths if "{slug}" in p]
    for slug in RECORD_PATHS:
        listing, one = paths[f"/api/v1/water-users/{{water_user_id}}/{slug}"], \
            paths[f"/api/v1/water-users/{{water_user_id}}/{slug}/{{record_id}}"]
        for operation in (listing["post"], one["patch"]):
            body = _resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
            assert body["properties"], slug
        assert listing["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
        assert "$ref" in one["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def test_every_operation_documents_its_body_and_its_answer(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert success, (method, path)
            assert all("schema" in operation["responses"][code]["content"]["application/json"]
                       for code in success), (method, path)
            if method in ("patch", "put") or (method == "post" and not path.endswith("/certificates")):
                assert "requestBody" in operation, (method, path)


def test_reading_batch_documents_its_item(spec):
    batch = _resolve(spec, spec["paths"]["/api/v1/readings"]["post"]["requestBody"]["content"]["application/json"]
                     ["schema"])
    item = _resolve(spec, batch["properties"]["readings"]["items"])
    assert set(item["required"]) == {"meter_id", "period", "volume_m3"}
    assert item["properties"]["meter_id"]["type"] == "integer"
    assert item["properties"]["volume_m3"]["type"] == "number"


def test_certificate_operations_are_documented(spec):
    assert "post" in spec["paths"]["/api/v1/water-users/{water_user_id}/certificates"]
    revoke = spec["paths"]["/api/v1/certificates/{number}/revoke"]["post"]
    assert _resolve(spec, revoke["requestBody"]["content"]["application/json"]["schema"])["required"] == ["reason"]


# --- certificates -----------------------------------------------------------------------------

def test_the_bureau_issues_a_certificate_through_the_api(api_as):
    wu = graded_file("A")
    response = api_as(f.admin()).post(f"/api/v1/water-users/{wu.id}/certificates")
    assert response.status_code == 201, response.json
    assert response.json["grade"] == "A" and response.json["status"] == "valid"
    assert response.json["number"].startswith("YWZS-")
    listed = api_as(f.admin()).get(f"/api/v1/water-users/{wu.id}/certificates").json
    assert [c["number"] for c in listed] == [response.json["number"]]


def test_issuing_twice_with_one_idempotency_key_issues_once(api_as):
    wu = graded_file("A")
    api = api_as(f.admin())
    first = api.post(f"/api/v1/water-users/{wu.id}/certificates", headers={"Idempotency-Key": "k-1"})
    again = api.post(f"/api/v1/water-users/{wu.id}/certificates", headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.json["number"] == first.json["number"]
    assert db.session.scalar(select(func.count(Certificate.id))) == 1


def test_a_file_graded_c_is_refused_with_409_and_the_reason(api_as):
    wu = graded_file("C")
    response = api_as(f.admin()).post(f"/api/v1/water-users/{wu.id}/certificates")
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert "C" in response.json["detail"] and "_" in response.json["errors"]
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


def test_only_the_bureau_issues_and_a_file_out_of_scope_is_unknown(api_as):
    wu, other = graded_file("A"), graded_file("A", division_code="100")
    assert api_as(f.enterprise(wu)).post(f"/api/v1/water-users/{wu.id}/certificates").status_code == 403
    assert api_as(f.inspector(divisions=("001",))).post(f"/api/v1/water-users/{wu.id}/certificates").status_code == 403
    assert api_as(f.enterprise(wu)).post(f"/api/v1/water-users/{other.id}/certificates").status_code == 404
    assert api_as(f.inspector(divisions=("001",))).post(
        f"/api/v1/water-users/{other.id}/certificates").status_code == 404
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


def _issued(api_as):
    wu = graded_file("A")
    number = api_as(f.admin()).post(f"/api/v1/water-users/{wu.id}/certificates").json["number"]
    return wu, number


def test_the_bureau_revokes_with_a_reason_and_once(api_as):
    wu, number = _issued(api_as)
    api = api_as(f.admin())
    assert api.post(f"/api/v1/certificates/{number}/revoke", json={"reason": " "}).status_code == 422
    assert api.post(f"/api/v1/certificates/{number}/revoke", json={}).status_code == 422
    revoked = api.post(f"/api/v1/certificates/{number}/revoke", json={"reason": "许可证被吊销"})
    assert revoked.status_code == 200
    assert (revoked.json["status"], revoked.json["revoked_reason"]) == ("revoked", "许可证被吊销")
    again = api.post(f"/api/v1/certificates/{number}/revoke", json={"reason": "再次"})
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert api.get(f"/api/v1/certificates/{number}").json["status"] == "revoked"


def test_only_the_bureau_revokes_and_another_file_s_certificate_is_unknown(api_as):
    wu, number = _issued(api_as)
    stranger = f.enterprise(f.WaterUserFactory(division_code="100"))
    body = {"reason": "x"}
    assert api_as(f.enterprise(wu)).post(f"/api/v1/certificates/{number}/revoke", json=body).status_code == 403
    assert api_as(f.inspector(divisions=("001",))).post(f"/api/v1/certificates/{number}/revoke",
                                                        json=body).status_code == 403
    assert api_as(stranger).post(f"/api/v1/certificates/{number}/revoke", json=body).status_code == 404
    assert api_as(stranger).get(f"/api/v1/certificates/{number}").status_code == 404
    assert api_as(f.admin()).post("/api/v1/certificates/YWZS-1999-000001/revoke", json=body).status_code == 404
    assert db.session.scalars(select(Certificate.status)).one() == "valid"


# --- malformed bodies -------------------------------------------------------------------------

def _raw(api, url, data, content_type="application/json", method="post"):
    return getattr(api.client, method)(url, data=data, headers={**api._headers(), "Content-Type": content_type})


MALFORMED = {
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "nested objects 100,000 deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "unclosed nesting": b"[" * 100_000,
    "invalid UTF-8": b'{"readings": ["\xff\xfe"]}',
    "UTF-16": '{"readings": []}'.encode("utf-16"),
    "NaN": b'{"readings": [{"meter_id": 1, "period": "2026-01", "volume_m3": NaN}]}',
    "Infinity": b'{"readings": [{"meter_id": 1, "period": "2026-01", "volume_m3": -Infinity}]}',
    "a float beyond double": b'{"readings": [{"meter_id": 1, "period": "2026-01", "volume_m3": 1e999}]}',
    "an integer of 5,000 digits": b'{"readings": [{"meter_id": ' + b"9" * 5000 + b', "period": "2026-01"}]}',
    "truncated": b'{"readings": [',
    "two documents": b"{} {}",
    "empty": b"",
    "not JSON": b"readings=1",
    "half a surrogate pair": b'{"reason": "\\ud800", "readings": [], "name": "\\udfff"}',
}


def test_a_whole_surrogate_pair_is_one_character():
    assert json_body.loads(b'{"name": "\\ud83d\\ude00"}') == {"name": "\U0001f600"}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_json_is_a_400_problem_never_a_500(api_as, name):
    wu, number = _issued(api_as)
    api = api_as(f.admin())
    data = MALFORMED[name]
    for url, method in (("/api/v1/readings", "post"), (f"/api/v1/water-users/{wu.id}/permits", "post"),
                        (f"/api/v1/water-users/{wu.id}", "patch"), ("/api/v1/water-users/", "post"),
                        (f"/api/v1/certificates/{number}/revoke", "post")):
        response = _raw(api, url, data, method=method)
        if name == "empty":
            assert response.status_code in (400, 404, 422, 428), (url, response.status_code)
        else:
            assert response.status_code == 400, (url, response.status_code, response.get_data()[:200])
        assert response.mimetype == "application/problem+json"
    assert db.session.scalar(select(func.count(Reading.id))) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml"])
def test_a_body_that_is_not_labelled_json_is_refused(api_as, content_type):
    wu = f.WaterUserFactory()
    api = api_as(f.admin())
    for url in ("/api/v1/readings", f"/api/v1/water-users/{wu.id}/permits"):
        response = _raw(api, url, b'{"readings": []}', content_type=content_type)
        assert response.status_code == 415 and response.mimetype == "application/problem+json", url
        assert "Content-Type" in response.json["errors"]


def test_a_json_body_labelled_with_a_json_suffix_type_is_read(api_as):
    api = api_as(f.admin())
    response = _raw(api, "/api/v1/readings", b'{"readings": []}', content_type="application/merge-patch+json")
    assert response.status_code == 200 and response.json["created"] == 0


def test_a_rectification_with_an_unknown_status_is_a_422_naming_it(api_as):
    inspection = f.InspectionFactory()
    wu = inspection.water_user
    response = api_as(f.admin()).post(f"/api/v1/water-users/{wu.id}/rectifications", json={
        "inspection_id": inspection.id, "requirement": "Seal the meter", "deadline": "2099-01-01",
        "status": "calibration"})
    assert response.status_code == 422 and "status" in response.json["errors"]


def test_scope_and_role_are_decided_before_the_body_is_read(api_as):
    wu, number = _issued(api_as)
    theirs = f.WaterUserFactory(division_code="100")
    stranger, own_enterprise = api_as(f.enterprise(theirs)), api_as(f.enterprise(wu))
    inspector = api_as(f.inspector(divisions=("100",)))
    for bad in ({}, {"colour": "red"}, [1]):
        assert stranger.post(f"/api/v1/certificates/{number}/revoke", json=bad).status_code == 404
        assert stranger.post(f"/api/v1/water-users/{wu.id}/certificates", json=bad).status_code == 404
        assert inspector.post(f"/api/v1/water-users/{wu.id}/permits", json=bad).status_code == 404
        assert inspector.patch(f"/api/v1/water-users/{wu.id}", json=bad).status_code == 404
        assert own_enterprise.post(f"/api/v1/certificates/{number}/revoke", json=bad).status_code == 403
        assert own_enterprise.post(f"/api/v1/water-users/{wu.id}/permits", json=bad).status_code == 403
        assert own_enterprise.post("/api/v1/water-users/", json=bad).status_code == 403
    assert stranger.post(f"/api/v1/certificates/{number}/revoke", data=b"[[[[",
                         headers={"Content-Type": "application/json"}).status_code == 404


def test_a_method_not_allowed_says_which_are(api_as, client):
    wu = f.WaterUserFactory()
    response = api_as(f.admin()).client.delete(f"/api/v1/water-users/{wu.id}")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH"}
    page = client.delete("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]
