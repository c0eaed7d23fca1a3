"""Field checks shared by every service: coerce what a form, the API or an import sent, and
collect one message per field naming the rule that failed (translated when shown)."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from registry import clock
from registry.domain import ranges
from registry.services.errors import ValidationError

_MISSING = ("", None)
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_ID = 2**31 - 1  # ids are INTEGER columns: a larger number cannot name a row (and overflows the driver)


def database_id(value) -> int | None:
    """A submitted id as an int, or None when it cannot name a row: not ASCII digits ("²".isdigit()
    is true in Python), zero, or beyond a database integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


def idempotency_key(key) -> str | None:
    """A form's or client's idempotency key as stored (64 characters), or None for one that could not
    be stored (control characters: PostgreSQL text refuses NUL); such a key is simply not honoured."""
    if not isinstance(key, str) or not key or CONTROL_CHARS.search(key):
        return None
    return key[:64]


def refuse_control(field: str, text: str | None, *, multiline: bool = True) -> None:
    """Free text (a reason, a note) with control characters is refused, naming the field."""
    if text and (CONTROL_CHARS.search(text) or (not multiline and ("\n" in text or "\r" in text))):
        raise ValidationError({field: _l("Contains control characters.")})


def range_message(field: str, rule: str):
    """The message for the rule of registry.domain.ranges that a value of ``field`` broke."""
    bounds = ranges.RANGES[field]
    if rule in ("type", "finite"):
        return _l("Enter a whole number.") if bounds.integer else _l("Enter a number.")
    if rule == "whole":
        return _l("Enter a whole number.")
    low, high = _bound(bounds.low, bounds.unit), _bound(bounds.high, bounds.unit)
    if rule == "below":
        if bounds.low_open:
            return _l("Must be greater than %(n)s.", n=low)
        return _l("Cannot be negative.") if bounds.low == 0 else _l("Must be at least %(n)s.", n=low)
    if bounds.unit:
        return _l("Must be at most %(n)s %(unit)s: beyond what is physically possible.", n=high, unit=bounds.unit)
    return _l("Must be at most %(n)s.", n=high)


def _bound(value: float, unit: str) -> str:
    """A bound as written in the message: a quantity with separators (100,000,000 m³), a year or
    a count of months without (2000)."""
    if value != int(value):
        return f"{value:g}"
    return f"{value:,.0f}" if unit else f"{value:.0f}"


class Checker:
    """``c = Checker(data); c.text("name"); ...; cleaned = c.done()``."""

    def __init__(self, data: dict, today: date | None = None):
        self.data = data
        self.errors: dict[str, object] = {}
        self.out: dict = {}
        self.today = today or clock.today()

    def fail(self, field: str, message) -> None:
        self.errors.setdefault(field, message)

    def ok(self, field: str) -> bool:
        return field not in self.errors and self.out.get(field) is not None

    def _raw(self, field: str, required: bool):
        value = self.data.get(field)
        if isinstance(value, str):
            value = value.strip()
        if value in _MISSING:
            if required:
                self.fail(field, _l("This field is required."))
            self.out[field] = None
            return None
        return value

    def text(self, field: str, *, required: bool = True, max_len: int = 200, multiline: bool = False):
        value = self._raw(field, required)
        if value is None:
            return None
        value = str(value)
        if len(value) > max_len:
            self.fail(field, _l("At most %(n)d characters.", n=max_len))
        elif CONTROL_CHARS.search(value) or (not multiline and ("\n" in value or "\r" in value)):
            self.fail(field, _l("Contains control characters."))
        else:
            self.out[field] = value
        return self.out.get(field)

    def pattern(self, field: str, regex: str, message, *, required: bool = True, max_len: int = 60):
        value = self.text(field, required=required, max_len=max_len)
        if value is not None and not re.fullmatch(regex, value):
            self.fail(field, message)
            self.out[field] = None
        return self.out.get(field)

    def choice(self, field: str, choices, *, required: bool = True):
        value = self._raw(field, required)
        if value is None:
            return None
        if value not in choices:
            self.fail(field, _l("Choose one of the listed options."))
        else:
            self.out[field] = value
        return self.out.get(field)

    def date(self, field: str, *, required: bool = True, not_future: bool = False):
        value = self._raw(field, required)
        if value is None:
            return None
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            try:
                value = date.fromisoformat(str(value))
            except ValueError:
                self.fail(field, _l("Enter a date as YYYY-MM-DD."))
                return None
        if not (date(1950, 1, 1) <= value <= date(2100, 12, 31)):
            self.fail(field, _l("Enter a date between 1950 and 2100."))
        elif not_future and value > self.today:
            self.fail(field, _l("Cannot be in the future."))
        else:
            self.out[field] = value
        return self.out.get(field)

    def month(self, field: str, *, required: bool = True, not_future: bool = True):
        """A month as YYYY-MM (or a date), stored as its first day."""
        value = self._raw(field, required)
        if value is None:
            return None
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?", str(value))
            if not m or not 1 <= int(m.group(2)) <= 12 or not 1950 <= int(m.group(1)) <= 2100:
                self.fail(field, _l("Enter a month as YYYY-MM."))
                return None
            value = date(int(m.group(1)), int(m.group(2)), 1)
        value = value.replace(day=1)
        if not_future and value > self.today.replace(day=1):
            self.fail(field, _l("The month cannot be in the future."))
        else:
            self.out[field] = value
        return self.out.get(field)

    def number(self, field: str, *, required: bool = True):
        """A number within the domain range of ``field`` (registry.domain.ranges, the one table
        of them): a string is read as a decimal, exactly, so a 400-digit volume is "too large"
        rather than an overflow, and only a value inside the range becomes an int or a float."""
        bounds = ranges.RANGES[field]
        value = self._raw(field, required)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = Decimal(value)
            except ArithmeticError:
                value = None
        rule = ranges.check(field, value)
        if rule is not None:
            self.fail(field, range_message(field, rule))
            return None
        self.out[field] = int(value) if bounds.integer else float(value)
        return self.out[field]

    def boolean(self, field: str, *, required: bool = True):
        value = self.data.get(field)
        if isinstance(value, bool):
            self.out[field] = value
        elif value in ("1", "true", "yes", "on", 1):
            self.out[field] = True
        elif value in ("0", "false", "no", 0):
            self.out[field] = False
        elif value in _MISSING and not required:
            self.out[field] = None
        else:
            self.fail(field, _l("Choose yes or no."))
        return self.out.get(field)

    def done(self) -> dict:
        if self.errors:
            raise ValidationError(self.errors)
        return self.out
