"""The plan year and the tax hand-over through the pages and the API (issue 19): what a user does."""
from __future__ import annotations

import re

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import AnnualPlan, PlanProposal, TaxStatement
from tests import factories as f
from tests.conftest import csrf_token
from tests.services.test_tax_statements import _file as tax_file


def _form(client, url):
    page = client.get(url)
    assert page.status_code == 200, url
    html = page.get_data(as_text=True)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', html)
    return html, {"csrf_token": csrf_token(html), **({"idempotency_key": key.group(1)} if key else {})}


def test_enterprise_proposes_and_the_bureau_approves_changed(app, client, auth):
    wu = f.WaterUserFactory()
    f.PermitFactory(water_user=wu, annual_volume_m3=50_000.0)
    f.enterprise(wu, username="p-ent")
    f.admin(username="p-admin")
    year = bureau_today().year + 1
    auth.login("p-ent")
    html, base = _form(client, f"/portal/water-users/{wu.id}/plans/propose")
    assert "share_12" in html
    bad = client.post(f"/portal/water-users/{wu.id}/plans/propose", data={
        **base, "year": str(year), "planned_volume_m3": "36000", "past_year_use_m3": "30000",
        "breakdown": "quarter", "share_1": "9000", "share_2": "9000", "share_3": "9000", "share_4": "8000"})
    assert bad.status_code == 400
    body = bad.get_data(as_text=True)
    assert "35,000.00" in body and 'value="8000"' in body  # the rule named, what was typed kept
    ok = client.post(f"/portal/water-users/{wu.id}/plans/propose", data={
        **base, "year": str(year), "planned_volume_m3": "36000", "past_year_use_m3": "30000",
        "breakdown": "quarter", "share_1": "9000", "share_2": "9000", "share_3": "9000", "share_4": "9000"})
    assert ok.status_code == 302
    proposal = db.session.scalars(db.select(PlanProposal)).one()
    auth.logout()
    auth.login("p-admin")
    listing = client.get("/plan-proposals?lang=zh_CN").get_data(as_text=True)
    assert str(year) in listing
    assert ">打开</a>" in listing and "待整改" not in listing  # the link opens the proposal ("Open" the verb)
    url = f"/water-users/{wu.id}/plan-proposals/{proposal.id}"
    html, base = _form(client, url)
    done = client.post(url, data={**base, "decision": "change", "planned_volume_m3": "32000", "breakdown": "none",
                                  "decision_reason": "按节水目标核减至 32000 m³。"})
    assert done.status_code == 302
    plan = db.session.scalars(db.select(AnnualPlan).where(AnnualPlan.water_user_id == wu.id)).one()
    assert (plan.year, plan.planned_volume_m3) == (year, 32_000)
    auth.logout()
    auth.login("p-ent")
    home = client.get("/portal").get_data(as_text=True)
    assert "按节水目标核减至 32000 m³。" in home  # the reason is shown to the enterprise


def test_bureau_computes_signs_corrects_and_exports(app, client, auth):
    wu, meters = tax_file(db.session)
    f.admin(username="t-admin")
    ent = f.enterprise(wu, username="t-ent")
    auth.login("t-admin")
    html, base = _form(client, "/tax-statements?year=2025&quarter=2")
    started = client.post("/tax-statements/compute", data={**base, "year": "2025", "quarter": "2"})
    assert started.status_code == 302 and "/tax-statements/jobs/" in started.headers["Location"]
    job_page = client.get(started.headers["Location"])
    assert job_page.status_code == 200 and 'data-state="done"' in job_page.get_data(as_text=True)
    st = db.session.scalars(db.select(TaxStatement)).one()
    page = client.get(f"/water-users/{wu.id}/tax-statements/{st.id}").get_data(as_text=True)
    assert "10,800.00" in page and "3,600.00" in page
    assert client.post(f"/water-users/{wu.id}/tax-statements/{st.id}/sign", data={"csrf_token": csrf_token(page)}
                       ).status_code == 302
    first = client.get(f"/water-users/{wu.id}/tax-statements/{st.id}/export.xlsx").get_data()
    again = client.get(f"/water-users/{wu.id}/tax-statements/{st.id}/export.xlsx").get_data()
    assert first == again and first[:2] == b"PK"
    csv1 = client.get("/tax-statements/export.csv?year=2025&quarter=2").get_data()
    assert "纳税人识别号".encode() in csv1
    # A correction: the page keeps the reason's field when empty, then a new version.
    db.session.get(type(meters[0]), meters[0].id)
    reading = db.session.scalars(db.select(f.m.Reading).where(f.m.Reading.meter_id == meters[0].id,
                                                                f.m.Reading.status == "accepted")).first()
    reading.volume_m3 += 1_000.0
    db.session.commit()
    html, base = _form(client, f"/water-users/{wu.id}/tax-statements/{st.id}/correct")
    assert client.post(f"/water-users/{wu.id}/tax-statements/{st.id}/correct", data={**base, "reason": ""}
                       ).status_code == 400
    made = client.post(f"/water-users/{wu.id}/tax-statements/{st.id}/correct", data={**base, "reason": "补录。"})
    assert made.status_code == 302
    new = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "补录。" in new and 'id="difference"' in new
    assert client.get(f"/water-users/{wu.id}/tax-statements/{st.id}/export.xlsx").get_data() == first
    stats = client.get("/statistics?year=2025&quarter=2&by=source").get_data(as_text=True)
    assert "10,000.00" in stats  # surface: the latest version (the correction, 9,000 + 1,000)
    assert client.get("/statistics/export.xlsx?year=2025&quarter=all").get_data()[:2] == b"PK"
    # The enterprise sees its signed statements only (the draft correction is not handed over yet).
    auth.logout()
    auth.login("t-ent")
    listing = client.get(f"/portal/water-users/{wu.id}/tax-statements").get_data(as_text=True)
    assert "10,800.00" in listing and "11,800.00" not in listing
    assert client.get(made.headers["Location"]).status_code == 404
    del ent


def test_api_statement_and_city_batch(app, client):
    from registry.services import tax
    from registry.services.tokens import create_token

    wu, _ = tax_file(db.session)
    admin = f.admin(username="api-tax-admin")
    tax.compute(db.session, admin, 2025, 2)
    token = create_token(db.session, None, admin, "tax")
    headers = {"Authorization": f"Bearer {token}"}
    one = client.get(f"/api/v1/water-users/{wu.id}/tax-statements?year=2025&quarter=2", headers=headers)
    assert one.status_code == 200 and one.json["figures"]["totals"]["verified_m3"] == 10_800.0
    city = client.get("/api/v1/tax-statements?year=2025&quarter=2", headers=headers)
    assert city.status_code == 200 and [s["water_user_id"] for s in city.json["statements"]] == [wu.id]
    assert client.get("/api/v1/tax-statements?year=2025&quarter=9", headers=headers).status_code == 422
    assert client.get(f"/api/v1/water-users/{wu.id}/tax-statements?year=2024&quarter=1", headers=headers
                      ).status_code == 404
