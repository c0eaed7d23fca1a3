"""Reading 取水量: the volume a meter recorded for a month (or a day, for online meters)."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record, UTCDateTime

if TYPE_CHECKING:
    from registry.models.meter import Meter

READING_SOURCES = ("manual", "online", "enterprise", "estimated")
# flagged: implausible but possible (registry.domain.plausibility), waiting for staff like a
# pending one and kept out of charts and totals until accepted. check: a typed reading of a month
# an online meter's telemetry already measures, kept beside the derived one for comparison and
# never counted (issue 17).
READING_STATUSES = ("pending", "accepted", "rejected", "flagged", "check")
# Channels a reading came through; "telemetry" marks the daily and monthly volumes derived from
# an online meter's totalizer points (registry.services.telemetry), never typed.
READING_CHANNELS = ("form", "portal", "api", "import", "telemetry")
# What charts and totals leave out (the rules count only accepted readings).
UNCOUNTED_STATUSES = ("rejected", "flagged", "check")

# One live monthly reading per meter and month; rejected and voided ones may be resubmitted, and
# a check reading stands beside the telemetry's.
_LIVE_MONTHLY = text("read_on IS NULL AND status NOT IN ('rejected', 'check') AND closed_at IS NULL")


class Reading(Record, Base):
    __tablename__ = "readings"
    __table_args__ = (
        CheckConstraint("volume_m3 >= 0", name="volume_non_negative"),
        CheckConstraint("source IN ('manual', 'online', 'enterprise', 'estimated')", name="source"),
        CheckConstraint("status IN ('pending', 'accepted', 'rejected', 'flagged', 'check')", name="status"),
        CheckConstraint("channel IS NULL OR channel IN ('form', 'portal', 'api', 'import', 'telemetry')",
                        name="channel"),
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
    channel: Mapped[str | None] = mapped_column(String(12))
    # Why the reading is flagged or what it was compared with: [{"code", ...figures}] (domain
    # plausibility findings), shown in the review queue and on the file.
    flags: Mapped[list | None] = mapped_column(JSON)
    # Enterprise submissions wait for staff review (pending → accepted / rejected with a reason).
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meter: Mapped[Meter] = relationship(back_populates="readings")
