"""The score follows the records: refreshed in the same transaction as a change, kept as history
when it moves, computed for all files in a fixed number of queries."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from registry.clock import today as bureau_today
from registry.domain import due as due_engine
from registry.domain import scoring
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.models import DueItem, Evaluation, WaterUser
from registry.services import ValidationError, evaluations, records, rules_versions
from tests import factories as f

TODAY = bureau_today()


def _evaluations(wu) -> list[Evaluation]:
    return list(db.session.scalars(select(Evaluation).where(Evaluation.water_user_id == wu.id).order_by(Evaluation.id)))


def _compliant_file():
    """A printing-and-dyeing user with a valid permit, a verified meter and a recent balance test."""
    point = f.IntakePointFactory(water_user=f.WaterUserFactory(opened_on=TODAY - timedelta(days=400)))
    wu = point.water_user
    permit = f.PermitFactory(water_user=wu, annual_volume_m3=2000)
    permit.intake_points = [point]
    meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=TODAY - timedelta(days=300))
    f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=100), next_due_on=TODAY + timedelta(days=600))
    f.BalanceTestFactory(water_user=wu, tested_on=TODAY - timedelta(days=200), next_due_on=None)
    db.session.commit()
    return wu, meter


def test_a_change_refreshes_the_grade_in_the_same_transaction(db_session):
    wu, meter = _compliant_file()
    assert wu.grade is None
    records.create(db_session, f.admin(), "reading", wu, {"meter_id": meter.id, "volume_m3": 100, "source": "manual",
                                                         "period": (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")})
    db_session.refresh(wu)
    stored = _evaluations(wu)
    assert wu.grade == stored[-1].grade and wu.score == stored[-1].total
    assert stored[-1].rules_version == "YW-2026.1"


def test_history_grows_only_when_the_result_changes(db_session):
    wu, meter = _compliant_file()
    admin = f.admin()
    water = {"meter_id": meter.id, "volume_m3": 100, "source": "manual"}
    records.create(db_session, admin, "reading", wu, {**water, "period": (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")})
    first = len(_evaluations(wu))
    records.update(db_session, admin, "meter", meter, {"serial": meter.serial, "intake_point_id": meter.intake_point_id,
                                                      "meter_type": meter.meter_type, "dn": meter.dn,
                                                      "installed_on": meter.installed_on, "manufacturer": "宁波水表"},
                   expected_version=meter.version)
    assert len(_evaluations(wu)) == first  # a manufacturer does not move the score
    permit = wu.permits[0]
    records.close(db_session, admin, "permit", permit, "录入错误")
    history = _evaluations(wu)
    assert len(history) == first + 1 and history[-1].veto and history[-1].grade == "D"


def test_stored_result_is_what_the_scoring_rules_say(db_session):
    wu, _ = _compliant_file()
    evaluations.refresh(db_session, load_rules(), TODAY)
    db_session.commit()
    facts = next(evaluations.iter_facts(db_session, TODAY, [wu.id]))
    expected = scoring.evaluate(facts, TODAY, load_rules())
    latest = _evaluations(wu)[-1]
    assert (latest.total, latest.grade, latest.rows) == (expected.total, expected.grade, expected.to_dict()["rows"])


def test_online_days_are_counted_in_the_window_as_the_rule_counts_them(db_session):
    wu, meter = _compliant_file()
    wu.permits[0].annual_volume_m3 = 20_000  # online monitoring required
    yesterday = TODAY - timedelta(days=1)

    def online(day, **kw):
        f.ReadingFactory(meter=meter, period=day.replace(day=1), read_on=day, volume_m3=30.0,
                         source=kw.pop("source", "online"), **kw)

    for n in range(80):  # 80 of the 90 days ending yesterday
        online(yesterday - timedelta(days=n))
    online(TODAY)  # today's data may still be arriving: not counted
    online(TODAY - timedelta(days=91))  # before the window
    online(yesterday - timedelta(days=85), status="rejected")
    online(yesterday - timedelta(days=86), source="manual")
    db_session.commit()
    evaluations.refresh(db_session, load_rules(), TODAY)
    db_session.commit()
    row = next(r for r in _evaluations(wu)[-1].rows if r["rule"] == "online_monitoring")
    # 80/90 ÷ 0.95 × 10 = 9.36 → 9.4
    assert row["points"] == 9.4 and row["findings"][0]["params"]["days_with_data"] == 80
    listed = next(evaluations.iter_facts(db_session, TODAY, [wu.id]))  # the days themselves
    assert _evaluations(wu)[-1].rows == scoring.evaluate(listed, TODAY, load_rules()).to_dict()["rows"]


def _due(wu_id) -> set:
    return {(d.kind, d.status, d.record_type, d.record_id, d.due_on)
            for d in db.session.scalars(select(DueItem).where(DueItem.water_user_id == wu_id))}


@pytest.mark.parametrize("workers", [1, 2])
def test_nightly_run_in_batches_and_processes_stores_what_the_rules_say(db_session, workers):
    files = []
    for n in range(7):
        wu, meter = _compliant_file()
        if n % 3 == 1:
            records.close(db_session, f.admin(), "permit", wu.permits[0], "录入错误")  # no permit: veto
        if n % 3 == 2:
            f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=900),
                                 next_due_on=TODAY - timedelta(days=30))
            db_session.execute(db.text("UPDATE calibrations SET closed_at = CURRENT_TIMESTAMP "
                                       "WHERE meter_id = :m AND next_due_on > :d"), {"m": meter.id, "d": TODAY})
        files.append(wu)
    db_session.commit()
    before = {wu.id: len(_evaluations(wu)) for wu in files}
    rules = load_rules()
    outcome = evaluations.recompute(db_session, rules, TODAY, workers=workers, batch=2)  # 4 batches
    # The two files whose permit was closed were evaluated then (same result): no new row.
    assert (outcome.evaluated, outcome.changed) == (7, 5)
    for wu in files:
        facts = next(evaluations.iter_facts(db_session, TODAY, [wu.id]))
        expected = scoring.evaluate(facts, TODAY, rules)
        latest = _evaluations(wu)[-1]
        assert (latest.total, latest.grade, latest.veto, latest.rows) == (
            expected.total, expected.grade, expected.veto, expected.to_dict()["rows"])
        db_session.refresh(wu)
        assert (wu.grade, wu.score, wu.evaluated_on) == (expected.grade, expected.total, TODAY)
        due = {(i.kind, i.status, i.record[0] if i.record else None, i.record[1] if i.record else None, i.due_on)
               for i in due_engine.due_items(facts, TODAY, rules) if i.status != "ok"}
        assert _due(wu.id) == due
    assert any(("calibration", "overdue") == d[:2] for wu in files for d in _due(wu.id))
    assert {wu.grade for wu in files} >= {"D"}
    # Nothing changed since: the history does not grow, the due list stays.
    due_before = {wu.id: _due(wu.id) for wu in files}
    counted = {wu.id: len(_evaluations(wu)) for wu in files}
    again = evaluations.recompute(db_session, rules, TODAY, workers=workers, batch=2)
    assert (again.evaluated, again.changed) == (outcome.evaluated, 0)
    assert {wu.id: len(_evaluations(wu)) for wu in files} == counted
    assert {wu.id: _due(wu.id) for wu in files} == due_before
    assert sum(counted.values()) == sum(before.values()) + 5


def _count_queries(fn) -> int:
    count = 0

    def before(*_a, **_k):
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return count


def test_recompute_all_uses_a_fixed_number_of_queries(db_session):
    for _ in range(2):
        _compliant_file()
    rules = load_rules()
    few = _count_queries(lambda: evaluations.refresh(db_session, rules, TODAY, batch=1000))
    db_session.commit()
    for _ in range(12):
        _compliant_file()
    many = _count_queries(lambda: evaluations.refresh(db_session, rules, TODAY, batch=1000))
    assert many == few


def test_overdue_calibration_becomes_a_due_item(db_session):
    wu, meter = _compliant_file()
    f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=800), next_due_on=TODAY - timedelta(days=70))
    db_session.execute(db.text("UPDATE calibrations SET closed_at = CURRENT_TIMESTAMP WHERE next_due_on > :d"), {"d": TODAY})
    db_session.commit()
    evaluations.refresh(db_session, load_rules(), TODAY)
    db_session.commit()
    items = list(db_session.scalars(select(DueItem).where(DueItem.water_user_id == wu.id)))
    assert ("calibration", "overdue") in {(i.kind, i.status) for i in items}


def _document(**changes) -> str:
    doc = load_rules().to_dict()
    doc["version"] = "YW-2026.2"
    for path, value in changes.items():
        target = doc
        *parents, last = path.split(".")
        for key in parents:
            target = target[key]
        target[last] = value
    return json.dumps(doc)


def test_publishing_refuses_invalid_rules_naming_the_field(db_session):
    admin = f.admin()
    with pytest.raises(ValidationError) as err:
        rules_versions.publish(db_session, admin, "{not json")
    assert "line 1" in str(err.value.errors["document"]) or "第" in str(err.value.errors["document"])
    with pytest.raises(ValidationError) as err:
        rules_versions.publish(db_session, admin, _document(**{"evaluation.permit.points": 25}))
    assert "evaluation" in str(err.value.errors["document"])
    with pytest.raises(ValidationError):
        rules_versions.publish(db_session, admin, json.dumps(load_rules().to_dict()))  # YW-2026.1 exists


def test_old_evaluation_keeps_its_rules_version_after_a_new_one_is_published(db_session):
    wu, _ = _compliant_file()
    evaluations.refresh(db_session, load_rules(), TODAY)
    db_session.commit()
    edges = [{"grade": "A", "min_score": 99.0}, {"grade": "B", "min_score": 98.0}, {"grade": "C", "min_score": 97.0},
             {"grade": "D", "min_score": 0.0}]
    rules_versions.publish(db_session, f.admin(), _document(**{"evaluation.grades": edges}))
    assert rules_versions.current(db_session).version == "YW-2026.2"
    evaluations.refresh(db_session, rules_versions.current(db_session), TODAY)
    db_session.commit()
    old, new = _evaluations(wu)[-2:]
    assert old.rules_version == "YW-2026.1" and new.rules_version == "YW-2026.2"
    assert old.total == new.total and old.grade != new.grade
    assert db_session.get(WaterUser, wu.id).rules_version == "YW-2026.2"
    assert db_session.execute(select(func.count()).select_from(Evaluation)).scalar_one() == 2


def test_the_nightly_run_scores_every_file_but_one_whose_judging_fails_and_says_which(app, monkeypatch):
    from registry.services import evaluations as ev

    files = [f.WaterUserFactory() for _ in range(4)]
    broken = files[1]
    real_judge = ev._judge

    def judge(facts, today, rules):
        if facts.water_user_id == broken.id:
            raise ValueError("a record this rule's code did not expect")
        return real_judge(facts, today, rules)

    monkeypatch.setattr(ev, "_judge", judge)
    result = app.test_cli_runner().invoke(args=["registry", "recompute", "--all", "--workers", "1"])

    assert result.exit_code == 1
    assert "evaluated 3 water users" in result.output and broken.file_no in result.output
    scored = set(db.session.scalars(select(Evaluation.water_user_id)))
    assert scored == {w.id for w in files} - {broken.id}


def test_worker_processes_report_the_file_whose_judging_failed(app, monkeypatch):
    from registry.services import evaluations as ev
    from registry.services import rules_versions

    files = [f.WaterUserFactory() for _ in range(4)]
    broken = files[2]
    real_judge = ev._judge

    def judge(facts, today, rules):  # the forked workers inherit it
        if facts.water_user_id == broken.id:
            raise ValueError("a record this rule's code did not expect")
        return real_judge(facts, today, rules)

    monkeypatch.setattr(ev, "_judge", judge)
    outcome = ev.recompute(db.session, rules_versions.current(db.session), bureau_today(), workers=2, batch=2)

    assert outcome.failed == [broken.id] and outcome.evaluated == 3
