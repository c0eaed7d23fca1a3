"""Telemetry 在线监测数据: the totalizer values an online meter's gateway reports (issue 17).

One compact row per point: no surrogate id, no record columns (a point is a measurement, never
edited: a resend of the same (meter, at) is "unchanged", a different value for it refused). The
primary key (meter, at) is the only index: every read is one meter's points over a time range,
so a year of hourly points at 100,000 meters (876 million rows) needs no other index. The daily
and monthly volumes derived from the points are Readings (channel "telemetry"), so the rules,
charts, exports and the tax hand-over read them as any reading.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, PrimaryKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, UTCDateTime


class TelemetryPoint(Base):
    __tablename__ = "telemetry_points"
    __table_args__ = (
        PrimaryKeyConstraint("meter_id", "at", name="pk_telemetry_points"),
        CheckConstraint("totalizer_m3 >= 0", name="totalizer_non_negative"),
        CheckConstraint("flow_m3h IS NULL OR flow_m3h >= 0", name="flow_non_negative"),
    )

    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    totalizer_m3: Mapped[float] = mapped_column(Float)
    flow_m3h: Mapped[float | None] = mapped_column(Float)
