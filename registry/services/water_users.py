"""Opening, editing, suspending and closing a water user's file (each one unit of work, audited)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from registry import access
from registry.models import WaterUser, utcnow
from registry.services import audit, validators
from registry.services.checks import refuse_control
from registry.services.errors import StaleEdit, ValidationError
from registry.services.unit_of_work import FileChange, created_changes


def create(session: Session, actor, data: dict, *, idempotency_key: str | None = None) -> WaterUser:
    access.require(actor, "water_user.create")
    with FileChange(session, actor, idempotency_key) as change:
        if change.replay is not None:
            return change.replay
        values = validators.water_user(session, dict(data), None, None)
        wu = change.add(WaterUser(**values, status="active"))
        change.flush()  # models/cached.py starts its industry history
        change.audit("create", wu, water_user_id=wu.id, summary=f"{wu.file_no} {wu.name}", changes=created_changes(wu))
        change.created(wu)
    return wu


def update(session: Session, actor, wu: WaterUser, data: dict, *, expected_version: int | None) -> WaterUser:
    access.require(actor, "water_user.edit")
    if wu.status == "closed":
        raise ValidationError({"_": _l("This file is closed and can no longer be changed.")})
    if expected_version is not None and int(expected_version) != wu.version:
        raise StaleEdit(audit.snapshot(wu))
    with FileChange(session, actor) as change:
        before = audit.snapshot(wu)
        values = validators.water_user(session, dict(data), wu, wu)
        for key, value in values.items():  # a new industry: models/cached.py keeps the history
            setattr(wu, key, value)
        change.flush()  # a version saved by a parallel edit is a stale edit (409), not a 500
        change.touch(wu.id)
        changes = audit.diff(before, audit.snapshot(wu))
        if changes:
            change.audit("update", wu, water_user_id=wu.id, summary=f"{wu.file_no} {wu.name}", changes=changes)
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
    with FileChange(session, actor) as change:
        before = wu.status
        wu.status = status
        if status == "closed":
            wu.closed_at = utcnow()
            wu.closed_reason = reason
        change.flush()
        change.audit("close" if status == "closed" else "update", wu, water_user_id=wu.id, reason=reason,
                     summary=f"{wu.file_no} {wu.name}", changes={"status": [before, status]})
    return wu
