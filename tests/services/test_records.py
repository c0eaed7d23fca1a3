"""Parts of a file: the regulation's rules refuse bad input, nothing is half-written, closing
keeps the record, renewals keep the history."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.models import AnnualPlan, AuditEvent, Calibration, IntakePoint, Meter, Permit, Reading
from registry.services import Forbidden, ValidationError, records
from tests import factories as f
from tests.conftest import english


def _count(session, model):
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _permit_data(point, **over):
    today = bureau_today()
    data = {"number": "D330782S2025-0042", "issuing_authority": "义乌市水务局", "issued_on": today - timedelta(days=30),
            "valid_from": today - timedelta(days=20), "valid_to": today + timedelta(days=5 * 365 - 21),
            "annual_volume_m3": 60000, "intake_point_ids": [point.id]}
    return {**data, **over}


def _refused(session, kind, wu, data, field, model):
    before_rows, before_events = _count(session, model), _count(session, AuditEvent)
    with pytest.raises(ValidationError) as err:
        records.create(session, f.admin(), kind, wu, data)
    assert field in err.value.errors, err.value.errors
    assert (_count(session, model), _count(session, AuditEvent)) == (before_rows, before_events)
    return english(err.value.errors[field])


def test_permit_is_created_with_its_intake_points(db_session):
    point = f.IntakePointFactory()
    permit = records.create(db_session, f.admin(), "permit", point.water_user, _permit_data(point))
    assert [p.id for p in permit.intake_points] == [point.id]
    event = db_session.execute(select(AuditEvent).where(AuditEvent.entity_type == "Permit")).scalar_one()
    assert event.changes["intake_point_ids"] == [None, [point.id]]


def test_permit_longer_than_ten_years_is_refused(db_session):
    point = f.IntakePointFactory()
    start = date(2024, 1, 1)
    message = _refused(db_session, "permit", point.water_user,
                       _permit_data(point, valid_from=start, valid_to=date(2034, 1, 2)), "valid_to", Permit)
    assert "10 years" in message


def test_permit_ending_before_it_starts_is_refused(db_session):
    point = f.IntakePointFactory()
    message = _refused(db_session, "permit", point.water_user,
                       _permit_data(point, valid_from=date(2025, 1, 1), valid_to=date(2024, 12, 31)), "valid_to", Permit)
    assert "after its start" in message


def test_malformed_permit_number_is_refused(db_session):
    point = f.IntakePointFactory()
    message = _refused(db_session, "permit", point.water_user, _permit_data(point, number="330782-2021-12"),
                       "number", Permit)
    assert "D330782S2021-0120" in message


def test_negative_permitted_volume_is_refused(db_session):
    point = f.IntakePointFactory()
    message = _refused(db_session, "permit", point.water_user, _permit_data(point, annual_volume_m3=-1), "annual_volume_m3", Permit)
    assert "negative" in message


def test_permit_cannot_cover_another_users_intake_point(db_session):
    point, other = f.IntakePointFactory(), f.IntakePointFactory()
    _refused(db_session, "permit", point.water_user, _permit_data(point, intake_point_ids=[other.id]), "intake_point_ids", Permit)


@pytest.mark.parametrize("lon, lat, field", [(121.5, 29.3, "longitude"), (120.0, 30.2, "latitude")])
def test_intake_point_outside_yiwu_is_refused(db_session, lon, lat, field):
    wu = f.WaterUserFactory()
    message = _refused(db_session, "intake_point", wu, {"name": "1号取水口", "source": "ground", "longitude": lon,
                                                         "latitude": lat}, field, IntakePoint)
    assert "Yiwu" in message


def test_duplicate_meter_serial_is_refused(db_session):
    existing = f.MeterFactory()
    point = f.IntakePointFactory()
    message = _refused(db_session, "meter", point.water_user, {"serial": existing.serial, "intake_point_id": point.id,
                                                                "meter_type": "mechanical", "dn": 50, "installed_on": "2024-01-01"},
                       "serial", Meter)
    assert "serial" in message


def test_negative_reading_is_refused(db_session):
    meter = f.MeterFactory()
    message = _refused(db_session, "reading", meter.water_user, {"meter_id": meter.id, "period": "2026-01",
                                                                  "volume_m3": -5, "source": "manual"}, "volume_m3", Reading)
    assert "negative" in message


def test_second_reading_for_the_same_month_is_refused(db_session):
    meter = f.MeterFactory()
    data = {"meter_id": meter.id, "period": "2026-01", "volume_m3": 1200, "source": "manual"}
    records.create(db_session, f.admin(), "reading", meter.water_user, data)
    _refused(db_session, "reading", meter.water_user, data, "period", Reading)


def test_calibration_due_date_follows_the_meter_class(db_session):
    meter = f.MeterFactory(meter_type="electromagnetic", dn=100)
    cal = records.create(db_session, f.admin(), "calibration", meter.water_user,
                         {"meter_id": meter.id, "calibrated_on": date(2025, 3, 15), "kind": "subsequent",
                          "agency": "义乌市计量检定测试所", "passed": "1"})
    # Not frozen at entry: left empty, it is computed from the rules in force when judged
    # (15 Mar 2025 + 24 months = 15 Mar 2027, JJG 1033; see test_rules_table).
    assert cal.next_due_on is None


def test_typed_due_date_later_than_the_rules_allow_is_refused(db_session):
    # Verified 15 Mar 2025; the rules allow 24 months: 15 Mar 2027 at the latest.
    meter = f.MeterFactory(meter_type="electromagnetic", dn=100)
    data = {"meter_id": meter.id, "calibrated_on": date(2025, 3, 15), "kind": "subsequent",
            "agency": "义乌市计量检定测试所", "passed": "1", "next_due_on": date(2027, 3, 16)}
    message = _refused(db_session, "calibration", meter.water_user, data, "next_due_on", Calibration)
    assert "2027-03-15" in message and "24" in message
    cal = records.create(db_session, f.admin(), "calibration", meter.water_user,
                         {**data, "next_due_on": date(2027, 3, 15)})  # the last day allowed
    assert cal.next_due_on == date(2027, 3, 15)


def test_passed_verification_beyond_the_tolerance_is_refused_with_the_reason(db_session):
    # |+5.2 %| > ±5 % (rules YW-2026.1): cannot be marked passed; −5.0 % is at the tolerance.
    meter = f.MeterFactory()
    data = {"meter_id": meter.id, "calibrated_on": date(2025, 3, 15), "kind": "subsequent",
            "agency": "x", "passed": "1", "error_pct": 5.2}
    message = _refused(db_session, "calibration", meter.water_user, data, "passed", Calibration)
    assert "+5.2" in message and "5" in message
    assert records.create(db_session, f.admin(), "calibration", meter.water_user, {**data, "error_pct": -5.0}).id


def test_calibration_before_installation_is_refused(db_session):
    meter = f.MeterFactory(installed_on=date(2024, 1, 1))
    _refused(db_session, "calibration", meter.water_user,
             {"meter_id": meter.id, "calibrated_on": date(2023, 12, 1), "kind": "subsequent", "agency": "x", "passed": True},
             "calibrated_on", Calibration)


def test_initial_verification_may_precede_installation(db_session):
    meter = f.MeterFactory(installed_on=date(2024, 1, 1))
    cal = records.create(db_session, f.admin(), "calibration", meter.water_user,
                         {"meter_id": meter.id, "calibrated_on": date(2023, 12, 1), "kind": "initial", "agency": "x",
                          "passed": True})
    assert cal.id


def test_closing_keeps_the_record_with_its_reason(db_session):
    meter = f.MeterFactory()
    admin = f.admin()
    records.close(db_session, admin, "meter", meter, "录入错误")
    assert _count(db_session, Meter) == 1
    assert meter.closed_reason == "录入错误" and not meter.in_service
    with pytest.raises(ValidationError):
        records.update(db_session, admin, "meter", meter, {"serial": "X-1"}, expected_version=meter.version)


def test_renewal_supersedes_the_old_permit(db_session):
    old = f.PermitFactory(valid_to=bureau_today() + timedelta(days=20))
    point = f.IntakePointFactory(water_user=old.water_user)
    new = records.renew_permit(db_session, f.admin(), old, _permit_data(
        point, number="D330782S2026-0001", valid_from=old.valid_to + timedelta(days=1),
        valid_to=old.valid_to + timedelta(days=5 * 365)))
    assert new.renews_id == old.id and old.renewed_by.id == new.id
    with pytest.raises(ValidationError):
        records.renew_permit(db_session, f.admin(), old, _permit_data(point, number="D330782S2026-0002"))


def test_enterprise_cannot_change_its_own_records(db_session):
    meter = f.MeterFactory()
    account = f.enterprise(meter.water_user)
    with pytest.raises(Forbidden):
        records.create(db_session, account, "reading", meter.water_user,
                       {"meter_id": meter.id, "period": "2026-01", "volume_m3": 1, "source": "enterprise"})


def test_inspection_with_a_problem_needs_a_note(db_session):
    wu = f.WaterUserFactory()
    with pytest.raises(ValidationError) as err:
        records.create(db_session, f.inspector(), "inspection", wu, {
            "inspected_on": bureau_today(), "items": [{"code": "meter_present_sealed", "result": "problem", "note": ""}]})
    assert "note-meter_present_sealed" in err.value.errors


def test_a_voided_plan_can_be_replaced_but_a_year_has_one_plan_in_force(db_session):
    wu = f.WaterUserFactory()
    admin = f.admin()
    year = bureau_today().year
    wrong = records.create(db_session, admin, "plan", wu, {"year": year, "planned_volume_m3": 5000.0})

    with pytest.raises(ValidationError) as second:
        records.create(db_session, admin, "plan", wu, {"year": year, "planned_volume_m3": 6000.0})
    assert "year" in second.value.errors

    records.close(db_session, admin, "plan", wrong, "entered in error: 50,000 m³ meant")
    replacement = records.create(db_session, admin, "plan", wu, {"year": year, "planned_volume_m3": 50000.0})
    plans = db_session.execute(select(AnnualPlan.planned_volume_m3, AnnualPlan.closed_at.is_(None))
                               .where(AnnualPlan.water_user_id == wu.id).order_by(AnnualPlan.id)).all()
    assert plans == [(5000.0, False), (50000.0, True)] and replacement.year == year


def test_one_permit_per_source_a_second_surface_permit_is_refused_a_groundwater_one_accepted(db_session):
    # The factory's permit is D330782S… (surface), valid a year ago to three years ahead.
    surface = f.PermitFactory()
    point = f.IntakePointFactory(water_user=surface.water_user)
    message = _refused(db_session, "permit", surface.water_user, _permit_data(point, number="D330782S2025-0043"),
                       "number", Permit)
    assert surface.number in message and "one permit per source" in message
    ground = records.create(db_session, f.admin(), "permit", surface.water_user,
                            _permit_data(point, number="D330782G2025-0044"))
    assert ground.id
    # A renewal of the surface permit may overlap it: it supersedes it from its own start.
    renewal = records.renew_permit(db_session, f.admin(), surface, _permit_data(point, number="D330782S2026-0045"))
    assert renewal.renews_id == surface.id
