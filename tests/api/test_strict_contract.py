"""The API takes what its OpenAPI document says and nothing else (registry/api/contract.py):
an unknown query parameter is named in a 400, a number sent as text is a 422 keyed like the
service's errors. Random draws of schemathesis found both accepted before."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from registry.api.contract import openapi_path
from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import Meter, Reading
from tests import factories as f

TODAY = bureau_today()
LAST = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def test_an_unknown_query_parameter_is_refused_and_named(api_as):
    wu = f.WaterUserFactory()
    api = api_as(f.admin())
    response = api.get("/api/v1/water-users/?per_pgae=10")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert "per_pgae" in response.json["detail"] and "per_page" in response.json["errors"]["per_pgae"]
    chinese = api.get("/api/v1/water-users/?per_pgae=10&lang=zh_CN").json["errors"]["per_pgae"]
    assert chinese.startswith("未知参数；此操作接受的参数：") and "per_page" in chinese
    assert api.get(f"/api/v1/water-users/{wu.id}?expand=all").json["errors"].keys() == {"expand"}
    assert api.get("/api/v1/water-users/?page=1&per_page=10&q=&lang=en").status_code == 200  # documented, and lang
    assert api.get(f"/api/v1/water-users/{wu.id}/readings?from=2025-01&to=2025-12").status_code == 200


def test_a_number_sent_as_text_is_refused_keyed_like_the_service(api_as):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=300))
    api = api_as(f.admin())
    batch = {"readings": [{"meter_id": meter.id, "period": LAST, "volume_m3": "12", "source": "online"}]}
    response = api.post("/api/v1/readings?lang=en", json=batch)
    assert response.status_code == 422 and response.json["errors"] == {
        "readings[0].volume_m3": "Send a JSON number, not a string."}
    chinese = api.post("/api/v1/readings?lang=zh_CN", json=batch)  # in the caller's language, as the services' errors
    assert chinese.json["errors"] == {"readings[0].volume_m3": "请发送 JSON 数字，而不是字符串。"}
    assert db.session.scalar(select(func.count()).select_from(Reading)) == 0
    batch["readings"][0]["volume_m3"] = 12
    assert api.post("/api/v1/readings", json=batch).status_code == 200
    wu = meter.water_user
    record = api.post(f"/api/v1/water-users/{wu.id}/meters",
                      json={"intake_point_id": meter.intake_point_id, "serial": "SN-STRICT", "dn": "50",
                            "installed_on": (TODAY - timedelta(days=10)).isoformat()})
    assert record.status_code == 422 and set(record.json["errors"]) == {"dn"}
    assert db.session.scalar(select(func.count()).select_from(Meter).where(Meter.serial == "SN-STRICT")) == 0


def test_every_operation_of_the_api_is_held_to_the_document(app):
    from registry.api import api

    documented = {(path, method) for path, item in api.spec.to_dict()["paths"].items() for method in item
                  if method != "parameters"}
    held = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith(("api-docs", "api_docs")) \
                or rule.rule.endswith(("/openapi.json", "/docs")):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (openapi_path(rule.rule), method.lower()) in documented, (rule.rule, method)
            held += 1
    assert held >= 30
