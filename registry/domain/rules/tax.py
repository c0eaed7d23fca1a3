"""The plan year (计划用水) and the water-resource tax hand-over (水资源税, 财税〔2024〕28号).

Both sections are optional in a rules document (versions published before them read the
defaults below). Every figure here is a *default* for the bureau to set: ``defaults`` lists
the dotted paths of those the bureau has not yet set, and the pages mark them so.

``plan_year``
    ``proposal_deadline`` ("12-31": the enterprise proposes next year's plan, with the past
    year's report, by this day of the year before), ``reminder_days`` (30, 15, 5: reminders
    before the deadline, strictly descending), ``breakdowns`` (``month``, ``quarter``: the
    breakdowns a plan may carry; a plan may also carry none).
``tax``
    ``estimation``: ``method`` (``design_capacity_hours``: where metering failed the volume is
    the intake point's design capacity × the hours of the uncovered period),
    ``unverified_grace_days`` (30: a meter with no verification in force is still counted for
    this many days after its installation or its due date), ``telemetry_gap_limit_hours`` (72:
    an online meter's gap in the data longer than this is estimated).
    ``over_plan_tiers``: bands of use above the plan share, ``up_to_percent`` (of the plan
    share; null: without bound) and ``multiplier`` of the rate; ``over_permit_multiplier`` for
    use above the permitted share; ``rates``: yuan per m³ by ``source`` (surface / ground) and
    ``use``; ``uses``: GB/T 4754 code prefixes of each use other than ``general``.
"""
from __future__ import annotations

from dataclasses import dataclass

from registry.domain.rules._reader import Reader, require

BREAKDOWNS = ("month", "quarter")
TAX_SOURCES = ("surface", "ground")
ESTIMATION_METHODS = ("design_capacity_hours",)
_USE = r"[a-z][a-z_]{0,39}"


@dataclass(frozen=True)
class PlanYearRules:
    proposal_deadline: str = "12-31"  # MM-DD of the year before the plan year
    reminder_days: tuple[int, ...] = (30, 15, 5)
    breakdowns: tuple[str, ...] = BREAKDOWNS

    @classmethod
    def read(cls, r: Reader) -> PlanYearRules:
        section = cls(
            proposal_deadline=r.string("proposal_deadline", r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"),
            reminder_days=r.int_list("reminder_days", 1, 366, min_len=1),
            breakdowns=r.string_list("breakdowns", "|".join(BREAKDOWNS)),
        )
        r.done()
        steps = section.reminder_days
        require(list(steps) == sorted(set(steps), reverse=True), r.path("reminder_days"), "order",
                "strictly descending")
        month, day = map(int, section.proposal_deadline.split("-"))
        require(day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31),
                r.path("proposal_deadline"), "range", "not a calendar day")
        require(month != 2 or day <= 28, r.path("proposal_deadline"), "range", "29 February is not every year")
        return section

    @property
    def deadline_month_day(self) -> tuple[int, int]:
        month, day = self.proposal_deadline.split("-")
        return int(month), int(day)


@dataclass(frozen=True)
class Estimation:
    method: str = "design_capacity_hours"
    unverified_grace_days: int = 30
    telemetry_gap_limit_hours: int = 72

    @classmethod
    def read(cls, r: Reader) -> Estimation:
        section = cls(
            method=r.string("method", "|".join(ESTIMATION_METHODS)),
            unverified_grace_days=r.integer("unverified_grace_days", 0, 366),
            telemetry_gap_limit_hours=r.integer("telemetry_gap_limit_hours", 1, 24 * 366),
        )
        r.done()
        return section


@dataclass(frozen=True)
class TaxTier:
    up_to_percent: float | None
    multiplier: float

    @classmethod
    def read(cls, r: Reader) -> TaxTier:
        tier = cls(up_to_percent=r.optional_number("up_to_percent", 0, 1e6),
                   multiplier=r.number("multiplier", 0, 100))
        r.done()
        return tier


@dataclass(frozen=True)
class TaxRate:
    source: str
    use: str
    yuan_per_m3: float

    @classmethod
    def read(cls, r: Reader) -> TaxRate:
        rate = cls(source=r.string("source", "|".join(TAX_SOURCES)), use=r.string("use", _USE),
                   yuan_per_m3=r.number("yuan_per_m3", 0, 1000))
        r.done()
        return rate


@dataclass(frozen=True)
class TaxUse:
    use: str
    industry_prefixes: tuple[str, ...]

    @classmethod
    def read(cls, r: Reader) -> TaxUse:
        item = cls(use=r.string("use", _USE), industry_prefixes=r.string_list("industry_prefixes", r"\d{2,4}", min_len=1))
        r.done()
        return item


# Defaults (to be set by the bureau): 财税〔2024〕28号 附件 leaves Zhejiang's rates to the province;
# these are placeholders of the right order (surface 0.2 元/m³, ground 1.0 元/m³; 洗车洗浴高尔夫
# etc. 特种行业 higher) and the tier multipliers of the 2-5× the notice allows for over-plan use.
_DEFAULT_TIERS = (TaxTier(20.0, 2.0), TaxTier(40.0, 3.0), TaxTier(None, 4.0))
_DEFAULT_RATES = (TaxRate("surface", "general", 0.2), TaxRate("ground", "general", 1.0),
                  TaxRate("surface", "special", 2.0), TaxRate("ground", "special", 6.0))
_DEFAULT_USES = (TaxUse("special", ("8051", "8053", "8911")),)  # 洗浴, 洗车 (GB/T 4754 8051/8053), 高尔夫球场
TAX_DEFAULT_PATHS = ("tax.rates", "tax.over_plan_tiers", "tax.over_permit_multiplier", "tax.estimation")


@dataclass(frozen=True)
class TaxRules:
    estimation: Estimation = Estimation()
    over_plan_tiers: tuple[TaxTier, ...] = _DEFAULT_TIERS
    over_permit_multiplier: float = 5.0
    rates: tuple[TaxRate, ...] = _DEFAULT_RATES
    uses: tuple[TaxUse, ...] = _DEFAULT_USES
    # Dotted paths still at their packaged default: shown as "default" for the bureau to set.
    defaults: tuple[str, ...] = TAX_DEFAULT_PATHS

    @classmethod
    def read(cls, r: Reader) -> TaxRules:
        section = cls(
            estimation=Estimation.read(r.section("estimation")),
            over_plan_tiers=tuple(TaxTier.read(t) for t in r.sections("over_plan_tiers", min_len=1)),
            over_permit_multiplier=r.number("over_permit_multiplier", 0, 100),
            rates=tuple(TaxRate.read(t) for t in r.sections("rates", min_len=1)),
            uses=tuple(TaxUse.read(t) for t in r.sections("uses")),
            defaults=r.string_list("defaults", r"tax\.[a-z_.]+"),
        )
        r.done()
        tiers = section.over_plan_tiers
        require(tiers[-1].up_to_percent is None, r.path("over_plan_tiers"), "order", "the last tier has no bound")
        bounds = [t.up_to_percent for t in tiers[:-1]]
        require(None not in bounds and bounds == sorted(set(bounds)), r.path("over_plan_tiers"), "order",
                "bounds strictly ascending, only the last one null")
        keys = [(t.source, t.use) for t in section.rates]
        require(len(keys) == len(set(keys)), r.path("rates"), "unique", "one rate per source and use")
        for source in TAX_SOURCES:
            require((source, "general") in keys, r.path("rates"), "required", f"a general rate for {source}")
        uses = {t.use for t in section.uses}
        for i, (source, use) in enumerate(keys):
            require(use == "general" or use in uses, r.path("rates") + f"[{i}].use", "reference", "unknown use")
        return section

    def use_of(self, industry_code: str | None) -> str:
        """The tax use of a GB/T 4754 code: the longest matching prefix, else ``general``."""
        best, length = "general", 0
        for item in self.uses:
            for prefix in item.industry_prefixes:
                if industry_code and industry_code.startswith(prefix) and len(prefix) > length:
                    best, length = item.use, len(prefix)
        return best

    def rate(self, source: str, use: str) -> float:
        for r in self.rates:
            if r.source == source and r.use == use:
                return r.yuan_per_m3
        return next(r.yuan_per_m3 for r in self.rates if r.source == source and r.use == "general")
