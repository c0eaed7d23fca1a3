"""Accounts of the three kinds of user: bureau staff, inspectors and enterprises."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Record, UTCDateTime, utcnow

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
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Part of every session's identity (``get_id``): raising it ends every session of the account
    # at once (sign-out, password change, scope change, disabling). Raised by one UPDATE, never
    # through the ORM's versioned update, so it cannot collide with an officer's edit.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    divisions: Mapped[list[Division]] = relationship(secondary=account_divisions, lazy="selectin")
    water_users: Mapped[list[WaterUser]] = relationship(secondary=account_water_users, lazy="selectin")

    @property
    def is_active(self) -> bool:  # Flask-Login: disabled accounts cannot sign in
        return self.active and self.closed_at is None

    @property
    def is_locked(self) -> bool:
        """Locked by the bureau until a moment (``locked_until``); sign-in attempts are throttled,
        never locked, so nobody can lock another person out by guessing."""
        return self.locked_until is not None and self.locked_until > utcnow()

    def get_id(self) -> str:  # Flask-Login: the session names the account *and* its session version
        return f"{self.id}:{self.session_version or 0}"

    @property
    def is_staff(self) -> bool:
        return self.role in ("bureau_admin", "inspector")

    @property
    def label(self) -> str:
        return self.display_name or self.username


class RegistrationRequest(Base):
    """An enterprise asks for an account; staff approve it against the water user's USCC."""

    __tablename__ = "registration_requests"
    __table_args__ = (CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    username: Mapped[str] = mapped_column(String(60))
    display_name: Mapped[str] = mapped_column(String(100))
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
