"""Today's date where the bureau is: dates (expiry, due) are Asia/Shanghai calendar days,
while timestamps are stored in UTC. A server on UTC would otherwise be a day late until 08:00."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "Asia/Shanghai"


def today() -> date:
    zone = current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE) if has_app_context() else DEFAULT_TIMEZONE
    return datetime.now(ZoneInfo(zone)).date()


def zone() -> ZoneInfo:
    """The bureau's time zone (its calendar days)."""
    return ZoneInfo(current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE) if has_app_context() else DEFAULT_TIMEZONE)


def now() -> datetime:
    """The current instant, timezone-aware in the bureau's zone (tests move it with the clock)."""
    return datetime.now(zone())
