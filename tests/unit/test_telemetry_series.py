"""Volumes and completeness of an online meter's totalizer series (registry.domain.telemetry),
each figure worked out by hand from domain.md "Online data and plausibility": volumes are
differences of the totalizer, with rollover at the register's capacity; a day counts as with
data when at least one value arrived for it (bureau days, Asia/Shanghai)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from registry.domain import telemetry as t

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def at(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.mark.parametrize(("before", "after", "capacity", "volume"), [
    (100.0, 130.5, None, 30.5),  # plain difference
    (100.0, 100.0, None, 0.0),  # flat: no use
    # register of 100,000 m³ (shows 99 999): 99 990 → 10 wrapped: 100 000 − 99 990 + 10 = 20
    (99_990.0, 10.0, 100_000.0, 20.0),
    # wrapped difference 100 000 − 60 000 + 10 000 = 50 000 = half the register: not < half → backwards
    (60_000.0, 10_000.0, 100_000.0, None),
    # just under half: 100 000 − 60 000 + 9 999 = 49 999 < 50 000 → rollover
    (60_000.0, 9_999.0, 100_000.0, 49_999.0),
    (500.0, 499.0, None, None),  # drop, no capacity known: backwards
])
def test_step_volume_rollover_boundary(before, after, capacity, volume):
    assert t.step_volume(before, after, capacity) == volume


def test_daily_volumes_go_to_the_day_of_the_later_point_in_bureau_days():
    # 23:30 and 00:30 Shanghai are two bureau days although both are 15:30/16:30 UTC of one UTC day.
    points = [(at(2026, 11, 1, 23, 30), 1000.0), (at(2026, 11, 2, 0, 30), 1012.0), (at(2026, 11, 2, 12), 1030.0),
              (at(2026, 11, 4, 9), 1100.0)]  # 3 Nov silent: its use arrives with the 4th
    days = t.daily(points, None, SH)
    assert [(d.day, d.volume_m3, d.last_totalizer_m3, d.points) for d in days] == [
        (date(2026, 11, 1), 0.0, 1000.0, 1),  # the first point only starts the series
        (date(2026, 11, 2), 30.0, 1030.0, 2),  # 1012 − 1000 + 1030 − 1012
        (date(2026, 11, 4), 70.0, 1100.0, 1),  # 1100 − 1030
    ]


def test_monthly_volume_is_the_totalizer_difference_across_the_month_edge_with_a_rollover():
    # Register 1e6. Last October value 999 900 (baseline), November: 999 950, then 30 (rolled), 230.
    baseline = (at(2026, 10, 31, 22), 999_900.0)
    points = [(at(2026, 11, 1, 1), 999_950.0), (at(2026, 11, 15), 30.0), (at(2026, 11, 30, 23), 230.0),
              (at(2026, 12, 1, 0, 30), 260.0)]
    months = t.monthly(t.daily(points, 1_000_000.0, SH, baseline=baseline))
    # November: 230 − 999 900 + 1 000 000 = 330 (50 + 80 + 200); December: 260 − 230 = 30
    assert months == {date(2026, 11, 1): pytest.approx(330.0), date(2026, 12, 1): pytest.approx(30.0)}


def test_a_drop_without_rollover_raises_backwards_naming_the_values():
    with pytest.raises(t.Backwards) as err:
        t.daily([(at(2026, 11, 1), 500.0), (at(2026, 11, 1, 1), 499.0)], None, SH)
    assert (err.value.before, err.value.after) == (500.0, 499.0)


def test_completeness_days_longest_gap_and_last_seen():
    last = date(2026, 11, 30)
    # window of 10 days: 21–30 Nov. Data on 21, 22, 26, 30 → 4 days; gaps 23–25 (3) and 27–29 (3)
    days = {date(2026, 11, d) for d in (21, 22, 26, 30)} | {date(2026, 11, 1)}
    c = t.completeness(days, last, 10)
    assert (c.first, c.days_with_data, c.longest_gap_days, c.last_seen) == (date(2026, 11, 21), 4, 3, last)
    assert c.window_days == 10 and c.ratio == 0.4


def test_completeness_window_shortened_to_history_and_a_silent_tail():
    last = date(2026, 11, 30)
    # installed 26 Nov: window 26–30 (5 days); data 26 and 27; silent 28–30: gap 3, last seen 27 Nov
    c = t.completeness({date(2026, 11, 26), date(2026, 11, 27)}, last, 90, history_from=date(2026, 11, 26))
    assert (c.window_days, c.days_with_data, c.longest_gap_days, c.last_seen) == (5, 2, 3, date(2026, 11, 27))
    # nothing at all: the whole window is one gap, never seen
    none = t.completeness(set(), last, 90)
    assert (none.days_with_data, none.longest_gap_days, none.last_seen) == (0, 90, None)


def test_flat_and_silent_hours():
    base = at(2026, 11, 1)
    points = [(base + timedelta(hours=h), 100.0 if 2 <= h <= 74 else 90.0 + h) for h in range(0, 80)]
    # unchanged from hour 2 to hour 74: 72 hours flat (hour 75 the value moves on)
    assert t.flat_hours(points) == 72.0
    assert t.silent_hours(base, base + timedelta(hours=73)) == 73.0 and t.silent_hours(None, base) is None
