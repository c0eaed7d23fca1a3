"""Water-withdrawal permit 取水许可证 (with renewal history) and annual plan 计划用水."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Column, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record

if TYPE_CHECKING:
    from registry.models.plan_tax import PlanVersion
    from registry.models.water_user import IntakePoint, WaterUser

permit_intake_points = Table(
    "permit_intake_points",
    Base.metadata,
    Column("permit_id", ForeignKey("permits.id"), primary_key=True),
    Column("intake_point_id", ForeignKey("intake_points.id"), primary_key=True),
)


class Permit(Record, Base):
    __tablename__ = "permits"
    __table_args__ = (
        CheckConstraint("valid_to > valid_from", name="valid_to_after_valid_from"),
        CheckConstraint("annual_volume_m3 >= 0", name="annual_volume_non_negative"),
        # The list's "latest permit end" per file (due filters) reads this index only.
        Index("ix_permits_water_user_valid_to", "water_user_id", "valid_to"),
        Index("ix_permits_number_trgm", "number", postgresql_using="gin", postgresql_ops={"number": "gin_trgm_ops"}),
    )

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    issuing_authority: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date, index=True)
    annual_volume_m3: Mapped[float] = mapped_column(Float)
    purpose: Mapped[str | None] = mapped_column(String(200))
    renewal_applied_on: Mapped[date | None] = mapped_column(Date)
    revoked_on: Mapped[date | None] = mapped_column(Date)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    # The permit this one renews; the renewed permit is then "superseded" (history kept).
    renews_id: Mapped[int | None] = mapped_column(ForeignKey("permits.id"), unique=True)

    water_user: Mapped[WaterUser] = relationship(back_populates="permits")
    intake_points: Mapped[list[IntakePoint]] = relationship(secondary=permit_intake_points)
    renews: Mapped[Permit | None] = relationship(
        remote_side="Permit.id", foreign_keys=[renews_id], back_populates="renewed_by")
    renewed_by: Mapped[Permit | None] = relationship(back_populates="renews", foreign_keys=[renews_id], uselist=False)


class AnnualPlan(Record, Base):
    __tablename__ = "annual_plans"
    __table_args__ = (
        # One plan in force per water user and year; a voided plan leaves room for its replacement.
        Index("uq_annual_plans_open_year", "water_user_id", "year", unique=True,
              sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL")),
        CheckConstraint("planned_volume_m3 >= 0", name="planned_volume_non_negative"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
    )

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    planned_volume_m3: Mapped[float] = mapped_column(Float)
    approved_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    # The breakdown of the version in force (a copy of the latest PlanVersion): None, "month"
    # (12 shares) or "quarter" (4 shares), m³, summing to planned_volume_m3.
    breakdown: Mapped[str | None] = mapped_column(String(8))
    shares: Mapped[list | None] = mapped_column(JSON)

    water_user: Mapped[WaterUser] = relationship(back_populates="plans")
    versions: Mapped[list[PlanVersion]] = relationship(back_populates="plan", order_by="PlanVersion.number")
