"""Water-balance test indicators and schedule (GB/T 12452-2022, seed task 34)."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.domain.balance import (
    BalanceError,
    BalanceIndicators,
    balance_test_due_on,
    balance_test_required,
    indicators,
)
from registry.domain.reference import INDUSTRIES
from registry.domain.rules import load_rules

RULES = load_rules("YW-2026.1")


def test_indicators_hand_computed():
    # Vt = 1000 + 3000; R = 3000/4000; leakage 50/1000; error |1000 − 950|/1000.
    result = indicators(vf=1000, vr=3000, vco=200, vd=700, vl=50, rules=RULES)
    assert result == BalanceIndicators(
        total_use_m3=4000.0,
        reuse_rate_percent=75.0,
        leakage_rate_percent=5.0,
        balance_error_percent=5.0,
        flagged=False,
    )


def test_balance_error_of_exactly_5_percent_is_not_flagged():
    assert not indicators(1000, 0, 200, 700, 50, RULES).flagged


def test_balance_error_above_5_percent_is_flagged():
    result = indicators(1000, 0, 200, 700, 40, RULES)  # |1000 − 940| / 1000 = 6 %
    assert result.balance_error_percent == 6.0
    assert result.flagged


def test_outflow_above_intake_counts_as_error_too():
    result = indicators(1000, 0, 300, 760, 0, RULES)  # |1000 − 1060| / 1000 = 6 %
    assert result.balance_error_percent == 6.0
    assert result.flagged


def test_rates_round_half_up_to_two_decimals():
    # 1 / 800 × 100 = 0.125 → 0.13 (四舍五入, not banker's 0.12)
    assert indicators(799, 1, 799, 0, 0, RULES).reuse_rate_percent == 0.13
    assert indicators(2, 1, 2, 0, 0, RULES).reuse_rate_percent == 33.33


def test_zero_intake_gives_no_rates_and_no_division_error():
    result = indicators(0, 500, 0, 0, 0, RULES)
    assert result == BalanceIndicators(500.0, 100.0, None, None, False)
    assert indicators(0, 0, 0, 0, 0, RULES).reuse_rate_percent is None


def test_zero_intake_with_outflows_is_flagged():
    assert indicators(0, 0, 10, 0, 0, RULES).flagged


def test_decimal_volumes_are_accepted():
    result = indicators(Decimal("1000.50"), Decimal("0"), Decimal("1000.50"), 0, 0, RULES)
    assert result.balance_error_percent == 0.0


@pytest.mark.parametrize(
    ("volumes", "field", "rule"),
    [
        ((-1, 0, 0, 0, 0), "vf", "range"),
        ((100, 0, 0, -5, 0), "vd", "range"),
        ((100, float("nan"), 0, 0, 0), "vr", "range"),
        ((100, 0, float("inf"), 0, 0), "vco", "range"),
        ((100, 0, 0, 0, True), "vl", "type"),
        (("100", 0, 0, 0, 0), "vf", "type"),
    ],
)
def test_bad_volumes_are_rejected(volumes, field, rule):
    with pytest.raises(BalanceError) as caught:
        indicators(*volumes, rules=RULES)
    assert (caught.value.field, caught.value.rule) == (field, rule)


volumes = st.floats(min_value=0, max_value=1e9, allow_nan=False)


@given(volumes, volumes, volumes, volumes, volumes)
def test_indicators_are_bounded_and_flag_follows_the_limit(vf, vr, vco, vd, vl):
    result = indicators(vf, vr, vco, vd, vl, RULES)
    if result.reuse_rate_percent is not None:
        assert 0 <= result.reuse_rate_percent <= 100
    if result.balance_error_percent is not None:
        assert result.flagged == (result.balance_error_percent > 5.0)


@pytest.mark.parametrize(
    "code",
    ["4411", "4412", "2614", "2669", "C2645", " 2682 ", "1713", "1752", "1762", "2221", "2212"],
)
def test_high_water_use_industries_require_a_balance_test(code):
    assert balance_test_required(code, RULES)


@pytest.mark.parametrize("code", ["4413", "4417", "2710", "2822", "1711", "1819", "2231", "", None])
def test_other_industries_do_not(code):
    assert not balance_test_required(code, RULES)


def test_reference_high_water_use_flag_agrees_with_the_rules():
    for industry in INDUSTRIES:
        assert balance_test_required(industry.code, RULES) is industry.high_water_use, industry


def test_balance_test_due_5_years_after_the_last():
    assert balance_test_due_on(date(2021, 6, 30), date(2015, 1, 1), RULES) == date(2026, 6, 30)


def test_first_balance_test_due_12_months_after_the_file_opened():
    assert balance_test_due_on(None, date(2025, 1, 31), RULES) == date(2026, 1, 31)
    assert balance_test_due_on(None, date(2024, 2, 29), RULES) == date(2025, 2, 28)
