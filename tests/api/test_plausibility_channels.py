"""Plausibility on every channel (issue 17): the 99,999,999,999,999 m³ reading against a
30,000 m³ permit is refused at the form, the portal, the API and the import; a reading above the
intake's capacity is refused with the limit worked out; an implausible but possible one waits
flagged with its reason and moves the dashboard only once accepted.

Figures (rules YW-2026.1 "monitoring"): the intake's design capacity 50 m³/h; in the month
before this one the capacity limit is 50 × hours × 1.2 (720 h: 43,200 m³; 744 h: 44,640 m³;
672 h: 40,320; 696 h: 41,760); the permit 30,000 m³ a year allows 30,000 ÷ 12 × 3 = 7,500 m³ a
month before a reading is flagged."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.domain.dates import add_months
from registry.domain.plausibility import hours_in_month
from registry.extensions import db
from registry.models import Reading
from registry.services import ValidationError, dashboard, portal, records
from tests import factories as f

TODAY = bureau_today()
LAST_MONTH = add_months(TODAY.replace(day=1), -1)
HUGE = 99_999_999_999_999
LIMIT = 50 * hours_in_month(LAST_MONTH) * 1.2  # 43,200 m³ in a 30-day month


@pytest.fixture
def meter(app):
    point = f.IntakePointFactory(design_capacity_m3h=50.0)
    meter = f.MeterFactory(intake_point=point, installed_on=TODAY - timedelta(days=800))
    f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=100), kind="initial", next_due_on=None)
    f.PermitFactory(water_user=meter.water_user, annual_volume_m3=30_000.0, valid_from=TODAY - timedelta(days=800),
                    valid_to=TODAY + timedelta(days=900))
    db.session.commit()
    return meter


def _form(meter, volume, period=LAST_MONTH):
    return records.create(db.session, f.admin(), "reading", meter.water_user,
                          {"meter_id": meter.id, "period": f"{period:%Y-%m}", "volume_m3": volume,
                           "source": "manual"})


@pytest.mark.parametrize("volume", [HUGE, LIMIT + 1])
def test_the_form_refuses_the_reading_naming_the_volume(meter, volume):
    with pytest.raises(ValidationError) as err:
        _form(meter, volume)
    assert set(err.value.errors) == {"volume_m3"}
    assert db.session.scalar(select(Reading.id).where(Reading.meter_id == meter.id)) is None


def test_the_capacity_message_gives_the_limit(meter):
    with pytest.raises(ValidationError) as err:
        _form(meter, LIMIT + 1)
    assert f"{LIMIT:,.1f}" in str(err.value.errors["volume_m3"])


def test_at_the_capacity_limit_it_is_possible_but_flagged_above_the_permit_share(meter):
    reading = _form(meter, LIMIT)  # 43,200 > 7,500: flagged, not refused
    assert reading.status == "flagged" and reading.flags[0]["code"] == "above_permit_share"
    assert reading.flags[0]["limit_m3"] == 7500.0


def test_the_portal_refuses_it(meter):
    account = f.enterprise(meter.water_user)
    with pytest.raises(ValidationError) as err:
        portal.submit_reading(db.session, account, meter.water_user,
                              {"meter_id": meter.id, "period": f"{LAST_MONTH:%Y-%m}", "volume_m3": HUGE})
    assert "volume_m3" in err.value.errors


def test_the_api_refuses_it(meter, api_as):
    for volume in (HUGE, LIMIT + 1):
        response = api_as(f.admin()).post("/api/v1/readings", json={"readings": [
            {"meter_id": meter.id, "period": f"{LAST_MONTH:%Y-%m}", "volume_m3": volume, "source": "manual"}]})
        assert response.status_code == 422 and "readings[0].volume_m3" in response.json["errors"]


def test_the_import_refuses_it(meter, tmp_path):
    from registry.services import exchange

    for volume in (HUGE, LIMIT + 1):
        data = (f"表号,月份,取水量(m³)\n{meter.serial},{LAST_MONTH:%Y-%m},{volume}\n").encode("utf-8-sig")
        path = tmp_path / f"readings-{int(volume)}.csv"
        with open(path, "wb") as fh:
            fh.write(data)
        report = exchange.run(db.session, f.admin(), path, "csv", apply=True)
        assert not report.ok
        assert db.session.scalar(select(Reading.id).where(Reading.meter_id == meter.id)) is None


def test_a_flagged_reading_waits_in_review_and_moves_the_dashboard_only_once_accepted(meter, client, auth):
    admin = f.admin(username="flagreview")

    this_month = TODAY.replace(day=1)  # the dashboard charts this year's months

    def charted():
        return next(v for m, v, *_ in dashboard.summary(db.session, admin, TODAY).volume if m == this_month)

    before = charted()
    reading = _form(meter, 8000.0, this_month)  # 8,000 > 7,500: flagged
    assert reading.status == "flagged"
    assert charted() == before
    auth.login(admin.username)
    page = client.get("/review").get_data(as_text=True)
    assert "30,000 m³ a year ÷ 12 × 3 = 7,500.0 m³" in page or "7,500.0" in page
    response = client.post(f"/review/readings/{reading.id}", data={"decision": "accept"})
    assert response.status_code == 302
    db.session.refresh(reading)
    assert reading.status == "accepted"
    assert charted() == before + 8000.0


def test_a_flagged_api_reading_becomes_a_warning_once_rescored(meter, api_as):
    """After bulk readings the re-scoring job judges the files it scored for warnings (预警):
    8,000 m³ against 30,000 ÷ 12 × 3 = 7,500 m³ is one warning, sent twice still one. (The
    production path: the re-scoring job of the queue, run at once here.)"""
    from flask import current_app

    from registry.models import UseWarning

    current_app.config["EVALUATE_PENDING"] = "queue"

    for _ in range(2):
        response = api_as(f.admin()).post("/api/v1/readings", json={"readings": [
            {"meter_id": meter.id, "period": f"{LAST_MONTH:%Y-%m}", "volume_m3": 8000.0, "source": "manual"}]})
        assert response.status_code == 200, response.json
    got = db.session.scalars(select(UseWarning).where(UseWarning.water_user_id == meter.water_user_id)).all()
    assert [(w.kind, w.period, w.evidence["high"]) for w in got] == [("above_permit_share", LAST_MONTH, 7500.0)]
