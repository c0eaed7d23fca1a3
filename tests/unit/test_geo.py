"""Intake point coordinates must lie in Yiwu (CGCS2000, 119.8–120.4 E, 29.0–29.6 N)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.domain.geo import YIWU_BOUNDS, GeoError, check_in_yiwu


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (120.075, 29.306),  # Choucheng
        (119.8, 29.0),  # corners are inside
        (120.4, 29.6),
        (Decimal("120.0753"), Decimal("29.3061")),
    ],
)
def test_points_in_yiwu_are_accepted(lon, lat):
    check_in_yiwu(lon, lat)


@pytest.mark.parametrize(
    ("lon", "lat", "field", "rule"),
    [
        (29.306, 120.075, "longitude", "swapped"),
        (120.155, 30.274, "latitude", "out_of_bounds"),  # Hangzhou
        (119.647, 29.079, "longitude", "out_of_bounds"),  # Jinhua
        (0, 0, "longitude", "out_of_bounds"),
        (200.0, 29.3, "longitude", "range"),
        (120.0, -95.0, "latitude", "range"),
        (float("nan"), 29.3, "longitude", "range"),
        (120.0, float("inf"), "latitude", "range"),
        ("120.0", 29.3, "longitude", "type"),
        (120.0, None, "latitude", "type"),
        (True, 29.3, "longitude", "type"),
    ],
)
def test_points_outside_yiwu_are_rejected(lon, lat, field, rule):
    with pytest.raises(GeoError) as caught:
        check_in_yiwu(lon, lat)
    assert (caught.value.field, caught.value.rule) == (field, rule)


@given(
    st.floats(min_value=YIWU_BOUNDS.min_lon, max_value=YIWU_BOUNDS.max_lon),
    st.floats(min_value=YIWU_BOUNDS.min_lat, max_value=YIWU_BOUNDS.max_lat),
)
def test_any_point_in_the_box_is_accepted(lon, lat):
    check_in_yiwu(lon, lat)


@given(st.floats(min_value=-180, max_value=180), st.floats(min_value=-90, max_value=90))
def test_a_point_is_either_accepted_or_rejected_with_a_known_rule(lon, lat):
    try:
        check_in_yiwu(lon, lat)
    except GeoError as error:
        assert error.rule in {"swapped", "out_of_bounds"}
        assert not YIWU_BOUNDS.contains(lon, lat)
