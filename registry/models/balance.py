"""Water-balance test 水平衡测试 (GB/T 12452-2022): volumes as reported; indicators are computed."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record

if TYPE_CHECKING:
    from registry.models.water_user import WaterUser


class BalanceTest(Record, Base):
    __tablename__ = "balance_tests"
    __table_args__ = tuple(
        CheckConstraint(f"{c} >= 0", name=f"{c}_non_negative") for c in ("vf", "vr", "vco", "vd", "vl")
    ) + (CheckConstraint("next_due_on IS NULL OR next_due_on > tested_on", name="next_due_after_tested"),)

    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    tested_on: Mapped[date] = mapped_column(Date)
    agency: Mapped[str] = mapped_column(String(200))
    report_no: Mapped[str | None] = mapped_column(String(60))
    vf: Mapped[float] = mapped_column(Float)  # fresh intake 取新水量
    vr: Mapped[float] = mapped_column(Float)  # reused 重复利用水量
    vco: Mapped[float] = mapped_column(Float)  # consumed 耗水量
    vd: Mapped[float] = mapped_column(Float)  # discharged 排水量
    vl: Mapped[float] = mapped_column(Float)  # leaked 漏失水量
    next_due_on: Mapped[date | None] = mapped_column(Date)

    water_user: Mapped[WaterUser] = relationship(back_populates="balance_tests")
