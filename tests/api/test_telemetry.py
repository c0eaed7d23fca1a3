"""POST /api/v1/telemetry (issue 17): online meters' totalizer points become their daily and
monthly readings; volumes are totalizer differences (domain.md "Online data and plausibility"),
figures worked out by hand in each test."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.domain.dates import add_months
from registry.extensions import db
from registry.models import AuditEvent, Evaluation, Reading, TelemetryPoint
from registry.services import evaluations, rules_versions
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
TODAY = bureau_today()
THIS_MONTH = TODAY.replace(day=1)
LAST_MONTH = add_months(THIS_MONTH, -1)


def instant(day, hour=0):
    return datetime.combine(day, time(hour), tzinfo=SH)


def point(tid, day, hour, total, flow=None):
    p = {"telemetry_id": tid, "at": instant(day, hour).isoformat(), "totalizer_m3": total}
    if flow is not None:
        p["flow_m3h"] = flow
    return p


def online_meter(tid="YWT-1", verified=True, **kw):
    kw.setdefault("installed_on", TODAY - timedelta(days=400))
    meter = f.MeterFactory(telemetry_id=tid, **kw)
    if verified:  # verified 300 days ago (electromagnetic: every 24 months)
        f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=300), kind="initial", passed=True,
                             next_due_on=None)
    db.session.commit()
    return meter


def monthly(meter_id):
    return {r.period: (r.volume_m3, r.status) for r in db.session.scalars(
        select(Reading).where(Reading.meter_id == meter_id, Reading.read_on.is_(None), Reading.closed_at.is_(None)))}


def daily(meter_id):
    return {r.read_on: r.volume_m3 for r in db.session.scalars(
        select(Reading).where(Reading.meter_id == meter_id, Reading.read_on.is_not(None)))}


def test_hourly_points_make_daily_and_monthly_volumes_and_a_resend_changes_nothing(api_as):
    meter = online_meter()
    d1 = LAST_MONTH + timedelta(days=2)
    # three points on d1 (1 000, 1 010, 1 025) and two the next day (1 040, 1 100)
    batch = [point("YWT-1", d1, 8, 1000.0, 10.0), point("YWT-1", d1, 9, 1010.0), point("YWT-1", d1, 10, 1025.0),
             point("YWT-1", d1 + timedelta(days=1), 8, 1040.0), point("YWT-1", d1 + timedelta(days=1), 20, 1100.0)]
    api = api_as(f.admin())

    first = api.post("/api/v1/telemetry", json={"points": batch})

    assert first.status_code == 200, first.json
    assert first.json["created"] == 5 and first.json["unchanged"] == 0 and first.json["rejected"] == []
    # d1: 1 025 − 1 000 = 25 (the first point starts the series); next day 1 100 − 1 025 = 75
    assert daily(meter.id) == {d1: 25.0, d1 + timedelta(days=1): 75.0}
    # the month: 1 100 − 1 000 = 100, a derived reading of source online, channel telemetry
    assert monthly(meter.id) == {LAST_MONTH: (100.0, "accepted")}
    derived = db.session.scalars(select(Reading).where(Reading.meter_id == meter.id, Reading.read_on.is_(None))).one()
    assert (derived.source, derived.channel, derived.meter_index) == ("online", "telemetry", 1100.0)
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "TelemetryPoint", AuditEvent.water_user_id == meter.water_user_id))

    again = api.post("/api/v1/telemetry", json={"points": batch})

    assert again.status_code == 200 and again.json["created"] == 0 and again.json["unchanged"] == 5
    assert again.json["readings"] == 0
    assert db.session.scalar(select(func.count()).select_from(TelemetryPoint)) == 5
    assert monthly(meter.id) == {LAST_MONTH: (100.0, "accepted")}
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "TelemetryPoint", AuditEvent.water_user_id == meter.water_user_id)) == audits == 1


def test_rollover_at_the_register_capacity(api_as):
    meter = online_meter(register_capacity_m3=100_000.0)
    d = LAST_MONTH + timedelta(days=5)
    response = api_as(f.admin()).post("/api/v1/telemetry", json={"points": [
        point("YWT-1", d, 1, 99_950.0), point("YWT-1", d, 2, 99_990.0), point("YWT-1", d, 3, 15.0)]})
    assert response.json["rejected"] == []
    # 99 990 − 99 950 = 40, then 100 000 − 99 990 + 15 = 25: the month is 65 m³
    assert monthly(meter.id) == {LAST_MONTH: (65.0, "accepted")}


def test_late_and_out_of_order_points_re_derive_the_month(api_as):
    meter = online_meter()
    api = api_as(f.admin())
    d = LAST_MONTH + timedelta(days=3)
    api.post("/api/v1/telemetry", json={"points": [point("YWT-1", d + timedelta(days=2), 0, 300.0),
                                                   point("YWT-1", d, 0, 100.0)]})
    assert monthly(meter.id) == {LAST_MONTH: (200.0, "accepted")}
    assert daily(meter.id) == {d: 0.0, d + timedelta(days=2): 200.0}
    # the day between arrives late: it takes its share, the month is still 300 − 100
    late = api.post("/api/v1/telemetry", json={"points": [point("YWT-1", d + timedelta(days=1), 0, 180.0)]})
    assert late.json["created"] == 1
    assert daily(meter.id) == {d: 0.0, d + timedelta(days=1): 80.0, d + timedelta(days=2): 120.0}
    assert monthly(meter.id) == {LAST_MONTH: (200.0, "accepted")}


def test_a_backwards_totalizer_and_bad_points_are_refused_by_name_the_rest_stored(api_as):
    meter = online_meter()
    d = LAST_MONTH + timedelta(days=3)
    response = api_as(f.admin()).post("/api/v1/telemetry", json={"points": [
        point("YWT-1", d, 0, 500.0),
        point("YWT-1", d, 1, 490.0),  # backwards, no capacity: refused
        {"telemetry_id": "YWT-1", "at": "2026-11-01T08:00:00", "totalizer_m3": 1.0},  # no offset
        point("NOPE", d, 2, 1.0),  # unknown id
        point("YWT-1", TODAY + timedelta(days=2), 0, 600.0),  # future
        {"telemetry_id": "YWT-1", "at": instant(d, 3).isoformat(), "totalizer_m3": -1},
        {"telemetry_id": "YWT-1", "at": instant(d, 4).isoformat(), "totalizer_m3": 1e300},
        "not a point",
        point("YWT-1", d, 5, 520.0),
    ]})
    assert response.status_code == 200
    assert response.json["created"] == 2
    fields = [r["field"] for r in response.json["rejected"]]
    assert fields == ["points[1].totalizer_m3", "points[2].at", "points[3].telemetry_id", "points[4].at",
                      "points[5].totalizer_m3", "points[6].totalizer_m3", "points[7]"]
    assert response.json["rejected"][0]["message"] == "累计读数倒退（500 → 490 m³），既非计数器归零翻转，也非换表。"
    assert monthly(meter.id) == {LAST_MONTH: (20.0, "accepted")}


def test_messages_are_in_the_accounts_language(api_as):
    online_meter()
    zh = api_as(f.admin()).post("/api/v1/telemetry", json={"points": [point("NOPE", TODAY, 0, 1.0)]})
    en = api_as(f.admin()).post("/api/v1/telemetry?lang=en", json={"points": [point("NOPE", TODAY, 0, 1.0)]})
    assert zh.json["rejected"][0]["message"] == "没有计量设施使用此在线监测编号。"
    assert en.json["rejected"][0]["message"] == "No meter has this telemetry id."


def test_a_replaced_meter_starts_its_own_series(api_as):
    change_day = LAST_MONTH + timedelta(days=10)
    old = online_meter(removed_on=change_day)
    new = f.MeterFactory(telemetry_id="YWT-1", intake_point=old.intake_point, installed_on=change_day)
    f.CalibrationFactory(meter=new, calibrated_on=change_day - timedelta(days=20), kind="initial", passed=True,
                             next_due_on=None)
    db.session.commit()
    d = LAST_MONTH + timedelta(days=2)
    response = api_as(f.admin()).post("/api/v1/telemetry", json={"points": [
        point("YWT-1", d, 0, 5000.0), point("YWT-1", d + timedelta(days=5), 0, 5400.0),  # old meter: 400
        point("YWT-1", change_day, 12, 3.0), point("YWT-1", change_day + timedelta(days=3), 0, 53.0)]})  # new: 50
    assert response.json["rejected"] == [] and response.json["created"] == 4
    assert monthly(old.id) == {LAST_MONTH: (400.0, "accepted")}
    assert monthly(new.id) == {LAST_MONTH: (50.0, "accepted")}


def test_a_typed_reading_beside_the_telemetry_is_compared_not_counted(api_as):
    meter = online_meter()
    typed = f.ReadingFactory(meter=meter, water_user_id=meter.water_user_id, period=LAST_MONTH, volume_m3=90.0,
                             source="manual", status="accepted")
    db.session.commit()
    d = LAST_MONTH + timedelta(days=3)
    api_as(f.admin()).post("/api/v1/telemetry", json={"points": [point("YWT-1", d, 0, 0.0),
                                                                 point("YWT-1", d, 5, 100.0)]})
    db.session.refresh(typed)
    assert typed.status == "check" and typed.flags == [{"code": "beside_telemetry", "telemetry_m3": 100.0}]
    derived = db.session.scalars(select(Reading).where(Reading.meter_id == meter.id, Reading.channel == "telemetry",
                                                       Reading.read_on.is_(None))).one()
    assert derived.status == "accepted"
    assert derived.flags == [{"code": "compared_with_typed", "typed_m3": 90.0, "difference_m3": 10.0}]
    # the month counts once: 100 m³ (not 190)
    total = db.session.scalar(select(func.sum(Reading.volume_m3)).where(
        Reading.water_user_id == meter.water_user_id, Reading.read_on.is_(None), Reading.status == "accepted"))
    assert total == 100.0


def test_an_online_meter_fed_only_by_telemetry_earns_the_online_monitoring_points(api_as):
    meter = online_meter(installed_on=TODAY - timedelta(days=400))
    wu = meter.water_user
    wu.opened_on = TODAY - timedelta(days=400)
    f.PermitFactory(water_user=wu, annual_volume_m3=50_000.0, valid_from=TODAY - timedelta(days=400),
                    valid_to=TODAY + timedelta(days=1000))
    db.session.commit()
    rules = rules_versions.current(db.session)

    def online_points():
        evaluations.refresh(db.session, rules, TODAY, [wu.id])
        db.session.commit()
        ev = db.session.scalars(select(Evaluation).where(Evaluation.water_user_id == wu.id)
                                .order_by(Evaluation.id.desc())).first()
        return next(r["points"] for r in ev.rows if r["rule"] == "online_monitoring")

    assert online_points() == 0
    # one point every day of the last 100 days, hourly on the last two, at 10 m³ a day
    batch = [point("YWT-1", TODAY - timedelta(days=n), 1, 10.0 * (100 - n)) for n in range(100, 0, -1)]
    batch += [point("YWT-1", TODAY - timedelta(days=1), h, 1000.0 + h) for h in range(2, 24)]
    response = api_as(f.admin()).post("/api/v1/telemetry", json={"points": batch})
    assert response.json["rejected"] == [], response.json["rejected"][:3]
    assert online_points() == 10


def test_a_month_from_an_unverified_meter_carries_the_label_and_counts(api_as):
    meter = online_meter(verified=False)
    d = LAST_MONTH + timedelta(days=3)
    api_as(f.admin()).post("/api/v1/telemetry", json={"points": [point("YWT-1", d, 0, 0.0),
                                                                 point("YWT-1", d, 5, 100.0)]})
    derived = db.session.scalars(select(Reading).where(Reading.meter_id == meter.id, Reading.read_on.is_(None))).one()
    assert derived.status == "accepted" and derived.flags == [{"code": "unverified_meter"}]


def test_a_month_above_the_intakes_capacity_is_kept_flagged_with_the_hard_finding(api_as):
    meter = online_meter()
    meter.intake_point.design_capacity_m3h = 1.0  # last month: 1 × hours × 1.2 m³ at most
    db.session.commit()
    d = LAST_MONTH + timedelta(days=3)
    api_as(f.admin()).post("/api/v1/telemetry", json={"points": [point("YWT-1", d, 0, 0.0),
                                                                 point("YWT-1", d, 5, 5000.0)]})
    derived = db.session.scalars(select(Reading).where(Reading.meter_id == meter.id, Reading.read_on.is_(None))).one()
    assert derived.status == "flagged" and derived.flags[0]["code"] == "above_capacity"


def test_hostile_values_are_refused_by_name_never_a_500(api_as):
    online_meter()
    d = LAST_MONTH + timedelta(days=3)
    api = api_as(f.admin())
    response = api.post("/api/v1/telemetry", json={"points": [
        {"telemetry_id": "YWT-1\x00", "at": instant(d, 1).isoformat(), "totalizer_m3": 1.0},
        {"telemetry_id": "YWT-1", "at": instant(d, 1).isoformat(), "totalizer_m3": 10 ** 400},
        {"telemetry_id": "YWT-1", "at": instant(d, 1).isoformat(), "totalizer_m3": True},
        {"telemetry_id": "YWT-1", "at": "x" * 10_000, "totalizer_m3": 1.0},
        {"telemetry_id": "YWT-1", "at": instant(d, 1).isoformat(), "totalizer_m3": 1.0, "flow_m3h": -1},
        {"telemetry_id": "YWT-1", "at": instant(d, 1).isoformat(), "totalizer_m3": 1.0, "extra": 1},
        {"telemetry_id": ["x"], "at": instant(d, 1).isoformat(), "totalizer_m3": 1.0},
    ]})
    assert response.status_code == 200 and response.json["created"] == 0
    assert [r["field"] for r in response.json["rejected"]] == [
        "points[0].telemetry_id", "points[1].totalizer_m3", "points[2].totalizer_m3", "points[3].at",
        "points[4].flow_m3h", "points[5].extra", "points[6].telemetry_id"]
    assert api.post("/api/v1/telemetry", json={"points": "nope"}).status_code == 422
    assert api.post("/api/v1/telemetry", json={"points": [{}] * 50_001}).status_code == 422
    assert api.post("/api/v1/telemetry", json={}).status_code == 422


def test_the_register_capacity_is_entered_with_the_meter_and_checked(api_as):
    from registry.services import records

    meter = online_meter()
    records.update(db.session, f.admin(), "meter", meter, {
        "serial": meter.serial, "intake_point_id": meter.intake_point_id, "meter_type": meter.meter_type,
        "installed_on": meter.installed_on.isoformat(), "telemetry_id": "YWT-1", "register_capacity_m3": 1e5},
        expected_version=meter.version)
    assert meter.register_capacity_m3 == 1e5
    import pytest as _pytest

    from registry.services import ValidationError
    with _pytest.raises(ValidationError) as err:
        records.update(db.session, f.admin(), "meter", meter, {
            "serial": meter.serial, "intake_point_id": meter.intake_point_id, "meter_type": meter.meter_type,
            "installed_on": meter.installed_on.isoformat(), "register_capacity_m3": 0}, expected_version=meter.version)
    assert "register_capacity_m3" in err.value.errors


def test_a_flat_line_of_72_hours_flags_the_month(api_as):
    meter = online_meter()
    d = LAST_MONTH + timedelta(days=2)
    # 500 m³ at hour 0 of d, unchanged until hour 0 three days later (72 h), then 530
    api_as(f.admin()).post("/api/v1/telemetry", json={"points": [
        point("YWT-1", d, 0, 500.0), point("YWT-1", d + timedelta(days=1), 0, 500.0),
        point("YWT-1", d + timedelta(days=3), 0, 500.0), point("YWT-1", d + timedelta(days=3), 5, 530.0)]})
    derived = db.session.scalars(select(Reading).where(Reading.meter_id == meter.id, Reading.read_on.is_(None))).one()
    assert derived.status == "flagged" and derived.flags == [{"code": "flat_line", "hours": 72.0, "limit_hours": 72}]
    assert derived.volume_m3 == 30.0
