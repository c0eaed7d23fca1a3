"""水平衡测试 (water-balance test), GB/T 12452-2022.

Volumes of one test period, all m³:
Vf fresh intake 取水量, Vr reused 重复利用水量, Vco consumed 耗水量, Vd discharged 排水量,
Vl leaked 漏失水量. Then Vt = Vf + Vr (total use 用水量) and, in balance, Vf = Vco + Vd + Vl.

Indicators are computed in Decimal and rounded half-up (四舍五入) to 2 decimals, then
returned as float; the flag compares the rounded balance error with the rules limit, so
what the report shows and what is flagged agree. With Vf = 0 the rates over Vf are None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from registry.domain.dates import add_months, add_years
from registry.domain.errors import DomainError
from registry.domain.rules import Rules

Volume = float | int | Decimal
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


class BalanceError(DomainError):
    """A volume is not a finite number ≥ 0 (``rule`` ``range``)."""


@dataclass(frozen=True)
class BalanceIndicators:
    """Indicators of one test; percentages, 2 decimals; None when Vf (or Vt) is 0."""

    total_use_m3: float  # Vt = Vf + Vr
    reuse_rate_percent: float | None  # R = Vr / (Vf + Vr) × 100
    leakage_rate_percent: float | None  # Vl / Vf × 100
    balance_error_percent: float | None  # |Vf − (Vco + Vd + Vl)| / Vf × 100
    flagged: bool  # balance error above the rules limit, or outflows with Vf = 0


def _volume(value: Volume, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise BalanceError(field, "type")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise BalanceError(field, "range")
    return number


def _round(value: Decimal) -> float:
    if value.adjusted() >= 15:  # beyond float precision (absurd ratio): nothing to round
        return float(value)
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _percent(part: Decimal, whole: Decimal) -> float | None:
    return None if whole == 0 else _round(part / whole * _HUNDRED)


def indicators(
    vf: Volume, vr: Volume, vco: Volume, vd: Volume, vl: Volume, rules: Rules
) -> BalanceIndicators:
    """GB/T 12452-2022 indicators of a test; flagged above ``balance_error_limit_percent``."""
    fresh, reused, leaked = _volume(vf, "vf"), _volume(vr, "vr"), _volume(vl, "vl")
    outflow = _volume(vco, "vco") + _volume(vd, "vd") + leaked
    error = _percent(abs(fresh - outflow), fresh)
    if error is None:
        flagged = outflow > 0  # water leaves a system that took none in
    else:
        flagged = error > rules.water_balance.balance_error_limit_percent
    return BalanceIndicators(
        total_use_m3=_round(fresh + reused),
        reuse_rate_percent=_percent(reused, fresh + reused),
        leakage_rate_percent=_percent(leaked, fresh),
        balance_error_percent=error,
        flagged=flagged,
    )


def test_failed(vf: Volume, vr: Volume, vco: Volume, vd: Volume, vl: Volume, rules: Rules) -> bool:
    """A test whose balance error is beyond the rules' limit (GB/T 12452-2022: Vf = Vco + Vd + Vl
    within ``balance_error_limit_percent``) failed: it is recorded and shown, and does not count
    as the user's test. Volumes that cannot be read (not finite, negative) fail too."""
    try:
        return indicators(vf, vr, vco, vd, vl, rules).flagged
    except BalanceError:
        return True


def normalise_industry_code(code: str) -> str:
    """``"C2614"`` / ``" 2614 "`` → ``"2614"``: drop the GB/T 4754 section letter."""
    text = code.strip().upper()
    return text[1:] if text[:1].isalpha() else text


def balance_test_required(industry_code: str | None, rules: Rules) -> bool:
    """True when the GB/T 4754-2017 code starts with a prefix of the rules list (task 34)."""
    if not industry_code:
        return False
    code = normalise_industry_code(industry_code)
    return any(code.startswith(i.prefix) for i in rules.water_balance.required_industries)


def balance_test_due_on(last_tested_on: date | None, opened_on: date, rules: Rules) -> date:
    """Next test due: the interval after the last test, or N months after the file opened."""
    wb = rules.water_balance
    if last_tested_on is not None:
        return add_years(last_tested_on, wb.interval_years)
    return add_months(opened_on, wb.first_test_due_months)
