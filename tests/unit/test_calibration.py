"""Meter verification (JJG 162-2019, JJG 1033, JJG 1030, CJ/T 364) with rules YW-2026.1."""

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.domain.calibration import (
    verification_due_on,
    verification_fault,
    CalibrationError,
    calibration_due_on,
    in_place_check_passes,
    is_verified_on,
    meter_deadline,
    meter_due_status,
    service_life_ends_on,
    verification_class,
)
from registry.domain.rules import load_rules

RULES = load_rules("YW-2026.1")
INSTALLED = date(2022, 3, 15)


def test_mechanical_dn20_has_no_periodic_verification():
    assert verification_class("mechanical", 20, 4.0, RULES) == "service_life_6y"
    assert calibration_due_on("mechanical", 20, 4.0, INSTALLED, None, RULES) is None


def test_mechanical_dn20_service_life_ends_after_6_years():
    assert service_life_ends_on("mechanical", 20, 4.0, INSTALLED, RULES) == date(2028, 3, 15)


def test_mechanical_dn25_is_still_in_the_6_year_band():
    assert verification_class("mechanical", 25, 6.3, RULES) == "service_life_6y"


@pytest.mark.parametrize("dn", [32, 40, 50])
def test_mechanical_dn32_to_dn50_service_life_4_years(dn):
    assert verification_class("mechanical", dn, 16.0, RULES) == "service_life_4y"
    assert calibration_due_on("mechanical", dn, 16.0, INSTALLED, None, RULES) is None
    assert service_life_ends_on("mechanical", dn, 16.0, INSTALLED, RULES) == date(2026, 3, 15)


def test_meter_dn80_due_after_24_months():
    due = calibration_due_on("mechanical", 80, 63.0, INSTALLED, date(2024, 5, 20), RULES)
    assert due == date(2026, 5, 20)


def test_meter_never_verified_is_due_24_months_after_installation():
    assert calibration_due_on("mechanical", 80, 63.0, INSTALLED, None, RULES) == date(2024, 3, 15)


def test_mechanical_q3_above_16_is_periodic_whatever_the_dn():
    assert verification_class("mechanical", 40, 25.0, RULES) == "periodic"
    assert verification_class("mechanical", 40, 16.0, RULES) == "service_life_4y"  # not above


def test_periodic_meter_has_no_service_life_limit():
    assert service_life_ends_on("mechanical", 100, 100.0, INSTALLED, RULES) is None


@pytest.mark.parametrize(("meter_type", "dn"), [
    ("electromagnetic", None), ("electromagnetic", 200), ("ultrasonic", None),
    ("ultrasonic", 200), ("other", None), ("other", 15), ("other", 200)])
def test_flow_meters_due_every_24_months(meter_type, dn):
    assert verification_class(meter_type, dn, None, RULES) == "periodic"
    due = calibration_due_on(meter_type, dn, None, INSTALLED, date(2025, 1, 10), RULES)
    assert due == date(2027, 1, 10)


def test_mechanical_meter_without_dn_is_treated_as_periodic():
    assert verification_class("mechanical", None, None, RULES) == "periodic"


def test_due_date_clamps_to_month_end():
    due = calibration_due_on("electromagnetic", 100, None, INSTALLED, date(2024, 2, 29), RULES)
    assert due == date(2026, 2, 28)


def test_per_meter_interval_override_replaces_the_default():
    due = calibration_due_on("ultrasonic", 150, None, INSTALLED, date(2025, 1, 10), RULES, 12)
    assert due == date(2026, 1, 10)


def test_interval_override_makes_a_small_meter_periodic():
    due = calibration_due_on("mechanical", 20, 4.0, INSTALLED, None, RULES, 36)
    assert due == date(2025, 3, 15)


def test_per_meter_service_life_override():
    ends = service_life_ends_on("mechanical", 20, 4.0, INSTALLED, RULES, life_years_override=5)
    assert ends == date(2027, 3, 15)


def test_intervals_come_from_the_rules():
    cal = RULES.calibration
    longer = replace(
        RULES,
        calibration=replace(cal, interval_months=replace(cal.interval_months, electromagnetic=36)),
    )
    due = calibration_due_on("electromagnetic", 100, None, INSTALLED, date(2025, 1, 10), longer)
    assert due == date(2028, 1, 10)


@pytest.mark.parametrize(
    ("args", "field", "rule"),
    [
        (("turbine", 80, None), "meter_type", "unknown"),
        (("mechanical", 0, None), "dn", "range"),
        (("mechanical", -20, None), "dn", "range"),
        (("mechanical", 20, -1.0), "q3", "range"),
        (("mechanical", 20, float("nan")), "q3", "range"),
    ],
)
def test_bad_meter_data_is_rejected(args, field, rule):
    with pytest.raises(CalibrationError) as caught:
        verification_class(*args, RULES)
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_non_positive_override_is_rejected():
    with pytest.raises(CalibrationError) as caught:
        calibration_due_on("mechanical", 80, None, INSTALLED, None, RULES, 0)
    assert caught.value.field == "interval_months_override"


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (date(2026, 4, 19), "ok"),  # 31 days before
        (date(2026, 4, 20), "due_soon"),  # 30 days before
        (date(2026, 5, 20), "due_soon"),  # on the due date
        (date(2026, 5, 21), "overdue"),  # the day after
    ],
)
def test_meter_due_status_boundaries(today, status):
    assert meter_due_status(date(2026, 5, 20), today) == status


def test_meter_without_due_date_is_ok():
    assert meter_due_status(None, date(2030, 1, 1)) == "ok"


def test_reading_after_due_date_or_service_life_is_unverified():
    due, life = date(2026, 5, 20), date(2026, 3, 15)
    assert meter_deadline(due, life) == life
    assert is_verified_on(date(2026, 3, 15), due, life)
    assert not is_verified_on(date(2026, 3, 16), due, life)
    assert is_verified_on(date(2099, 1, 1), None, None)


@pytest.mark.parametrize(
    ("error", "passes"), [(0.0, True), (5.0, True), (-5.0, True), (5.01, False), (-7.5, False)]
)
def test_in_place_check_tolerance_is_5_percent(error, passes):
    assert in_place_check_passes(error, RULES) is passes


@given(
    st.sampled_from(["mechanical", "electromagnetic", "ultrasonic", "other"]),
    st.one_of(st.none(), st.integers(min_value=1, max_value=2000)),
    st.one_of(st.none(), st.floats(min_value=0.01, max_value=10_000)),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 1, 1)),
)
def test_every_meter_has_either_a_due_date_or_a_service_life(meter_type, dn, q3, installed):
    due = calibration_due_on(meter_type, dn, q3, installed, None, RULES)
    life = service_life_ends_on(meter_type, dn, q3, installed, RULES)
    assert (due is None) != (life is None)
    assert meter_deadline(due, life) > installed


# --- corrections of 2026-12: what counts as a verification (JJG 162-2019) --------------


@pytest.mark.parametrize(("meter_type", "dn", "expected"), [
    ("electromagnetic", 15, "service_life_6y"),  # an electronic water meter, JJG 162-2019
    ("ultrasonic", 25, "service_life_6y"),
    ("ultrasonic", 40, "service_life_4y"),
    ("electromagnetic", 50, "service_life_4y"),
    ("electromagnetic", 51, "periodic"),  # a flow meter (JJG 1033): 24 months
])
def test_small_meter_service_life_covers_every_jjg162_water_meter_type(meter_type, dn, expected):
    assert RULES.calibration.service_life_meter_types == ("mechanical", "electromagnetic", "ultrasonic")
    assert verification_class(meter_type, dn, None, RULES) == expected


def test_service_life_types_are_read_from_the_rules():
    data = RULES.to_dict()
    data["calibration"]["service_life_meter_types"] = ["mechanical"]
    only_mechanical = type(RULES).from_dict(data)
    assert verification_class("electromagnetic", 15, None, only_mechanical) == "periodic"
    del data["calibration"]["service_life_meter_types"]  # an older document: the default
    assert verification_class("electromagnetic", 15, None, type(RULES).from_dict(data)) == "service_life_6y"


@pytest.mark.parametrize(("kind", "passed", "error", "fault"), [
    ("initial", True, 0.8, None),
    ("subsequent", True, -5.0, None),  # |−5.0| ≤ 5 %: at the tolerance, still within
    ("subsequent", True, 5.01, "out_of_tolerance"),  # beyond ±5 % whatever the pass flag
    ("subsequent", True, None, None),  # no error recorded: the pass flag decides
    ("subsequent", False, 0.5, "failed"),
    ("in_service", True, 0.1, "not_verification"),  # 使用中检查: shown, not counted
    ("on_site", True, 0.1, "not_verification"),  # 现场校准
])
def test_only_a_passed_verification_within_tolerance_counts(kind, passed, error, fault):
    assert verification_fault(kind, passed, error, RULES) == fault


def test_verification_due_is_the_rules_interval_unless_the_certificate_says_earlier():
    # Verified 10 Jan 2025 + 24 months = 10 Jan 2027.
    assert verification_due_on("electromagnetic", 100, None, date(2025, 1, 10), RULES) == date(2027, 1, 10)
    assert verification_due_on("electromagnetic", 100, None, date(2025, 1, 10), RULES,
                               stated_due_on=date(2028, 1, 10)) == date(2027, 1, 10)
    assert verification_due_on("electromagnetic", 100, None, date(2025, 1, 10), RULES,
                               stated_due_on=date(2026, 1, 10)) == date(2026, 1, 10)
    # A small water meter has no periodic verification: no due date.
    assert verification_due_on("mechanical", 20, None, date(2025, 1, 10), RULES) is None


def test_a_new_version_with_another_interval_moves_the_due_date():
    data = RULES.to_dict()
    data["version"] = "YW-2027.1"
    data["calibration"]["interval_months"]["electromagnetic"] = 12
    shorter = type(RULES).from_dict(data)
    # 10 Jan 2025 + 12 months = 10 Jan 2026: computed, never frozen at entry.
    assert verification_due_on("electromagnetic", 100, None, date(2025, 1, 10), shorter) == date(2026, 1, 10)


def test_service_life_runs_from_the_first_verification_where_known():
    # DN 20: 6 years. First verified 1 Mar 2021, installed 15 Mar 2022: ends 1 Mar 2027.
    assert service_life_ends_on("mechanical", 20, None, INSTALLED, RULES,
                                first_verified_on=date(2021, 3, 1)) == date(2027, 3, 1)
    # Not known: from installation, 15 Mar 2022 + 6 years = 15 Mar 2028.
    assert service_life_ends_on("mechanical", 20, None, INSTALLED, RULES) == date(2028, 3, 15)
