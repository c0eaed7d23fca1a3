"""Hand-over statements (水资源税涉税信息), hand-computed: issue 19's acceptance cases.

Rules YW-2026.1 defaults (tax section, to be set by the bureau): rates surface 0.2, ground 1.0
元/m³ (general use); over-plan tiers ≤ 20 % ×2, 20–40 % ×3, > 40 % ×4 of the plan share; over
permit ×5; estimate = design capacity × 24 h × days; grace 30 days; gap limit 72 h.
Quarter Q2 2026 = 1 April – 30 June = 30 + 31 + 30 = 91 days of 365. So a permit of 36,500 m³/yr
allows 36,500 × 91/365 = 9,100 m³ in the quarter, 73,000 → 18,200, 7,300 → 1,820; a plan of
36,500 without breakdown allows 9,100 (its year's volume by day).
"""
from datetime import date, timedelta

import pytest

from registry.domain import tax
from registry.domain.facts import MeterFact, PermitFact, PlanFact
from registry.domain.plans import PlanVersionFact as V
from registry.domain.rules import load_rules

RULES = load_rules()
APR, MAY, JUN = date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)


def permit(id, source, volume):
    return PermitFact(id=id, number=f"D330782{source}2024-{id:04d}", valid_from=date(2024, 1, 1),
                      valid_to=date(2028, 12, 31), annual_volume_m3=volume, intake_point_ids=frozenset())


def meter(id, point, **kw):
    kw.setdefault("installed_on", date(2022, 1, 1))
    kw.setdefault("last_calibrated_on", date(2025, 3, 1))  # electromagnetic DN100: due 2027-03-01
    kw.setdefault("last_passed", True)
    return MeterFact(id=id, serial=f"M{id}", intake_point_id=point, meter_type="electromagnetic", dn=100, q3=None,
                     **kw)


def point(id, source="surface", capacity=10.0):
    return tax.PointFact(id, f"{id}号取水口", source, capacity)


def facts(**kw):
    kw.setdefault("points", (point(1),))
    kw.setdefault("meters", (meter(1, 1),))
    return tax.TaxFacts(water_user_id=1, file_no="YW-001", name="义乌市测试印染有限公司", uscc="91330782MA2XXXXX0X",
                        division_code="001", industry_code="1713", opened_on=date(2020, 1, 1), **kw)


def monthly(meter_id, *volumes):
    return {(meter_id, m): v for m, v in zip((APR, MAY, JUN), volumes) if v is not None}


def plan(volume, *versions):
    return PlanFact(1, 2026, volume, versions)


def q2(f):
    return tax.statement(f, 2026, 2, RULES)


def test_case1_two_permits_of_different_sources():
    # Surface permit 36,500 → 9,100; ground 7,300 → 1,820. Plan 43,800 → 43,800 × 91/365 = 10,920.
    # Use: surface 3,000 × 3 = 9,000 ≤ 9,100; ground 600 × 3 = 1,800 ≤ 1,820; W = 10,800 ≤ 10,920.
    # Tax = 9,000 × 0.2 + 1,800 × 1.0 = 1,800 + 1,800 = 3,600.
    s = q2(facts(points=(point(1), point(2, "ground")), meters=(meter(1, 1), meter(2, 2)),
                 permits=(permit(1, "S", 36_500.0), permit(2, "G", 7_300.0)), plan=plan(43_800.0),
                 monthly={**monthly(1, 3_000.0, 3_000.0, 3_000.0), **monthly(2, 600.0, 600.0, 600.0)}))
    assert s["by_source"]["surface"]["permitted_share_m3"] == 9_100.0
    assert s["by_source"]["ground"]["permitted_share_m3"] == 1_820.0
    assert s["plan_share_m3"] == 10_920.0
    assert (s["by_source"]["surface"]["within_plan_m3"], s["by_source"]["ground"]["within_plan_m3"]) == (9_000.0, 1_800.0)
    assert s["totals"]["over_plan_m3"] == [0.0, 0.0, 0.0] and s["totals"]["over_permit_m3"] == 0.0
    assert (s["by_source"]["surface"]["tax_yuan"], s["by_source"]["ground"]["tax_yuan"]) == (1_800.0, 1_800.0)
    assert s["totals"]["tax_yuan"] == 3_600.0
    assert [p["number"] for p in s["permits"]] == ["D330782G2024-0002", "D330782S2024-0001"]  # by start, number


def test_case2_over_plan_in_tiers():
    # Permit 73,000 → 18,200 (not reached). Plan 36,500 → P = 9,100. Use 4,000 + 4,000 + 5,000 = 13,000.
    # Over plan 3,900: tier 1 up to 20 % × 9,100 = 1,820; tier 2 up to 40 % = 3,640 → 1,820; tier 3 = 260.
    # Tax = 0.2 × (9,100 + 1,820 × 2 + 1,820 × 3 + 260 × 4) = 0.2 × 19,240 = 3,848.
    s = q2(facts(permits=(permit(1, "S", 73_000.0),), plan=plan(36_500.0), monthly=monthly(1, 4_000.0, 4_000.0, 5_000.0)))
    src = s["by_source"]["surface"]
    assert src["within_plan_m3"] == 9_100.0 and src["over_plan_m3"] == [1_820.0, 1_820.0, 260.0]
    assert src["over_permit_m3"] == 0.0 and s["totals"]["tax_yuan"] == 3_848.0


def test_case3_over_permit():
    # Permit 36,500 → 9,100; plan 36,500 → 9,100. Use 3,000 + 3,000 + 4,000 = 10,000: over permit 900,
    # within permit 9,100 = the plan share (no over plan). Tax = 0.2 × (9,100 + 900 × 5) = 2,720.
    s = q2(facts(permits=(permit(1, "S", 36_500.0),), plan=plan(36_500.0), monthly=monthly(1, 3_000.0, 3_000.0, 4_000.0)))
    src = s["by_source"]["surface"]
    assert (src["within_plan_m3"], src["over_plan_m3"], src["over_permit_m3"]) == (9_100.0, [0.0, 0.0, 0.0], 900.0)
    assert s["totals"]["tax_yuan"] == 2_720.0


def test_case4_a_month_estimated_for_a_failed_meter():
    # The meter failed and was removed on 1 May (counts through 30 April); its replacement was
    # installed on 1 June. May has no meter: 31 days × 24 h × 10 m³/h = 7,440 m³ estimated.
    # Use 2,000 (April) + 7,440 + 2,000 (June) = 11,440; permit 73,000 → 18,200; plan 54,750 →
    # 54,750 × 91/365 = 13,650: all within. Tax = 0.2 × 11,440 = 2,288. Estimated 7,440 ÷ 11,440 = 65.03 %.
    old = meter(1, 1, removed_on=MAY)
    new = meter(2, 1, installed_on=JUN, last_calibrated_on=date(2026, 5, 25), last_kind="initial",
                first_verified_on=date(2026, 5, 25))
    s = q2(facts(meters=(old, new), permits=(permit(1, "S", 73_000.0),), plan=plan(54_750.0),
                 monthly={(1, APR): 2_000.0, (2, JUN): 2_000.0}))
    may = s["points"][0]["months"][1]
    assert may["estimated"] == [{"reason": "no_meter", "days": 31, "hours": 744.0, "m3": 7_440.0}]
    assert may["measured_m3"] == 0.0 and may["total_m3"] == 7_440.0
    assert s["totals"]["verified_m3"] == 11_440.0 and s["totals"]["estimated_m3"] == 7_440.0
    assert s["totals"]["tax_yuan"] == 2_288.0 and s["totals"]["estimated_share"] == 65.03


def test_case5_online_meter_with_a_gap():
    # Ground point, 5 m³/h, online meter. April: daily data except 10–14 April (5 days = 120 h > 72 h:
    # estimated 5 × 120 = 600 m³) and 20–21 April (48 h ≤ 72 h: covered by the next totalizer value).
    # 23 days with data × 50 m³ = 1,150 m³. May and June: accepted monthly (telemetry-derived) 1,500 each.
    # Use 1,150 + 600 + 3,000 = 4,750; ground permit 36,500 → 9,100; plan 36,500 → 9,100: within.
    # Tax = 4,750 × 1.0 = 4,750.
    gap = {date(2026, 4, d) for d in (10, 11, 12, 13, 14, 20, 21)}
    daily = {(1, APR): {APR + timedelta(days=i): 50.0 for i in range(30) if APR + timedelta(days=i) not in gap}}
    s = q2(facts(points=(point(1, "ground", 5.0),), meters=(meter(1, 1, ),), permits=(permit(1, "G", 36_500.0),),
                 plan=plan(36_500.0), monthly=monthly(1, None, 1_500.0, 1_500.0), daily=daily))
    april = s["points"][0]["months"][0]
    assert april["measured_m3"] == 1_150.0
    assert april["estimated"] == [{"reason": "telemetry_gap", "days": 5, "hours": 120.0, "m3": 600.0}]
    ground = s["by_source"]["ground"]
    assert (ground["verified_m3"], ground["estimated_m3"], ground["within_plan_m3"]) == (4_750.0, 600.0, 4_750.0)
    assert s["totals"]["tax_yuan"] == 4_750.0


def test_case6_plan_adjusted_mid_quarter():
    # v1 36,500 from 1 January; v2 54,750 from 16 May. P = 36,500 × 45/365 (1 Apr – 15 May)
    # + 54,750 × 46/365 (16 May – 30 Jun) = 4,500 + 6,900 = 11,400. Use 4,000 × 3 = 12,000: over 600,
    # within tier 1 (20 % × 11,400 = 2,280). Tax = 0.2 × (11,400 + 600 × 2) = 2,520.
    p = plan(54_750.0, V(date(2026, 1, 1), 36_500.0), V(date(2026, 5, 16), 54_750.0))
    s = q2(facts(permits=(permit(1, "S", 73_000.0),), plan=p, monthly=monthly(1, 4_000.0, 4_000.0, 4_000.0)))
    assert s["plan_share_m3"] == 11_400.0
    assert s["by_source"]["surface"]["over_plan_m3"] == [600.0, 0.0, 0.0]
    assert s["totals"]["within_plan_m3"] == 11_400.0 and s["totals"]["tax_yuan"] == 2_520.0


def test_case7_a_correction_shows_the_difference():
    # A reading accepted after sign-off (June 3,000 → 4,000): the new version's figures differ
    # from the signed ones, and the difference names each figure that moved.
    base = dict(permits=(permit(1, "S", 73_000.0),), plan=plan(36_500.0))
    signed = q2(facts(monthly=monthly(1, 3_000.0, 3_000.0, 3_000.0), **base))
    corrected = q2(facts(monthly=monthly(1, 3_000.0, 3_000.0, 4_000.0), **base))
    changes = dict((path, (a, b)) for path, a, b in tax.difference(signed, corrected))
    assert changes["totals.verified_m3"] == (9_000.0, 10_000.0)
    # 10,000 − 9,100 = 900 over plan in tier 1: tax 0.2 × (9,100 + 900 × 2) = 2,180 (was 0.2 × 9,000 = 1,800)
    assert changes["totals.tax_yuan"] == (1_800.0, 2_180.0)
    assert changes["points[0].months[2].measured_m3"] == (3_000.0, 4_000.0)


def test_case8_a_user_with_no_plan():
    # No plan: the basis is the permitted share (9,100), so nothing is over plan; use 9,500 is
    # 400 over the permit. Tax = 0.2 × (9,100 + 400 × 5) = 2,220.
    s = q2(facts(permits=(permit(1, "S", 36_500.0),), monthly=monthly(1, 3_000.0, 3_000.0, 3_500.0)))
    assert s["basis"] == "permit" and s["plan"] is None and s["plan_share_m3"] == 9_100.0
    src = s["by_source"]["surface"]
    assert (src["within_plan_m3"], src["over_plan_m3"], src["over_permit_m3"]) == (9_100.0, [0.0, 0.0, 0.0], 400.0)
    assert s["totals"]["tax_yuan"] == 2_220.0


def test_an_unverified_meter_is_estimated_after_its_grace():
    # Installed 1 March 2026 with no verification on record: counted for 30 days (to 31 March); from
    # April its months are estimated whatever it read: 91 days × 24 h × 2 m³/h = 4,368 m³.
    m = meter(1, 1, installed_on=date(2026, 3, 1), last_calibrated_on=None, last_passed=None)
    s = q2(facts(points=(point(1, capacity=2.0),), meters=(m,), permits=(permit(1, "S", 36_500.0),),
                 monthly=monthly(1, 100.0, 100.0, 100.0)))
    assert [mo["estimated"][0]["reason"] for mo in s["points"][0]["months"]] == ["unverified_meter"] * 3
    assert s["totals"]["verified_m3"] == 4_368.0 and s["totals"]["measured_m3"] == 0.0
    # Installed 1 April: counted for 30 days, to 1 May: April (all within the grace) counts as read.
    m2 = meter(1, 1, installed_on=APR, last_calibrated_on=None, last_passed=None)
    s2 = q2(facts(points=(point(1, capacity=2.0),), meters=(m2,), permits=(permit(1, "S", 36_500.0),),
                  monthly=monthly(1, 100.0, 100.0, 100.0)))
    assert s2["points"][0]["months"][0] == {"month": "2026-04", "measured_m3": 100.0, "total_m3": 100.0,
                                            "estimated": [], "no_capacity": False}


def test_no_reading_is_estimated_and_a_missing_capacity_is_flagged():
    # May without an accepted reading: 31 × 24 × 10 = 7,440 m³ (no_reading). Without a design
    # capacity the estimate is 0 and flagged for the bureau.
    s = q2(facts(permits=(permit(1, "S", 73_000.0),), monthly=monthly(1, 1_000.0, None, 1_000.0)))
    assert s["points"][0]["months"][1]["estimated"] == [{"reason": "no_reading", "days": 31, "hours": 744.0,
                                                         "m3": 7_440.0}]
    s = q2(facts(points=(point(1, capacity=None),), permits=(permit(1, "S", 73_000.0),),
                 monthly=monthly(1, 1_000.0, None, 1_000.0)))
    assert s["points"][0]["months"][1]["no_capacity"] is True and s["totals"]["estimated_m3"] == 0.0


def test_tiers_boundaries_exactly_at_20_and_40_percent():
    # Plan 36,500 → 9,100. Use 10,920 = 9,100 × 1.2: over 1,820 all in tier 1; 12,740 = × 1.4: 1,820 + 1,820.
    base = dict(permits=(permit(1, "S", 73_000.0),), plan=plan(36_500.0))
    s = q2(facts(monthly=monthly(1, 3_640.0, 3_640.0, 3_640.0), **base))
    assert s["totals"]["over_plan_m3"] == [1_820.0, 0.0, 0.0]
    s = q2(facts(monthly=monthly(1, 4_000.0, 4_000.0, 4_740.0), **base))
    assert s["totals"]["over_plan_m3"] == [1_820.0, 1_820.0, 0.0]


def test_the_file_opened_mid_quarter_counts_from_its_opening():
    # Opened 16 June: April and May are not counted, June from the 16th (15 days); no meter yet →
    # 15 × 24 × 10 = 3,600 m³ estimated (no_meter).
    f = facts(meters=(), permits=(permit(1, "S", 73_000.0),))
    from dataclasses import replace

    s = q2(replace(f, opened_on=date(2026, 6, 16)))
    assert [m["total_m3"] for m in s["points"][0]["months"]] == [0.0, 0.0, 3_600.0]


def test_quarter_out_of_range_is_refused():
    from registry.domain.plans import PlanError

    with pytest.raises(PlanError):
        tax.statement(facts(), 2026, 5, RULES)
