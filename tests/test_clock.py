"""The suite's clock: tests and the app read one clock, so the hour a run starts at changes nothing.

``.ci/run`` runs the suite a second time with ``--at`` in the other half of the UTC day (16:00 to
24:00 UTC is already the next day in Shanghai, where the bureau's dates are); these tests pin the
rules of that option and keep the suite's tests off the process's own calendar.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from registry import clock
from tests.conftest import session_start

TESTS = Path(__file__).resolve().parent
UTC = timezone.utc


@pytest.mark.parametrize(("at", "now", "start"), [
    # 'HH:MMZ' is the next such UTC instant: later today, or tomorrow if it has passed.
    ("18:30Z", datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 12, 1, 18, 30, tzinfo=UTC)),
    ("18:30Z", datetime(2026, 12, 1, 19, 21, tzinfo=UTC), datetime(2026, 12, 2, 18, 30, tzinfo=UTC)),
    ("02:30Z", datetime(2026, 12, 31, 19, 0, tzinfo=UTC), datetime(2027, 1, 1, 2, 30, tzinfo=UTC)),
    # A full instant is taken as given (+08:00 is Shanghai: 02:00 there is 18:00 UTC the day before).
    ("2026-12-01T02:00:00+08:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 11, 30, 18, 0, tzinfo=UTC)),
    # 23:30 in Shanghai (15:30 UTC): a run would straddle the bureau's midnight; it starts at 00:05.
    (None, datetime(2026, 12, 1, 15, 30, tzinfo=UTC), datetime(2026, 12, 1, 16, 5, tzinfo=UTC)),
    ("23:10Z", datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 12, 1, 23, 10, tzinfo=UTC)),
    (None, datetime(2026, 12, 1, 14, 59, tzinfo=UTC), datetime(2026, 12, 1, 14, 59, tzinfo=UTC)),
])
def test_session_start(at, now, start):
    assert session_start(at, now) == start


def test_an_instant_without_offset_is_refused():
    with pytest.raises(pytest.UsageError, match="offset"):
        session_start("2026-12-01T18:30:00", datetime(2026, 12, 1, tzinfo=UTC))


def test_the_app_and_the_tests_share_the_bureaus_day(app, pytestconfig):
    """The clock the suite started (``--at`` or now) is the one the app reads."""
    started = pytestconfig._clock_start
    assert abs((datetime.now(UTC) - started).total_seconds()) < 24 * 3600
    assert clock.today() == datetime.now(UTC).astimezone(clock.ZoneInfo(clock.DEFAULT_TIMEZONE)).date()


def test_no_test_reads_the_process_calendar():
    """``date.today()`` and a naive ``datetime.now()`` give the server's day (UTC on CI), not the
    bureau's: a test built on them fails from 16:00 to 24:00 UTC. Use ``registry.clock.today``."""
    pattern = re.compile(r"\bdate\.today\(\)|\bdatetime\.(?:now|today)\(\s*\)|\butcnow\(\)\.date\(\)")
    offenders = [f"{path.relative_to(TESTS)}:{number}" for path in sorted(TESTS.rglob("*.py")) if path != Path(__file__)
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []
