"""Inspection 检查 with checklist items, and the rectification orders 整改 it raises."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record

if TYPE_CHECKING:
    from registry.models.account import Account
    from registry.models.water_user import WaterUser

CHECK_RESULTS = ("ok", "problem", "na")
RECTIFICATION_STATUSES = ("open", "answered", "verified")


class Inspection(Record, Base):
    __tablename__ = "inspections"

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    inspected_on: Mapped[date] = mapped_column(Date)
    findings: Mapped[str | None] = mapped_column(Text)
    site_contact: Mapped[str | None] = mapped_column(String(100))
    signature_sha256: Mapped[str | None] = mapped_column(String(64))

    water_user: Mapped[WaterUser] = relationship(back_populates="inspections")
    inspector: Mapped[Account | None] = relationship()
    items: Mapped[list[ChecklistItem]] = relationship(back_populates="inspection", order_by="ChecklistItem.position")
    rectifications: Mapped[list[Rectification]] = relationship(
        back_populates="inspection", order_by="Rectification.deadline")


class ChecklistItem(Record, Base):
    __tablename__ = "checklist_items"
    __table_args__ = (CheckConstraint("result IN ('ok', 'problem', 'na')", name="result"),)

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)

    inspection: Mapped[Inspection] = relationship(back_populates="items")


class Rectification(Record, Base):
    __tablename__ = "rectifications"
    __table_args__ = (CheckConstraint("status IN ('open', 'answered', 'verified')", name="status"),)

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    requirement: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    response: Mapped[str | None] = mapped_column(Text)
    responded_on: Mapped[date | None] = mapped_column(Date)
    verified_on: Mapped[date | None] = mapped_column(Date)

    inspection: Mapped[Inspection] = relationship(back_populates="rectifications")
