"""Domain ranges of every numeric input (数值输入的合理范围): what a form, the API or an import
may store, whatever its entry point (issue 16 item 2: a reading of 1.7e308 m³ was stored).

These are physical bounds, not the bureau's policy: a value outside them is a typing or gateway
error on any day and under any rules version, so they live here and not in the rules file. The
plausibility limits of domain.md ("Online data and plausibility": a month above the intakes'
design capacity × hours × 1.2 …) are per file and tighter; these catch what no file can hold.

``check(field, value)`` answers the failed rule (``type``, ``finite``, ``whole``, ``below``,
``above``) or None; ``registry.services.checks`` turns it into a message naming the field.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str = ""
    integer: bool = False
    low_open: bool = False  # low itself refused (Q3 > 0)


# A month's volume: 10⁸ m³ is 38.6 m³/s around the clock, the flow of a large river; no
# self-supplied intake delivers it.
MONTHLY_VOLUME_MAX = 1e8
# A year's volume (permits, plans, a balance test's period): twelve of those months.
ANNUAL_VOLUME_MAX = 12 * MONTHLY_VOLUME_MAX
# An intake's design capacity: the monthly ceiling over a month's 720 hours, rounded up
# (1e8 / 720 ≈ 1.4e5 m³/h): capacity × hours × 1.2 then stays within the monthly ceiling's range.
CAPACITY_M3H_MAX = 1.5e5
# A meter's Q3: the flow of the largest pipe accepted (DN 3000) at 10 m/s, 2.5e5 m³/h.
Q3_M3H_MAX = 2.6e5
# A totalizer's register: water meters count with at most 10 integer digits (JJG 162-2019
# meters show up to 9 999 999 999 m³ before they roll over).
TOTALIZER_MAX = 1e10

RANGES: dict[str, Range] = {
    "volume_m3": Range(0, MONTHLY_VOLUME_MAX, "m³"),  # a monthly reading
    "meter_index": Range(0, TOTALIZER_MAX, "m³"),
    "totalizer_m3": Range(0, TOTALIZER_MAX, "m³"),
    # The register's capacity, where the totalizer rolls over (10 digits at most, as above).
    "register_capacity_m3": Range(0, 10 * TOTALIZER_MAX, "m³", low_open=True),
    "annual_volume_m3": Range(0, ANNUAL_VOLUME_MAX, "m³"),
    "planned_volume_m3": Range(0, ANNUAL_VOLUME_MAX, "m³"),
    # GB/T 12452-2022 volumes of one test period (at most a year): Vf, Vr, Vco, Vd, Vl.
    "vf": Range(0, ANNUAL_VOLUME_MAX, "m³"), "vr": Range(0, ANNUAL_VOLUME_MAX, "m³"),
    "vco": Range(0, ANNUAL_VOLUME_MAX, "m³"), "vd": Range(0, ANNUAL_VOLUME_MAX, "m³"),
    "vl": Range(0, ANNUAL_VOLUME_MAX, "m³"),
    "design_capacity_m3h": Range(0, CAPACITY_M3H_MAX, "m³/h"),
    "q3": Range(0, Q3_M3H_MAX, "m³/h", low_open=True),
    "dn": Range(1, 3000, "mm", integer=True),  # nominal diameters of water meters end at DN 3000
    # A verification's measured error: a meter off by more than its whole reading measures nothing.
    "error_pct": Range(-100, 100, "%"),
    # Coordinates: the earth's; registry.domain.geo then asks for Yiwu's box.
    "longitude": Range(-180, 180, "°"),
    "latitude": Range(-90, 90, "°"),
    "year": Range(2000, 2100, integer=True),  # plan years: as the dates of the registry
    "interval_months": Range(1, 120, integer=True),  # a verification interval: at most 10 years
    "service_life_years": Range(1, 30, integer=True),
    "past_year_use_m3": Range(0, ANNUAL_VOLUME_MAX, "m³"),  # a plan proposal's report of the past year
    # A plan's breakdown: share_1 … share_12 (months) or share_1 … share_4 (quarters), m³.
    **{f"share_{i}": Range(0, ANNUAL_VOLUME_MAX, "m³") for i in range(1, 13)},
    "quarter": Range(1, 4, integer=True),
}


def check(field: str, value) -> str | None:
    """The rule ``value`` breaks for ``field`` (KeyError for a field without a range), or None."""
    bounds = RANGES[field]
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return "type"
    if (value.is_nan() if isinstance(value, Decimal) else value != value):  # NaN: no quantity at all
        return "finite"
    # ±inf (a form's float of a 400-digit string, JSON's 1e400) falls beyond a bound below.
    # int and Decimal compare exactly with the float bounds, whatever their size; the bounds
    # come first, so int() below never builds the digits of a Decimal like 1e999999999.
    if value < bounds.low or (bounds.low_open and value == bounds.low):
        return "below"
    if value > bounds.high:
        return "above"
    if bounds.integer and value != int(value):
        return "whole"
    return None
