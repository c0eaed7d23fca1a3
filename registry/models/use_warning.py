"""Warning 预警 (issue 17): an anomaly of a file's use found by the nightly detection
(registry.domain.warnings over the plausibility findings), to be looked into and closed with an
outcome. Named ``UseWarning`` so that Python's builtin ``Warning`` is never shadowed.

A warning is one cause: the file, the meter, the kind of finding and the month (``dedupe_key``).
Detecting the same cause again updates ``last_detected_at`` and ``detections``; it never adds a
row. Nothing is deleted: a closed warning keeps its outcome, note and who closed it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record, UTCDateTime, utcnow

if TYPE_CHECKING:
    from registry.models.account import Account
    from registry.models.meter import Meter
    from registry.models.water_user import WaterUser

WARNING_KINDS = ("above_permit_share", "index_jump", "change_vs_last_year", "above_median", "below_median",
                 "zero_use", "flat_line", "silence")
WARNING_STATUSES = ("open", "assigned", "closed")
WARNING_OUTCOMES = ("explained", "meter_fault", "visit_ordered", "rectification_ordered")

# One live warning per cause; a closed one leaves the key free (and the detection does not open
# a new one for a cause already closed: registry.services.warnings).
_OPEN = text("status <> 'closed'")


class UseWarning(Record, Base):
    __tablename__ = "warnings"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'assigned', 'closed')", name="status"),
        CheckConstraint("outcome IS NULL OR outcome IN ('explained', 'meter_fault', 'visit_ordered', "
                        "'rectification_ordered')", name="outcome"),
        Index("uq_warnings_dedupe_key_open", "dedupe_key", unique=True,
              sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_warnings_status_kind", "status", "kind"),
    )

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    kind: Mapped[str] = mapped_column(String(30))
    period: Mapped[date] = mapped_column(Date)  # the month (first day) the finding is about
    dedupe_key: Mapped[str] = mapped_column(String(120), index=True)
    # {"value", "low", "high", "threshold", "unit", ...the finding's figures}
    evidence: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    outcome: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    first_detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    detections: Mapped[int] = mapped_column(Integer, default=1)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    water_user: Mapped[WaterUser] = relationship()
    meter: Mapped[Meter | None] = relationship()
    assignee: Mapped[Account | None] = relationship(foreign_keys=[assignee_id])
    closed_by: Mapped[Account | None] = relationship(foreign_keys=[closed_by_id])
