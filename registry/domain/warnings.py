"""Warnings 预警 (issue 17): which anomalies of a meter's use become a warning on the file.

Pure: the detection judges each meter's recent months with the very rules that flag a reading
(:func:`registry.domain.plausibility.check`, thresholds in the rules' ``monitoring`` section),
from the meter's history held in a :class:`MeterHistory` (loaded set-based by
``registry.services.warnings``), and adds the two findings only the telemetry knows: a flat
totalizer (the ``flat_line`` flag the intake stored on the month) and the meter's silence
(``monitoring.silence_hours``, domain.md "silence beyond 72 h").

A :class:`Detection` names one cause: file, meter, kind and month (its ``key``); the service keeps
one warning per key however often it is detected. Its ``evidence`` carries the value, the expected
band (low, high) and the threshold, drawn on the warning's page.

The hard findings (negative, above the intake's capacity, an index going backwards) are refused
at entry and never stored, and the labels (unverified meter, compared readings) are no anomaly:
neither is a warning.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from statistics import median

from registry.domain.dates import add_months
from registry.domain.plausibility import HARD, LABELS, Context, Finding, check

# Ended months judged by each run besides the month in progress: a late reading of the quarter
# still raises its warning, older months are history (their readings went through /review).
DETECTION_MONTHS = 3
# Findings that need what only the intake knew (the totalizer's points): read from the stored flags.
STORED_ONLY = ("flat_line", "index_jump")
KINDS = ("above_permit_share", "index_jump", "change_vs_last_year", "above_median", "below_median", "zero_use",
         "flat_line", "silence")


@dataclass(frozen=True)
class MeterHistory:
    """One meter's monthly use around the months judged.

    ``counted``: accepted monthly volumes (what the rules compare with, as at entry);
    ``live``: the month's live reading (accepted, pending or flagged) as (volume, stored flags);
    ``permitted``: the file's permitted annual volume by year (the sum of its permits in force)."""

    meter_id: int
    water_user_id: int
    counted: dict[date, float] = field(default_factory=dict)
    live: dict[date, tuple[float, list | None]] = field(default_factory=dict)
    permitted: dict[int, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Detection:
    water_user_id: int
    meter_id: int | None
    kind: str
    period: date
    evidence: dict

    @property
    def key(self) -> str:
        """One warning per cause: file, meter, kind and month (silence: the day it began)."""
        tail = self.evidence.get("since") or f"{self.period:%Y-%m}"
        return f"{self.water_user_id}:{self.meter_id or '-'}:{self.kind}:{tail}"


def months_judged(today: date) -> list[date]:
    """The month in progress and the ``DETECTION_MONTHS`` ended months before it, oldest first."""
    current = date(today.year, today.month, 1)
    return [add_months(current, -n) for n in range(DETECTION_MONTHS, -1, -1)]


def context(history: MeterHistory, period: date, *, partial: bool = False) -> Context:
    """What plausibility needs around the month, from the history alone (the same figures
    ``services.plausibility_context.build`` gives a reading at entry)."""
    past = history.counted
    before = sorted((p for p in past if p < period), reverse=True)
    last_12 = tuple(past[p] for p in before if p >= add_months(period, -12))
    zeros = 0
    month = add_months(period, -1)
    while past.get(month) == 0:
        zeros += 1
        month = add_months(month, -1)
    return Context(period=period, permitted_annual_m3=history.permitted.get(period.year),
                   same_month_last_year=past.get(add_months(period, -12)), previous_12=last_12,
                   previous_zero_months=zeros, partial=partial)


def band(finding: Finding) -> dict:
    """The finding as evidence: the value, the expected band (low, high) and the threshold."""
    f = finding.figures
    code = finding.code
    if code == "above_permit_share":
        return {"value": f["volume_m3"], "low": 0.0, "high": f["limit_m3"], "unit": "m³",
                "threshold": f"permitted ÷ 12 × {f['factor']:g}"}
    if code == "change_vs_last_year":
        last, limit = f["last_year_m3"], f["limit_percent"]
        return {"value": f["volume_m3"], "low": round(last * (1 - limit / 100), 3),
                "high": round(last * (1 + limit / 100), 3), "unit": "m³", "threshold": f"±{limit:g} %"}
    if code in ("above_median", "below_median"):
        mid, k = f["median_m3"], f["factor"]
        return {"value": f["volume_m3"], "low": round(mid / k, 3), "high": round(mid * k, 3), "unit": "m³",
                "threshold": f"× {k:g}"}
    if code == "index_jump":
        step, tol = f["index_volume_m3"], f["tolerance_percent"]
        return {"value": f["volume_m3"], "low": round(step * (1 - tol / 100), 3),
                "high": round(step * (1 + tol / 100), 3), "unit": "m³", "threshold": f"±{tol:g} %"}
    if code == "zero_use":
        return {"value": 0.0, "low": None, "high": None, "unit": "m³",
                "threshold": f"{f['limit_months']} months"}
    if code == "flat_line":
        return {"value": f["hours"], "low": None, "high": f["limit_hours"], "unit": "h",
                "threshold": f"{f['limit_hours']} h"}
    return {"value": f.get("volume_m3"), "low": None, "high": None, "unit": "m³", "threshold": ""}


def _warned(finding: Finding) -> bool:
    return finding.code not in HARD and finding.code not in LABELS and finding.code in KINDS


def detect_meter(history: MeterHistory, months: list[date], rules, today: date) -> list[Detection]:
    """Every anomaly of the meter in ``months``: plausibility's findings on the month's live
    reading against the history, and the flat line or index jump the intake stored on it."""
    current = date(today.year, today.month, 1)
    out: list[Detection] = []
    for period in months:
        live = history.live.get(period)
        if live is None:
            continue
        volume, stored = live
        findings = [f for f in check(volume, context(history, period, partial=period >= current), rules)
                    if _warned(f)]
        seen = {f.code for f in findings}
        for item in stored or ():
            code = item.get("code") if isinstance(item, dict) else None
            if code in STORED_ONLY and code not in seen:
                try:
                    findings.append(Finding(code, {k: v for k, v in item.items() if k != "code"}))
                    band(findings[-1])
                except (KeyError, TypeError):  # a flag of an older shape: not evidence enough
                    findings.pop()
                seen.add(code)
        for finding in findings:
            evidence = band(finding) | {"figures": finding.figures}
            out.append(Detection(history.water_user_id, history.meter_id, finding.code, period, evidence))
    return out


def silence(water_user_id: int, meter_id: int, last_seen: datetime | None, now: datetime, rules, *,
            installed_on: date | None = None) -> Detection | None:
    """An online meter not heard from for more than ``monitoring.silence_hours`` (72 h: at 72 h
    it is still on time). A meter never heard from is silent from its installation."""
    allowed = rules.monitoring.silence_hours
    if last_seen is None:
        if installed_on is None:
            return None
        last_seen = datetime.combine(installed_on, datetime.min.time(), tzinfo=now.tzinfo)
    hours = (now - last_seen).total_seconds() / 3600
    if hours <= allowed:
        return None
    since = last_seen.date()
    return Detection(water_user_id, meter_id, "silence", date(since.year, since.month, 1),
                     {"value": round(hours, 1), "low": None, "high": float(allowed), "unit": "h",
                      "threshold": f"{allowed} h", "since": since.isoformat(),
                      "figures": {"hours": round(hours, 1), "limit_hours": allowed}})


def expected_band(counted: dict[date, float], period: date, rules) -> tuple[float, float] | None:
    """The band a month's use is expected in, from the rules that flag a reading: the same month
    last year ± ``same_month_change_percent``, else the 12-month median ÷/× ``median_factor``
    (with at least ``min_history_months``); None without the history to say."""
    m = rules.monitoring
    last = counted.get(add_months(period, -12))
    if last:
        return (last * (1 - m.same_month_change_percent / 100), last * (1 + m.same_month_change_percent / 100))
    before = [v for p, v in counted.items() if add_months(period, -12) <= p < period]
    if len(before) >= m.min_history_months:
        mid = median(before)
        if mid > 0:
            return (mid / m.median_factor, mid * m.median_factor)
    return None


def last_seen_day_end(day: date, tz) -> datetime:
    """A day with a daily reading but no stored point counts as heard until its end."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)
