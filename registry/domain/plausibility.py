"""Plausibility of a monthly reading (domain.md, "Online data and plausibility"; issue 17), the
same on every channel: form, portal, API, import and the volumes derived from telemetry.

Pure: :func:`check` takes the reading and what is known around it (:class:`Context`) and the
rules' ``monitoring`` section, and answers its :class:`Finding` s. A **hard** finding refuses
the reading (no intake delivers it, no meter counts backwards); a **soft** one stores it
``flagged``: waiting for staff with the reason, out of charts and totals until accepted.

Hard: ``negative`` (volume < 0); ``above_capacity`` (volume > design capacity × hours of the
month × ``capacity_factor``); ``index_backwards`` (the dial reading below the previous month's,
no rollover of the register explaining it).
Soft: ``above_permit_share`` (volume > permitted annual ÷ 12 × ``permit_share_factor``);
``index_jump`` (volume differs from the dial's difference by more than
``index_tolerance_percent`` and more than 1 m³); ``change_vs_last_year`` (beyond ±
``same_month_change_percent`` of the same month last year, when that was above zero);
``above_median`` / ``below_median`` (more than ``median_factor`` × the median of the 12 months
before, or less than that median ÷ ``median_factor``, with at least ``min_history_months`` of
them, the median above zero); ``zero_use`` (zero, and the ``zero_months`` − 1 months before zero
too, from a meter in service); ``unverified_meter`` (past its verification or service life).
A month in progress (``Context.partial``) skips the downward checks until it has ended.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from statistics import median

from registry.domain.telemetry import step_volume

HARD = frozenset({"negative", "above_capacity", "index_backwards"})
# Labels go with the reading without holding it back: a reading from an unverified meter is what
# the meter showed (domain.md: flagged "unverified meter"), counted like any other, the label shown.
LABELS = frozenset({"unverified_meter", "compared_with_typed", "beside_telemetry"})


@dataclass(frozen=True)
class Finding:
    code: str
    figures: dict = field(default_factory=dict)

    @property
    def hard(self) -> bool:
        return self.code in HARD

    def as_json(self) -> dict:
        return {"code": self.code, **self.figures}


@dataclass(frozen=True)
class Context:
    """What is known around one meter's month."""

    period: date  # the month's first day
    design_capacity_m3h: float | None = None  # the meter's intake point
    permitted_annual_m3: float | None = None  # the file's permits in force (their sum)
    meter_index: float | None = None  # this month's dial reading
    previous_index: float | None = None  # the last dial reading before
    register_capacity_m3: float | None = None
    same_month_last_year: float | None = None  # an accepted reading, if any
    previous_12: tuple[float, ...] = ()  # accepted volumes of the 12 months before (those known)
    previous_zero_months: int = 0  # consecutive zero months right before this one
    meter_verified: bool = True
    # A month still in progress (telemetry's current month): only its use so far is known, so
    # the downward checks (below the median, a fall against last year, zero use) wait for its end.
    partial: bool = False


def hours_in_month(period: date) -> int:
    return calendar.monthrange(period.year, period.month)[1] * 24


def check(volume: float, ctx: Context, rules) -> list[Finding]:
    """Every finding of one monthly volume (hard ones first)."""
    m = rules.monitoring
    out: list[Finding] = []
    if volume < 0:
        return [Finding("negative", {"volume_m3": volume})]
    if ctx.design_capacity_m3h is not None and ctx.design_capacity_m3h > 0:
        hours = hours_in_month(ctx.period)
        limit = ctx.design_capacity_m3h * hours * m.capacity_factor
        if volume > limit:
            out.append(Finding("above_capacity", {"volume_m3": volume, "capacity_m3h": ctx.design_capacity_m3h,
                                                  "hours": hours, "factor": m.capacity_factor,
                                                  "limit_m3": round(limit, 3)}))
    index_step = None
    if ctx.meter_index is not None and ctx.previous_index is not None:
        index_step = step_volume(ctx.previous_index, ctx.meter_index, ctx.register_capacity_m3)
        if index_step is None:
            out.append(Finding("index_backwards", {"meter_index": ctx.meter_index,
                                                   "previous_index": ctx.previous_index}))
    if any(f.hard for f in out):
        return out
    if ctx.permitted_annual_m3:
        limit = ctx.permitted_annual_m3 / 12 * m.permit_share_factor
        if volume > limit:
            out.append(Finding("above_permit_share", {"volume_m3": volume, "permitted_m3": ctx.permitted_annual_m3,
                                                      "factor": m.permit_share_factor, "limit_m3": round(limit, 3)}))
    if index_step is not None:
        gap = abs(volume - index_step)
        if gap > 1 and gap > index_step * m.index_tolerance_percent / 100:
            out.append(Finding("index_jump", {"volume_m3": volume, "index_volume_m3": round(index_step, 3),
                                              "tolerance_percent": m.index_tolerance_percent}))
    last_year = ctx.same_month_last_year
    if last_year is not None and last_year > 0:
        change = (volume - last_year) / last_year * 100
        if abs(change) > m.same_month_change_percent and not (ctx.partial and change < 0):
            out.append(Finding("change_vs_last_year", {"volume_m3": volume, "last_year_m3": last_year,
                                                       "change_percent": round(change, 1),
                                                       "limit_percent": m.same_month_change_percent}))
    if len(ctx.previous_12) >= m.min_history_months:
        mid = median(ctx.previous_12)
        if mid > 0 and volume > mid * m.median_factor:
            out.append(Finding("above_median", {"volume_m3": volume, "median_m3": mid, "factor": m.median_factor}))
        elif mid > 0 and volume < mid / m.median_factor and not ctx.partial:
            out.append(Finding("below_median", {"volume_m3": volume, "median_m3": mid, "factor": m.median_factor}))
    if volume == 0 and ctx.previous_zero_months + 1 >= m.zero_months and not ctx.partial:
        out.append(Finding("zero_use", {"months": ctx.previous_zero_months + 1, "limit_months": m.zero_months}))
    if not ctx.meter_verified:
        out.append(Finding("unverified_meter"))
    return out


def flat_line(hours: float, rules) -> Finding | None:
    """An online meter's totalizer unchanged for ``monitoring.flat_hours`` or longer in the month
    (domain.md: "a flat totalizer for 72 h"): a stuck register or a dead sensor reporting."""
    limit = rules.monitoring.flat_hours
    if hours >= limit:
        return Finding("flat_line", {"hours": round(hours, 1), "limit_hours": limit})
    return None


def refused(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.hard]


def held(flags: list[dict] | None) -> bool:
    """Whether a reading with these stored flags waits for review (a soft finding that is not a
    label): stored ``flagged``, out of charts and totals until accepted."""
    return any(isinstance(f, dict) and f.get("code") not in LABELS for f in flags or ())


def flags(findings: list[Finding]) -> list[dict] | None:
    """What a stored reading carries: its soft findings, or None when there is none."""
    soft = [f.as_json() for f in findings if not f.hard]
    return soft or None
