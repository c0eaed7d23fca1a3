"""Warnings 预警 (issue 17): each detector at its boundary, with figures computed by hand.

Thresholds are the rules' ``monitoring`` section of YW-2026.1 (domain.md "Online data and
plausibility"): permit_share_factor 3, same_month_change_percent 60, median_factor 3,
min_history_months 6, zero_months 2, flat_hours 72, silence_hours 72. The detection judges the
month in progress and the 3 ended months before it (``DETECTION_MONTHS``).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from registry.domain import warnings as w
from registry.domain.dates import add_months
from registry.domain.rules import load_rules

RULES = load_rules("YW-2026.1")
TODAY = date(2026, 11, 20)  # months judged: 2026-08, -09, -10 and 2026-11 (in progress)
OCT = date(2026, 10, 1)


def history(counted=None, live=None, permitted=None) -> w.MeterHistory:
    return w.MeterHistory(7, 3, counted or {}, live or {}, permitted or {})


def kinds(h: w.MeterHistory, today: date = TODAY) -> dict[str, w.Detection]:
    return {d.kind: d for d in w.detect_meter(h, w.months_judged(today), RULES, today)}


def test_months_judged_are_the_month_in_progress_and_three_before():
    assert w.months_judged(TODAY) == [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]


# Over the permit's share: permitted annual ÷ 12 × permit_share_factor (3). 12,000 m³/yr → 3,000 m³.
def test_above_permit_share_at_the_limit_is_no_warning_one_above_is():
    assert "above_permit_share" not in kinds(history(live={OCT: (3000.0, None)}, permitted={2026: 12_000.0}))
    found = kinds(history(live={OCT: (3001.0, None)}, permitted={2026: 12_000.0}))["above_permit_share"]
    assert (found.evidence["value"], found.evidence["low"], found.evidence["high"]) == (3001.0, 0.0, 3000.0)
    assert found.period == OCT and found.key == "3:7:above_permit_share:2026-10"


# Same month last year ± same_month_change_percent (60 %): 1,000 m³ last October → band 400 … 1,600 m³.
def test_change_against_last_year_boundary_60_percent():
    last = {add_months(OCT, -12): 1000.0}
    assert "change_vs_last_year" not in kinds(history(counted=last, live={OCT: (1600.0, None)}))
    assert "change_vs_last_year" not in kinds(history(counted=last, live={OCT: (400.0, None)}))
    up = kinds(history(counted=last, live={OCT: (1601.0, None)}))["change_vs_last_year"]
    assert (up.evidence["low"], up.evidence["high"]) == (400.0, 1600.0)
    assert up.evidence["figures"]["change_percent"] == 60.1
    assert "change_vs_last_year" in kinds(history(counted=last, live={OCT: (399.0, None)}))


# × median_factor (3) against the median of the 12 months before, with ≥ 6 of them: median 100 m³.
def test_above_median_boundary_three_times():
    before = {add_months(OCT, -n): v for n, v in zip(range(1, 7), (90.0, 100.0, 110.0, 100.0, 95.0, 105.0))}
    # sorted 90 95 100 100 105 110 → median (100 + 100) ÷ 2 = 100 m³; limit 300 m³
    assert "above_median" not in kinds(history(counted=before, live={OCT: (300.0, None)}))
    found = kinds(history(counted=before, live={OCT: (300.5, None)}))["above_median"]
    assert (found.evidence["low"], found.evidence["high"]) == (round(100 / 3, 3), 300.0)
    # below: 100 ÷ 3 = 33.33 m³; 34 is inside, 33 below
    assert "below_median" not in kinds(history(counted=before, live={OCT: (34.0, None)}))
    assert "below_median" in kinds(history(counted=before, live={OCT: (33.0, None)}))


def test_median_needs_six_months_of_history():
    five = {add_months(OCT, -n): 100.0 for n in range(1, 6)}
    assert "above_median" not in kinds(history(counted=five, live={OCT: (1000.0, None)}))


# Zero use for zero_months (2) from a meter in service: one zero month is no warning, two are.
def test_zero_use_two_months():
    assert "zero_use" not in kinds(history(counted={add_months(OCT, -1): 50.0}, live={OCT: (0.0, None)}))
    found = kinds(history(counted={add_months(OCT, -1): 0.0}, live={OCT: (0.0, None)}))["zero_use"]
    assert found.evidence["figures"]["months"] == 2


def test_month_in_progress_waits_for_its_end_before_falling():
    last = {date(2025, 11, 1): 1000.0}
    assert "change_vs_last_year" not in kinds(history(counted=last, live={date(2026, 11, 1): (100.0, None)}))
    assert "change_vs_last_year" in kinds(history(counted=last, live={date(2026, 11, 1): (1700.0, None)}))


# Flat totalizer (flat_hours 72) and a jump against the index: what the intake stored on the month.
def test_flat_line_and_index_jump_come_from_the_stored_flags():
    flags = [{"code": "flat_line", "hours": 80.0, "limit_hours": 72},
             {"code": "index_jump", "volume_m3": 500.0, "index_volume_m3": 400.0, "tolerance_percent": 5.0},
             {"code": "unverified_meter"}]
    found = kinds(history(live={OCT: (500.0, flags)}))
    assert set(found) == {"flat_line", "index_jump"}
    assert (found["flat_line"].evidence["value"], found["flat_line"].evidence["high"]) == (80.0, 72)
    assert (found["index_jump"].evidence["low"], found["index_jump"].evidence["high"]) == (380.0, 420.0)


def test_months_outside_the_window_are_history_not_warnings():
    july = date(2026, 7, 1)
    assert kinds(history(live={july: (99_999.0, None)}, permitted={2026: 12_000.0})) == {}


# Silence beyond silence_hours (72 h): at exactly 72 h the meter is still on time.
def test_silence_boundary_72_hours():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    assert w.silence(3, 7, now - timedelta(hours=72), now, RULES) is None
    found = w.silence(3, 7, now - timedelta(hours=73), now, RULES)
    assert found.kind == "silence" and found.evidence["value"] == 73.0 and found.evidence["high"] == 72
    assert found.key == "3:7:silence:2026-11-17"  # one warning per silence, from the day it began


def test_a_meter_never_heard_from_is_silent_from_its_installation():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    assert w.silence(3, 7, None, now, RULES, installed_on=date(2026, 11, 18)) is None  # 60 h
    assert w.silence(3, 7, None, now, RULES, installed_on=date(2026, 11, 17)).evidence["value"] == 84.0


def test_expected_band_last_year_else_median():
    assert w.expected_band({date(2025, 10, 1): 1000.0}, OCT, RULES) == (400.0, 1600.0)
    six = {add_months(OCT, -n): 300.0 for n in range(1, 7)}
    assert w.expected_band(six, OCT, RULES) == (100.0, 900.0)
    assert w.expected_band({}, OCT, RULES) is None
