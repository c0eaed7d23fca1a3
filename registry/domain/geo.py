"""取水口坐标 (intake point coordinates): a coarse check that a point lies in Yiwu.

Coordinates are CGCS2000 longitude/latitude in decimal degrees (GB/T 18522 / 国家2000坐标系;
within a metre of WGS84 at this scale). The box 119.8–120.4 E, 29.0–29.6 N contains the
county; it catches typing errors and swapped axes, not points just across the border.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from registry.domain.errors import DomainError

Degrees = float | int | Decimal


@dataclass(frozen=True)
class Bounds:
    min_lon: float
    max_lon: float
    min_lat: float
    max_lat: float

    def contains(self, lon: float, lat: float) -> bool:
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat


YIWU_BOUNDS = Bounds(min_lon=119.8, max_lon=120.4, min_lat=29.0, max_lat=29.6)


class GeoError(DomainError):
    """``field`` longitude/latitude; ``rule`` type, range (not a coordinate), swapped
    (longitude and latitude exchanged) or out_of_bounds (outside Yiwu)."""


def _degrees(value: Degrees, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise GeoError(field, "type")
    number = float(value)
    if not math.isfinite(number):
        raise GeoError(field, "range")
    return number


def check_in_yiwu(lon: Degrees, lat: Degrees) -> None:
    """Raise :class:`GeoError` unless (lon, lat) lies inside :data:`YIWU_BOUNDS`."""
    x, y = _degrees(lon, "longitude"), _degrees(lat, "latitude")
    if YIWU_BOUNDS.contains(x, y):
        return
    if YIWU_BOUNDS.contains(y, x):
        raise GeoError("longitude", "swapped")
    if abs(x) > 180:
        raise GeoError("longitude", "range")
    if abs(y) > 90:
        raise GeoError("latitude", "range")
    if not YIWU_BOUNDS.min_lon <= x <= YIWU_BOUNDS.max_lon:
        raise GeoError("longitude", "out_of_bounds")
    raise GeoError("latitude", "out_of_bounds")
