"""Versioned rules as data (规则版本): every figure domain.md marks *default* lives here.

A version is one JSON file in this package, named after its ``version`` (``YW-2026.1.json``);
the bureau publishes new versions from an admin page as JSON, validated by
:meth:`Rules.from_dict`, and each evaluation records the version it used. Keys:

``version``, ``title``, ``effective_from`` (ISO date)
``permit``
    ``renewal_window_days`` (45: renewal due / score deduction window, inclusive),
    ``reminder_days`` (90, 45, 15: strictly descending reminder steps),
    ``max_term_years`` (10: 取水许可有效期 never over 10 years).
``calibration`` (JJG 162-2019 cold-water meters, JJG 1033 electromagnetic,
JJG 1030 ultrasonic flow meters, CJ/T 364 in-place checks)
    ``service_life_small`` {``max_dn`` 25, ``years`` 6} and ``service_life_medium``
    {``max_dn`` 50, ``years`` 4}: mechanical meters with no periodic verification, replaced
    at end of life; ``periodic_above_q3`` (16 m³/h: a larger Q3 makes any mechanical meter
    periodic); ``interval_months`` per meter type (24 each); ``in_place_tolerance_percent`` (5).
``water_balance`` (GB/T 12452-2022, seed task 34)
    ``required_industries``: GB/T 4754-2017 code prefixes with their category: 火电 4411
    火力发电 and 4412 热电联产 (CHP plants are fuel-fired; 4417 biomass is left out); 化工 the
    whole division 26 化学原料和化学制品制造业 (not 27 pharmaceuticals or 28 chemical
    fibres); 印染 the six dyeing/finishing classes 1713 1723 1733 1743 1752 1762 (spinning and
    weaving classes of division 17 are dry processes); 造纸 groups 221 纸浆制造 and 222 造纸
    (not 223 paper products, which are converting, not pulping). ``interval_years`` (5),
    ``first_test_due_months`` (12, counted from the file's opening),
    ``balance_error_limit_percent`` (5).
``thresholds``
    ``plan_required_m3_per_year`` (3000, task 33), ``online_monitoring_m3_per_year`` (10000,
    tasks 46–47), both compared with the annual permitted volume.
``readings``
    ``due_day_of_next_month`` (10).
``evaluation`` (规范评价)
    ``total_points`` (100, must equal the sum of the rules), ``points_decimals`` (1), one
    section per rule id in :data:`RULE_IDS` with its ``points`` and parameters, ``grades``
    (edges best first: A 90, B 75, C 60, D 0), ``veto_grade`` (D). Over-plan tiers carry
    ``up_to_percent`` and ``including`` (within plan ≤ 0 % → 10; < 20 % → 5; 20–40 % → 2;
    > 40 % → 0).
``certificate``
    ``grades`` (A, B), ``validity_months`` (12).
``plan_year`` and ``tax`` (optional; see :mod:`registry.domain.rules.tax`)
    the plan-proposal deadline and reminders, the allowed breakdowns; the estimation rule, the
    over-plan tiers and multipliers, the rate table by source and use (defaults marked).
``monitoring`` (optional: a version without it gets the defaults; issue 17)
    online data and plausibility: ``capacity_factor`` (1.2), ``permit_share_factor`` (3),
    ``same_month_change_percent`` (60), ``median_factor`` (3), ``min_history_months`` (6),
    ``zero_months`` (2), ``flat_hours`` (72), ``silence_hours`` (72); see
    :class:`~registry.domain.rules.schema.MonitoringRules`.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from registry.domain.rules._reader import RulesError
from registry.domain.rules.evaluation import (
    RULE_IDS,
    EvaluationRules,
    GradeEdge,
    OverPlanTier,
    PlannedUseScoring,
)
from registry.domain.rules.schema import (
    METER_TYPES,
    VERSION_PATTERN,
    CalibrationRules,
    CertificateRules,
    PermitRules,
    ReadingRules,
    RequiredIndustry,
    Rules,
    ServiceLifeBand,
    Thresholds,
    WaterBalanceRules,
)

DEFAULT_VERSION = "YW-2026.1"

__all__ = [
    "DEFAULT_VERSION",
    "METER_TYPES",
    "RULE_IDS",
    "CalibrationRules",
    "CertificateRules",
    "EvaluationRules",
    "GradeEdge",
    "OverPlanTier",
    "PermitRules",
    "PlannedUseScoring",
    "ReadingRules",
    "RequiredIndustry",
    "Rules",
    "RulesError",
    "ServiceLifeBand",
    "Thresholds",
    "WaterBalanceRules",
    "available_versions",
    "load_rules",
]


def _version_key(version: str) -> tuple[str, int, int]:
    prefix, year, number = re.split(r"[-.]", version)
    return prefix, int(year), int(number)


def available_versions() -> tuple[str, ...]:
    """Versions packaged with the application, oldest first."""
    names = (entry.name for entry in resources.files(__name__).iterdir())
    versions = (n.removesuffix(".json") for n in names if n.endswith(".json"))
    return tuple(
        sorted((v for v in versions if re.fullmatch(VERSION_PATTERN, v)), key=_version_key)
    )


def load_rules(version: str = DEFAULT_VERSION) -> Rules:
    """The packaged rules of ``version``, validated once and cached (the result is frozen)."""
    if not isinstance(version, str) or not re.fullmatch(VERSION_PATTERN, version):
        raise RulesError("version", "pattern", f"must match {VERSION_PATTERN}")
    return _load_packaged(version)


@cache
def _load_packaged(version: str) -> Rules:
    resource = resources.files(__name__).joinpath(f"{version}.json")
    if not resource.is_file():
        raise RulesError("version", "not_found", version)
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RulesError("<root>", "json", str(exc)) from None
    rules = Rules.from_dict(data)
    if rules.version != version:
        raise RulesError("version", "version_mismatch", f"file {version}.json says {rules.version}")
    return rules
