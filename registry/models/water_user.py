"""Water user 取水户 and its intake points 取水口: the root of one file (一户一档)."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record

if TYPE_CHECKING:
    from registry.models.balance import BalanceTest
    from registry.models.document import Document
    from registry.models.evaluation import Certificate, Evaluation
    from registry.models.inspection import Inspection
    from registry.models.meter import Meter
    from registry.models.permit import AnnualPlan, Permit

WATER_USER_STATUSES = ("active", "suspended", "closed")
SOURCES = ("surface", "ground")


class Division(Base):
    """One of Yiwu's 14 streets 街道 and towns 镇 (reference data, code as in domain.md)."""

    __tablename__ = "divisions"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(20))
    name_en: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))


class WaterUser(Record, Base):
    __tablename__ = "water_users"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'closed')", name="status"),
        Index("ix_water_users_division_status", "division_code", "status"),
        Index("ix_water_users_status", "status"),
        Index("ix_water_users_opened_on", "opened_on"),  # the list's "opened in month" filter
        # The list's due filters; with the id, PostgreSQL counts a filter from the index alone.
        Index("ix_water_users_permit_valid_to", "permit_valid_to", "id"),
        # Substring search (ILIKE '%...%') on PostgreSQL: trigram GIN indexes (extension pg_trgm,
        # created by the migration). SQLite has neither; there they are plain indexes.
        *(Index(f"ix_water_users_{column}_trgm", column, postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"}) for column in ("name", "file_no", "uscc")),
    )

    file_no: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)  # normalised (domain.uscc.normalise_uscc)
    # "org_code" when the embedded organisation code fails its GB 11714 check: accepted, kept.
    uscc_warning: Mapped[str | None] = mapped_column(String(20))
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    division_code: Mapped[str] = mapped_column(ForeignKey("divisions.code"))
    # active_history: a change always knows the old code (models/cached.py keeps the history)
    industry_code: Mapped[str] = mapped_column(String(4), index=True, active_history=True)
    opened_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="active")
    notes: Mapped[str | None] = mapped_column(Text)
    # The latest evaluation, copied here for lists and filters; refreshed only by the evaluation
    # service in the same transaction as the change that moved it (never edited by hand).
    grade: Mapped[str | None] = mapped_column(String(1), index=True)
    score: Mapped[float | None] = mapped_column(Float)
    evaluated_on: Mapped[date | None] = mapped_column(Date)
    rules_version: Mapped[str | None] = mapped_column(String(30))
    # The end of the latest live permit (not closed, not revoked) 许可证有效期至; None when the file
    # has none. A copy for the list's permit column and its due filters (issue 10: the filters
    # computed it per file, 0.3 s at 100,000 files); kept by models/cached.py on every flush that
    # writes a permit, never edited by hand.
    permit_valid_to: Mapped[date | None] = mapped_column(Date)

    division: Mapped[Division] = relationship(lazy="joined")
    intake_points: Mapped[list[IntakePoint]] = relationship(
        back_populates="water_user", order_by="IntakePoint.id")
    permits: Mapped[list[Permit]] = relationship(back_populates="water_user", order_by="Permit.valid_from.desc()")
    plans: Mapped[list[AnnualPlan]] = relationship(back_populates="water_user", order_by="AnnualPlan.year.desc()")
    meters: Mapped[list[Meter]] = relationship(back_populates="water_user", order_by="Meter.id")
    balance_tests: Mapped[list[BalanceTest]] = relationship(
        back_populates="water_user", order_by="BalanceTest.tested_on.desc()")
    industry_history: Mapped[list[IndustryPeriod]] = relationship(
        back_populates="water_user", order_by="(IndustryPeriod.since, IndustryPeriod.id)")
    inspections: Mapped[list[Inspection]] = relationship(
        back_populates="water_user", order_by="Inspection.inspected_on.desc()")
    documents: Mapped[list[Document]] = relationship(back_populates="water_user", order_by="Document.id.desc()")
    evaluations: Mapped[list[Evaluation]] = relationship(
        back_populates="water_user", order_by="Evaluation.id.desc()")
    certificates: Mapped[list[Certificate]] = relationship(
        back_populates="water_user", order_by="Certificate.id.desc()")

    def __repr__(self) -> str:
        return f"<WaterUser {self.file_no} {self.name}>"


class IndustryPeriod(Base):
    """The industry (GB/T 4754-2017 code) a water user is in from ``since`` on: its industry
    history, one row per change (the file's ``industry_code`` is the latest). A change into an
    industry that must test its water balance starts the first-test clock (GB/T 12452-2022)."""

    __tablename__ = "water_user_industries"

    id: Mapped[int] = mapped_column(primary_key=True)
    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    industry_code: Mapped[str] = mapped_column(String(4))
    since: Mapped[date] = mapped_column(Date)

    water_user: Mapped[WaterUser] = relationship(back_populates="industry_history")


class NameBigram(Base):
    """Each pair of adjacent characters of a water user's name (名称中相邻的两个字), for the list's
    search by two Chinese characters such as 饰品: a trigram index cannot answer a substring of
    two, and reading every name took 0.1 s at 100,000 files. Only the pairs such a search can be
    (no Latin letter or other cased character, not ASCII, no space); kept by models/cached.py."""

    __tablename__ = "water_user_name_bigrams"

    bigram: Mapped[str] = mapped_column(String(2), primary_key=True)
    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), primary_key=True, index=True)


class IntakePoint(Record, Base):
    __tablename__ = "intake_points"
    __table_args__ = (
        CheckConstraint("source IN ('surface', 'ground')", name="source"),
        CheckConstraint("design_capacity_m3h IS NULL OR design_capacity_m3h >= 0", name="capacity_non_negative"),
    )

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(10))
    water_body: Mapped[str | None] = mapped_column(String(200))
    longitude: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    intake_method: Mapped[str | None] = mapped_column(String(100))
    design_capacity_m3h: Mapped[float | None] = mapped_column(Float)

    water_user: Mapped[WaterUser] = relationship(back_populates="intake_points")
