"""The plan year (计划用水, 浙江省计划用水管理; issue 19 and issue 15 item 6), hand-computed.

Allowance of a period = Σ over its days of the daily share of the version in force that day
(registry.domain.plans): a monthly share spread over its month's days, a quarterly one over its
quarter's, a plan without breakdown over its year's days. Scoring (TODAY 15 July 2026, ended
months January–June) compares the year's use so far with the allowance of the months counted
when the plan has a breakdown, with the whole year's allowance when it has none (YW-2026.1 tiers:
within ≤ 0 % + 0.5 % tolerance → 10; < 20 % → 5; 20–40 % → 2; > 40 % → 0; plus 5 for the plan).
"""
from dataclasses import replace
from datetime import date
from fractions import Fraction

import pytest

from registry.domain import plans
from registry.domain.facts import PlanFact
from registry.domain.plans import PlanVersionFact as V
from registry.domain.rules import Rules, RulesError, load_rules
from tests.unit.test_scoring import BASE, RULES, TODAY, file, finding, points, readings

MONTHLY = (2_000.0,) * 6 + (4_083.33,) * 5 + (4_083.35,)  # 12,000 Jan–Jun + 24,500 Jul–Dec = 36,500


def test_no_breakdown_one_version_allows_the_whole_year_over_the_year():
    v = (V(date(2026, 1, 1), 36_500.0),)
    assert plans.allowance(v, date(2026, 1, 1), date(2027, 1, 1)) == 36_500
    # 1 Jan → 1 Jul: 181 of 365 days → 36,500 × 181 / 365 = 18,100
    assert plans.allowance(v, date(2026, 1, 1), date(2026, 7, 1)) == 18_100


def test_monthly_breakdown_allows_each_months_share():
    v = (V(date(2026, 1, 1), 36_500.0, "month", MONTHLY),)
    assert plans.allowance(v, date(2026, 1, 1), date(2026, 7, 1)) == 12_000  # 6 × 2,000
    assert plans.allowance(v, date(2026, 12, 1), date(2027, 1, 1)) == Fraction("4083.35")
    assert plans.allowance(v, date(2026, 1, 1), date(2027, 1, 1)) == 36_500


def test_quarterly_share_spreads_over_the_quarters_days():
    # Q1 2026 = 90 days, Q2 = 91 days. 1 Jan → 1 May: Q1 9,000 + Q2 9,100 × 30 (April) / 91 = 12,000
    v = (V(date(2026, 1, 1), 36_400.0, "quarter", (9_000.0, 9_100.0, 9_100.0, 9_200.0)),)
    assert plans.allowance(v, date(2026, 1, 1), date(2026, 5, 1)) == 12_000


def test_adjustment_mid_month_uses_the_plan_in_force_on_each_day():
    # v1 3,000 a month; v2 from 11 June 6,000 a month. June (30 days): 3,000 × 10/30 + 6,000 × 20/30
    # = 1,000 + 4,000 = 5,000; May stays v1's 3,000.
    v = (V(date(2026, 1, 1), 36_000.0, "month", (3_000.0,) * 12),
         V(date(2026, 6, 11), 72_000.0, "month", (6_000.0,) * 12))
    assert plans.allowance(v, date(2026, 6, 1), date(2026, 7, 1)) == 5_000
    assert plans.allowance(v, date(2026, 5, 1), date(2026, 6, 1)) == 3_000
    assert plans.version_in_force(v, date(2026, 6, 10)).planned_volume_m3 == 36_000
    assert plans.version_in_force(v, date(2026, 6, 11)).planned_volume_m3 == 72_000


def test_breakdown_must_divide_the_plan():
    plans.check_breakdown(36_500.0, "month", MONTHLY)
    with pytest.raises(plans.PlanError) as err:
        plans.check_breakdown(36_500.0, "month", MONTHLY[:-1] + (4_083.34,))  # 0.01 short
    assert err.value.field == "shares" and err.value.rule == "sum"
    with pytest.raises(plans.PlanError):
        plans.check_breakdown(36_500.0, "quarter", MONTHLY)
    with pytest.raises(plans.PlanError):
        plans.check_breakdown(100.0, "quarter", (100.0, -1.0, 0.5, 0.5))


def test_proposal_deadline_is_the_rules_day_of_the_year_before():
    assert plans.proposal_deadline(2027, RULES.plan_year.deadline_month_day) == date(2026, 12, 31)
    assert plans.proposal_deadline(2027, (11, 30)) == date(2026, 11, 30)


def _with_plan(use, *versions, volume=36_500.0):
    # Jan–May 200 m³ each (1,000); June the rest of the use counted on 15 July.
    return file(plans=(PlanFact(1, 2026, volume, versions),), monthly_readings=readings(june=use - 1_000.0))


@pytest.mark.parametrize(("use", "expected", "severity"), [
    (12_000.0, 15.0, None),      # 0 % over the Jan–Jun shares (12,000): within
    (12_060.0, 15.0, None),      # 60 ÷ 12,000 = 0.5 %: the rounding tolerance, no tier
    (12_060.01, 10.0, "minor"),  # 0.50008 %: over the tolerance
    (14_400.0, 7.0, "major"),    # 2,400 ÷ 12,000 = 20 %: minor excludes 20
    (16_800.0, 7.0, "major"),    # 40 %: major includes 40
    (16_800.01, 5.0, "severe"),  # just over 40 %
])
def test_over_plan_with_a_monthly_breakdown_compares_the_months_shares(use, expected, severity):
    facts = _with_plan(use, V(date(2026, 1, 1), 36_500.0, "month", MONTHLY))
    assert points("planned_use", facts) == expected
    if severity:
        f = finding("planned_use", facts)
        assert f.params["severity"] == severity and f.params["allowance_m3"] == 12_000.0


def test_without_breakdown_the_whole_years_plan_still_applies():
    # 12,000 m³ by June against a plan of 36,500 with no breakdown: within (the year's plan).
    assert points("planned_use", _with_plan(16_800.01, V(date(2026, 1, 1), 36_500.0))) == 15.0


@pytest.mark.parametrize(("use", "expected"), [
    (27_300.0, 15.0),   # the whole-year allowance: 36,500 × 181/365 + 18,250 × 184/365 = 18,100 + 9,200
    (32_760.0, 7.0),    # 5,460 ÷ 27,300 = 20 %: major
    (27_436.5, 15.0),   # 136.5 ÷ 27,300 = 0.5 %: tolerance
    (27_436.51, 10.0),  # over the tolerance: minor
])
def test_mid_year_adjustment_counts_each_version_for_its_days(use, expected):
    facts = _with_plan(use, V(date(2026, 1, 1), 36_500.0), V(date(2026, 7, 1), 18_250.0), volume=18_250.0)
    assert points("planned_use", facts) == expected


def test_plan_year_and_tax_sections_are_optional_and_validated():
    data = RULES.to_dict()
    assert Rules.from_dict(data) == RULES
    older = {k: v for k, v in data.items() if k not in ("plan_year", "tax")}
    assert Rules.from_dict(older).tax == RULES.tax  # a version published before them reads the defaults
    bad = {**data, "plan_year": {**data["plan_year"], "proposal_deadline": "02-30"}}
    with pytest.raises(RulesError) as err:
        Rules.from_dict(bad)
    assert err.value.field == "plan_year.proposal_deadline"
    tiers = [{"up_to_percent": 40.0, "multiplier": 3.0}, {"up_to_percent": 20.0, "multiplier": 2.0},
             {"up_to_percent": None, "multiplier": 4.0}]
    with pytest.raises(RulesError) as err:
        Rules.from_dict({**data, "tax": {**data["tax"], "over_plan_tiers": tiers}})
    assert err.value.field == "tax.over_plan_tiers" and err.value.rule == "order"
    assert load_rules().tax.defaults  # the packaged figures are defaults for the bureau to set


@pytest.mark.parametrize(("today", "step"), [
    (date(2026, 11, 30), None),  # 31 days before 31 December: before the first step (30)
    (date(2026, 12, 1), "30"),   # 30 days left: the 30-day step
    (date(2026, 12, 16), "15"),  # exactly 15 left
    (date(2026, 12, 26), "5"),   # 5 left
    (date(2026, 12, 31), "5"),   # the deadline itself
    (date(2027, 1, 1), None),    # past it: the annual-plan due item takes over
])
def test_plan_proposal_reminders_before_the_deadline(today, step):
    from registry.services.reminders import plan_proposal_reminders

    got = plan_proposal_reminders(BASE, today, RULES)  # 73,000 m³ permitted: a plan is required
    assert [r.step for r in got] == ([step] if step else [])
    if step:
        (r,) = got
        assert (r.topic, r.item, r.due_on, r.item_key) == ("plan_proposal", "2027", date(2026, 12, 31),
                                                           f"plan_proposal:1:2027:{step}")


def test_no_proposal_reminder_once_proposed_or_planned_or_not_required():
    from registry.services.reminders import plan_proposal_reminders

    day = date(2026, 12, 20)
    assert plan_proposal_reminders(replace(BASE, proposed_years=frozenset({2027})), day, RULES) == []
    assert plan_proposal_reminders(replace(BASE, plans=BASE.plans + (PlanFact(2, 2027, 1.0),)), day, RULES) == []
    small = replace(BASE, permits=(replace(BASE.permits[0], annual_volume_m3=2_999.0),))  # below 3,000 m³
    assert plan_proposal_reminders(small, day, RULES) == []
