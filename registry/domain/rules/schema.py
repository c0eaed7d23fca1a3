"""Typed, frozen form of a rules document; field names are the JSON keys.

This module holds the operational sections and :class:`Rules`; the 规范评价 section lives
in :mod:`registry.domain.rules.evaluation`.

Each section class reads itself with a strict :class:`Reader` (``read``) and checks its own
cross-field constraints; :meth:`Rules.from_dict` adds the checks that span sections.
``to_dict`` is generic: dataclass -> object, tuple -> list, date -> ISO string.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from typing import cast

from registry.domain.rules._reader import Reader, require
from registry.domain.rules.evaluation import EvaluationRules
from registry.domain.rules.tax import PlanYearRules, TaxRules

VERSION_PATTERN = r"[A-Z]{2,8}-\d{4}\.\d{1,3}"
METER_TYPES = ("mechanical", "electromagnetic", "ultrasonic", "other")
_ID = r"[a-z][a-z_]{0,39}"
_GRADE = r"[A-Z]"


@dataclass(frozen=True)
class PermitRules:
    """取水许可: renewal window (score and status), reminder steps, longest legal term."""

    renewal_window_days: int
    reminder_days: tuple[int, ...]
    max_term_years: int

    @classmethod
    def read(cls, r: Reader) -> PermitRules:
        section = cls(
            renewal_window_days=r.integer("renewal_window_days", 1, 366),
            reminder_days=r.int_list("reminder_days", 1, 366, min_len=1),
            max_term_years=r.integer("max_term_years", 1, 50),
        )
        r.done()
        steps = section.reminder_days
        require(
            list(steps) == sorted(set(steps), reverse=True),
            r.path("reminder_days"),
            "order",
            "strictly descending",
        )
        return section


@dataclass(frozen=True)
class ServiceLifeBand:
    """Mechanical meters up to ``max_dn`` are replaced after ``years`` (JJG 162-2019)."""

    max_dn: int
    years: int

    @classmethod
    def read(cls, r: Reader) -> ServiceLifeBand:
        band = cls(max_dn=r.integer("max_dn", 1, 5000), years=r.integer("years", 1, 50))
        r.done()
        return band


@dataclass(frozen=True)
class MeterTypeIntervals:
    """Periodic verification interval in months, per meter type."""

    mechanical: int
    electromagnetic: int
    ultrasonic: int
    other: int

    @classmethod
    def read(cls, r: Reader) -> MeterTypeIntervals:
        intervals = cls(**{t: r.integer(t, 1, 240) for t in METER_TYPES})
        r.done()
        return intervals

    def of(self, meter_type: str) -> int:
        return int(getattr(self, meter_type))


@dataclass(frozen=True)
class CalibrationRules:
    """检定/校准 (JJG 162-2019, JJG 1033, JJG 1030, CJ/T 364)."""

    service_life_small: ServiceLifeBand
    service_life_medium: ServiceLifeBand
    periodic_above_q3: float
    interval_months: MeterTypeIntervals
    in_place_tolerance_percent: float
    # Meter types that JJG 162-2019 (饮用冷水水表) covers as water meters: up to the medium band
    # they get a first verification only and a service life, whatever their measuring
    # principle (mechanical, or electronic: electromagnetic and ultrasonic water meters).
    # Optional in a document (older published versions): absent, these three.
    service_life_meter_types: tuple[str, ...] = ("mechanical", "electromagnetic", "ultrasonic")

    @classmethod
    def read(cls, r: Reader) -> CalibrationRules:
        section = cls(
            service_life_small=ServiceLifeBand.read(r.section("service_life_small")),
            service_life_medium=ServiceLifeBand.read(r.section("service_life_medium")),
            periodic_above_q3=r.number("periodic_above_q3", 0, 1e6, lo_open=True),
            interval_months=MeterTypeIntervals.read(r.section("interval_months")),
            in_place_tolerance_percent=r.number("in_place_tolerance_percent", 0, 100, lo_open=True),
            **({"service_life_meter_types": r.string_list(
                "service_life_meter_types", "|".join(METER_TYPES))}
               if r.has("service_life_meter_types") else {}),
        )
        r.done()
        require(
            section.service_life_medium.max_dn > section.service_life_small.max_dn,
            r.path("service_life_medium") + ".max_dn",
            "order",
            "must exceed service_life_small.max_dn",
        )
        return section


@dataclass(frozen=True)
class RequiredIndustry:
    """A GB/T 4754-2017 code prefix whose users must run water-balance tests."""

    prefix: str
    category: str
    name_zh: str

    @classmethod
    def read(cls, r: Reader) -> RequiredIndustry:
        item = cls(
            prefix=r.string("prefix", r"\d{2,4}"),
            category=r.string("category", _ID),
            name_zh=r.string("name_zh"),
        )
        r.done()
        return item


@dataclass(frozen=True)
class WaterBalanceRules:
    """水平衡测试 (GB/T 12452-2022; seed task 34)."""

    required_industries: tuple[RequiredIndustry, ...]
    interval_years: int
    first_test_due_months: int
    balance_error_limit_percent: float

    @classmethod
    def read(cls, r: Reader) -> WaterBalanceRules:
        section = cls(
            required_industries=tuple(
                RequiredIndustry.read(item) for item in r.sections("required_industries")
            ),
            interval_years=r.integer("interval_years", 1, 50),
            first_test_due_months=r.integer("first_test_due_months", 1, 240),
            balance_error_limit_percent=r.number(
                "balance_error_limit_percent", 0, 100, lo_open=True
            ),
        )
        r.done()
        prefixes = [item.prefix for item in section.required_industries]
        require(
            len(prefixes) == len(set(prefixes)),
            r.path("required_industries"),
            "unique",
            "duplicate prefix",
        )
        return section


@dataclass(frozen=True)
class Thresholds:
    """Annual permitted volumes (m³) from which plans and online monitoring are required."""

    plan_required_m3_per_year: int
    online_monitoring_m3_per_year: int

    @classmethod
    def read(cls, r: Reader) -> Thresholds:
        section = cls(
            plan_required_m3_per_year=r.integer("plan_required_m3_per_year", 0, 10**9),
            online_monitoring_m3_per_year=r.integer("online_monitoring_m3_per_year", 0, 10**9),
        )
        r.done()
        return section


@dataclass(frozen=True)
class ReadingRules:
    """取水量: a monthly reading is on time when submitted by this day of the next month."""

    due_day_of_next_month: int

    @classmethod
    def read(cls, r: Reader) -> ReadingRules:
        section = cls(due_day_of_next_month=r.integer("due_day_of_next_month", 1, 28))
        r.done()
        return section


@dataclass(frozen=True)
class MonitoringRules:
    """Online data and plausibility (domain.md; seed tasks 39, 46, 47), all *default*.

    Hard limits refuse a reading; soft ones store it flagged until staff accept it.
    ``capacity_factor`` (1.2): a month above the intakes' design capacity × hours × this is
    refused. ``permit_share_factor`` (3): a month above the permitted annual volume ÷ 12 × this
    is flagged. ``same_month_change_percent`` (60): change against the same month last year
    beyond ± this is flagged; ``median_factor`` (3): a month above (or below 1/this of) the
    median of the 12 months before it is flagged. ``zero_months`` (2): that many months of zero
    from an active meter are flagged. ``flat_hours`` (72): a totalizer unchanged that long on an
    online meter; ``silence_hours`` (72): an online meter not heard from that long (work queue).
    ``min_history_months`` (6): the median check needs that many of the 12 months.
    ``index_tolerance_percent`` (5): a volume differing from the meter's index difference by
    more than this (and more than 1 m³) is a jump against the index (flagged).
    """

    capacity_factor: float = 1.2
    permit_share_factor: float = 3.0
    same_month_change_percent: float = 60.0
    median_factor: float = 3.0
    min_history_months: int = 6
    index_tolerance_percent: float = 5.0
    zero_months: int = 2
    flat_hours: int = 72
    silence_hours: int = 72

    @classmethod
    def read(cls, r: Reader) -> MonitoringRules:
        section = cls(
            capacity_factor=r.number("capacity_factor", 1, 100),
            permit_share_factor=r.number("permit_share_factor", 1, 100),
            same_month_change_percent=r.number("same_month_change_percent", 0, 10000, lo_open=True),
            median_factor=r.number("median_factor", 1, 1000, lo_open=True),
            min_history_months=r.integer("min_history_months", 1, 12),
            index_tolerance_percent=r.number("index_tolerance_percent", 0, 100),
            zero_months=r.integer("zero_months", 1, 24),
            flat_hours=r.integer("flat_hours", 1, 24 * 90),
            silence_hours=r.integer("silence_hours", 1, 24 * 90),
        )
        r.done()
        return section


@dataclass(frozen=True)
class CertificateRules:
    """合规证书: grades that earn one and how long it is valid."""

    grades: tuple[str, ...]
    validity_months: int

    @classmethod
    def read(cls, r: Reader) -> CertificateRules:
        section = cls(
            grades=r.string_list("grades", _GRADE, min_len=1),
            validity_months=r.integer("validity_months", 1, 120),
        )
        r.done()
        return section


@dataclass(frozen=True)
class Rules:
    """One published version of the bureau's rules (see ``YW-2026.1.json``)."""

    version: str
    title: str
    effective_from: date
    permit: PermitRules
    calibration: CalibrationRules
    water_balance: WaterBalanceRules
    thresholds: Thresholds
    readings: ReadingRules
    evaluation: EvaluationRules
    certificate: CertificateRules
    # Optional in a document (versions published before them): absent, the defaults.
    plan_year: PlanYearRules = PlanYearRules()
    tax: TaxRules = TaxRules()
    # Versions published before issue 17 have no "monitoring" section: they get the defaults.
    monitoring: MonitoringRules = MonitoringRules()

    @classmethod
    def from_dict(cls, data: object) -> Rules:
        """Validate and build; raises :class:`RulesError` naming the first bad value."""
        r = Reader(data)
        rules = cls(
            version=r.string("version", VERSION_PATTERN),
            title=r.string("title", r"\S.*"),
            effective_from=r.iso_date("effective_from"),
            permit=PermitRules.read(r.section("permit")),
            calibration=CalibrationRules.read(r.section("calibration")),
            water_balance=WaterBalanceRules.read(r.section("water_balance")),
            thresholds=Thresholds.read(r.section("thresholds")),
            readings=ReadingRules.read(r.section("readings")),
            evaluation=EvaluationRules.read(r.section("evaluation")),
            certificate=CertificateRules.read(r.section("certificate")),
            **({"plan_year": PlanYearRules.read(r.section("plan_year"))} if r.has("plan_year") else {}),
            **({"tax": TaxRules.read(r.section("tax"))} if r.has("tax") else {}),
            monitoring=(MonitoringRules.read(r.section("monitoring")) if r.has("monitoring")
                        else MonitoringRules()),
        )
        r.done()
        names = rules.evaluation.grade_names
        for i, grade in enumerate(rules.certificate.grades):
            require(grade in names, f"certificate.grades[{i}]", "reference", "unknown grade")
        return rules

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict; ``Rules.from_dict(r.to_dict()) == r``."""
        return cast("dict[str, object]", _plain(self))


def _plain(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
