"""What the compliance engine knows of one file: plain, frozen facts (no ORM, no session).

``services.evaluations`` loads these for many files at once in a fixed number of queries;
``domain.scoring.evaluate`` and ``domain.due.due_items`` judge them against a rules version.
Closed (voided) records are left out by the loader; what remains is what counts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from registry.domain.plans import PlanVersionFact


@dataclass(frozen=True)
class IntakePointFact:
    id: int
    name: str


@dataclass(frozen=True)
class PermitFact:
    id: int
    number: str
    valid_from: date
    valid_to: date  # last valid day
    annual_volume_m3: float
    intake_point_ids: frozenset[int]
    renewal_applied_on: date | None = None
    revoked_on: date | None = None
    superseded: bool = False  # replaced by its renewal whatever the day
    renewal_starts_on: date | None = None  # a live renewal's start: superseded from that day


@dataclass(frozen=True)
class PlanFact:
    id: int
    year: int
    planned_volume_m3: float
    # Its versions (domain.plans): empty, one version of ``planned_volume_m3`` from 1 January
    # without a breakdown.
    versions: tuple[PlanVersionFact, ...] = ()


@dataclass(frozen=True)
class MeterFact:
    id: int
    serial: str
    intake_point_id: int
    meter_type: str
    dn: int | None
    q3: float | None
    installed_on: date
    removed_on: date | None = None
    interval_months: int | None = None  # per-meter override of the rules
    service_life_years: int | None = None
    # The latest live verification (首次检定 / 后续检定 only: in-use checks and on-site
    # calibrations do not restart the interval and the loader leaves them out).
    last_calibrated_on: date | None = None
    last_calibration_id: int | None = None
    last_next_due_on: date | None = None  # as the certificate states it, when given
    last_passed: bool | None = None
    last_error_pct: float | None = None  # measured error, judged against the rules' tolerance
    last_kind: str | None = None  # initial | subsequent (None: a verification)
    first_verified_on: date | None = None  # earliest passed 首次检定: service life runs from it

    def in_service_on(self, day: date) -> bool:
        return self.installed_on <= day and (self.removed_on is None or self.removed_on > day)


@dataclass(frozen=True)
class MonthlyReadingFact:
    """An accepted monthly reading (all meters of the file summed per month by the loader)."""

    period: date  # first day of the month
    volume_m3: float
    first_submitted_on: date | None  # earliest submission among the month's accepted readings


@dataclass(frozen=True)
class OnlineDaysCount:
    """Days from ``first`` to ``last`` (inclusive) with an online reading, counted by the loader
    (a nightly run need not carry every daily reading of every online meter)."""

    first: date
    last: date
    days: int


@dataclass(frozen=True)
class BalanceTestFact:
    id: int
    tested_on: date
    next_due_on: date | None = None
    # (vf, vr, vco, vd, vl) m³ as reported; a test whose balance error is beyond the rules'
    # limit failed and does not count (balance.test_failed). None: not known, counts.
    volumes: tuple[float, float, float, float, float] | None = None


@dataclass(frozen=True)
class RectificationFact:
    id: int
    inspection_id: int
    deadline: date
    status: str  # open | answered | verified
    responded_on: date | None = None  # the enterprise's answer


@dataclass(frozen=True)
class FileFacts:
    water_user_id: int
    opened_on: date
    industry_code: str
    status: str = "active"
    intake_points: tuple[IntakePointFact, ...] = ()
    permits: tuple[PermitFact, ...] = ()
    plans: tuple[PlanFact, ...] = ()
    meters: tuple[MeterFact, ...] = ()
    monthly_readings: tuple[MonthlyReadingFact, ...] = ()
    online_days: frozenset[date] = field(default_factory=frozenset)  # days with an online reading
    # Instead of online_days: their count over the window being judged (scoring refuses
    # a count over any other window).
    online_counted: OnlineDaysCount | None = None
    balance_tests: tuple[BalanceTestFact, ...] = ()
    rectifications: tuple[RectificationFact, ...] = ()
    # (since, GB/T 4754 code) oldest first; empty: ``industry_code`` since the opening.
    industry_history: tuple[tuple[date, str], ...] = ()
    # Plan years with a proposal waiting or approved (a refused one leaves the year open).
    proposed_years: frozenset[int] = frozenset()
