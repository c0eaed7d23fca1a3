"""The 规范评价 (compliance evaluation) section of a rules document.

Points per rule, their parameters, the over-plan tiers, grade edges and the veto grade:
everything the "Compliance evaluation" table of domain.md fixes, as data. Field names are
the JSON keys; each class reads itself strictly (see :mod:`._reader`).
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.domain.rules._reader import Reader, require

# The seven rules of 规范评价, in the order of domain.md; one evaluation row per rule.
RULE_IDS = (
    "permit",
    "metering",
    "online_monitoring",
    "planned_use",
    "water_balance",
    "records",
    "inspections",
)
_ID = r"[a-z][a-z_]{0,39}"
_GRADE = r"[A-Z]"
_MAX_POINTS = 1000


@dataclass(frozen=True)
class PermitScoring:
    points: int
    uncovered_intake_deduction: int
    renewal_not_applied_deduction: int
    veto_without_valid_permit: bool

    @classmethod
    def read(cls, r: Reader) -> PermitScoring:
        points = r.integer("points", 0, _MAX_POINTS)
        section = cls(
            points=points,
            uncovered_intake_deduction=r.integer("uncovered_intake_deduction", 0, points),
            renewal_not_applied_deduction=r.integer("renewal_not_applied_deduction", 0, points),
            veto_without_valid_permit=r.boolean("veto_without_valid_permit"),
        )
        r.done()
        return section


@dataclass(frozen=True)
class MeteringScoring:
    points: int
    coverage_points: int
    calibration_points: int

    @classmethod
    def read(cls, r: Reader) -> MeteringScoring:
        section = cls(
            points=r.integer("points", 0, _MAX_POINTS),
            coverage_points=r.integer("coverage_points", 0, _MAX_POINTS),
            calibration_points=r.integer("calibration_points", 0, _MAX_POINTS),
        )
        r.done()
        require(
            section.coverage_points + section.calibration_points == section.points,
            r.path("points"),
            "sum",
            "coverage_points + calibration_points must equal points",
        )
        return section


@dataclass(frozen=True)
class OnlineMonitoringScoring:
    points: int
    window_days: int
    target_ratio: float

    @classmethod
    def read(cls, r: Reader) -> OnlineMonitoringScoring:
        section = cls(
            points=r.integer("points", 0, _MAX_POINTS),
            window_days=r.integer("window_days", 1, 366),
            target_ratio=r.number("target_ratio", 0, 1, lo_open=True),
        )
        r.done()
        return section


@dataclass(frozen=True)
class OverPlanTier:
    """Use over the pro-rata plan up to ``up_to_percent`` (None: no upper bound)."""

    severity: str
    up_to_percent: float | None
    including: bool
    points: int

    @classmethod
    def read(cls, r: Reader) -> OverPlanTier:
        tier = cls(
            severity=r.string("severity", _ID),
            up_to_percent=r.optional_number("up_to_percent", -100, 1e6),
            including=r.boolean("including"),
            points=r.integer("points", 0, _MAX_POINTS),
        )
        r.done()
        return tier

    def contains(self, over_percent: float) -> bool:
        if self.up_to_percent is None:
            return True
        if self.including:
            return over_percent <= self.up_to_percent
        return over_percent < self.up_to_percent


@dataclass(frozen=True)
class PlannedUseScoring:
    points: int
    plan_points: int
    over_plan_tiers: tuple[OverPlanTier, ...]
    over_permit_grade_cap: str
    # Over the plan by at most this many percent is still within it: rounding of readings
    # and plans is no tier. Optional in a document (older published versions): absent, 0.5.
    over_plan_tolerance_percent: float = 0.5

    @classmethod
    def read(cls, r: Reader) -> PlannedUseScoring:
        section = cls(
            points=r.integer("points", 0, _MAX_POINTS),
            plan_points=r.integer("plan_points", 0, _MAX_POINTS),
            over_plan_tiers=tuple(
                OverPlanTier.read(t) for t in r.sections("over_plan_tiers", min_len=2)
            ),
            over_permit_grade_cap=r.string("over_permit_grade_cap", _GRADE),
            **({"over_plan_tolerance_percent": r.number("over_plan_tolerance_percent", 0, 10)}
               if r.has("over_plan_tolerance_percent") else {}),
        )
        r.done()
        _check_tiers(section, r.path("over_plan_tiers"))
        require(
            section.plan_points + section.over_plan_tiers[0].points == section.points,
            r.path("points"),
            "sum",
            "plan_points + first tier points must equal points",
        )
        return section

    def tier_for(self, over_percent: float) -> OverPlanTier:
        """The tier of ``over_percent`` (≤ 0 means within the plan)."""
        return next(t for t in self.over_plan_tiers if t.contains(over_percent))


def _check_tiers(section: PlannedUseScoring, field: str) -> None:
    tiers = section.over_plan_tiers
    require(tiers[-1].up_to_percent is None, field, "order", "last tier must be unbounded")
    bounds = [t.up_to_percent for t in tiers[:-1] if t.up_to_percent is not None]
    require(
        len(bounds) == len(tiers) - 1 and bounds == sorted(set(bounds)),
        field,
        "order",
        "up_to_percent strictly ascending, only the last tier unbounded",
    )
    points = [t.points for t in tiers]
    require(points == sorted(points, reverse=True), field, "order", "points non-increasing")
    severities = [t.severity for t in tiers]
    require(len(severities) == len(set(severities)), field, "unique", "duplicate severity")


@dataclass(frozen=True)
class WaterBalanceScoring:
    points: int

    @classmethod
    def read(cls, r: Reader) -> WaterBalanceScoring:
        section = cls(points=r.integer("points", 0, _MAX_POINTS))
        r.done()
        return section


@dataclass(frozen=True)
class RecordsScoring:
    points: int
    window_months: int

    @classmethod
    def read(cls, r: Reader) -> RecordsScoring:
        section = cls(
            points=r.integer("points", 0, _MAX_POINTS),
            window_months=r.integer("window_months", 1, 120),
        )
        r.done()
        return section


@dataclass(frozen=True)
class InspectionScoring:
    points: int
    overdue_rectification_deduction: int

    @classmethod
    def read(cls, r: Reader) -> InspectionScoring:
        points = r.integer("points", 0, _MAX_POINTS)
        section = cls(
            points=points,
            overdue_rectification_deduction=r.integer("overdue_rectification_deduction", 0, points),
        )
        r.done()
        return section


@dataclass(frozen=True)
class GradeEdge:
    grade: str
    min_score: float

    @classmethod
    def read(cls, r: Reader) -> GradeEdge:
        edge = cls(
            grade=r.string("grade", _GRADE),
            min_score=r.number("min_score", 0, _MAX_POINTS),
        )
        r.done()
        return edge


@dataclass(frozen=True)
class EvaluationRules:
    """规范评价: points per rule, rounding, grade edges and the veto grade."""

    total_points: int
    points_decimals: int
    permit: PermitScoring
    metering: MeteringScoring
    online_monitoring: OnlineMonitoringScoring
    planned_use: PlannedUseScoring
    water_balance: WaterBalanceScoring
    records: RecordsScoring
    inspections: InspectionScoring
    grades: tuple[GradeEdge, ...]
    veto_grade: str

    @classmethod
    def read(cls, r: Reader) -> EvaluationRules:
        section = cls(
            total_points=r.integer("total_points", 1, _MAX_POINTS),
            points_decimals=r.integer("points_decimals", 0, 4),
            permit=PermitScoring.read(r.section("permit")),
            metering=MeteringScoring.read(r.section("metering")),
            online_monitoring=OnlineMonitoringScoring.read(r.section("online_monitoring")),
            planned_use=PlannedUseScoring.read(r.section("planned_use")),
            water_balance=WaterBalanceScoring.read(r.section("water_balance")),
            records=RecordsScoring.read(r.section("records")),
            inspections=InspectionScoring.read(r.section("inspections")),
            grades=tuple(GradeEdge.read(g) for g in r.sections("grades", min_len=2)),
            veto_grade=r.string("veto_grade", _GRADE),
        )
        r.done()
        section._check(r)
        return section

    def _check(self, r: Reader) -> None:
        total = sum(self.points_of(rule_id) for rule_id in RULE_IDS)
        require(total == self.total_points, r.path("total_points"), "sum", "rule points")
        names = self.grade_names
        mins = [g.min_score for g in self.grades]
        field = r.path("grades")
        require(len(names) == len(set(names)), field, "unique", "duplicate grade")
        require(mins == sorted(set(mins), reverse=True), field, "order", "min_score descending")
        require(mins[-1] == 0, field, "range", "the lowest grade must start at 0")
        require(mins[0] <= self.total_points, field, "range", "top edge above total_points")
        require(self.veto_grade in names, r.path("veto_grade"), "reference", "unknown grade")
        require(
            self.planned_use.over_permit_grade_cap in names,
            r.path("planned_use") + ".over_permit_grade_cap",
            "reference",
            "unknown grade",
        )

    @property
    def grade_names(self) -> tuple[str, ...]:
        """Grades from best to worst, e.g. ``("A", "B", "C", "D")``."""
        return tuple(g.grade for g in self.grades)

    def points_of(self, rule_id: str) -> int:
        """Full marks of one rule (``rule_id`` in :data:`RULE_IDS`)."""
        if rule_id not in RULE_IDS:
            raise KeyError(rule_id)
        return int(getattr(self, rule_id).points)

    def grade_for(self, score: float, *, veto: bool = False, cap: str | None = None) -> str:
        """Grade of a total score; a veto gives the veto grade, ``cap`` the best allowed."""
        if veto:
            return self.veto_grade
        grade = next((g.grade for g in self.grades if score >= g.min_score), self.grades[-1].grade)
        names = self.grade_names
        if cap is not None and names.index(grade) < names.index(cap):
            return cap
        return grade
