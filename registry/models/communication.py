"""Communications with a water user (reminders, letters, notices) and the bureau's templates."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record, UTCDateTime, utcnow

CHANNELS = ("email", "in_app", "letter")
COMMUNICATION_STATUSES = ("queued", "sent", "failed", "acknowledged")


class Communication(Base):
    """One message to a water user by one channel; ``item_key`` makes each reminder step unique,
    so a nightly rerun never sends the same reminder twice."""

    __tablename__ = "communications"
    __table_args__ = (
        UniqueConstraint("item_key", "channel"),
        CheckConstraint("channel IN ('email', 'in_app', 'letter')", name="channel"),
        CheckConstraint("status IN ('queued', 'sent', 'failed', 'acknowledged')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    water_user_id: Mapped[int] = mapped_column(ForeignKey("water_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # reminder | letter | notice | certificate
    topic: Mapped[str] = mapped_column(String(30))  # permit_renewal, calibration, ...
    item_key: Mapped[str] = mapped_column(String(120))  # e.g. permit_renewal:12:45
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(15), default="queued")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class MessageTemplate(Record, Base):
    """The wording of a reminder topic in one language, editable by the bureau (versioned)."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("topic", "language"),)

    topic: Mapped[str] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)


class ApiToken(Base):
    """A Bearer token for /api/v1: only its sha256 is stored; scoped like its account."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(Text)
