"""Strict reader for a rules document (JSON object) with dotted-path errors.

The bureau publishes new rule versions as JSON from an admin page, so nothing is coerced:
``true`` is not a number, ``"24"`` is not an int, a missing key or an unknown key is an
error, and every error names the dotted path of the offending value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date

from registry.domain.errors import DomainError


class RulesError(DomainError):
    """A rules document is invalid.

    ``field`` is the dotted path (``"calibration.interval_months.mechanical"``), ``rule`` the
    machine code (``required``, ``type``, ``range``, ``pattern``, ``unknown_key``, ``order``,
    ``unique``, ``sum``, ``reference``, ``not_found``, ``version_mismatch``) and ``message``
    an English detail for the admin log.
    """

    def __init__(self, field: str, rule: str, message: str = "") -> None:
        super().__init__(field, rule)
        self.message = message
        if message:
            self.args = (f"{field}: {rule} ({message})",)


class Reader:
    """Reads typed values out of one JSON object; call :meth:`done` to reject unknown keys."""

    def __init__(self, data: object, path: str = "") -> None:
        if not isinstance(data, dict):
            raise RulesError(path or "<root>", "type", "expected an object")
        self._data: dict[str, object] = data
        self._path = path
        self._seen: set[str] = set()

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self._path}[{key}]"
        return f"{self._path}.{key}" if self._path else key

    def raw(self, key: str) -> object:
        self._seen.add(key)
        if key not in self._data:
            raise RulesError(self.path(key), "required")
        return self._data[key]

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise RulesError(self.path(unknown[0]), "unknown_key")

    def has(self, key: str) -> bool:
        """Whether an optional key is present (marks it seen: an absent one is no unknown key)."""
        self._seen.add(key)
        return key in self._data

    def section(self, key: str) -> Reader:
        return Reader(self.raw(key), self.path(key))

    def sections(self, key: str, *, min_len: int = 0) -> Iterator[Reader]:
        items = self._list(key, min_len)
        field = self.path(key)
        for i, item in enumerate(items):
            yield Reader(item, f"{field}[{i}]")

    def string(self, key: str, pattern: str = r".+") -> str:
        return check_string(self.raw(key), self.path(key), pattern)

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise RulesError(self.path(key), "type", "expected true or false")
        return value

    def integer(self, key: str, lo: int, hi: int) -> int:
        return check_int(self.raw(key), self.path(key), lo, hi)

    def number(self, key: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
        return check_number(self.raw(key), self.path(key), lo, hi, lo_open=lo_open)

    def optional_number(self, key: str, lo: float, hi: float) -> float | None:
        value = self.raw(key)
        return None if value is None else check_number(value, self.path(key), lo, hi)

    def iso_date(self, key: str) -> date:
        text = self.string(key, r"\d{4}-\d{2}-\d{2}")
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise RulesError(self.path(key), "range", "not a calendar date") from None

    def int_list(self, key: str, lo: int, hi: int, *, min_len: int = 0) -> tuple[int, ...]:
        field = self.path(key)
        return tuple(
            check_int(v, f"{field}[{i}]", lo, hi) for i, v in enumerate(self._list(key, min_len))
        )

    def string_list(self, key: str, pattern: str, *, min_len: int = 0) -> tuple[str, ...]:
        field = self.path(key)
        return tuple(
            check_string(v, f"{field}[{i}]", pattern)
            for i, v in enumerate(self._list(key, min_len))
        )

    def _list(self, key: str, min_len: int) -> list[object]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise RulesError(self.path(key), "type", "expected a list")
        if len(value) < min_len:
            raise RulesError(self.path(key), "range", f"expected at least {min_len} items")
        return value


def check_string(value: object, field: str, pattern: str) -> str:
    if not isinstance(value, str):
        raise RulesError(field, "type", "expected a string")
    if not re.fullmatch(pattern, value):
        raise RulesError(field, "pattern", f"must match {pattern}")
    return value


def check_int(value: object, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RulesError(field, "type", "expected an integer")
    if not lo <= value <= hi:
        raise RulesError(field, "range", f"expected {lo}..{hi}")
    return value


def check_number(
    value: object, field: str, lo: float, hi: float, *, lo_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RulesError(field, "type", "expected a number")
    number = float(value)
    too_low = number <= lo if lo_open else number < lo
    if not math.isfinite(number) or too_low or number > hi:
        bracket = "(" if lo_open else "["
        raise RulesError(field, "range", f"expected {bracket}{lo}, {hi}]")
    return number


def require(condition: bool, field: str, rule: str, message: str) -> None:
    """Cross-field check: raise ``RulesError(field, rule, message)`` unless ``condition``."""
    if not condition:
        raise RulesError(field, rule, message)
