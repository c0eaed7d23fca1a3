"""Plausibility of a monthly reading (registry.domain.plausibility), one boundary per check, the
figures worked out by hand from domain.md "Online data and plausibility" and the defaults of
rules YW-2026.1 "monitoring" (capacity × hours × 1.2 hard; permitted ÷ 12 × 3, ±60 % against
last year, ×3 against the 12-month median, 2 zero months, index within 5 % soft)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from registry.domain import plausibility as p
from registry.domain.rules import load_rules

RULES = load_rules("YW-2026.1")
NOV = date(2026, 11, 1)  # 30 days = 720 hours
FEB = date(2026, 2, 1)  # 28 days = 672 hours


def codes(volume, **ctx):
    return [f.code for f in p.check(volume, p.Context(period=ctx.pop("period", NOV), **ctx), RULES)]


def test_hours_in_month():
    assert (p.hours_in_month(NOV), p.hours_in_month(FEB), p.hours_in_month(date(2028, 2, 1))) == (720, 672, 696)


@pytest.mark.parametrize(("volume", "period", "hard"), [
    # 10 m³/h × 720 h × 1.2 = 8 640 m³ in November: at the limit accepted, above refused
    (8640.0, NOV, False), (8640.01, NOV, True),
    # February: 10 × 672 × 1.2 = 8 064
    (8064.0, FEB, False), (8064.5, FEB, True),
])
def test_above_design_capacity_is_refused(volume, period, hard):
    found = p.check(volume, p.Context(period=period, design_capacity_m3h=10.0), RULES)
    assert (any(f.hard and f.code == "above_capacity" for f in found)) is hard


def test_the_10_to_the_14_reading_against_a_30000_m3_permit_is_refused():
    # issue 17: 99,999,999,999,999 m³ with a 50 m³/h intake (limit 50 × 720 × 1.2 = 43 200 m³)
    found = p.check(99_999_999_999_999.0, p.Context(period=NOV, design_capacity_m3h=50.0,
                                                    permitted_annual_m3=30_000.0), RULES)
    assert [f.code for f in p.refused(found)] == ["above_capacity"]
    assert found[0].figures["limit_m3"] == 43200.0


def test_negative_is_refused():
    assert [f.hard for f in p.check(-0.1, p.Context(period=NOV), RULES)] == [True]


@pytest.mark.parametrize(("volume", "expected"), [
    # 30 000 m³/yr ÷ 12 × 3 = 7 500 m³: at it fine, above flagged (soft)
    (7500.0, []), (7500.5, ["above_permit_share"]),
])
def test_above_the_permitted_share_is_flagged(volume, expected):
    assert codes(volume, permitted_annual_m3=30_000.0) == expected


@pytest.mark.parametrize(("previous", "index", "capacity", "volume", "expected"), [
    (1000.0, 990.0, None, 0.0, ["index_backwards"]),  # dial went back: refused
    (99_000.0, 500.0, 100_000.0, 1500.0, []),  # rollover: 100 000 − 99 000 + 500 = 1 500, matches
    # dial says 1 000 − 0 → 1 000; 5 % of 1 000 = 50: a volume of 1 050 is within, 1 050.5 a jump
    (0.0, 1000.0, None, 1050.0, []), (0.0, 1000.0, None, 1050.5, ["index_jump"]),
    # small volumes: 1 m³ off is never a jump (dial 10, volume 11: 1 m³ = 10 % but not > 1)
    (0.0, 10.0, None, 11.0, []),
])
def test_meter_index_checks(previous, index, capacity, volume, expected):
    assert codes(volume, previous_index=previous, meter_index=index, register_capacity_m3=capacity) == expected


@pytest.mark.parametrize(("volume", "expected"), [
    # last November 1 000 m³; ±60 %: 400 and 1 600 are the edges (kept), 399 / 1 601 flagged
    (1600.0, []), (1601.0, ["change_vs_last_year"]), (400.0, []), (399.0, ["change_vs_last_year"]),
])
def test_change_against_the_same_month_last_year(volume, expected):
    assert codes(volume, same_month_last_year=1000.0) == expected


def test_change_against_last_year_needs_use_last_year():
    assert codes(500.0, same_month_last_year=0.0) == []


@pytest.mark.parametrize(("history", "volume", "expected"), [
    # median of 100,100,100,200,200,200 = 150; × 3 = 450: 450 kept, 451 flagged; 150 ÷ 3 = 50: 49 flagged
    ((100.0, 100.0, 100.0, 200.0, 200.0, 200.0), 450.0, []),
    ((100.0, 100.0, 100.0, 200.0, 200.0, 200.0), 451.0, ["above_median"]),
    ((100.0, 100.0, 100.0, 200.0, 200.0, 200.0), 50.0, []),
    ((100.0, 100.0, 100.0, 200.0, 200.0, 200.0), 49.0, ["below_median"]),
    # five months of history are fewer than min_history_months (6): no median check
    ((100.0, 100.0, 100.0, 200.0, 200.0), 1000.0, []),
])
def test_against_the_12_month_median(history, volume, expected):
    assert codes(volume, previous_12=history) == expected


@pytest.mark.parametrize(("zeros_before", "expected"), [(0, []), (1, ["zero_use"])])
def test_zero_use_for_two_months(zeros_before, expected):
    # zero_months 2: this zero month and one zero month right before it
    assert codes(0.0, previous_zero_months=zeros_before) == expected


def test_unverified_meter_is_flagged_and_soft_findings_are_the_flags():
    found = p.check(10.0, p.Context(period=NOV, meter_verified=False), RULES)
    assert [f.code for f in found] == ["unverified_meter"] and p.flags(found) == [{"code": "unverified_meter"}]
    assert p.flags(p.check(10.0, p.Context(period=NOV), RULES)) is None


def test_thresholds_come_from_the_rules():
    rules = replace(RULES, monitoring=replace(RULES.monitoring, permit_share_factor=2.0))
    # 30 000 ÷ 12 × 2 = 5 000
    assert [f.code for f in p.check(5000.5, p.Context(period=NOV, permitted_annual_m3=30_000.0), rules)] == [
        "above_permit_share"]


def test_labels_go_with_the_reading_without_holding_it_back():
    assert p.held([{"code": "unverified_meter"}]) is False
    assert p.held([{"code": "unverified_meter"}, {"code": "above_median"}]) is True
    assert p.held(None) is False and p.held([]) is False


def test_a_month_in_progress_waits_for_its_end_for_the_downward_checks():
    history = (100.0, 100.0, 100.0, 200.0, 200.0, 200.0)  # median 150: below 50 is low
    ctx = p.Context(period=NOV, previous_12=history, same_month_last_year=1000.0, partial=True)
    # 10 m³ so far: no below_median, no fall against last year (−99 %), no zero use
    assert [f.code for f in p.check(10.0, ctx, RULES)] == []
    assert [f.code for f in p.check(0.0, replace(ctx, previous_zero_months=3), RULES)] == []
    # upward anomalies show at once: 1 601 is +60.1 % on last year, 451 > 3 × 150
    assert [f.code for f in p.check(1601.0, ctx, RULES)] == ["change_vs_last_year", "above_median"]


@pytest.mark.parametrize(("hours", "flagged"), [(71.9, False), (72.0, True)])
def test_a_flat_totalizer_for_72_hours_is_flagged(hours, flagged):
    # domain.md: "a flat totalizer for 72 h on an online meter" (rules monitoring.flat_hours 72)
    assert (p.flat_line(hours, RULES) is not None) is flagged
