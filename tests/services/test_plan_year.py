"""The plan year (issue 19): the enterprise proposes next year's plan with the past year's report,
before the deadline of the rules (default 31 December of the year before); the bureau approves,
changes (reason shown) or refuses; a mid-year adjustment is a new version, every version kept."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.models import AnnualPlan, AuditEvent, PlanProposal, PlanVersion
from registry.services import ValidationError, plans
from tests import factories as f
from tests.conftest import english


@pytest.fixture
def setting(db_session):
    wu = f.WaterUserFactory()
    f.PermitFactory(water_user=wu, annual_volume_m3=50_000.0)
    return wu, f.enterprise(wu, username="plan-ent"), f.admin(username="plan-admin")


def _proposal(**over):
    data = {"year": str(bureau_today().year + 1), "planned_volume_m3": "36000", "past_year_use_m3": "33120.5",
            "past_year_report": "去年用水平稳。", "breakdown": "quarter",
            "share_1": "8000", "share_2": "9000", "share_3": "10000", "share_4": "9000"}
    return {**data, **over}


def test_proposal_approved_becomes_the_plan_with_its_first_version(db_session, setting):
    wu, ent, admin = setting
    proposal = plans.propose(db_session, ent, wu, _proposal())
    assert (proposal.status, proposal.breakdown, proposal.shares) == ("pending", "quarter", [8000, 9000, 10000, 9000])
    plans.decide(db_session, admin, proposal, {"decision": "approve"})
    plan = db_session.scalars(select(AnnualPlan).where(AnnualPlan.water_user_id == wu.id)).one()
    assert (plan.year, plan.planned_volume_m3, plan.breakdown) == (bureau_today().year + 1, 36_000, "quarter")
    (version,) = plan.versions
    assert version.effective_from == date(plan.year, 1, 1) and version.number == 1
    assert proposal.status == "approved" and proposal.plan_id == plan.id
    actions = set(db_session.scalars(select(AuditEvent.action).where(AuditEvent.water_user_id == wu.id)))
    assert {"submit", "approved", "create"} <= actions


def test_changed_and_refused_decisions_carry_the_reason(db_session, setting):
    wu, ent, admin = setting
    proposal = plans.propose(db_session, ent, wu, _proposal(breakdown="none"))
    with pytest.raises(ValidationError) as err:
        plans.decide(db_session, admin, proposal, {"decision": "change", "planned_volume_m3": "30000"})
    assert "decision_reason" in err.value.errors  # a change says why
    plans.decide(db_session, admin, proposal, {"decision": "change", "planned_volume_m3": "30000",
                                               "decision_reason": "按节水要求核减。"})
    assert proposal.status == "changed" and proposal.decision_reason == "按节水要求核减。"
    plan = db_session.get(AnnualPlan, proposal.plan_id)
    assert plan.planned_volume_m3 == 30_000
    with pytest.raises(ValidationError):  # decided once
        plans.decide(db_session, admin, proposal, {"decision": "approve"})
    other = f.WaterUserFactory()
    f.PermitFactory(water_user=other)
    refused = plans.propose(db_session, f.enterprise(other, username="plan-ent2"), other, _proposal(breakdown="none"))
    with pytest.raises(ValidationError) as err:
        plans.decide(db_session, admin, refused, {"decision": "refuse"})
    assert "decision_reason" in err.value.errors
    plans.decide(db_session, admin, refused, {"decision": "refuse", "decision_reason": "未附上年度用水报告。"})
    assert refused.status == "refused" and refused.plan_id is None


def test_proposal_refusals_name_the_field_and_the_rule(db_session, setting):
    wu, ent, _ = setting
    cases = [
        (_proposal(share_4="8999.99"), "share_1", "add up to 35,999.99"),  # 0.01 short of the year's plan
        (_proposal(planned_volume_m3="60000", breakdown="none"), "planned_volume_m3", "50,000"),  # over the permit
        (_proposal(year=str(bureau_today().year)), "year", "deadline"),  # this year's deadline (31 Dec) has passed
        (_proposal(past_year_use_m3="多"), "past_year_use_m3", ""),
    ]
    for data, field, words in cases:
        with pytest.raises(ValidationError) as err:
            plans.propose(db_session, ent, wu, data)
        assert field in err.value.errors, (data, err.value.errors)
        assert words in english(err.value.errors[field]), english(err.value.errors[field])
    assert db_session.scalars(select(PlanProposal)).all() == []
    plans.propose(db_session, ent, wu, _proposal())
    with pytest.raises(ValidationError) as err:  # one waiting proposal a year
        plans.propose(db_session, ent, wu, _proposal())
    assert "year" in err.value.errors


def test_mid_year_adjustment_keeps_every_version(db_session, setting):
    wu, ent, admin = setting
    year = bureau_today().year
    plan = AnnualPlan(water_user_id=wu.id, year=year, planned_volume_m3=36_000.0)
    db_session.add(plan)
    db_session.commit()
    with pytest.raises(ValidationError) as err:
        plans.adjust(db_session, admin, plan, {"planned_volume_m3": "40000", "effective_from": f"{year + 1}-01-01"})
    assert {"effective_from", "reason"} <= set(err.value.errors)
    plans.adjust(db_session, admin, plan, {"planned_volume_m3": "40000", "effective_from": f"{year}-07-01",
                                           "reason": "新增产线，经局审核调增。"})
    versions = db_session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                                  .order_by(PlanVersion.number)).all()
    assert [(v.number, v.effective_from, v.planned_volume_m3) for v in versions] == [
        (1, date(year, 1, 1), 36_000), (2, date(year, 7, 1), 40_000)]
    assert versions[1].reason == "新增产线，经局审核调增。" and plan.planned_volume_m3 == 40_000
    # The domain reads both versions, each for its own days.
    (first, second) = plans.versions_of(plan)
    assert (first.planned_volume_m3, second.effective_from) == (36_000, date(year, 7, 1))


def test_only_the_bureau_decides_and_an_enterprise_only_proposes_for_its_own(db_session, setting):
    from registry.services import Forbidden, NotFound

    wu, ent, admin = setting
    proposal = plans.propose(db_session, ent, wu, _proposal())
    with pytest.raises(Forbidden):
        plans.decide(db_session, f.inspector(username="plan-insp"), proposal, {"decision": "approve"})
    with pytest.raises(Forbidden):
        plans.propose(db_session, admin, wu, _proposal())
    other = f.WaterUserFactory()
    with pytest.raises(NotFound):
        plans.propose(db_session, ent, other, _proposal())


def test_a_broken_down_plan_changes_its_volume_only_by_an_adjustment(db_session, setting):
    from registry.services import records

    wu, ent, admin = setting
    proposal = plans.propose(db_session, ent, wu, _proposal())
    plans.decide(db_session, admin, proposal, {"decision": "approve"})
    plan = db_session.get(AnnualPlan, proposal.plan_id)
    with pytest.raises(ValidationError) as err:
        records.update(db_session, admin, "plan", plan, {"year": plan.year, "planned_volume_m3": 40_000},
                       expected_version=plan.version)
    assert "adjustment" in english(err.value.errors["planned_volume_m3"])
