"""Opening, editing, suspending and closing a water user's file."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from registry import access
from registry.models import WaterUser
from registry.services import audit, validators
from registry.services.checks import idempotency_key as clean_key, refuse_control
from registry.services.errors import StaleEdit, ValidationError
from registry.services.records import _commit, _flush, existing_for_key
from registry.models import IdempotencyKey


def create(session: Session, actor, data: dict, *, idempotency_key: str | None = None) -> WaterUser:
    access.require(actor, "water_user.create")
    idempotency_key = clean_key(idempotency_key)
    again = existing_for_key(session, idempotency_key)
    if again is not None:
        return again
    values = validators.water_user(session, dict(data), None, None)
    wu = WaterUser(**values, status="active")
    session.add(wu)
    session.flush()  # models/cached.py starts its industry history
    audit.record(session, actor, "create", wu, water_user_id=wu.id, summary=f"{wu.file_no} {wu.name}",
                 changes={k: [None, v] for k, v in audit.snapshot(wu).items() if v not in (None, "")})
    if idempotency_key:
        session.add(IdempotencyKey(key=idempotency_key[:64], account_id=getattr(actor, "id", None),
                                   entity_type="WaterUser", entity_id=wu.id))
    _commit(session, wu.id)
    return wu


def update(session: Session, actor, wu: WaterUser, data: dict, *, expected_version: int | None) -> WaterUser:
    access.require(actor, "water_user.edit")
    if wu.status == "closed":
        raise ValidationError({"_": _l("This file is closed and can no longer be changed.")})
    if expected_version is not None and int(expected_version) != wu.version:
        raise StaleEdit(audit.snapshot(wu))
    before = audit.snapshot(wu)
    values = validators.water_user(session, dict(data), wu, wu)
    for key, value in values.items():  # a new industry: models/cached.py keeps the history
        setattr(wu, key, value)
    _flush(session)  # a version saved by a parallel edit is a stale edit (409), not a 500
    changes = audit.diff(before, audit.snapshot(wu))
    if changes:
        audit.record(session, actor, "update", wu, water_user_id=wu.id, summary=f"{wu.file_no} {wu.name}",
                     changes=changes)
    _commit(session, wu.id)
    return wu


def set_status(session: Session, actor, wu: WaterUser, status: str, reason: str) -> WaterUser:
    """Suspend, reactivate or close a file. Closing is final and is the only way a file ends."""
    access.require(actor, "water_user.close")
    reason = (reason or "").strip()
    if status not in ("active", "suspended", "closed"):
        raise ValidationError({"status": _l("Choose one of the listed options.")})
    if not reason:
        raise ValidationError({"reason": _l("Give a reason for this change of status.")})
    if len(reason) > 1000:
        raise ValidationError({"reason": _l("At most %(n)d characters.", n=1000)})
    refuse_control("reason", reason)
    if wu.status == "closed":
        raise ValidationError({"status": _l("This file is closed and can no longer be changed.")})
    if status == wu.status:
        raise ValidationError({"status": _l("The file already has this status.")})
    before = wu.status
    wu.status = status
    if status == "closed":
        from registry.models import utcnow

        wu.closed_at = utcnow()
        wu.closed_reason = reason
    _flush(session)
    audit.record(session, actor, "close" if status == "closed" else "update", wu, water_user_id=wu.id,
                 reason=reason, summary=f"{wu.file_no} {wu.name}", changes={"status": [before, status]})
    _commit(session, wu.id)
    return wu
