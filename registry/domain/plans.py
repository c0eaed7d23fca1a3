"""The plan year (计划用水, 浙江省计划用水管理): versions, breakdowns and the allowance of a period.

A plan of a year is a sequence of **versions**: the first (as approved) in force from 1 January,
each later one (a mid-year adjustment by the bureau, with its reason) from its ``effective_from``
to the next one's. A version carries the year's volume and may carry a **breakdown** of it by
month (12 shares) or by quarter (4 shares).

The **allowance** of a period (first day included, last day excluded) is the sum over its days of
the daily share of the version in force that day: a version with a breakdown spreads each month's
(quarter's) share evenly over that month's (quarter's) days; one without spreads the year's volume
over the year's days. So a plan of one version and no breakdown allows its whole volume over the
whole year, a monthly breakdown allows exactly its month's share over that month, and an adjustment
changes the allowance only from the day it takes effect ("the plan in force on each day").

Figures are exact (``Fraction``, each float read as its decimal) so a boundary is decided exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timedelta
from fractions import Fraction
from collections.abc import Sequence

from registry.domain.dates import add_months
from registry.domain.errors import DomainError

BREAKDOWN_SIZES = {"month": 12, "quarter": 4}


class PlanError(DomainError):
    """A plan version is inconsistent (``field``, ``rule``)."""


@dataclass(frozen=True)
class PlanVersionFact:
    effective_from: date
    planned_volume_m3: float
    breakdown: str | None = None  # None | "month" | "quarter"
    shares: tuple[float, ...] = ()


def exact(value: float | int) -> Fraction:
    """A float as the decimal it was typed as (0.1 → 1/10), not its binary value."""
    return _exact(float(value))


@lru_cache(maxsize=65536)
def _exact(value: float) -> Fraction:  # volumes repeat (shares, plans, capacities): parse each once
    return Fraction(repr(value))


def check_breakdown(volume: float, breakdown: str | None, shares: Sequence[float]) -> None:
    """A breakdown has 12 (month) or 4 (quarter) shares, none negative, summing to the year's
    volume exactly (to the cent of a m³: shares are typed to 0.01 m³)."""
    if breakdown is None:
        if shares:
            raise PlanError("breakdown", "required")
        return
    if breakdown not in BREAKDOWN_SIZES:
        raise PlanError("breakdown", "choice")
    if len(shares) != BREAKDOWN_SIZES[breakdown]:
        raise PlanError("shares", "count")
    if any(s < 0 for s in shares):
        raise PlanError("shares", "non_negative")
    if abs(sum(exact(s) for s in shares) - exact(volume)) >= Fraction(1, 100):
        raise PlanError("shares", "sum")


def _period_of(day: date, breakdown: str | None) -> tuple[int, date, date]:
    """(share index, first day, first day after) of the breakdown period holding ``day``."""
    if breakdown == "month":
        start = day.replace(day=1)
        return day.month - 1, start, add_months(start, 1)
    if breakdown == "quarter":
        q = (day.month - 1) // 3
        start = date(day.year, 3 * q + 1, 1)
        return q, start, add_months(start, 3)
    start = date(day.year, 1, 1)
    return 0, start, date(day.year + 1, 1, 1)


def version_in_force(versions: Sequence[PlanVersionFact], day: date) -> PlanVersionFact | None:
    """The latest version effective on or before ``day``; the first one before it took effect
    (a plan approved late still covers its year from 1 January)."""
    best = None
    for v in versions:
        if v.effective_from <= day and (best is None or v.effective_from >= best.effective_from):
            best = v
    if best is None and versions:
        best = min(versions, key=lambda v: v.effective_from)
    return best


def allowance(versions: Sequence[PlanVersionFact], start: date, end: date) -> Fraction:
    """The plan's allowance (m³, exact) from ``start`` to ``end`` (excluded), see the module."""
    if not versions or end <= start:
        return Fraction(0)
    ordered = sorted(versions, key=lambda v: v.effective_from)
    bounds = sorted({start, end} | {v.effective_from for v in ordered if start < v.effective_from < end})
    total = Fraction(0)
    for lo, hi in zip(bounds, bounds[1:]):
        v = version_in_force(ordered, lo)
        day = lo
        while day < hi:
            index, p_start, p_end = _period_of(day, v.breakdown)
            piece_end = min(hi, p_end)
            share = exact(v.shares[index]) if v.breakdown else exact(v.planned_volume_m3)
            total += share * (piece_end - day).days / (p_end - p_start).days
            day = piece_end
    return total


def has_breakdown_or_adjustment(versions: Sequence[PlanVersionFact]) -> bool:
    return len(versions) > 1 or any(v.breakdown for v in versions)


def scoring_window(versions: Sequence[PlanVersionFact], year: int, plan_from: date, plan_to: date
                   ) -> tuple[date, date]:
    """The period whose allowance the over-plan rule compares with the year's use so far
    (issue 15 item 6): with a breakdown, the months counted (their shares); without one, the
    whole year (the year's plan, not pro rata)."""
    if any(v.breakdown for v in versions):
        return plan_from, plan_to
    return date(year, 1, 1), date(year + 1, 1, 1)


def proposal_deadline(plan_year: int, month_day: tuple[int, int]) -> date:
    """The last day to propose the plan of ``plan_year``: the rules' day of the year before."""
    month, day = month_day
    return date(plan_year - 1, month, day)


def proposal_reminder_step(plan_year: int, today: date, month_day: tuple[int, int],
                           steps: Sequence[int]) -> int | None:
    """The reminder step (default 30, 15, 5 days before the deadline) reached ``today`` for the
    proposal of ``plan_year``: the smallest step not below the days left (20 days left → 30,
    exactly 15 → 15, the deadline day itself → 5); None before the first step or after the deadline."""
    days_left = (proposal_deadline(plan_year, month_day) - today).days
    if days_left < 0:
        return None
    return min((step for step in steps if days_left <= step), default=None)


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    if not 1 <= quarter <= 4:
        raise PlanError("quarter", "range")
    start = date(year, 3 * quarter - 2, 1)
    return start, add_months(start, 3)


def days(start: date, end: date) -> int:
    return (end - start).days


__all__ = ["PlanVersionFact", "PlanError", "allowance", "check_breakdown", "version_in_force",
           "proposal_deadline", "quarter_bounds", "scoring_window", "exact", "timedelta"]
