"""Warnings 预警 (issue 17): the detection over every file keeps one warning per cause, tells the
enterprise once, and staff assign and close warnings with an outcome, audited."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from registry import clock
from registry.domain.dates import add_months
from registry.extensions import db
from registry.models import AuditEvent, Communication, UseWarning
from registry.services import rules_versions, warnings
from registry.services.errors import Forbidden, ValidationError
from tests import factories as f


def _this_month() -> date:
    today = clock.today()
    return date(today.year, today.month, 1)


@pytest.fixture
def spike(app):
    """A file permitted 12,000 m³/yr (share × 3 = 3,000 m³ a month) whose last ended month
    shows 5,000 m³: above the permit's share (and + 400 % against 1,000 m³ the year before)."""
    wu = f.WaterUserFactory(email="water@example.cn")
    f.PermitFactory(water_user=wu, annual_volume_m3=12_000.0)
    meter = f.MeterFactory(intake_point=f.IntakePointFactory(water_user=wu, design_capacity_m3h=None))
    last = add_months(_this_month(), -1)
    f.ReadingFactory(meter=meter, period=add_months(last, -12), volume_m3=1000.0)
    f.ReadingFactory(meter=meter, period=last, volume_m3=5000.0, status="flagged")
    return wu, meter, last


def _detect(**kw):
    return warnings.detect(db.session, today=clock.today(), now=clock.now(),
                           rules=rules_versions.current(db.session), **kw)


def test_each_anomaly_becomes_one_warning_and_a_second_run_adds_none(spike):
    wu, meter, last = spike
    first = _detect()
    got = db.session.scalars(select(UseWarning).order_by(UseWarning.kind)).all()
    assert {w.kind for w in got} == {"above_permit_share", "change_vs_last_year"}
    permit = next(w for w in got if w.kind == "above_permit_share")
    assert (permit.water_user_id, permit.meter_id, permit.period) == (wu.id, meter.id, last)
    assert permit.evidence["value"] == 5000.0 and permit.evidence["high"] == 3000.0  # 12,000 ÷ 12 × 3
    assert first.created == 2
    again = _detect()
    assert (again.created, again.detected_again) == (0, 2)
    assert db.session.scalar(select(func.count()).select_from(UseWarning)) == 2
    db.session.expire_all()
    assert {w.detections for w in db.session.scalars(select(UseWarning))} == {2}


def test_the_enterprise_is_told_once_per_new_warning(spike):
    wu, _, _ = spike
    _detect()
    _detect()
    notices = db.session.scalars(select(Communication).where(Communication.topic == "use_warning")).all()
    # two warnings, each a portal notice and an e-mail (the file has an address), once
    assert sorted(c.channel for c in notices) == ["email", "email", "in_app", "in_app"]
    assert all(c.water_user_id == wu.id for c in notices)
    assert any("3,000" in c.body for c in notices)  # the limit named in the message


def test_a_closed_cause_stays_closed_when_detected_again(spike):
    _detect()
    admin = f.admin()
    for w in db.session.scalars(select(UseWarning)).all():
        warnings.close(db.session, admin, w, {"outcome": "explained", "note": "新增生产线，已核实"})
    assert _detect().created == 0
    assert db.session.scalar(select(func.count()).select_from(UseWarning)) == 2


def test_assign_and_close_are_audited(spike):
    _detect()
    w = db.session.scalars(select(UseWarning).where(UseWarning.kind == "above_permit_share")).one()
    admin, insp = f.admin(), f.inspector(divisions=("001",))
    warnings.assign(db.session, admin, w, {"assignee_id": str(insp.id)})
    assert (w.status, w.assignee_id) == ("assigned", insp.id)
    warnings.close(db.session, insp, w, {"outcome": "meter_fault", "note": "表头故障，已更换"})
    assert (w.status, w.outcome, w.closed_by_id) == ("closed", "meter_fault", insp.id)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "UseWarning",
                                                         AuditEvent.entity_id == w.id)).all()
    assert [e.action for e in events] == ["create", "update", "close"]
    assert events[2].changes["outcome"] == [None, "meter_fault"]


def test_closing_needs_an_outcome_and_a_note(spike):
    _detect()
    w = db.session.scalars(select(UseWarning)).first()
    with pytest.raises(ValidationError) as err:
        warnings.close(db.session, f.admin(), w, {"outcome": "lost", "note": ""})
    assert set(err.value.errors) == {"outcome", "note"}


def test_an_inspector_of_another_division_is_not_offered_nor_accepted(spike):
    _detect()
    w = db.session.scalars(select(UseWarning)).first()
    other = f.inspector(divisions=("002",))
    with pytest.raises(ValidationError):
        warnings.assign(db.session, f.admin(), w, {"assignee_id": str(other.id)})


def test_an_enterprise_may_not_handle_a_warning(spike):
    wu, _, _ = spike
    _detect()
    w = db.session.scalars(select(UseWarning)).first()
    with pytest.raises(Forbidden):
        warnings.close(db.session, f.enterprise(wu), w, {"outcome": "explained", "note": "x"})


def test_a_silent_online_meter_is_warned_once_per_silence(app):
    wu = f.WaterUserFactory()
    meter = f.MeterFactory(intake_point=f.IntakePointFactory(water_user=wu), telemetry_id="GW-SILENT",
                           installed_on=clock.today() - timedelta(days=30))
    day = clock.today() - timedelta(days=5)  # last daily reading 5 days ago: > 72 h
    f.ReadingFactory(meter=meter, period=date(day.year, day.month, 1), read_on=day, volume_m3=10.0, source="online")
    _detect()
    _detect()
    got = db.session.scalars(select(UseWarning).where(UseWarning.kind == "silence")).all()
    assert len(got) == 1 and got[0].evidence["since"] == day.isoformat() and got[0].evidence["value"] > 72


def test_detection_reads_a_fixed_number_of_queries_whatever_the_files(app):
    from sqlalchemy import event

    for n in range(6):
        wu = f.WaterUserFactory()
        f.PermitFactory(water_user=wu, annual_volume_m3=12_000.0)
        meter = f.MeterFactory(intake_point=f.IntakePointFactory(water_user=wu))
        f.ReadingFactory(meter=meter, period=add_months(_this_month(), -1), volume_m3=100.0)
    statements = []
    listener = lambda *a, **k: statements.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        _detect()
        few = len(statements)
        statements.clear()
        for n in range(20):
            wu = f.WaterUserFactory()
            f.MeterFactory(intake_point=f.IntakePointFactory(water_user=wu))
        statements.clear()
        _detect()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == few


def test_the_nightly_job_detects_and_stores_its_counts(spike, tmp_path):
    from registry.models import Job
    from registry.services import jobs

    job = jobs.create(db.session, "warnings", None, {"day": clock.today().isoformat()}, job_id="warnings-test")
    jobs.run(db.session, job.id, tmp_path)
    db.session.expire_all()
    done = db.session.get(Job, "warnings-test")
    assert done.state == "done" and done.result["created"] == 2
    assert db.session.scalar(select(func.count()).select_from(UseWarning)) == 2
