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
from registry.models import AnnualPlan
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
