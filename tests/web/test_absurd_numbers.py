"""Issue 16 item 2: absurd numbers. Values stored before the ranges existed (or put straight
into the database) display everywhere; the pages and the API refuse new ones naming the field
and the rule, and never answer 500."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from registry.clock import today as bureau_today
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.models import AnnualPlan, Reading
from registry.services import evaluations
from registry.services.tokens import create_token
from tests.api.conftest import ApiClient
from tests import factories as f

TODAY = bureau_today()
MONTH = TODAY.replace(day=1)
HUGE = 1.7e308  # the reading: just below the largest float


def _month(back: int):
    day = MONTH
    for _ in range(back):
        day = (day - timedelta(days=1)).replace(day=1)
    return day


def _file_holding(value: float, *, everywhere: bool):
    """A file whose readings (pending, accepted and closed) are ``value``; ``everywhere`` also
    the permit, the plan, the intake's capacity, the meter's Q3, a calibration's error and a
    balance test, and the file is scored."""
    other = value if everywhere else None
    wu = f.WaterUserFactory(industry_code="1713", name="义乌市荒唐数字测试有限公司")
    point = f.IntakePointFactory(water_user=wu, design_capacity_m3h=other)
    permit = f.PermitFactory(water_user=wu, annual_volume_m3=other or 50000)
    permit.intake_points = [point]
    db.session.add(AnnualPlan(water_user_id=wu.id, year=TODAY.year, planned_volume_m3=other or 40000))
    meter = f.MeterFactory(intake_point=point, water_user=wu, q3=other or 63, installed_on=TODAY - timedelta(days=800))
    f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=100), error_pct=other,
                         next_due_on=TODAY + timedelta(days=600))
    f.ReadingFactory(meter=meter, water_user_id=wu.id, period=_month(1), volume_m3=value, status="pending",
                     source="enterprise", meter_index=value)
    for back in (2, 3):
        f.ReadingFactory(meter=meter, water_user_id=wu.id, period=_month(back), volume_m3=value, status="accepted")
    closed = f.ReadingFactory(meter=meter, water_user_id=wu.id, period=_month(4), volume_m3=value)
    closed.closed_at, closed.closed_reason = closed.created_at, "typo"
    if everywhere:
        f.BalanceTestFactory(water_user=wu, tested_on=TODAY - timedelta(days=60), vf=value, vr=value, vco=value,
                             vd=value, vl=value)
    db.session.commit()
    if everywhere:  # scoring judges finite volumes: an inf has no decimal to sum
        evaluations.refresh(db.session, load_rules(), TODAY, [wu.id])
        db.session.commit()
    return wu


@pytest.mark.parametrize("value, everywhere", [(HUGE, True), (float("inf"), False)],
                         ids=["1.7e308 in every quantity", "inf readings"])
def test_item2_stored_absurd_values_display_on_every_page(client, auth, value, everywhere):
    wu = _file_holding(value, everywhere=everywhere)
    shown = "1.70E+308" if value == HUGE else "∞"
    boss = f.admin(username="boss")
    f.inspector(username="insp", city_wide=True)
    f.enterprise(wu, username="ent")
    pages = {"boss": ["/", "/review", f"/water-users/{wu.id}", f"/water-users/{wu.id}/dossier.pdf", "/water-users/",
                      "/work-queue", "/warnings"],
             "insp": ["/", f"/water-users/{wu.id}"],
             "ent": ["/portal", f"/water-users/{wu.id}", f"/portal/water-users/{wu.id}/readings/new"]}
    for username, urls in pages.items():
        auth.login(username)
        for lang in ("zh", "en"):
            for url in urls:
                response = client.get(f"{url}{'&' if '?' in url else '?'}lang={lang}")
                assert response.status_code in (200, 404), (username, url, response.status_code)
                if url.endswith(".pdf"):
                    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
                    assert shown in text or not everywhere, (url, lang)
                elif url in ("/review", "/portal", f"/water-users/{wu.id}"):
                    assert shown in response.get_data(as_text=True), (username, url, lang)
        auth.logout()
    api = ApiClient(client, create_token(db.session, None, boss, "test"))
    for url in (f"/api/v1/water-users/{wu.id}", f"/api/v1/water-users/{wu.id}/readings",
                f"/api/v1/water-users/{wu.id}/compliance", f"/api/v1/water-users/{wu.id}/balance-tests"):
        assert api.get(url).status_code == 200, url


LAST_MONTH = _month(1).strftime("%Y-%m")


def _meter_with_enterprise():
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=400))
    f.enterprise(meter.water_user, username="ent")
    boss = f.admin(username="boss")
    return meter, boss


@pytest.mark.parametrize("volume", ["1.7e308", "1" * 400, "100000001"], ids=["1.7e308", "400 digits", "1e8 + 1"])
def test_item2_absurd_reading_volume_is_refused_naming_the_field(client, volume):
    meter, boss = _meter_with_enterprise()
    token = create_token(db.session, None, boss, "test")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = ('{"readings": [{"meter_id": %d, "period": "%s", "volume_m3": %s, "source": "manual"}]}'
            % (meter.id, LAST_MONTH, volume))
    for lang, rule in (("zh", "不能超过 100,000,000 m³"), ("en", "Must be at most 100,000,000 m³")):
        response = client.post(f"/api/v1/readings?lang={lang}", data=body, headers=headers)
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
        assert rule in response.get_json()["errors"]["readings[0].volume_m3"], lang
    assert db.session.execute(db.select(db.func.count()).select_from(Reading)).scalar_one() == 0


def test_item2_a_5000_digit_integer_is_invalid_json_not_a_crash(client):
    meter, boss = _meter_with_enterprise()
    token = create_token(db.session, None, boss, "test")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    huge = "1" * 5000  # beyond Python's 4,300-digit limit for int(str)
    body = '{"readings": [{"meter_id": %d, "period": "%s", "volume_m3": %s}]}' % (meter.id, LAST_MONTH, huge)
    response = client.post("/api/v1/readings", data=body, headers=headers)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    body = '{"serial": "X-1", "meter_type": "mechanical", "installed_on": "2024-01-01", "dn": %s}' % huge
    response = client.post(f"/api/v1/water-users/{meter.water_user_id}/meters", data=body, headers=headers)
    assert response.status_code in (400, 422) and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("field, value, rule", [
    ("q3", 1.7e308, "260,000 m³/h"), ("dn", int("9" * 400), "3,000 mm"), ("design_capacity_m3h", 1e6, "150,000"),
])
def test_item2_absurd_meter_and_intake_numbers_are_refused_by_the_api(client, field, value, rule):
    meter, boss = _meter_with_enterprise()
    api = ApiClient(client, create_token(db.session, None, boss, "test"))
    wu_id = meter.water_user_id
    if field == "design_capacity_m3h":
        response = api.post(f"/api/v1/water-users/{wu_id}/intake-points?lang=en", json={
            "name": "2号取水口", "source": "ground", "longitude": 120.05, "latitude": 29.3, field: value})
    else:
        response = api.post(f"/api/v1/water-users/{wu_id}/meters?lang=en", json={
            "serial": "AB-123", "intake_point_id": meter.intake_point_id, "meter_type": "mechanical",
            "installed_on": "2024-01-01", field: value})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert rule in response.get_json()["errors"][field]


@pytest.mark.parametrize("volume", ["1.7e308", "1" * 400, "9" * 5000])
def test_item2_portal_form_refuses_an_absurd_volume_naming_the_field(client, auth, volume):
    meter, _boss = _meter_with_enterprise()
    auth.login("ent")
    response = client.post(f"/portal/water-users/{meter.water_user_id}/readings/new?lang=en",
                           data={"meter_id": str(meter.id), "period": LAST_MONTH, "volume_m3": volume})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'href="#volume_m3"' in page or 'id="volume_m3"' in page
    assert "Must be at most 100,000,000 m³" in page or "Enter a number." in page
    assert db.session.execute(db.select(db.func.count()).select_from(Reading)).scalar_one() == 0
