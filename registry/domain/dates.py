"""Calendar arithmetic for due dates (到期日).

Due dates in the regulation are counted in calendar months and years ("every 24 months",
"service life 6 years", "due 12 months after the file was opened"). A month added to the
31st lands on the last day of a shorter month (31 Jan + 1 month = 28/29 Feb), which is how
a certificate dated at month end is read; 29 Feb + 1 year = 28 Feb.
"""

from __future__ import annotations

import calendar
from datetime import date

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: see isleap


def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months (negative allowed), day clamped to month end."""
    index = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(index, 12)
    day = d.day
    if day > 28:  # every month has 28 days: only the 29th to the 31st may need clamping
        last_day = 29 if month0 == 1 and calendar.isleap(year) else _DAYS_IN_MONTH[month0]
        day = min(day, last_day)
    return date(year, month0 + 1, day)


def add_years(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar years; 29 Feb becomes 28 Feb in a common year."""
    return add_months(d, 12 * n)


def month_start(d: date) -> date:
    """First day of ``d``'s month: the key of a monthly reading period."""
    return d.replace(day=1)


def months_between(start: date, end: date) -> int:
    """Calendar months from ``start``'s month to ``end``'s month, ignoring the day.

    ``months_between(date(2025, 1, 31), date(2025, 2, 1)) == 1``; negative when ``end``
    is in an earlier month.
    """
    return (end.year - start.year) * 12 + (end.month - start.month)
