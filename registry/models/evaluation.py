"""Evaluation 规范评价 (computed, never edited) and compliance certificate 合规证书."""
from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record, UTCDateTime, utcnow

if TYPE_CHECKING:
    from registry.models.water_user import WaterUser


class RulesVersion(Base):
    """A rules document the bureau published (packaged versions need no row). Never edited:
    a change is a new version, and every evaluation names the version it was computed under."""

    __tablename__ = "rules_versions"
    __table_args__ = (
        Index("ix_rules_versions_published_at", "published_at", "version"),  # the version in force, per request
    )

    version: Mapped[str] = mapped_column(String(30), primary_key=True)
    document: Mapped[dict] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    note: Mapped[str | None] = mapped_column(Text)


class Evaluation(Base):
    """One evaluation result. A new row is written only when the result changes, so the rows of a
    water user are its score history."""

    __tablename__ = "evaluations"
    __table_args__ = (
        CheckConstraint("total >= 0 AND total <= 100", name="total_range"),
        CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="grade"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    evaluated_on: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rules_version: Mapped[str] = mapped_column(String(30))
    total: Mapped[float] = mapped_column(Float)
    grade: Mapped[str] = mapped_column(String(1))
    veto: Mapped[bool] = mapped_column(Boolean, default=False)
    rows: Mapped[list] = mapped_column(JSON)  # one dict per rule: points, maximum, reason, records, restore

    water_user: Mapped[WaterUser] = relationship(back_populates="evaluations")


class Certificate(Record, Base):
    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("valid_until > issued_on", name="valid_until_after_issued"),
        CheckConstraint("status IN ('valid', 'revoked')", name="status"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True)
    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"))
    snapshot: Mapped[dict] = mapped_column(JSON)
    grade: Mapped[str] = mapped_column(String(1))
    score: Mapped[float] = mapped_column(Float)
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(10), default="valid")
    revoked_on: Mapped[date | None] = mapped_column(Date)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    # The unguessable part of the verification address (``/verify/<number>?k=<key>``), printed in
    # the QR code: numbers run in sequence, so without the key the page only says valid/revoked.
    verify_key: Mapped[str] = mapped_column(String(43), default=lambda: secrets.token_urlsafe(32))

    water_user: Mapped[WaterUser] = relationship(back_populates="certificates")


class CertificateCounter(Base):
    """The last certificate number issued in a year: numbers run without gaps, one per issue,
    taken under a row lock so two officers issuing at once never get the same number."""

    __tablename__ = "certificate_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)


class DueItem(Base):
    """What is due or overdue for a file, as the due-date engine found it at the last refresh.

    A derived copy (like the cached grade), replaced whole for a file each time its evaluation
    is refreshed (after every change, and nightly). Only items that need action are kept; an
    item due soon counts as overdue from the day after ``due_on`` even before the next refresh.
    """

    __tablename__ = "due_items"
    __table_args__ = (
        Index("ix_due_items_due_on", "due_on"),
        Index("ix_due_items_status_due_on", "status", "due_on"),  # the work queue's overdue / due soon filter
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    record_type: Mapped[str | None] = mapped_column(String(30))
    record_id: Mapped[int | None] = mapped_column()
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))  # due_soon | overdue at the refresh
    params: Mapped[dict] = mapped_column(JSON, default=dict)


class PendingEvaluation(Base):
    """A file whose evaluation is out of date: readings came in through the bulk API, which
    accepts them at once and leaves the re-scoring to :func:`registry.services.evaluations.drain`
    (a worker thread of the web process, ``registry recompute --pending``, or the nightly run).
    One row per file however many batches touched it, so a file is scored once for all of them.
    A work list, not a record: a row goes once its file has been re-evaluated."""

    __tablename__ = "pending_evaluations"

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
