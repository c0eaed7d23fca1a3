"""The audit trail: snapshots before and after a change, and the event that records them."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from registry.models import AuditEvent

# Never copied into the trail.
_HIDDEN = {"password_hash", "version", "created_at", "updated_at", "session_version", "verify_key"}


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def snapshot(obj) -> dict:
    """The column values of a record, as JSON-ready plain values."""
    mapper = inspect(obj).mapper
    return {c.key: _plain(getattr(obj, c.key)) for c in mapper.column_attrs if c.key not in _HIDDEN}


def diff(before: dict, after: dict) -> dict:
    """Fields whose value changed: ``{field: [before, after]}``."""
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def _client_address() -> str | None:
    """The client's address when a request is being served (through ProxyFix's trusted hops);
    None for the command line and the queue."""
    from flask import has_request_context, request

    return (request.remote_addr or "")[:45] or None if has_request_context() else None


def record(session: Session, actor, action: str, obj=None, *, changes: dict | None = None,
           water_user_id: int | None = None, reason: str | None = None, summary: str | None = None,
           entity: str | None = None, entity_id: int | None = None) -> AuditEvent:
    """Add an audit event to the session (committed with the change it describes)."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        entity_type=entity or type(obj).__name__,
        entity_id=entity_id if entity_id is not None else getattr(obj, "id", None),
        water_user_id=water_user_id,
        changes=changes or {},
        reason=reason,
        summary=(summary or "")[:300] or None,
        client_address=_client_address(),
    )
    session.add(event)
    return event
