"""Meter 计量设施 and its calibrations 检定/校准 (JJG 162-2019, JJG 1033, JJG 1030)."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record

if TYPE_CHECKING:
    from registry.models.reading import Reading
    from registry.models.water_user import IntakePoint, WaterUser

from registry.domain.rules import METER_TYPES  # noqa: E402  one list: the rules define the types
CALIBRATION_KINDS = ("initial", "subsequent", "in_service", "on_site")
_LIVE_ONLINE = text("telemetry_id IS NOT NULL AND removed_on IS NULL AND closed_at IS NULL")


class Meter(Record, Base):
    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint("meter_type IN ('mechanical', 'electromagnetic', 'ultrasonic', 'other')", name="meter_type"),
        CheckConstraint("dn IS NULL OR dn > 0", name="dn_positive"),
        CheckConstraint("q3 IS NULL OR q3 > 0", name="q3_positive"),
        CheckConstraint("removed_on IS NULL OR removed_on >= installed_on", name="removed_after_installed"),
        CheckConstraint("register_capacity_m3 IS NULL OR register_capacity_m3 > 0", name="register_capacity_positive"),
        # A gateway names its meter by telemetry id: one meter in service per id. A replacement
        # keeps the id (the gateway does not change) and starts its own series: the old meter is
        # removed first, and each point goes to the meter in service on its day.
        Index("uq_meters_telemetry_id_live", "telemetry_id", unique=True,
              sqlite_where=_LIVE_ONLINE, postgresql_where=_LIVE_ONLINE),
        Index("ix_meters_telemetry_id", "telemetry_id"),
    )

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    intake_point_id: Mapped[int] = mapped_column(ForeignKey("intake_points.id"), index=True)
    serial: Mapped[str] = mapped_column(String(60), unique=True)
    meter_type: Mapped[str] = mapped_column(String(20))
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    dn: Mapped[int | None] = mapped_column(Integer)
    q3: Mapped[float | None] = mapped_column(Float)
    accuracy_class: Mapped[str | None] = mapped_column(String(10))
    installed_on: Mapped[date] = mapped_column(Date)
    removed_on: Mapped[date | None] = mapped_column(Date)
    telemetry_id: Mapped[str | None] = mapped_column(String(60))
    # The totalizer's register (m³): it rolls over to 0 on reaching this (99 999 999 → 1e8).
    register_capacity_m3: Mapped[float | None] = mapped_column(Float)
    # Per-meter overrides of the rules' defaults (domain.md: "per meter overridable").
    interval_months: Mapped[int | None] = mapped_column(Integer)
    service_life_years: Mapped[int | None] = mapped_column(Integer)

    water_user: Mapped[WaterUser] = relationship(back_populates="meters")
    intake_point: Mapped[IntakePoint] = relationship()
    calibrations: Mapped[list[Calibration]] = relationship(
        back_populates="meter", order_by="Calibration.calibrated_on.desc()")
    readings: Mapped[list[Reading]] = relationship(back_populates="meter", viewonly=True)

    @property
    def in_service(self) -> bool:
        return self.removed_on is None and self.closed_at is None

    @property
    def online(self) -> bool:
        return bool(self.telemetry_id)


class Calibration(Record, Base):
    __tablename__ = "calibrations"
    __table_args__ = (
        CheckConstraint("kind IN ('initial', 'subsequent', 'in_service', 'on_site')", name="kind"),
        CheckConstraint("next_due_on IS NULL OR next_due_on > calibrated_on", name="next_due_after_calibrated"),
    )

    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    calibrated_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(12))
    agency: Mapped[str] = mapped_column(String(200))
    certificate_no: Mapped[str | None] = mapped_column(String(60))
    error_pct: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    next_due_on: Mapped[date | None] = mapped_column(Date)

    meter: Mapped[Meter] = relationship(back_populates="calibrations")
