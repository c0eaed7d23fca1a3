"""取水许可证 (water-intake permit): number format, term and derived status.

Number: D + 6-digit county code + S (surface water 地表水) | G (ground water 地下水) +
4-digit year + "-" + 4-digit serial, e.g. ``D330782S2021-0120`` (Yiwu is 330782). The term is
normally 5 years and never over 10 (取水许可和水资源费征收管理条例 第二十五条); the renewal
window, reminder steps and maximum term come from ``rules.permit``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from registry.domain.dates import add_years
from registry.domain.errors import DomainError
from registry.domain.reference import YIWU_COUNTY_CODE
from registry.domain.rules import Rules

PERMIT_NUMBER_RE = re.compile(
    r"D(?P<county>\d{6})(?P<source>[SG])(?P<year>\d{4})-(?P<serial>\d{4})"
)
PERMIT_STATUSES = (
    "not_yet_valid",
    "valid",
    "renewal_due",
    "expired",
    "revoked",
    "superseded",
    "renewal_pending",  # expired, renewal applied in time (art. 25), not yet decided: no lapse
)
_SOURCES = {"S": "surface", "G": "ground"}


class PermitError(DomainError):
    """``field`` number/valid_to; ``rule`` format, before_start or over_max_term."""


@dataclass(frozen=True)
class PermitNumber:
    county: str
    source: str  # "surface" | "ground", as the intake point's source
    year: int
    serial: str

    @property
    def is_yiwu(self) -> bool:
        return self.county == YIWU_COUNTY_CODE


def _normalise(number: str) -> str:
    # Full-width input (Ｄ３３０７８２…) and stray spaces are common in scanned-form entry.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", number)).upper()


def parse_permit_number(number: str) -> PermitNumber:
    """Parts of a permit number; raises ``PermitError("number", "format")``."""
    match = PERMIT_NUMBER_RE.fullmatch(_normalise(number))
    if match is None:
        raise PermitError("number", "format")
    return PermitNumber(
        county=match["county"],
        source=_SOURCES[match["source"]],
        year=int(match["year"]),
        serial=match["serial"],
    )


def validate_permit_number(number: str) -> str:
    """The normalised number (upper case, no spaces); raises ``PermitError`` if malformed."""
    parse_permit_number(number)
    return _normalise(number)


def is_yiwu(number: str) -> bool:
    """True when a well-formed number was issued under Yiwu's county code 330782."""
    return parse_permit_number(number).is_yiwu


def validate_term(valid_from: date, valid_to: date, rules: Rules) -> None:
    """Reject an end before the start or a term over ``max_term_years``.

    Both ``from + N years − 1 day`` and ``from + N years`` are accepted as an N-year term:
    permits are written both ways.
    """
    if valid_to < valid_from:
        raise PermitError("valid_to", "before_start")
    if valid_to > add_years(valid_from, rules.permit.max_term_years):
        raise PermitError("valid_to", "over_max_term")


def days_to_expiry(valid_to: date, today: date) -> int:
    """Days from ``today`` to the last valid day: 0 on it, negative once expired."""
    return (valid_to - today).days


def renewal_deadline(valid_to: date, rules: Rules) -> date:
    """The last day to apply for a renewal in time (取水许可和水资源费征收管理条例 第二十五条:
    at least 45 days before expiry; exactly 45 days before is in time)."""
    return valid_to - timedelta(days=rules.permit.renewal_window_days)


def renewal_applied_in_time(valid_to: date, renewal_applied_on: date | None, rules: Rules) -> bool:
    return renewal_applied_on is not None and renewal_applied_on <= renewal_deadline(valid_to, rules)


def permit_status(
    valid_from: date,
    valid_to: date,
    today: date,
    *,
    revoked_on: date | None = None,
    superseded: bool = False,
    rules: Rules,
    renewal_applied_on: date | None = None,
) -> str:
    """One of :data:`PERMIT_STATUSES`.

    Revocation wins from its effective date; a permit replaced by its renewal stays
    ``superseded`` in the history (the caller says so once the renewal has started: a
    renewal entered early does not end the old permit). ``renewal_due`` covers the last
    ``renewal_window_days`` days up to and including ``valid_to``. Past ``valid_to``, a
    permit whose renewal was applied for in time (:func:`renewal_applied_in_time`) and is
    not yet decided is ``renewal_pending``, not expired: the bureau decides before expiry
    (art. 25), and an undecided application is no lapse of the user's.
    """
    if revoked_on is not None and today >= revoked_on:
        return "revoked"
    if superseded:
        return "superseded"
    if today < valid_from:
        return "not_yet_valid"
    days = days_to_expiry(valid_to, today)
    if days < 0:
        if renewal_applied_on is not None and renewal_applied_on <= today and renewal_applied_in_time(
                valid_to, renewal_applied_on, rules):
            return "renewal_pending"
        return "expired"
    if days <= rules.permit.renewal_window_days:
        return "renewal_due"
    return "valid"


def reminder_step(valid_to: date, today: date, rules: Rules) -> int | None:
    """The reminder step (90, 45, 15 days) reached today, or None outside them or once expired.

    The smallest step not below the days left: 60 days left → 90, 30 → 45, 10 → 15; a
    notifier sends each step once.
    """
    days = days_to_expiry(valid_to, today)
    if days < 0:
        return None
    reached = [step for step in rules.permit.reminder_days if days <= step]
    return min(reached, default=None)
