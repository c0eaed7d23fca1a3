"""One source of the rules in force (issue 15 item 1): once the bureau publishes a version, the
one-file page's chip, the list's due filter, the calibration form and the score all follow it.

The file: an electromagnetic DN 100 meter whose last 后续检定 was 18 months before today.
- YW-2026.1 verifies it every 24 months: due 18 − 24 = 6 months ahead, verified; metering 20.
- A published version that verifies electromagnetic meters every 12 months: due 6 months ago,
  overdue; metering 10 × 1 (metered point) + 10 × 0 (verified meters) = 10, total 10 lower.
"""
from __future__ import annotations

import json

from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.domain.dates import add_months
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.models import Evaluation, RulesVersion
from registry.services import ValidationError, evaluations, rules_versions, validators
from tests import factories as f

TODAY = bureau_today()
VERIFIED_ON = add_months(TODAY, -18)
DUE_UNDER_24 = add_months(VERIFIED_ON, 24)  # 6 months ahead
DUE_UNDER_12 = add_months(VERIFIED_ON, 12)  # 6 months ago


def _file():
    wu = f.WaterUserFactory(name="义乌市规则生效印染有限公司", opened_on=add_months(TODAY, -60), industry_code="3311")
    point = f.IntakePointFactory(water_user=wu)
    permit = f.PermitFactory(water_user=wu, annual_volume_m3=2000.0)
    permit.intake_points = [point]
    meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=add_months(TODAY, -48))
    f.CalibrationFactory(meter=meter, calibrated_on=VERIFIED_ON, kind="subsequent", next_due_on=None)
    db.session.commit()
    evaluations.refresh_one(db.session, wu.id)
    db.session.commit()
    return wu, meter


def _latest(wu) -> Evaluation:
    db.session.expire_all()
    return db.session.scalars(select(Evaluation).where(Evaluation.water_user_id == wu.id)
                              .order_by(Evaluation.id.desc())).first()


def _typed_due_refusal(wu, meter, typed) -> str | None:
    """The calibration form's check of a typed due date, a new verification on VERIFIED_ON."""
    data = {"meter_id": str(meter.id), "calibrated_on": VERIFIED_ON, "kind": "subsequent", "agency": "义乌市计量检定测试所",
            "error_pct": 0.5, "passed": True, "next_due_on": typed}
    try:
        validators.calibration(db.session, data, wu, None)
    except ValidationError as err:
        return str(err.errors.get("next_due_on"))
    return None


def test_a_published_calibration_interval_moves_chip_filter_form_and_score(client, auth):
    f.admin(username="admin")
    wu, meter = _file()
    auth.login("admin")
    before = _latest(wu)
    assert before.rules_version == "YW-2026.1"
    metering = {r["rule"]: r["points"] for r in before.rows}["metering"]
    assert metering == 20.0
    page = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert f"Next calibration due {DUE_UNDER_24.isoformat()}" in page
    assert "Meter verification overdue" in client.get("/water-users/?lang=en").get_data(as_text=True)  # the option
    assert wu.name not in client.get("/water-users/?due=calibration_overdue").get_data(as_text=True)
    assert _typed_due_refusal(wu, meter, add_months(VERIFIED_ON, 18)) is None  # 18 ≤ 24 months

    doc = load_rules().to_dict()
    doc["version"] = "YW-2026.2"
    doc["calibration"]["interval_months"]["electromagnetic"] = 12
    published = client.post("/admin/rules/new?lang=en", data={"document": json.dumps(doc), "note": "电磁流量计每年检定"})
    assert published.status_code == 302
    assert rules_versions.current(db.session).version == "YW-2026.2"

    # The chip: due 12 months after the verification, 6 months ago, overdue.
    page = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert f"⚠ Next calibration due {DUE_UNDER_12.isoformat()}" in page
    assert DUE_UNDER_24.isoformat() not in page
    # The list's due filter (the due items re-computed under the new version by the publish's job).
    assert wu.name in client.get("/water-users/?due=calibration_overdue").get_data(as_text=True)
    assert wu.name not in client.get("/water-users/?due=calibration_due_soon").get_data(as_text=True)
    # The form: 18 months is now later than the rules allow, and the refusal names the date.
    refusal = _typed_due_refusal(wu, meter, add_months(VERIFIED_ON, 18))
    assert refusal is not None and DUE_UNDER_12.isoformat() in refusal and "YW-2026.2" in refusal
    # The score: metering 20 → 10 (the one meter in service is no longer verified).
    after = _latest(wu)
    assert after.rules_version == "YW-2026.2"
    assert {r["rule"]: r["points"] for r in after.rows}["metering"] == 10.0
    assert after.total == before.total - 10.0


def test_the_rules_in_force_are_parsed_once_per_version(db_session, monkeypatch):
    from registry.domain import rules as rules_package

    assert rules_versions.current(db_session).version == "YW-2026.1"  # none published: the packaged file
    doc = load_rules().to_dict()
    doc["version"] = "YW-2026.3"
    rules_versions.publish(db_session, f.admin(), json.dumps(doc))
    first = rules_versions.current(db_session)
    calls = []
    original = rules_package.Rules.from_dict
    monkeypatch.setattr(rules_package.Rules, "from_dict", classmethod(lambda cls, d: calls.append(d) or original(d)))
    assert rules_versions.current(db_session) is first  # the same parsed rules, not parsed again
    assert calls == []
    # Published by another process: seen at the next look, without restarting this one.
    doc["version"] = "YW-2026.4"
    db_session.add(RulesVersion(version="YW-2026.4", document=doc))
    db_session.commit()
    assert rules_versions.current(db_session).version == "YW-2026.4"
    assert len(calls) == 1
