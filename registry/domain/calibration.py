"""计量设施检定 (meter verification): which regime a meter falls under and when it is due.

- JJG 162-2019 (饮用冷水水表): mechanical meters DN ≤ 25 get only a first verification and
  are replaced within 6 years; 25 < DN ≤ 50 within 4 years; DN > 50 or Q3 > 16 m³/h are
  verified periodically (24 months).
- JJG 1033 (电磁流量计) and JJG 1030 (超声流量计): periodic verification, 24 months *default*.
- CJ/T 364: in-place checks pass within ±5 % *default*.

The figures come from the rules file (``rules.calibration``); a meter may override its
interval or service life. A due date or end of life is the last day the meter counts as
verified: from the next day its readings are flagged "unverified meter".

Verification is not any check (corrections of 2026-12): only a verification (首次检定
``initial`` / 后续检定 ``subsequent``) restarts the interval; an in-use check (使用中检查
``in_service``) or an on-site calibration (现场校准 ``on_site``) is recorded and shown but
does not. A verification that failed, or whose measured error is beyond the rules'
tolerance, does not count whatever its pass flag says (:func:`verification_fault`). The
next due date is computed from the rules in force (:func:`verification_due_on`); a date
the certificate states holds only when it is earlier. A meter with no verification on
record is unverified; service life runs from the first verification where known, else
from installation.
"""

from __future__ import annotations

import math
from datetime import date

from registry.domain.dates import add_months, add_years
from registry.domain.errors import DomainError
from registry.domain.rules import METER_TYPES, Rules

SERVICE_LIFE_6Y = "service_life_6y"  # small mechanical band (rules: service_life_small)
SERVICE_LIFE_4Y = "service_life_4y"  # medium mechanical band (rules: service_life_medium)
PERIODIC = "periodic"
VERIFICATION_CLASSES = (SERVICE_LIFE_6Y, SERVICE_LIFE_4Y, PERIODIC)
DUE_STATUSES = ("ok", "due_soon", "overdue")
VERIFICATION_KINDS = ("initial", "subsequent")  # 首次检定 / 后续检定: the only ones that count
# Why a meter's verification does not count (``verification_fault``), or None when it does.
NEVER_VERIFIED, NOT_VERIFICATION, FAILED, OUT_OF_TOLERANCE = (
    "never_verified", "not_verification", "failed", "out_of_tolerance")


class CalibrationError(DomainError):
    """Bad meter data: ``field`` in meter_type/dn/q3/..., ``rule`` unknown/range."""


def _check_meter(meter_type: str, dn: int | None, q3: float | None) -> None:
    if meter_type not in METER_TYPES:
        raise CalibrationError("meter_type", "unknown")
    if dn is not None and (isinstance(dn, bool) or not isinstance(dn, int) or dn <= 0):
        raise CalibrationError("dn", "range")
    if q3 is not None and (not math.isfinite(q3) or q3 <= 0):
        raise CalibrationError("q3", "range")


def verification_class(meter_type: str, dn: int | None, q3: float | None, rules: Rules) -> str:
    """``service_life_6y``, ``service_life_4y`` or ``periodic`` (JJG 162-2019).

    The two service-life names identify the small and medium DN bands; the years and DN
    limits are read from the rules, and so are the meter types JJG 162-2019 covers as water
    meters (``service_life_meter_types``: mechanical, electromagnetic and ultrasonic water
    meters alike). A meter without a recorded DN is treated as periodic: the stricter regime, so the missing data shows up as a due date.
    """
    _check_meter(meter_type, dn, q3)
    cal = rules.calibration
    if meter_type not in cal.service_life_meter_types or dn is None:
        return PERIODIC
    if q3 is not None and q3 > cal.periodic_above_q3:
        return PERIODIC
    if dn <= cal.service_life_small.max_dn:
        return SERVICE_LIFE_6Y
    if dn <= cal.service_life_medium.max_dn:
        return SERVICE_LIFE_4Y
    return PERIODIC


def _positive(value: int | None, field: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise CalibrationError(field, "range")
    return value


def calibration_due_on(
    meter_type: str,
    dn: int | None,
    q3: float | None,
    installed_on: date,
    last_calibrated_on: date | None,
    rules: Rules,
    interval_months_override: int | None = None,
) -> date | None:
    """Next periodic verification due date, or None when the meter has none.

    Counted from the last verification, or from installation when never verified (a meter
    is verified before it is installed). A per-meter interval override makes the meter
    periodic whatever its class: the bureau set it on purpose.
    """
    override = _positive(interval_months_override, "interval_months_override")
    meter_class = verification_class(meter_type, dn, q3, rules)
    if override is None and meter_class != PERIODIC:
        return None
    interval = override or rules.calibration.interval_months.of(meter_type)
    return add_months(last_calibrated_on or installed_on, interval)


def verification_due_on(
    meter_type: str,
    dn: int | None,
    q3: float | None,
    last_verified_on: date,
    rules: Rules,
    interval_months_override: int | None = None,
    stated_due_on: date | None = None,
) -> date | None:
    """Last verified day after the verification of ``last_verified_on``, by the rules in
    force (None: the meter has no periodic verification). A due date the certificate states
    (``stated_due_on``) holds when earlier; a later one cannot stretch the rules' interval.
    """
    due = calibration_due_on(meter_type, dn, q3, last_verified_on, last_verified_on, rules,
                             interval_months_override)
    if due is None or stated_due_on is None:
        return due
    return min(due, stated_due_on)


def verification_fault(kind: str | None, passed: bool | None, error_percent: float | None,
                       rules: Rules) -> str | None:
    """Why a calibration record does not count as a verification, or None when it does.

    ``not_verification`` for an in-use check or on-site calibration; ``failed`` when its
    pass flag is false; ``out_of_tolerance`` when |measured error| is beyond the rules'
    tolerance (``in_place_tolerance_percent``, ±5 % by default), whatever the pass flag
    says. ``kind`` None (a caller that only knows verifications) counts as a verification.
    """
    if kind is not None and kind not in VERIFICATION_KINDS:
        return NOT_VERIFICATION
    if passed is False:
        return FAILED
    if error_percent is not None and (
        not math.isfinite(error_percent)
        or abs(error_percent) > rules.calibration.in_place_tolerance_percent
    ):
        return OUT_OF_TOLERANCE
    return None


def service_life_ends_on(
    meter_type: str,
    dn: int | None,
    q3: float | None,
    installed_on: date,
    rules: Rules,
    life_years_override: int | None = None,
    first_verified_on: date | None = None,
) -> date | None:
    """Last day of a water meter's service life (JJG 162-2019), or None if unlimited.

    Counted from the first verification (首次检定) where known, else from installation.
    A per-meter override applies to any meter.
    """
    override = _positive(life_years_override, "life_years_override")
    meter_class = verification_class(meter_type, dn, q3, rules)
    installed_on = first_verified_on or installed_on
    if override is not None:
        return add_years(installed_on, override)
    cal = rules.calibration
    if meter_class == SERVICE_LIFE_6Y:
        return add_years(installed_on, cal.service_life_small.years)
    if meter_class == SERVICE_LIFE_4Y:
        return add_years(installed_on, cal.service_life_medium.years)
    return None


def meter_due_status(due_on: date | None, today: date, soon_days: int = 30) -> str:
    """``overdue`` after ``due_on``; ``due_soon`` within ``soon_days`` of it, inclusive.

    ``ok`` otherwise, and for a meter with no due date.
    """
    if due_on is None:
        return "ok"
    days_left = (due_on - today).days
    if days_left < 0:
        return "overdue"
    if days_left <= soon_days:
        return "due_soon"
    return "ok"


def meter_deadline(due_on: date | None, life_ends_on: date | None) -> date | None:
    """The earlier of the verification due date and the end of service life."""
    if due_on is None:
        return life_ends_on
    if life_ends_on is None:
        return due_on
    return min(due_on, life_ends_on)


def is_verified_on(day: date, due_on: date | None, life_ends_on: date | None) -> bool:
    """False when ``day`` is past the due date or the service life: "unverified meter"."""
    deadline = meter_deadline(due_on, life_ends_on)
    return deadline is None or day <= deadline


def in_place_check_passes(measured_error_percent: float, rules: Rules) -> bool:
    """使用中检查/现场校准 passes when |error| ≤ the tolerance (CJ/T 364, default 5 %)."""
    if not math.isfinite(measured_error_percent):
        raise CalibrationError("measured_error_percent", "range")
    return abs(measured_error_percent) <= rules.calibration.in_place_tolerance_percent
