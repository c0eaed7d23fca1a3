"""Calendar-month arithmetic behind every due date."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.domain.dates import add_months, add_years, month_start, months_between


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),
        (date(2024, 1, 15), -13, date(2022, 12, 15)),
        (date(2024, 5, 20), 24, date(2026, 5, 20)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_add_years_from_29_february():
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_month_start_and_months_between():
    assert month_start(date(2025, 3, 17)) == date(2025, 3, 1)
    assert months_between(date(2025, 1, 31), date(2025, 2, 1)) == 1
    assert months_between(date(2025, 3, 1), date(2024, 3, 31)) == -12


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    st.integers(min_value=-600, max_value=600),
)
def test_add_months_moves_exactly_n_calendar_months(start, n):
    moved = add_months(start, n)
    assert months_between(start, moved) == n
    assert moved.day <= start.day
