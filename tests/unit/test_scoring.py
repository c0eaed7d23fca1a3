"""规范评价 (compliance evaluation), rules YW-2026.1, with hand-computed expected points.

The baseline file below scores full marks on TODAY (15 July 2026); each test changes one
thing the regulation cares about and checks the points, the finding and its restore code.
Pro-rata figures: 1 Jan → 1 Jul 2026 is 181 days of 365, so a 36,500 m³ plan allows
36,500 × 181 / 365 = 18,100 m³ to the end of June.
"""

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.domain.dates import add_months
from registry.domain.facts import (
    BalanceTestFact,
    FileFacts,
    IntakePointFact,
    MeterFact,
    MonthlyReadingFact,
    OnlineDaysCount,
    PermitFact,
    PlanFact,
    RectificationFact,
)
from registry.domain.rules import RULE_IDS, load_rules
from registry.domain.scoring import Evaluation, Finding, RuleRow, evaluate, online_window

RULES = load_rules("YW-2026.1")
TODAY = date(2026, 7, 15)
PLAN = 36_500.0  # the 2026 plan: over-plan tiers are on the year's totals (no pro rata)
PRO_RATA_PLAN = 18_100.0  # what a pro rata by day would allow: 36,500 m³ × 181 / 365


# --- builder ---------------------------------------------------------------------------


def permit(id=1, *, valid_to=date(2028, 12, 31), volume=73_000.0, points=(1,), **kw):
    return PermitFact(
        id=id,
        number=f"D330782G2024-{id:04d}",
        valid_from=kw.pop("valid_from", date(2024, 1, 1)),
        valid_to=valid_to,
        annual_volume_m3=volume,
        intake_point_ids=frozenset(points),
        **kw,
    )


def meter(id=1, *, point=1, meter_type="electromagnetic", dn=100, q3=None, **kw):
    kw.setdefault("installed_on", date(2022, 1, 1))
    if meter_type != "mechanical" or dn is None or dn > 50:
        kw.setdefault("last_calibrated_on", date(2025, 3, 1))  # due 2027-03-01
        kw.setdefault("last_passed", True)
    else:  # a water meter with a service life: its first verification (首次检定) on record
        kw.setdefault("last_calibrated_on", kw["installed_on"])
        kw.setdefault("last_passed", True)
        kw.setdefault("first_verified_on", kw["last_calibrated_on"])
    return MeterFact(id=id, serial=f"M{id}", intake_point_id=point, meter_type=meter_type,
                     dn=dn, q3=q3, **kw)


def readings(*, june=200.0, submitted_day=5, last=date(2026, 6, 1), first=date(2025, 7, 1)):
    """Accepted monthly readings, 200 m³ a month, each submitted on the 5th of the next."""
    out, month = [], first
    while month <= last:
        submitted = add_months(month, 1).replace(day=submitted_day)
        volume = june if month == date(2026, 6, 1) else 200.0
        out.append(MonthlyReadingFact(month, volume, submitted))
        month = add_months(month, 1)
    return tuple(out)


def online(days, *, end=TODAY - timedelta(days=1)):
    return frozenset(end - timedelta(days=i) for i in range(days))


def rectification(id, deadline, status="open"):
    return RectificationFact(id=id, inspection_id=100 + id, deadline=deadline, status=status)


BASE = FileFacts(
    water_user_id=1,
    opened_on=date(2020, 1, 1),
    industry_code="2614",  # 化工: water-balance test required
    intake_points=(IntakePointFact(1, "1号井"),),
    permits=(permit(),),
    plans=(PlanFact(1, 2026, 36_500.0),),
    meters=(meter(),),
    monthly_readings=readings(),
    online_days=online(90),
    balance_tests=(BalanceTestFact(1, date(2024, 5, 1)),),
)


def file(**changes) -> FileFacts:
    return replace(BASE, **changes)


def score(facts=BASE, today=TODAY, rules=RULES) -> Evaluation:
    return evaluate(facts, today, rules)


def points(rule, facts=BASE, today=TODAY, rules=RULES) -> float:
    return score(facts, today, rules).row(rule).points


def codes(rule, facts=BASE, today=TODAY) -> list[str]:
    return [f.code for f in score(facts, today).row(rule).findings]


def finding(rule, facts=BASE, today=TODAY) -> Finding:
    (only,) = score(facts, today).row(rule).findings
    return only


def test_baseline_file_scores_full_marks_grade_a():
    result = score()
    assert result.total == 100.0
    assert result.grade == "A"
    assert not result.veto and result.grade_cap is None
    assert [r.rule for r in result.rows] == list(RULE_IDS)
    assert all(r.points == r.maximum and not r.findings for r in result.rows)
    assert (result.rules_version, result.evaluated_on) == ("YW-2026.1", TODAY)


# --- permit 取水许可 (20) ---------------------------------------------------------------


def test_permit_45_days_before_expiry_without_renewal_loses_10():
    facts = file(permits=(permit(valid_to=TODAY + timedelta(days=45)),))
    assert points("permit", facts) == 10.0
    f = finding("permit", facts)
    assert (f.code, f.lost, f.restore) == ("permit.renewal_not_applied", 10.0,
                                           "apply_permit_renewal")
    assert f.params["days_left"] == 45
    assert f.params["valid_to"] == "2026-08-29"
    assert f.records == (("permit", 1),)


def test_permit_46_days_before_expiry_keeps_full_marks():
    assert points("permit", file(permits=(permit(valid_to=TODAY + timedelta(days=46)),))) == 20.0


def test_permit_on_its_last_day_without_renewal_loses_10():
    assert points("permit", file(permits=(permit(valid_to=TODAY),))) == 10.0


@pytest.mark.parametrize(("applied_on", "expected"), [
    (date(2026, 6, 30), 20.0),  # ends 14 Aug 2026 − 45 days = 30 Jun: exactly 45 days, in time
    (date(2026, 7, 1), 10.0),  # 44 days before expiry: late (art. 25), 20 − 10
])
def test_permit_renewal_applied_for_in_time_keeps_full_marks(applied_on, expected):
    expiring = permit(valid_to=TODAY + timedelta(days=30), renewal_applied_on=applied_on)
    assert points("permit", file(permits=(expiring,))) == expected
    if expected < 20:
        f = finding("permit", file(permits=(expiring,)))
        assert (f.params["applied_on"], f.params["apply_by"]) == ("2026-07-01", "2026-06-30")


def test_renewal_pending_decision_is_no_veto():
    # Ended 30 Jun 2026, renewal applied 16 May (45 days before), undecided on 15 Jul: in
    # force meanwhile, full marks, a 0-point finding shows the wait; applied 17 May: veto.
    pending = permit(valid_to=date(2026, 6, 30), renewal_applied_on=date(2026, 5, 16))
    result = score(file(permits=(pending,)))
    assert (result.total, result.grade, result.veto) == (100.0, "A", False)
    (f,) = result.row("permit").findings
    assert (f.code, f.lost) == ("permit.renewal_pending", 0.0)
    late = permit(valid_to=date(2026, 6, 30), renewal_applied_on=date(2026, 5, 17))
    assert score(file(permits=(late,))).veto


def test_permit_renewal_applied_for_after_today_does_not_count_yet():
    expiring = permit(valid_to=TODAY + timedelta(days=30), renewal_applied_on=TODAY + timedelta(1))
    assert points("permit", file(permits=(expiring,))) == 10.0


def test_intake_point_not_covered_by_a_permit_loses_10():
    facts = file(
        intake_points=(IntakePointFact(1, "1号井"), IntakePointFact(2, "2号井")),
        meters=(meter(1, point=1), meter(2, point=2)),
    )
    assert points("permit", facts) == 10.0
    f = finding("permit", facts)
    assert (f.code, f.restore) == ("permit.uncovered_intake", "extend_permit_coverage")
    assert f.records == (("intake_point", 2),)
    assert f.params == {"uncovered": 1, "intake_points": 2, "names": ["2号井"]}


def test_two_valid_permits_together_cover_the_intake_points():
    facts = file(
        intake_points=(IntakePointFact(1, "1号井"), IntakePointFact(2, "2号井")),
        permits=(permit(1, points=(1,)), permit(2, points=(2,))),
        meters=(meter(1, point=1), meter(2, point=2)),
    )
    assert points("permit", facts) == 20.0


def test_uncovered_intake_and_renewal_not_applied_together_give_0_without_veto():
    facts = file(
        intake_points=(IntakePointFact(1, "1号井"), IntakePointFact(2, "2号井")),
        permits=(permit(valid_to=TODAY + timedelta(days=10)),),
        meters=(meter(1, point=1), meter(2, point=2)),
    )
    result = score(facts)
    assert result.row("permit").points == 0.0
    assert codes("permit", facts) == ["permit.uncovered_intake", "permit.renewal_not_applied"]
    assert not result.veto


def test_no_valid_permit_is_a_veto_grade_d_whatever_the_total():
    expired = permit(valid_to=date(2026, 6, 30))
    result = score(file(permits=(expired,)))
    assert result.row("permit").points == 0.0
    assert result.total == 80.0  # every other rule at full marks
    assert result.veto
    assert result.grade == "D"
    f = result.row("permit").findings[0]
    assert (f.code, f.lost, f.restore) == ("permit.none_valid", 20.0, "apply_permit")
    assert f.records == (("permit", 1),)
    assert f.params["latest_status"] == "expired"


@pytest.mark.parametrize(
    "unusable",
    [
        permit(revoked_on=date(2026, 7, 1)),
        permit(superseded=True),
        permit(valid_from=date(2026, 8, 1)),
    ],
    ids=["revoked", "superseded", "not_yet_valid"],
)
def test_revoked_superseded_or_future_permit_is_not_valid(unusable):
    result = score(file(permits=(unusable,)))
    assert result.veto and result.grade == "D"


def test_file_without_any_permit_is_vetoed():
    result = score(file(permits=()))
    assert result.veto and result.grade == "D"
    assert result.row("permit").findings[0].records == ()


# --- metering 计量 (20) -----------------------------------------------------------------


@pytest.mark.parametrize(("dn", "expected"), [(25, 20.0), (26, 10.0)])
def test_mechanical_dn25_lives_6_years_dn26_only_4(dn, expected):
    # Installed 1 Jul 2021: DN 25 lasts to 1 Jul 2027, DN 26 ended 1 Jul 2025.
    old = meter(meter_type="mechanical", dn=dn, q3=6.3, installed_on=date(2021, 7, 1))
    facts = file(meters=(old,))
    assert points("metering", facts) == expected
    if expected < 20:
        f = finding("metering", facts)
        assert (f.code, f.restore) == ("metering.meter_past_service_life", "replace_meter")
        assert f.records == (("meter", 1),)


@pytest.mark.parametrize(("dn", "expected"), [(50, 20.0), (51, 10.0)])
def test_mechanical_dn50_has_a_service_life_dn51_periodic_24_months(dn, expected):
    # First verified and installed 1 Jul 2023, not since: DN 50 lasts 4 years to 1 Jul 2027;
    # DN 51 is periodic, due 24 months later, 1 Jul 2025 < 15 Jul 2026: 10 + 0 = 10.
    new = meter(meter_type="mechanical", dn=dn, q3=16.0, installed_on=date(2023, 7, 1),
                last_calibrated_on=date(2023, 7, 1), last_passed=True, last_kind="initial")
    facts = file(meters=(new,))
    assert points("metering", facts) == expected
    if expected < 20:
        f = finding("metering", facts)
        assert (f.code, f.restore) == ("metering.meter_unverified", "calibrate_meter")


@pytest.mark.parametrize(("q3", "expected"), [(16.0, 20.0), (16.1, 10.0)])
def test_mechanical_q3_above_16_is_periodic_24_months(q3, expected):
    new = meter(meter_type="mechanical", dn=40, q3=q3, installed_on=date(2023, 7, 1),
                last_calibrated_on=date(2023, 7, 1), last_passed=True, last_kind="initial")
    assert points("metering", file(meters=(new,))) == expected


@pytest.mark.parametrize(
    ("calibrated_on", "expected"),
    [(date(2024, 7, 15), 20.0), (date(2024, 7, 14), 10.0)],
    ids=["due_today", "due_yesterday"],
)
def test_meter_verified_through_its_due_date(calibrated_on, expected):
    assert points("metering", file(meters=(meter(last_calibrated_on=calibrated_on),))) == expected


def test_certificate_due_date_later_than_the_rules_cannot_stretch_the_interval():
    # Verified 1 Jun 2024: the rules in force say 24 months, due 1 Jun 2026 (past on
    # 15 Jul 2026); the certificate's 1 Dec 2026 does not stretch it: 10 + 0 = 10.
    cert = meter(last_calibrated_on=date(2024, 6, 1), last_next_due_on=date(2026, 12, 1))
    assert points("metering", file(meters=(cert,))) == 10.0
    assert finding("metering", file(meters=(cert,))).params["reasons"] == ["overdue"]


def test_certificate_due_date_earlier_than_the_rules_holds():
    # Verified 1 Mar 2025 (rules: due 1 Mar 2027); the certificate says 1 Jul 2026: past.
    cert = meter(last_calibrated_on=date(2025, 3, 1), last_next_due_on=date(2026, 7, 1))
    assert points("metering", file(meters=(cert,))) == 10.0


def test_failed_verification_makes_the_meter_unverified():
    failed = meter(last_calibrated_on=date(2026, 7, 1), last_passed=False, last_calibration_id=9)
    f = finding("metering", file(meters=(failed,)))
    assert f.code == "metering.meter_unverified"
    assert f.records == (("meter", 1), ("calibration", 9))


def test_intake_point_without_meter_loses_its_share_of_coverage():
    # 2 of 3 points metered: 10 × 2/3 = 6.7; the one meter verified: 10.
    facts = file(
        intake_points=tuple(IntakePointFact(i, f"{i}号井") for i in (1, 2, 3)),
        permits=(permit(points=(1, 2, 3)),),
        meters=(meter(1, point=1), meter(2, point=2)),
    )
    assert points("metering", facts) == 16.7
    f = finding("metering", facts)
    assert (f.code, f.lost, f.restore) == ("metering.intake_without_meter", 3.3, "add_meter")
    assert f.records == (("intake_point", 3),)


def test_one_unverified_meter_of_three_costs_a_third_of_calibration_points():
    facts = file(meters=(meter(1), meter(2), meter(3, last_calibrated_on=date(2023, 1, 1))))
    assert points("metering", facts) == 16.7  # 10 + 10 × 2/3
    assert finding("metering", facts).lost == 3.3


def test_removed_meter_is_not_in_service():
    facts = file(meters=(meter(removed_on=date(2026, 7, 1)),))
    assert points("metering", facts) == 0.0
    assert codes("metering", facts) == ["metering.intake_without_meter",
                                        "metering.no_meter_in_service"]


def test_no_intake_points_and_no_meters_earn_no_metering_points():
    facts = file(intake_points=(), meters=())
    assert points("metering", facts) == 0.0
    assert codes("metering", facts) == ["metering.no_intake_points",
                                        "metering.no_meter_in_service"]


# --- online monitoring 在线监测 (10) -----------------------------------------------------


@pytest.mark.parametrize(("volume", "expected"), [(9_999.0, 10.0), (10_000.0, 0.0)])
def test_online_monitoring_required_from_10000_m3(volume, expected):
    facts = file(permits=(permit(volume=volume),), plans=(PlanFact(1, 2026, volume),),
                 online_days=frozenset())
    assert points("online_monitoring", facts) == expected


@pytest.mark.parametrize(("days", "expected"), [(90, 10.0), (86, 10.0), (85, 9.9), (0, 0.0)])
def test_online_days_of_the_last_90_against_95_percent(days, expected):
    # 86/90 = 95.6 % ≥ 95 %; 85/90 ÷ 0.95 × 10 = 9.94 → 9.9
    assert points("online_monitoring", file(online_days=online(days))) == expected


@pytest.mark.parametrize(("days", "expected"), [(19, 10.0), (18, 9.5)])
def test_online_ratio_of_exactly_95_percent_gives_full_marks(days, expected):
    # A 20-day window makes 95 % a whole number of days: 19/20; 18/20 ÷ 0.95 × 10 = 9.47.
    section = RULES.evaluation.online_monitoring
    rules = replace(RULES, evaluation=replace(
        RULES.evaluation, online_monitoring=replace(section, window_days=20)))
    assert points("online_monitoring", file(online_days=online(days)), rules=rules) == expected


def test_online_window_ends_yesterday():
    window = online(85) | {TODAY}  # today's data does not count
    assert points("online_monitoring", file(online_days=window)) == 9.9
    window = online(85) | {TODAY - timedelta(days=90)}  # the window's first day counts
    assert points("online_monitoring", file(online_days=window)) == 10.0
    f = finding("online_monitoring", file(online_days=online(85)))
    assert (f.code, f.restore) == ("online.coverage", "connect_online_monitoring")
    assert f.params["from"] == "2026-04-16" and f.params["to"] == "2026-07-14"


@pytest.mark.parametrize("days", [90, 86, 85, 40, 0])
def test_online_days_counted_by_the_loader_score_as_the_days_themselves(days):
    first, last = online_window(TODAY, RULES)
    assert (first, last) == (date(2026, 4, 16), date(2026, 7, 14))
    counted = file(online_days=frozenset(), online_counted=OnlineDaysCount(first, last, days))
    assert score(counted) == score(file(online_days=online(days)))


def test_online_days_counted_over_another_window_are_refused():
    first, last = online_window(TODAY, RULES)
    stale = OnlineDaysCount(first - timedelta(days=1), last - timedelta(days=1), 90)
    with pytest.raises(ValueError, match="window"):
        score(file(online_days=frozenset(), online_counted=stale))


# --- planned use 计划用水 (15) -----------------------------------------------------------


@pytest.mark.parametrize(("volume", "expected"), [(2_999.0, 15.0), (3_000.0, 10.0)])
def test_plan_required_from_3000_m3(volume, expected):
    facts = file(permits=(permit(volume=volume),), plans=())
    assert points("planned_use", facts) == expected


def test_missing_plan_finding():
    f = finding("planned_use", file(plans=()))
    assert (f.code, f.lost, f.restore) == ("planned_use.no_plan", 5.0, "submit_plan")
    assert f.params["year"] == 2026


def test_last_years_plan_does_not_count():
    assert points("planned_use", file(plans=(PlanFact(1, 2025, 36_500.0),))) == 10.0


@pytest.mark.parametrize(
    ("use", "expected", "severity"),
    [
        (PRO_RATA_PLAN + 0.1, 15.0, None),  # over a pro rata share, within the year's plan
        (PLAN, 15.0, None),  # 0 % over: within (including)
        (36_682.5, 15.0, None),  # 182.5 ÷ 36,500 = 0.5 %: rounding (tolerance 0.5 %), no tier
        (36_682.6, 10.0, "minor"),  # 0.5003 %: just over the tolerance
        (43_763.5, 10.0, "minor"),  # 7,263.5 ÷ 36,500 = 19.9 %
        (43_800.0, 7.0, "major"),  # 20 %: the minor tier excludes 20
        (51_100.0, 7.0, "major"),  # 40 %: the major tier includes 40
        (51_136.5, 5.0, "severe"),  # 40.1 %
    ],
)
def test_over_plan_tiers_on_the_years_plan(use, expected, severity):
    # Jan–May 200 m³ each; June makes up the rest of the year's use (Jan–Jun on 15 Jul).
    facts = file(monthly_readings=readings(june=use - 1_000.0))
    assert points("planned_use", facts) == expected
    if severity:
        f = finding("planned_use", facts)
        assert (f.code, f.restore) == ("planned_use.over_plan", "reduce_intake")
        assert f.params["severity"] == severity
        assert f.params["allowance_m3"] == PLAN
        assert f.params["through"] == "2026-06-30" and f.params["plan_year"] == 2026
        assert ("plan", 1) in f.records


def test_without_plan_the_permitted_volume_is_the_limit():
    # 2,999 m³ permitted, no plan needed: 2,999 × 1.005 = 3,013.995 m³ still within.
    facts = file(permits=(permit(volume=2_999.0),), plans=(), monthly_readings=readings(june=2_014.0))
    assert points("planned_use", facts) == 10.0  # 3,014 m³: 0.5002 % over, minor
    over_plan, over_permit = score(facts).row("planned_use").findings  # and above the permit
    assert (over_plan.params["basis"], over_permit.code) == ("permit", "planned_use.over_permit")
    within = file(permits=(permit(volume=2_999.0),), plans=(), monthly_readings=readings(june=2_013.9))
    assert points("planned_use", within) == 15.0


def test_in_january_last_years_totals_stand_december_included():
    # On 20 Jan 2027, 2026 is judged whole: Jul–Nov 2025 are not 2026; Jan–Nov 2026 200 m³
    # each = 2,200 + December 34,400 = 36,600 m³ over the 2026 plan 36,500: 0.27 %, within
    # the 0.5 % tolerance; December 35,000 → 37,200: 1.92 % over, minor (5 of 10 lost).
    def year_2026(december):
        months = tuple(MonthlyReadingFact(date(2026, m, 1), 200.0, date(2026, m, 5)) for m in range(1, 12))
        return months + (MonthlyReadingFact(date(2026, 12, 1), december, date(2027, 1, 5)),)
    plans = (PlanFact(1, 2026, 36_500.0), PlanFact(2, 2027, 36_500.0))
    assert points("planned_use", file(plans=plans, monthly_readings=year_2026(34_400.0)),
                  today=date(2027, 1, 20)) == 15.0
    over = file(plans=plans, monthly_readings=year_2026(35_000.0))
    assert points("planned_use", over, today=date(2027, 1, 20)) == 10.0
    f = finding("planned_use", over, today=date(2027, 1, 20))
    assert (f.params["plan_year"], f.params["through"], f.params["use_m3"]) == (2026, "2026-12-31", 37_200.0)
    assert ("plan", 1) in f.records and ("reading_month", 202612) in f.records
    # From February 2027 the new plan year's evaluation replaces it (January 2027 alone).
    assert points("planned_use", over, today=date(2027, 2, 1)) == 15.0


def test_readings_of_the_current_month_are_not_year_to_date():
    july = MonthlyReadingFact(date(2026, 7, 1), 50_000.0, None)
    assert points("planned_use", file(monthly_readings=readings() + (july,))) == 15.0


def test_in_january_only_the_missing_new_plan_costs():
    # 2026's plan 36,500 and its use (Jul–Dec 2025 are last year's; Jan–Jun 2026 1,200 m³)
    # are within; the 2027 plan is missing: 5 lost.
    assert points("planned_use", today=date(2027, 1, 20)) == 10.0


def test_use_above_whole_permitted_volume_caps_the_grade_at_c():
    facts = file(monthly_readings=readings(june=73_000.1 - 1_000.0))
    result = score(facts)
    assert result.total == 90.0  # only the over-plan tier lost: 5 + 0 of 15
    assert result.grade_cap == "C"
    assert result.grade == "C"
    assert codes("planned_use", facts) == ["planned_use.over_plan", "planned_use.over_permit"]
    over_permit = result.row("planned_use").findings[1]
    assert (over_permit.lost, over_permit.restore) == (0.0, "apply_permit_change")


def test_use_equal_to_the_permitted_volume_is_not_above_it():
    result = score(file(monthly_readings=readings(june=73_000.0 - 1_000.0)))
    assert result.grade_cap is None and result.grade == "A"


# --- water-balance test 水平衡测试 (10) --------------------------------------------------


@pytest.mark.parametrize(
    ("tested_on", "expected"),
    [(date(2021, 7, 16), 10.0), (date(2021, 7, 15), 10.0), (date(2021, 7, 14), 0.0)],
    ids=["due_tomorrow", "due_today", "due_yesterday"],
)
def test_water_balance_test_every_5_years(tested_on, expected):
    facts = file(balance_tests=(BalanceTestFact(7, tested_on),))
    assert points("water_balance", facts) == expected
    if not expected:
        f = finding("water_balance", facts)
        assert (f.code, f.restore) == ("water_balance.overdue", "book_balance_test")
        assert f.records == (("balance_test", 7),)
        assert f.params["due_on"] == "2026-07-14"


@pytest.mark.parametrize(
    ("opened_on", "expected"), [(date(2025, 7, 15), 10.0), (date(2025, 7, 14), 0.0)]
)
def test_never_tested_is_due_12_months_after_the_file_opened(opened_on, expected):
    facts = file(opened_on=opened_on, balance_tests=(), monthly_readings=())
    assert points("water_balance", facts) == expected
    if not expected:
        assert finding("water_balance", facts).code == "water_balance.never_tested"


def test_water_balance_not_required_outside_the_listed_industries():
    facts = file(industry_code="1711", balance_tests=())  # 棉纺纱: a dry process
    assert points("water_balance", facts) == 10.0


def test_report_naming_an_earlier_next_test_is_held_to_it():
    report = BalanceTestFact(1, date(2024, 5, 1), next_due_on=date(2026, 5, 1))
    assert points("water_balance", file(balance_tests=(report,))) == 0.0


# --- records 取水量报送 (10) -------------------------------------------------------------


@pytest.mark.parametrize(("day", "expected"), [(10, 10.0), (11, 9.2)])
def test_reading_submitted_by_the_10th_of_next_month_counts(day, expected):
    # June submitted on 10 vs 11 July: 12/12 or 11/12 × 10 = 9.17 → 9.2.
    late_june = MonthlyReadingFact(date(2026, 6, 1), 200.0, date(2026, 7, day))
    facts = file(monthly_readings=readings(last=date(2026, 5, 1)) + (late_june,))
    assert points("records", facts) == expected
    if expected < 10:
        f = finding("records", facts)
        assert (f.code, f.lost, f.restore) == ("records.late_or_missing", 0.8, "submit_readings")
        assert f.records == (("reading_month", 202606),)
        assert f.params["late_months"] == [202606] and f.params["missing_months"] == []


def test_file_opened_3_months_ago_is_judged_on_those_3_months():
    # Opened 20 Apr: April on time, May late (11 Jun), June missing → 1/3 × 10 = 3.3.
    facts = file(
        opened_on=date(2026, 4, 20),
        monthly_readings=(
            MonthlyReadingFact(date(2026, 4, 1), 200.0, date(2026, 5, 10)),
            MonthlyReadingFact(date(2026, 5, 1), 200.0, date(2026, 6, 11)),
        ),
    )
    assert points("records", facts) == 3.3
    f = finding("records", facts)
    assert f.params == {"on_time": 1, "months": 3, "late_months": [202605],
                        "missing_months": [202606], "due_day": 10}


def test_last_month_is_pending_until_its_due_day_passes():
    before_june = readings(last=date(2026, 5, 1))
    assert points("records", file(monthly_readings=before_june), today=date(2026, 7, 10)) == 10.0
    assert points("records", file(monthly_readings=before_june), today=date(2026, 7, 11)) == 9.2


def test_file_opened_this_month_has_full_records_points():
    assert points("records", file(opened_on=date(2026, 7, 1), monthly_readings=())) == 10.0


def test_reading_without_submission_date_is_not_proven_on_time():
    undated = MonthlyReadingFact(date(2026, 6, 1), 200.0, None)
    assert points("records", file(monthly_readings=readings(last=date(2026, 5, 1)) + (undated,))
                  ) == 9.2


# --- inspections 检查整改 (15) -----------------------------------------------------------


def test_each_rectification_past_its_deadline_costs_5():
    facts = file(rectifications=(rectification(1, date(2026, 7, 1)),))
    assert points("inspections", facts) == 10.0
    f = finding("inspections", facts)
    assert (f.code, f.lost, f.restore) == ("inspections.overdue_rectification", 5.0, "rectify")
    assert f.records == (("rectification", 1),)
    assert f.params["days_overdue"] == 14


def test_rectification_deductions_floor_at_0():
    facts = file(rectifications=tuple(rectification(i, date(2026, 6, i)) for i in (1, 2, 3, 4)))
    row = score(facts).row("inspections")
    assert row.points == 0.0
    assert [f.lost for f in row.findings] == [5.0, 5.0, 5.0, 0.0]


@pytest.mark.parametrize(
    ("deadline", "status", "expected"),
    [
        (TODAY, "open", 15.0),  # the deadline day itself is still in time
        (date(2026, 7, 1), "verified", 15.0),
        (date(2026, 7, 1), "answered", 10.0),  # answered, no date to prove it was on time
    ],
)
def test_rectification_overdue_only_past_deadline_and_unverified(deadline, status, expected):
    facts = file(rectifications=(rectification(1, deadline, status),))
    assert points("inspections", facts) == expected


@pytest.mark.parametrize(("responded_on", "expected"), [
    (date(2026, 6, 20), 15.0),  # answered before the 1 Jul deadline: the inspector's wait
    (date(2026, 7, 1), 15.0),  # on the deadline day itself: still in time
    (date(2026, 7, 2), 10.0),  # a day late: 15 − 5
])
def test_answered_in_time_and_awaiting_verification_is_not_overdue(responded_on, expected):
    answered = RectificationFact(id=1, inspection_id=101, deadline=date(2026, 7, 1), status="answered",
                                 responded_on=responded_on)
    facts = file(rectifications=(answered,))
    assert points("inspections", facts) == expected
    if expected < 15:
        assert finding("inspections", facts).params["responded_on"] == "2026-07-02"


# --- grade 等级 ------------------------------------------------------------------------

UNCOVERED_POINT = {
    "intake_points": (IntakePointFact(1, "1号井"), IntakePointFact(2, "2号井")),
    "meters": (meter(1, point=1), meter(2, point=2)),
}


@pytest.mark.parametrize(
    ("changes", "total", "grade"),
    [
        ({"balance_tests": ()}, 90.0, "A"),
        ({"balance_tests": (), "online_days": online(85)}, 89.9, "B"),
        ({"balance_tests": (), "rectifications": "3 overdue"}, 75.0, "B"),
        ({"balance_tests": (), "rectifications": "3 overdue", "online_days": online(85)},
         74.9, "C"),
        ({"balance_tests": (), "rectifications": "3 overdue", "minor_over_plan": True,
          **UNCOVERED_POINT}, 60.0, "C"),
        ({"balance_tests": (), "rectifications": "3 overdue", "minor_over_plan": True,
          "online_days": online(85), **UNCOVERED_POINT}, 59.9, "D"),
    ],
)
def test_grade_edges(changes, total, grade):
    changes = dict(changes)
    if changes.get("rectifications") == "3 overdue":
        changes["rectifications"] = tuple(rectification(i, date(2026, 6, i)) for i in (1, 2, 3))
    if changes.pop("minor_over_plan", False):
        changes["monthly_readings"] = readings(june=PLAN * 1.01 - 1_000.0)  # 1 % over: minor
    result = score(file(**changes))
    assert (result.total, result.grade) == (total, grade)


def test_grade_for_edges_from_the_rules():
    grade_for = RULES.evaluation.grade_for
    assert [grade_for(t) for t in (90, 89.9, 75, 74.9, 60, 59.9, 0)] == list("ABBCCDD")
    assert grade_for(100, veto=True) == "D"
    assert grade_for(100, cap="C") == "C" and grade_for(59.9, cap="C") == "D"


def test_figures_come_from_the_rules_version():
    longer_window = replace(RULES, permit=replace(RULES.permit, renewal_window_days=60))
    higher_threshold = replace(RULES, thresholds=replace(
        RULES.thresholds, plan_required_m3_per_year=5_000))
    expiring = file(permits=(permit(valid_to=TODAY + timedelta(days=50)),))
    assert points("permit", expiring) == 20.0
    assert points("permit", expiring, rules=longer_window) == 10.0
    small = file(permits=(permit(volume=3_000.0),), plans=())
    assert points("planned_use", small) == 10.0
    assert points("planned_use", small, rules=higher_threshold) == 15.0


# --- stored form ------------------------------------------------------------------------


def test_evaluation_round_trips_through_json():
    overdue = (rectification(1, TODAY - timedelta(3)),)
    facts = file(plans=(), online_days=online(85), rectifications=overdue)
    result = score(facts)
    stored = json.loads(json.dumps(result.to_dict()))
    assert Evaluation.from_dict(stored) == result
    assert stored["rows"][0] == {"rule": "permit", "points": 20.0, "maximum": 20.0, "findings": []}


def test_stored_row_shape():
    row = RuleRow("inspections", 10.0, 15.0, (
        Finding("inspections.overdue_rectification", 5.0, {"deadline": "2026-07-01"},
                (("rectification", 1),), "rectify"),
    ))
    assert row.to_dict() == {
        "rule": "inspections", "points": 10.0, "maximum": 15.0,
        "findings": [{"code": "inspections.overdue_rectification", "lost": 5.0,
                      "params": {"deadline": "2026-07-01"}, "records": [["rectification", 1]],
                      "restore": "rectify"}],
    }
    assert RuleRow.from_dict(row.to_dict()) == row


# --- properties -------------------------------------------------------------------------

DAY = st.dates(min_value=date(2018, 1, 1), max_value=date(2030, 12, 31))
TYPES = st.sampled_from(["mechanical", "electromagnetic", "ultrasonic", "other"])


@st.composite
def meters_(draw, point_ids):
    installed = draw(DAY)
    calibrated = draw(st.one_of(st.none(), st.dates(min_value=installed,
                                                     max_value=date(2031, 1, 1))))
    return MeterFact(
        id=draw(st.integers(1, 10**6)),
        serial="M",
        intake_point_id=draw(st.sampled_from(point_ids)),
        meter_type=draw(TYPES),
        dn=draw(st.one_of(st.none(), st.integers(10, 300))),
        q3=draw(st.one_of(st.none(), st.floats(1, 500))),
        installed_on=installed,
        removed_on=draw(st.one_of(st.none(), DAY)),
        last_calibrated_on=calibrated,
        last_next_due_on=draw(st.one_of(st.none(), DAY)) if calibrated else None,
        last_passed=draw(st.one_of(st.none(), st.booleans())) if calibrated else None,
    )


@st.composite
def files(draw):
    point_ids = draw(st.lists(st.integers(1, 6), max_size=4, unique=True))
    permits = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(DAY)
        permits.append(PermitFact(
            id=i + 1, number="D330782S2021-0120", valid_from=start,
            valid_to=start + timedelta(days=draw(st.integers(0, 3650))),
            annual_volume_m3=draw(st.floats(0, 50_000, allow_nan=False)),
            intake_point_ids=frozenset(draw(st.lists(st.integers(1, 6), max_size=4))),
            renewal_applied_on=draw(st.one_of(st.none(), DAY)),
            revoked_on=draw(st.one_of(st.none(), DAY)),
            superseded=draw(st.booleans()),
        ))
    first_period = draw(st.dates(date(2024, 1, 1), date(2027, 6, 1))).replace(day=1)
    periods = [add_months(first_period, i) for i in range(draw(st.integers(0, 18)))]
    # online data: a run of days with every n-th day missing
    online_start = draw(st.dates(date(2025, 1, 1), date(2027, 12, 31)))
    online_count, online_gap = draw(st.integers(0, 120)), draw(st.integers(1, 30))
    return FileFacts(
        water_user_id=1,
        opened_on=draw(DAY),
        industry_code=draw(st.sampled_from(["2614", "1711", "4411", ""])),
        intake_points=tuple(IntakePointFact(i, f"{i}") for i in point_ids),
        permits=tuple(permits),
        plans=tuple(PlanFact(y, y, draw(st.floats(0, 50_000))) for y in
                    draw(st.lists(st.integers(2024, 2027), max_size=3, unique=True))),
        meters=tuple(draw(st.lists(meters_(point_ids or [1]), max_size=3))),
        monthly_readings=tuple(
            MonthlyReadingFact(p, draw(st.floats(0, 5_000)), p + timedelta(days=draw(lateness)))
            for p in periods
        ),
        online_days=frozenset(online_start + timedelta(days=i)
                              for i in range(online_count) if i % online_gap),
        balance_tests=tuple(BalanceTestFact(i, d, draw(st.one_of(st.none(), DAY)))
                            for i, d in enumerate(draw(st.lists(DAY, max_size=2)))),
        rectifications=tuple(
            RectificationFact(i, i, d, draw(st.sampled_from(["open", "answered", "verified"])))
            for i, d in enumerate(draw(st.lists(DAY, max_size=5)))
        ),
    )


lateness = st.sampled_from([30, 39, 40, 41, 60])

TODAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


@settings(max_examples=60, deadline=None)
@given(files(), TODAYS)
def test_total_within_0_100_and_equal_to_the_sum_of_rows(facts, today):
    result = evaluate(facts, today, RULES)
    assert 0 <= result.total <= 100
    assert result.total == round(sum(r.points for r in result.rows), 1)
    for row in result.rows:
        assert 0 <= row.points <= row.maximum
        assert round(sum(f.lost for f in row.findings), 1) == round(row.maximum - row.points, 1)
        assert all(f.lost >= 0 for f in row.findings)
    if result.veto:
        assert result.grade == "D"
    assert Evaluation.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@settings(max_examples=60, deadline=None)
@given(files(), TODAYS, st.data())
def test_a_passing_calibration_never_lowers_the_total(facts, today, data):
    if not facts.meters:
        return
    index = data.draw(st.integers(0, len(facts.meters) - 1))
    old = facts.meters[index]
    earliest = max(old.installed_on, old.last_calibrated_on or old.installed_on,
                   today - timedelta(days=365))
    if earliest > today:
        return
    on = data.draw(st.dates(min_value=earliest, max_value=today))
    next_due = data.draw(st.one_of(st.none(), st.integers(12, 36).map(lambda n: add_months(on, n))))
    calibrated = replace(old, last_calibrated_on=on, last_calibration_id=999,
                         last_next_due_on=next_due, last_passed=True)
    meters = facts.meters[:index] + (calibrated,) + facts.meters[index + 1:]
    before = evaluate(facts, today, RULES).total
    after = evaluate(replace(facts, meters=meters), today, RULES).total
    assert after >= before
