"""Issue 15's acceptance table: ordinary cases judged as a bureau expert would, by hand.

One row per case: the records of one file, the evaluation date, and the expected points,
grade and due dates computed by hand from domain.md (YW-2026.1 and the corrections of
2026-12) and the standards it names. Each row runs through the real service
(``evaluations.refresh``) on the test database (SQLite, or PostgreSQL with
REGISTRY_TEST_DATABASE_URL), so the loader's SQL is judged as well as the domain.

The base file, judged on D = 15 Jul 2026, earns 100 (A):
- permit 1 Jan 2024 – 31 Dec 2028, 2,000 m³/yr, covering the one intake point: 20;
  2,000 < 3,000 (no plan required) and < 10,000 (no online monitoring): 5 + 10, 10;
- one electromagnetic DN 100 meter installed 10 Jan 2022 (the verification rows vary);
- 100 m³ a month accepted, submitted on the 5th of the next month, Jul 2025 – Jun 2026:
  records 12/12 → 10; this year's use Jan–Jun 600 m³ ≤ 2,000 × 181/365 = 991.8 → 10;
- industry 3311 needs no water-balance test: 10; no rectification: 15.
Metering = 10 × metered points ÷ points + 10 × verified meters ÷ meters in service, so one
unverified meter of one costs 10: 90 (A, ≥ 90).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlalchemy import select

from registry.domain import due as due_engine
from registry.domain.dates import add_months
from registry.domain.rules import Rules, load_rules
from registry.extensions import db
from registry.models import AnnualPlan, DueItem, Evaluation, IndustryPeriod
from registry.services import evaluations, work_queue
from tests import factories as f

D = date(2026, 7, 15)
RULES = load_rules("YW-2026.1")


def _rules_with(**interval_months) -> Rules:
    data = RULES.to_dict()
    data["version"] = "YW-2026.9"
    data["calibration"]["interval_months"].update(interval_months)
    return Rules.from_dict(data)


@dataclass
class Case:
    id: str
    calibrations: list[dict] | None = None  # kind, on, passed, error, next_due; None: BASE_VERIFICATION
    meter: dict = field(default_factory=dict)  # overrides of the meter
    rules: Rules = RULES
    today: date = D
    plans: dict[int, float] = field(default_factory=dict)  # year -> planned m³
    volumes: dict[date, float] = field(default_factory=dict)  # month -> m³ instead of 100
    grade_cap: str | None = None
    rectifications: list[dict] = field(default_factory=list)  # deadline, status, responded_on
    permit: dict = field(default_factory=dict)  # overrides of the permit
    renewal: dict | None = None  # a renewal permit of the first (valid_from, valid_to)
    veto: bool = False
    extra_permits: list[dict] = field(default_factory=list)  # further permits (a groundwater one ...)
    opened_on: date = date(2020, 3, 1)
    status: str = "active"
    readings_from: date = date(2025, 7, 1)  # monthly readings from this month to last month
    missing_months: tuple[date, ...] = ()  # months of those without a reading
    online_days: int = 0  # days with an online reading, ending yesterday
    industry: str = "3311"  # 1713 (printing & dyeing) must test its water balance
    balance_tests: list[dict] = field(default_factory=list)  # tested_on, vf, vr, vco, vd, vl
    industry_history: list[tuple[date, str]] = field(default_factory=list)  # (since, code), oldest first
    # expected
    points: dict[str, float] = field(default_factory=dict)  # rule -> points (others full)
    total: float = 100.0
    grade: str = "A"
    due: dict[str, tuple[str, date]] = field(default_factory=dict)  # kind -> (status, due_on)
    no_due: tuple[str, ...] = ()  # kinds that must have no item
    codes: tuple[str, ...] = ()  # finding codes expected (at least)


def _cal(kind, on, passed=True, error=0.8, next_due=None):
    return {"kind": kind, "calibrated_on": on, "passed": passed, "error_pct": error, "next_due_on": next_due}


def _bt(on, vd):
    return {"tested_on": on, "vf": 100_000.0, "vr": 150_000.0, "vco": 20_000.0, "vd": float(vd), "vl": 3_000.0}


# 1 Mar 2025 + 24 months: verified to 1 Mar 2027.
BASE_VERIFICATION = [_cal("subsequent", date(2025, 3, 1))]

CASES = [
    # --- item 4: verification is not any check (JJG 162-2019) -----------------------------
    Case("verified_2025_due_2027",  # 1 Mar 2025 + 24 months = 1 Mar 2027 ≥ D: verified
         [_cal("subsequent", date(2025, 3, 1))],
         due={"calibration": ("ok", date(2027, 3, 1))}),
    Case("in_use_check_does_not_restart",  # 1 Mar 2024 + 24 = 1 Mar 2026 < D; the 使用中检查 of
         [_cal("subsequent", date(2024, 3, 1)), _cal("in_service", date(2026, 6, 1))],  # June is no verification
         points={"metering": 10.0}, total=90.0, codes=("metering.meter_unverified",),
         due={"calibration": ("overdue", date(2026, 3, 1))}),
    Case("on_site_calibration_alone_is_no_verification",  # 现场校准 only: never verified, dated
         [_cal("on_site", date(2026, 6, 1))],  # the installation (10 Jan 2022)
         points={"metering": 10.0}, total=90.0,
         due={"calibration": ("overdue", date(2022, 1, 10))}),
    Case("passed_flag_but_error_beyond_tolerance",  # |+6.0 %| > ±5 %: does not count
         [_cal("subsequent", date(2026, 1, 10), passed=True, error=6.0)],
         points={"metering": 10.0}, total=90.0,
         due={"calibration": ("overdue", date(2026, 1, 10))}),
    Case("error_at_the_tolerance_counts",  # |−5.0 %| ≤ 5 %: 10 Jan 2026 + 24 = 10 Jan 2028
         [_cal("subsequent", date(2026, 1, 10), error=-5.0)],
         due={"calibration": ("ok", date(2028, 1, 10))}),
    Case("failed_verification",  # the latest verification failed: unverified at once
         [_cal("subsequent", date(2025, 3, 1)), _cal("subsequent", date(2026, 5, 1), passed=False, error=7.5)],
         points={"metering": 10.0}, total=90.0,
         due={"calibration": ("overdue", date(2026, 5, 1))}),
    Case("due_today_is_still_verified",  # 15 Jul 2024 + 24 months = 15 Jul 2026 = D
         [_cal("subsequent", date(2024, 7, 15))],
         due={"calibration": ("due_soon", date(2026, 7, 15))}),
    Case("due_yesterday_is_overdue",  # 14 Jul 2024 + 24 months = 14 Jul 2026 < D
         [_cal("subsequent", date(2024, 7, 14))],
         points={"metering": 10.0}, total=90.0,
         due={"calibration": ("overdue", date(2026, 7, 14))}),
    Case("stated_due_later_than_rules_does_not_stretch",  # 1 Jun 2024 + 24 = 1 Jun 2026, not Dec 2027
         [_cal("subsequent", date(2024, 6, 1), next_due=date(2027, 12, 1))],
         points={"metering": 10.0}, total=90.0,
         due={"calibration": ("overdue", date(2026, 6, 1))}),
    Case("stated_due_earlier_than_rules_holds",  # 1 Mar 2025 + 24 = 1 Mar 2027; certificate says 1 Aug 2026
         [_cal("subsequent", date(2025, 3, 1), next_due=date(2026, 8, 1))],
         due={"calibration": ("due_soon", date(2026, 8, 1))}),  # 17 days ≤ 30: due soon
    Case("new_rules_version_moves_the_due_date",  # a version with 12 months: 1 Mar 2025 + 12 = 1 Mar 2026
         [_cal("subsequent", date(2025, 3, 1))], rules=_rules_with(electromagnetic=12),
         points={"metering": 10.0}, total=90.0,
         due={"calibration": ("overdue", date(2026, 3, 1))}),
    # --- item 5: meters with no evidence ---------------------------------------------------
    Case("no_verification_on_record",  # nothing at all: unverified, dated the installation
         [], points={"metering": 10.0}, total=90.0, codes=("metering.meter_unverified",),
         due={"calibration": ("overdue", date(2022, 1, 10))}),
    Case("service_life_from_first_verification",  # DN 20: 6 years from 1 Jul 2020 = 1 Jul 2026 < D
         [_cal("initial", date(2020, 7, 1))],  # (from installation, 1 Aug 2026, it would still run)
         meter={"meter_type": "mechanical", "dn": 20, "q3": 4.0, "installed_on": date(2020, 8, 1)},
         points={"metering": 10.0}, total=90.0, codes=("metering.meter_past_service_life",),
         due={"service_life": ("overdue", date(2026, 7, 1))}, no_due=("calibration",)),
    Case("small_meter_never_verified",  # DN 20, installed 10 Jan 2021, no 首次检定: unverified;
         [], meter={"meter_type": "mechanical", "dn": 20, "q3": 4.0, "installed_on": date(2021, 1, 10)},
         points={"metering": 10.0}, total=90.0,  # life from installation: 10 Jan 2027
         due={"calibration": ("overdue", date(2021, 1, 10)), "service_life": ("ok", date(2027, 1, 10))}),
    Case("electromagnetic_water_meter_dn25_has_a_service_life",  # JJG 162 covers it: 6 years from
         [_cal("initial", date(2019, 6, 1))],  # 1 Jun 2019 = 1 Jun 2025 < D
         meter={"meter_type": "electromagnetic", "dn": 25, "q3": 6.3, "installed_on": date(2019, 6, 1)},
         points={"metering": 10.0}, total=90.0, codes=("metering.meter_past_service_life",),
         due={"service_life": ("overdue", date(2025, 6, 1))}, no_due=("calibration",)),
    Case("ultrasonic_water_meter_dn40_lives_4_years",  # 20 Dec 2022 + 4 years = 20 Dec 2026 ≥ D
         [_cal("initial", date(2022, 12, 20))],
         meter={"meter_type": "ultrasonic", "dn": 40, "q3": 16.0, "installed_on": date(2023, 1, 1)},
         due={"service_life": ("ok", date(2026, 12, 20))}, no_due=("calibration",)),
    # --- item 6: over plan on the year's totals (浙江省计划用水管理) ---------------------------
    # The base file's use: 100 m³ a month, Jan–Jun 2026 = 600 m³ on 15 Jul 2026.
    Case("over_a_pro_rata_share_but_within_the_years_plan",  # 600 ≤ 1,000 (a pro rata by day
         plans={2026: 1_000.0}),  # would have allowed 1,000 × 181/365 = 495.9: 21 % "over")
    Case("over_the_years_plan_mid_year",  # (600 − 500) ÷ 500 = 20 %: major (minor excludes 20)
         plans={2026: 500.0}, points={"planned_use": 7.0}, total=92.0,  # 5 + 2
         codes=("planned_use.over_plan",)),
    Case("rounding_is_no_tier",  # (600 − 598) ÷ 598 = 0.33 % ≤ 0.5 % tolerance: within
         plans={2026: 598.0}),
    Case("just_over_the_rounding_tolerance",  # (600 − 597) ÷ 597 = 0.503 % > 0.5 %: minor, 5 + 5
         plans={2026: 597.0}, points={"planned_use": 10.0}, total=95.0),
    Case("december_counts_in_january",  # 20 Jan 2027: 2026 whole, 12 × 100 = 1,200 m³ over the
         None, today=date(2027, 1, 20),  # 2026 plan 1,100:
         plans={2026: 1_100.0}, points={"planned_use": 10.0}, total=95.0,  # 9.1 %, minor: 5 + 5
         codes=("planned_use.over_plan",)),
    Case("the_new_plan_year_replaces_it_in_february",  # 10 Feb 2027: January 2027 alone,
         None, today=date(2027, 2, 10),  # 100 ≤ 1,100
         plans={2026: 1_100.0, 2027: 1_100.0}),
    Case("over_the_permit_after_december_caps_in_january",  # 2026: 11 × 100 + 1,000 = 2,100 m³
         None, today=date(2027, 1, 20),  # > 2,000 permitted:
         volumes={date(2026, 12, 1): 1_000.0},  # cap C; no plan: 5 % over the permit, minor
         points={"planned_use": 10.0}, total=95.0, grade="C", grade_cap="C",
         codes=("planned_use.over_plan", "planned_use.over_permit")),
    # --- item 8: rectifications (15 − 5 per order past its deadline and not verified) -------
    Case("answered_before_the_deadline_awaits_the_inspector",  # answered 25 Jun ≤ 1 Jul: no
         rectifications=[{"deadline": date(2026, 7, 1), "status": "answered",  # deduction; the
                          "responded_on": date(2026, 6, 25)}],  # inspector's wait, undated
         due={"rectification": ("due_soon", None)}),
    Case("answered_on_the_deadline_day",  # 1 Jul ≤ 1 Jul: in time
         rectifications=[{"deadline": date(2026, 7, 1), "status": "answered",
                          "responded_on": date(2026, 7, 1)}],
         due={"rectification": ("due_soon", None)}),
    Case("answered_after_the_deadline",  # 3 Jul > 1 Jul: overdue, 15 − 5 = 10
         rectifications=[{"deadline": date(2026, 7, 1), "status": "answered",
                          "responded_on": date(2026, 7, 3)}],
         points={"inspections": 10.0}, total=95.0, codes=("inspections.overdue_rectification",),
         due={"rectification": ("overdue", date(2026, 7, 1))}),
    Case("open_past_the_deadline",  # not answered, deadline 1 Jul < 15 Jul: 10
         rectifications=[{"deadline": date(2026, 7, 1), "status": "open"}],
         points={"inspections": 10.0}, total=95.0,
         due={"rectification": ("overdue", date(2026, 7, 1))}),
    Case("open_due_today",  # the deadline day is still in time; 0 days ≤ 7: due soon
         rectifications=[{"deadline": D, "status": "open"}],
         due={"rectification": ("due_soon", D)}),
    # --- item 3: renewal (取水许可和水资源费征收管理条例 第二十五条: apply ≥ 45 days before) --
    # The permit ends 14 Aug 2026 (30 days after D): apply by 14 Aug − 45 days = 30 Jun.
    Case("renewal_applied_exactly_45_days_before",  # 30 Jun: in time, 20
         permit={"valid_to": date(2026, 8, 14), "renewal_applied_on": date(2026, 6, 30)}),
    Case("renewal_applied_44_days_before",  # 1 Jul: late, the renewal points lost: 20 − 10
         permit={"valid_to": date(2026, 8, 14), "renewal_applied_on": date(2026, 7, 1)},
         points={"permit": 10.0}, total=90.0, codes=("permit.renewal_not_applied",),
         due={"permit_renewal": ("due_soon", date(2026, 8, 14))}),
    Case("no_renewal_within_45_days",  # nothing applied, 30 ≤ 45 days left: 20 − 10
         permit={"valid_to": date(2026, 8, 14)}, points={"permit": 10.0}, total=90.0,
         due={"permit_renewal": ("due_soon", date(2026, 8, 14))}),
    Case("renewal_pending_decision_is_no_veto",  # ended 30 Jun, applied 16 May = 30 Jun − 45:
         permit={"valid_to": date(2026, 6, 30), "renewal_applied_on": date(2026, 5, 16)},  # in time,
         codes=("permit.renewal_pending",),  # undecided: in force meanwhile, 0 lost; the
         due={"permit_renewal": ("due_soon", None)}),  # bureau's decision on the work queue
    Case("late_application_lapses_at_expiry",  # ended 30 Jun, applied 17 May (44 days): no valid
         permit={"valid_to": date(2026, 6, 30), "renewal_applied_on": date(2026, 5, 17)},  # permit,
         points={"permit": 0.0}, total=80.0, grade="D", veto=True,  # 0 and veto
         codes=("permit.none_valid",), due={"permit_renewal": ("overdue", date(2026, 6, 30))}),
    Case("renewal_entered_early_does_not_end_the_old_permit",  # renewal from 1 Sep 2026: the old
         permit={"valid_to": date(2026, 8, 31)},  # one (to 31 Aug) is still in force on D, and with a
         renewal={"valid_from": date(2026, 9, 1), "valid_to": date(2031, 8, 31)}),  # renewal granted
    Case("renewal_in_force_from_its_start",  # renewal started 1 Jul: the old one is superseded,
         permit={"valid_to": date(2026, 8, 31)},  # the renewal in force: 20
         renewal={"valid_from": date(2026, 7, 1), "valid_to": date(2031, 6, 30)}),
    # --- item 2: several permits, one per source: the permitted volume is their sum ---------
    Case("surface_and_groundwater_permits_sum_to_the_online_threshold",  # 6,000 S + 5,000 G =
         permit={"annual_volume_m3": 6_000.0},  # 11,000 ≥ 10,000: online monitoring required
         extra_permits=[{"valid_from": date(2024, 1, 1), "valid_to": date(2028, 12, 31),  # (no
                         "annual_volume_m3": 5_000.0}],  # online day: 0 of 10) and a plan
         points={"online_monitoring": 0.0, "planned_use": 10.0}, total=85.0, grade="B",  # (≥ 3,000:
         codes=("online.coverage", "planned_use.no_plan")),  # none, 5 lost); use 600 ≤ 11,000
    Case("over_permit_cap_uses_the_sum",  # 1,000 S + 1,500 G = 2,500; Jan–Jun 500 + 1,600 =
         permit={"annual_volume_m3": 1_000.0},  # 2,100 ≤ 2,500: within, no cap (the largest
         extra_permits=[{"valid_from": date(2024, 1, 1), "valid_to": date(2028, 12, 31),  # alone,
                         "annual_volume_m3": 1_500.0}],  # 1,500, would have capped it at C)
         volumes={date(2026, 6, 1): 1_600.0}),
    Case("a_permit_no_longer_in_force_leaves_the_sum",  # the G permit ended 30 Jun 2026: 2,000
         extra_permits=[{"valid_from": date(2021, 7, 1), "valid_to": date(2026, 6, 30),  # S alone,
                         "annual_volume_m3": 9_000.0}],  # below 3,000 and 10,000: full marks
         no_due=("permit_renewal",)),  # its intake point is covered by S: nothing to renew
    # --- item 7: new and suspended files (judged from their opening and first meter) --------
    Case("months_before_the_first_meter_are_not_missing",  # opened 1 Jan 2026, meter from 10 Apr:
         [_cal("initial", date(2026, 4, 1))], opened_on=date(2026, 1, 1),  # Apr–Jun 3/3 on time: 10
         meter={"installed_on": date(2026, 4, 10)}, readings_from=date(2026, 4, 1)),  # (Jan–Mar would be 3/6: 5)
    Case("no_plan_needed_in_the_opening_year",  # opened 1 Feb 2026, 5,000 m³ ≥ 3,000 but the plan is
         [_cal("initial", date(2026, 1, 25))], opened_on=date(2026, 2, 1),  # due from 2027: 5 + 10 (use
         meter={"installed_on": date(2026, 2, 1)}, readings_from=date(2026, 2, 1),  # Feb–Jun 500 ≤ 5,000)
         permit={"annual_volume_m3": 5_000.0}, no_due=("annual_plan",)),
    Case("plan_due_from_the_next_plan_year",  # opened 1 Feb 2025: the 2026 plan is due, missing: 15 − 5
         [_cal("initial", date(2025, 1, 20))], opened_on=date(2025, 2, 1),
         meter={"installed_on": date(2025, 2, 1)}, permit={"annual_volume_m3": 5_000.0},
         points={"planned_use": 10.0}, total=95.0, codes=("planned_use.no_plan",),
         due={"annual_plan": ("overdue", date(2026, 1, 1))}),
    Case("online_window_shortened_to_the_history",  # opened and metered 1 Jun 2026, 12,000 m³ (online
         [_cal("initial", date(2026, 5, 25))], opened_on=date(2026, 6, 1),  # required): window 1 Jun –
         meter={"installed_on": date(2026, 6, 1)}, readings_from=date(2026, 6, 1),  # 14 Jul = 44 days, 30 with
         permit={"valid_from": date(2026, 5, 20), "issued_on": date(2026, 5, 10), "annual_volume_m3": 12_000.0},
         online_days=30,  # data: 10 × 30 ÷ (44 × 0.95) = 300 ÷ 41.8 = 7.18 → 7.2 (over 90 days: 3.5);
         points={"online_monitoring": 7.2}, total=97.2, codes=("online.coverage",)),  # no plan due in 2026
    Case("online_history_covered_is_full_marks",  # as above, 42 of the 44 days: 42 × 100 ≥ 44 × 95
         [_cal("initial", date(2026, 5, 25))], opened_on=date(2026, 6, 1),
         meter={"installed_on": date(2026, 6, 1)}, readings_from=date(2026, 6, 1),
         permit={"valid_from": date(2026, 5, 20), "issued_on": date(2026, 5, 10), "annual_volume_m3": 12_000.0},
         online_days=42),
    Case("opened_today_has_no_online_window_yet",  # opened and metered on D: the window ends yesterday,
         [_cal("initial", date(2026, 7, 10))], opened_on=D,  # before its history: online 10; no month
         meter={"installed_on": D}, readings_from=D,  # ended yet: records 10; no plan due in 2026
         permit={"valid_from": date(2026, 7, 1), "issued_on": date(2026, 6, 20), "annual_volume_m3": 12_000.0},
         no_due=("monthly_readings", "annual_plan")),
    Case("suspended_file_owes_nothing_meanwhile",  # suspended, Mar–Jun without readings and no plan
         status="suspended", permit={"annual_volume_m3": 5_000.0},  # (5,000 ≥ 3,000): paused, not
         missing_months=(date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)),  # missing:
         no_due=("monthly_readings", "annual_plan", "calibration")),  # 8/8 on time, 15; no due item
    Case("active_file_with_the_same_gaps_loses_points",  # the same file active: records 8 of 12 on
         permit={"annual_volume_m3": 5_000.0},  # time: 10 × 8 ÷ 12 = 6.67 → 6.7; no plan: 15 − 5
         missing_months=(date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)),
         points={"records": 6.7, "planned_use": 10.0}, total=91.7,
         codes=("records.late_or_missing", "planned_use.no_plan"),
         due={"monthly_readings": ("overdue", date(2026, 7, 10)), "annual_plan": ("overdue", date(2026, 1, 1))}),
    # --- item 9: the water-balance test (GB/T 12452-2022; printing & dyeing must test) ------
    # Balance error = |Vf − (Vco + Vd + Vl)| ÷ Vf; the rules' limit 5 %. Vf = 100,000, Vr = 150,000.
    Case("balance_test_in_balance_counts",  # 20,000 + 77,000 + 3,000 = Vf: 0 %; 1 Jun 2023 + 5 years
         industry="1713", balance_tests=[_bt(date(2023, 6, 1), vd=77_000)],
         due={"balance_test": ("ok", date(2028, 6, 1))}),
    Case("balance_error_at_the_limit_counts",  # 20,000 + 72,000 + 3,000 = 95,000: 5.00 % ≤ 5 %
         industry="1713", balance_tests=[_bt(date(2023, 6, 1), vd=72_000)],
         due={"balance_test": ("ok", date(2028, 6, 1))}),
    Case("balance_error_beyond_the_limit_fails",  # 94,990: 5.01 % > 5 %: failed, does not count;
         industry="1713", balance_tests=[_bt(date(2023, 6, 1), vd=71_990)],  # never tested: due 12
         points={"water_balance": 0.0}, total=90.0, codes=("water_balance.never_tested",),  # months after
         due={"balance_test": ("overdue", date(2021, 3, 1))}),  # opening (1 Mar 2020)
    Case("a_failed_retest_leaves_the_last_good_test",  # 1 Jun 2022 in balance (due 1 Jun 2027); the
         industry="1713", balance_tests=[_bt(date(2022, 6, 1), vd=77_000),  # retest of 1 Jun 2026 is
                                         _bt(date(2026, 6, 1), vd=67_000)],  # 10 % off: not counted
         due={"balance_test": ("ok", date(2027, 6, 1))}),
    # A change of industry into one that must test starts the first-test clock (12 months).
    Case("industry_changed_into_a_required_one_counts_from_the_change",  # 3311 → 1713 on 1 Mar
         industry="1713", industry_history=[(date(2020, 3, 1), "3311"), (date(2026, 3, 1), "1713")],  # 2026:
         due={"balance_test": ("ok", date(2027, 3, 1))}),  # due 1 Mar 2027, not 1 Mar 2021 (opening)
    Case("industry_changed_long_ago_is_overdue",  # 3311 → 1713 on 10 Jan 2025: due 10 Jan 2026 < D
         industry="1713", industry_history=[(date(2020, 3, 1), "3311"), (date(2025, 1, 10), "1713")],
         points={"water_balance": 0.0}, total=90.0, codes=("water_balance.never_tested",),
         due={"balance_test": ("overdue", date(2026, 1, 10))}),
    Case("a_change_between_required_industries_keeps_the_clock",  # 1713 → 2221 (papermaking) on 1 Mar
         industry="2221", industry_history=[(date(2020, 3, 1), "1713"), (date(2026, 3, 1), "2221")],  # 2026:
         points={"water_balance": 0.0}, total=90.0,  # required since the opening: due 1 Mar 2021
         due={"balance_test": ("overdue", date(2021, 3, 1))}),
]


def _file(case: Case):
    wu = f.WaterUserFactory(opened_on=case.opened_on, industry_code=case.industry, status=case.status)
    for since, code in case.industry_history:
        db.session.add(IndustryPeriod(water_user=wu, industry_code=code, since=since))
    for test in case.balance_tests:
        f.BalanceTestFactory(water_user=wu, next_due_on=None, **test)
    point = f.IntakePointFactory(water_user=wu)
    permit = f.PermitFactory(water_user=wu, **{"valid_from": date(2024, 1, 1), "valid_to": date(2028, 12, 31),
                                               "issued_on": date(2023, 12, 1), "annual_volume_m3": 2000.0,
                                               **case.permit})
    permit.intake_points = [point]
    for n, extra in enumerate(case.extra_permits):
        other = f.PermitFactory(water_user=wu, **{"number": f"D330782G2024-{9000 + n + 10 * wu.id:04d}",
                                                  "issued_on": date(2023, 12, 1), **extra})
        other.intake_points = [point]
    if case.renewal is not None:
        renewal = f.PermitFactory(water_user=wu, renews=permit, issued_on=date(2026, 6, 1),
                                  annual_volume_m3=2000.0, **case.renewal)
        renewal.intake_points = [point]
    meter_fields = {"meter_type": "electromagnetic", "dn": 100, "q3": 63.0, "installed_on": date(2022, 1, 10),
                    **case.meter}
    meter = f.MeterFactory(intake_point=point, water_user=wu, **meter_fields)
    for cal in BASE_VERIFICATION if case.calibrations is None else case.calibrations:
        f.CalibrationFactory(meter=meter, **cal)
    for rect in case.rectifications:
        inspection = f.InspectionFactory(water_user=wu, inspected_on=date(2026, 6, 1))
        f.RectificationFactory(inspection=inspection, water_user_id=wu.id, **rect)
    for year, planned in case.plans.items():
        db.session.add(AnnualPlan(water_user=wu, year=year, planned_volume_m3=planned))
    for n in range(1, case.online_days + 1):
        day = date.fromordinal(case.today.toordinal() - n)
        f.ReadingFactory(meter=meter, period=day.replace(day=1), read_on=day, volume_m3=3.0, source="online")
    month = case.readings_from
    while month < date(case.today.year, case.today.month, 1):
        if month in case.missing_months:
            month = add_months(month, 1)
            continue
        f.ReadingFactory(meter=meter, period=month, volume_m3=case.volumes.get(month, 100.0), status="accepted",
                         submitted_on=add_months(month, 1).replace(day=5))
        month = add_months(month, 1)
    db.session.commit()
    return wu


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rules_table(db_session, case: Case):
    wu = _file(case)
    evaluations.refresh(db_session, case.rules, case.today, [wu.id])
    db_session.commit()
    stored = db_session.scalars(select(Evaluation).where(Evaluation.water_user_id == wu.id)
                                .order_by(Evaluation.id.desc())).first()
    rows = {row["rule"]: row for row in stored.rows}
    for rule, row in rows.items():
        assert row["points"] == case.points.get(rule, row["maximum"]), (rule, row)
    assert (stored.total, stored.grade, stored.veto) == (case.total, case.grade, case.veto)
    judged = next(r for r in stored.rows if r["rule"] == "planned_use")
    caps = {f["params"].get("grade_cap") for f in judged["findings"]} - {None}
    assert caps == ({case.grade_cap} if case.grade_cap else set())
    codes = {finding["code"] for row in stored.rows for finding in row["findings"]}
    assert set(case.codes) <= codes, codes
    items = db_session.scalars(select(DueItem).where(DueItem.water_user_id == wu.id)).all()
    by_kind = {item.kind: item for item in items}
    for kind, (status, due_on) in case.due.items():
        if status == "ok":  # the stored due list keeps only due_soon and overdue items:
            assert kind not in by_kind  # an ok one is read from the loader and the domain
            (facts,) = evaluations.iter_facts(db_session, case.today, [wu.id], rules=case.rules)
            computed = {i.kind: i for i in due_engine.due_items(facts, case.today, case.rules)}
            assert (computed[kind].status, computed[kind].due_on) == (status, due_on)
            continue
        assert kind in by_kind, (kind, by_kind)
        assert (by_kind[kind].status, by_kind[kind].due_on) == (status, due_on)
    for kind in case.no_due:
        assert kind not in by_kind


def test_an_answer_in_time_waits_on_the_inspectors_work_queue_not_as_overdue(db_session):
    (case,) = [c for c in CASES if c.id == "answered_before_the_deadline_awaits_the_inspector"]
    wu = _file(case)
    evaluations.refresh(db_session, case.rules, case.today, [wu.id])
    db_session.commit()
    inspector = f.inspector(divisions=(wu.division_code,))
    rows = db_session.execute(work_queue.queue(db_session, inspector, work_queue.QueueFilters(), case.today)).all()
    waits = [(item.kind, status, item.params.get("responded_on")) for item, owner, status in rows if owner.id == wu.id]
    assert waits == [("rectification", "due_soon", "2026-06-25")]
    overdue = db_session.execute(work_queue.queue(db_session, inspector, work_queue.QueueFilters(status="overdue"),
                                                  case.today)).all()
    assert all(owner.id != wu.id for _, owner, _ in overdue)


def test_the_plan_may_go_up_to_the_sum_of_the_permits(db_session):
    # 2026: S 6,000 all year + G 5,000 from 1 Apr = 11,000 from April: a plan of 11,000 is
    # allowed, 11,000.5 is not (the largest permit alone, 6,000, would have refused both).
    from registry.services import ValidationError, records

    wu = f.WaterUserFactory(opened_on=date(2020, 3, 1))
    f.PermitFactory(water_user=wu, number="D330782S2024-7001", valid_from=date(2024, 1, 1),
                    valid_to=date(2028, 12, 31), issued_on=date(2023, 12, 1), annual_volume_m3=6_000.0)
    f.PermitFactory(water_user=wu, number="D330782G2026-7002", valid_from=date(2026, 4, 1),
                    valid_to=date(2030, 3, 31), issued_on=date(2026, 3, 1), annual_volume_m3=5_000.0)
    db_session.commit()
    with pytest.raises(ValidationError) as err:
        records.create(db_session, f.admin(), "plan", wu, {"year": 2026, "planned_volume_m3": 11_000.5})
    assert "11,000" in str(err.value.errors["planned_volume_m3"])
    assert records.create(db_session, f.admin(), "plan", wu, {"year": 2026, "planned_volume_m3": 11_000}).id


@pytest.mark.parametrize(("case_id", "english", "chinese"), [
    ("in_use_check_does_not_restart", "not verified (JJG 162-2019)", "JJG 162-2019"),
    ("no_verification_on_record", "has no verification (首次检定 / 后续检定) on record", "无首次检定或后续检定记录"),
    ("service_life_from_first_verification", "2026-07-01", "自首次检定起算"),
    ("over_the_years_plan_mid_year", "20.0 % over the plan for the year (500 m³)", "浙江省计划用水管理"),
    ("renewal_applied_44_days_before", "applied for on 2026-07-01, later than 2026-06-30", "第二十五条"),
    ("renewal_pending_decision_is_no_veto", "Renewal pending decision", "延续待审批"),
    ("answered_after_the_deadline", "answered late, on 2026-07-03", "逾期答复"),
    ("surface_and_groundwater_permits_sum_to_the_online_threshold", "11,000 m³ is permitted", "11,000"),
])
def test_each_lost_point_names_its_rule_basis_and_figures_in_both_languages(db_session, case_id, english, chinese):
    from flask_babel import force_locale

    from registry.presentation import explain

    (case,) = [c for c in CASES if c.id == case_id]
    wu = _file(case)
    evaluations.refresh(db_session, case.rules, case.today, [wu.id])
    db_session.commit()
    stored = db_session.scalars(select(Evaluation).where(Evaluation.water_user_id == wu.id)
                                .order_by(Evaluation.id.desc())).first()
    findings = [finding for row in stored.rows for finding in row["findings"]]
    with force_locale("en"):
        sentences_en = " | ".join(explain.sentence(x["code"], x["params"]) for x in findings)
    with force_locale("zh_CN"):
        sentences_zh = " | ".join(explain.sentence(x["code"], x["params"]) for x in findings)
    assert english in sentences_en, sentences_en
    assert chinese in sentences_zh, sentences_zh
