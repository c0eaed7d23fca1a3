"""Reading 取水量: the volume a meter recorded for a month (or a day, for online meters)."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record, UTCDateTime

if TYPE_CHECKING:
    from registry.models.meter import Meter

READING_SOURCES = ("manual", "online", "enterprise", "estimated")
READING_STATUSES = ("pending", "accepted", "rejected")

# One live monthly reading per meter and month; rejected and voided ones may be resubmitted.
_LIVE_MONTHLY = text("read_on IS NULL AND status <> 'rejected' AND closed_at IS NULL")


class Reading(Record, Base):
    __tablename__ = "readings"
    __table_args__ = (
        CheckConstraint("volume_m3 >= 0", name="volume_non_negative"),
        CheckConstraint("source IN ('manual', 'online', 'enterprise', 'estimated')", name="source"),
        CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status"),
        Index("uq_readings_meter_period_live", "meter_id", "period", unique=True,
              sqlite_where=_LIVE_MONTHLY, postgresql_where=_LIVE_MONTHLY),
        Index("ix_readings_water_user_period", "water_user_id", "period"),
        # The dashboard's volume by month: the live monthly readings of a period range, read from
        # the index alone (no visit to the table's millions of rows).
        Index("ix_readings_live_period", "period", "water_user_id", "volume_m3",
              sqlite_where=_LIVE_MONTHLY, postgresql_where=_LIVE_MONTHLY),
    )

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    period: Mapped[date] = mapped_column(Date)  # first day of the month
    read_on: Mapped[date | None] = mapped_column(Date)  # set for daily online readings
    volume_m3: Mapped[float] = mapped_column(Float)
    meter_index: Mapped[float | None] = mapped_column(Float)  # the dial reading, when known
    source: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    submitted_on: Mapped[date | None] = mapped_column(Date)
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    # Enterprise submissions wait for staff review (pending → accepted / rejected with a reason).
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meter: Mapped[Meter] = relationship(back_populates="readings")
