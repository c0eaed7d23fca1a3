"""Volumes and completeness of an online meter's totalizer series (domain.md, "Online data and
plausibility"; seed tasks 39, 46, 47). Pure functions: no database, no clock.

A series is one meter's points ``(at, totalizer_m3)`` in time order. The volume between two
points is the totalizer's difference; a totalizer that drops is a **rollover** when the register
wrapped (its capacity is known and the wrapped difference ``capacity − before + after`` is less
than half the register: a meter does not turn half its register between two reports), and
otherwise goes **backwards**, which no meter does (refused). A replaced meter is another meter:
its series starts with its own first point, which carries no volume (nothing is known before it).

Each step's volume belongs to the bureau day of its later point (a gap's volume arrives with the
first point after it), so a month's volume is the totalizer at its last point minus the
totalizer at the last point before the month: the sum of its days.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo


class Backwards(ValueError):
    """The totalizer dropped without a rollover: ``before`` → ``after``."""

    def __init__(self, at: datetime, before: float, after: float) -> None:
        super().__init__(f"{at.isoformat()}: {before} → {after}")
        self.at, self.before, self.after = at, before, after


def step_volume(before: float, after: float, capacity: float | None) -> float | None:
    """The volume between two consecutive totalizer values, or None when it went backwards.

    ``capacity``: the register's capacity (a register of 99 999 999 m³ rolls over to 0 at 1e8).
    """
    if after >= before:
        return after - before
    if capacity:
        wrapped = capacity - before + after
        if 0 <= wrapped < capacity / 2:
            return wrapped
    return None


@dataclass(frozen=True)
class Day:
    """One bureau day with data: its volume (the steps ending that day), the last totalizer
    value and how many points arrived."""

    day: date
    volume_m3: float
    last_totalizer_m3: float
    points: int


def daily(points: list[tuple[datetime, float]], capacity: float | None, zone: tzinfo,
          baseline: tuple[datetime, float] | None = None) -> list[Day]:
    """The days with data of a series in time order, each with its volume.

    ``baseline``: the last point before the series (already counted elsewhere): the first
    point's step starts from it; without one the first point only sets the start.
    Raises :class:`Backwards` at the first drop that is no rollover.
    """
    days: list[Day] = []
    previous = baseline[1] if baseline else None
    current: date | None = None
    volume = 0.0
    count = 0
    last = 0.0
    for at, total in points:
        day = at.astimezone(zone).date()
        if day != current:
            if current is not None:
                days.append(Day(current, volume, last, count))
            current, volume, count = day, 0.0, 0
        if previous is not None:
            step = step_volume(previous, total, capacity)
            if step is None:
                raise Backwards(at, previous, total)
            volume += step
        previous, last = total, total
        count += 1
    if current is not None:
        days.append(Day(current, volume, last, count))
    return days


def monthly(days: list[Day]) -> dict[date, float]:
    """Each month's volume (keyed by its first day): the sum of its days' volumes."""
    out: dict[date, float] = {}
    for d in days:
        month = d.day.replace(day=1)
        out[month] = out.get(month, 0.0) + d.volume_m3
    return out


@dataclass(frozen=True)
class Completeness:
    """Data completeness of an online meter (or file) over a window of days."""

    first: date  # the window, shortened to the history
    last: date
    days_with_data: int
    longest_gap_days: int  # the longest run of days without data inside the window
    last_seen: date | None  # the latest day with data, in the window or before it

    @property
    def window_days(self) -> int:
        return max(0, (self.last - self.first).days + 1)

    @property
    def ratio(self) -> float:
        return self.days_with_data / self.window_days if self.window_days else 1.0


def completeness(days: set[date] | frozenset[date], last: date, window_days: int,
                 history_from: date | None = None) -> Completeness:
    """Days with data in the ``window_days`` ending ``last`` (inclusive), shortened to start no
    earlier than ``history_from`` (the meter's installation, the file's opening); the longest
    gap inside the window; the last day seen (any day up to ``last``)."""
    first = last - timedelta(days=window_days - 1)
    if history_from is not None and history_from > first:
        first = history_from
    inside = sorted(d for d in days if first <= d <= last)
    longest, run_from = 0, first
    for d in inside:
        longest = max(longest, (d - run_from).days)
        run_from = d + timedelta(days=1)
    if first <= last:
        longest = max(longest, (last - run_from).days + 1)
    seen = max((d for d in days if d <= last), default=None)
    return Completeness(first, last, len(inside), longest, seen)


def silent_hours(last_point: datetime | None, now: datetime) -> float | None:
    """Hours since the last point (None: never heard from)."""
    if last_point is None:
        return None
    return (now - last_point).total_seconds() / 3600


def flat_hours(points: list[tuple[datetime, float]]) -> float:
    """The longest time the totalizer stayed exactly the same, in hours (a stuck register or a
    closed valve reported as flow)."""
    longest = 0.0
    start = None
    for i, (at, total) in enumerate(points):
        if i and total == points[i - 1][1]:
            longest = max(longest, (at - start).total_seconds() / 3600)
        else:
            start = at
    return longest
