"""The plan year (计划用水: proposals, versions) and the tax hand-over statements (水资源税涉税信息)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record, UTCDateTime, utcnow
from registry.models.permit import AnnualPlan

PLAN_BREAKDOWNS = ("month", "quarter")
PROPOSAL_STATUSES = ("pending", "approved", "changed", "refused")
STATEMENT_STATUSES = ("draft", "signed")


class PlanVersion(Base):
    """One version of a year's plan: the first as approved (from 1 January), each later one a
    mid-year adjustment by the bureau with its reason, in force from ``effective_from``. Every
    version is kept; the plan's own volume and breakdown are a copy of the latest."""

    __tablename__ = "annual_plan_versions"
    __table_args__ = (
        UniqueConstraint("plan_id", "number"),
        CheckConstraint("planned_volume_m3 >= 0", name="planned_volume_non_negative"),
        CheckConstraint("breakdown IS NULL OR breakdown IN ('month', 'quarter')", name="breakdown"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("annual_plans.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    planned_volume_m3: Mapped[float] = mapped_column(Float)
    breakdown: Mapped[str | None] = mapped_column(String(8))
    shares: Mapped[list | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    plan: Mapped[AnnualPlan] = relationship(back_populates="versions")


class PlanProposal(Record, Base):
    """An enterprise's proposal of next year's plan with its report of the past year; the bureau
    approves it, approves it changed (the reason shown to the enterprise) or refuses it."""

    __tablename__ = "plan_proposals"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'changed', 'refused')", name="status"),
        CheckConstraint("planned_volume_m3 >= 0", name="planned_volume_non_negative"),
        CheckConstraint("breakdown IS NULL OR breakdown IN ('month', 'quarter')", name="breakdown"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        Index("ix_plan_proposals_status", "status"),
    )

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    planned_volume_m3: Mapped[float] = mapped_column(Float)
    breakdown: Mapped[str | None] = mapped_column(String(8))
    shares: Mapped[list | None] = mapped_column(JSON)
    past_year_use_m3: Mapped[float | None] = mapped_column(Float)
    past_year_report: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    submitted_on: Mapped[date] = mapped_column(Date)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decided_on: Mapped[date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("annual_plans.id"))


class TaxStatement(Base):
    """The quarter's hand-over statement of one taxpayer (水资源税涉税信息). ``figures`` is the whole
    computation as it was made (canonical JSON: exports of a statement are byte-identical); a
    signed statement is never edited: a correction is a new version with its reason."""

    __tablename__ = "tax_statements"
    __table_args__ = (
        UniqueConstraint("water_user_id", "year", "quarter", "version"),
        CheckConstraint("status IN ('draft', 'signed')", name="status"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        Index("ix_tax_statements_period", "year", "quarter", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(8), default="draft")
    figures: Mapped[str] = mapped_column(Text)  # canonical JSON (sorted keys), see domain.tax
    # Copies of the figures' totals, for sums over many statements (the dashboard): never edited apart.
    verified_m3: Mapped[float] = mapped_column(Float, default=0.0)
    estimated_m3: Mapped[float] = mapped_column(Float, default=0.0)
    permitted_m3: Mapped[float] = mapped_column(Float, default=0.0)
    rules_version: Mapped[str] = mapped_column(String(30))
    computed_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("tax_statements.id"))
