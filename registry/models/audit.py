"""Audit trail: one row per change, who / when / what / before → after. Append-only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from registry.models.account import Account
from registry.models.base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_water_user_at", "water_user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    action: Mapped[str] = mapped_column(String(30))  # create, update, close, sign_in, ...
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    water_user_id: Mapped[int | None] = mapped_column(ForeignKey("water_users.id"))
    summary: Mapped[str | None] = mapped_column(String(300))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # field -> [before, after]
    reason: Mapped[str | None] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(String(45))  # the client's, through ProxyFix's trusted hops

    actor: Mapped[Account | None] = relationship()


class AuditTrailIsAppendOnly(Exception):
    """Raised when code tries to change or delete an audit event through the ORM."""


def _refuse(what: str):
    raise AuditTrailIsAppendOnly(f"audit events are append-only: {what} refused")


@event.listens_for(AuditEvent, "before_update")
def _no_update(_mapper, _connection, target):
    _refuse(f"UPDATE of audit event {target.id}")


@event.listens_for(AuditEvent, "before_delete")
def _no_delete(_mapper, _connection, target):
    _refuse(f"DELETE of audit event {target.id}")


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_change(state):
    """``session.execute(update(AuditEvent)...)`` and bulk deletes skip the mapper events above."""
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ is AuditEvent:
        _refuse("bulk UPDATE/DELETE")


class IdempotencyKey(Base):
    """A create form's hidden key: the same key never creates a second record."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
