"""Accounts of the three kinds of user: bureau staff, inspectors and enterprises."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record, UTCDateTime

if TYPE_CHECKING:
    from registry.models.water_user import Division, WaterUser

ROLES = ("bureau_admin", "inspector", "enterprise")

account_divisions = Table(
    "account_divisions",
    Base.metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("division_code", ForeignKey("divisions.code"), primary_key=True),
)
account_water_users = Table(
    "account_water_users",
    Base.metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("water_user_id", ForeignKey("water_users.id"), primary_key=True),
)


class Account(UserMixin, Record, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("role IN ('bureau_admin', 'inspector', 'enterprise')", name="role"),
    )

    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    city_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    language: Mapped[str | None] = mapped_column(String(10))

    divisions: Mapped[list[Division]] = relationship(secondary=account_divisions, lazy="selectin")
    water_users: Mapped[list[WaterUser]] = relationship(secondary=account_water_users, lazy="selectin")

    @property
    def is_active(self) -> bool:  # Flask-Login: disabled accounts cannot sign in
        return self.active and self.closed_at is None

    @property
    def is_staff(self) -> bool:
        return self.role in ("bureau_admin", "inspector")

    @property
    def label(self) -> str:
        return self.display_name or self.username
