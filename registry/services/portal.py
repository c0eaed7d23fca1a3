"""What an enterprise may do with its own file: submit readings and documents, answer
rectification orders. Submissions wait for staff review; only accepted readings count."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from registry.domain import plausibility
from registry import access
from registry.models import Document, Reading, Rectification, WaterUser, utcnow
from registry.services import audit, documents, validators
from registry.services.checks import Checker, refuse_control
from registry.services.errors import NotFound, ValidationError
from registry.services.unit_of_work import FileChange, created_changes


def _own_file(actor, wu: WaterUser) -> None:
    access.require(actor, "portal.use", within=wu)
    if wu.status == "closed":
        raise ValidationError({"_": _l("This file is closed and can no longer be changed.")})


def submit_reading(session: Session, actor, wu: WaterUser, data: dict, *, idempotency_key: str | None = None) -> Reading:
    _own_file(actor, wu)
    with FileChange(session, actor, idempotency_key) as change:
        if change.replay is not None:
            return change.replay
        values = validators.reading(session, {**data, "source": "enterprise"}, wu, None)
        status = "flagged" if plausibility.held(values.get("flags")) else "pending"  # flagged: the review queue shows why
        reading = change.add(Reading(**values, water_user_id=wu.id, status=status, channel="portal",
                                     submitted_on=change.today, submitted_by_id=actor.id))
        change.flush()
        change.audit("submit", reading, water_user_id=wu.id,
                     summary=f"reading: {reading.period:%Y-%m} {reading.volume_m3:g} m³", changes=created_changes(reading))
        change.created(reading)
    return reading


def submit_document(session: Session, actor, wu: WaterUser, data: dict, *, filename: str, content: bytes,
                    upload_dir: str, max_bytes: int, idempotency_key: str | None = None) -> Document:
    _own_file(actor, wu)
    return documents.attach(session, actor, wu, data, filename=filename, content=content, upload_dir=upload_dir,
                            max_bytes=max_bytes, idempotency_key=idempotency_key, status="pending",
                            kinds=("calibration_certificate", "balance_report", "permit_scan", "other"))


def answer_rectification(session: Session, actor, wu: WaterUser, rect: Rectification, data: dict) -> Rectification:
    _own_file(actor, wu)
    if rect.water_user_id != wu.id:
        raise NotFound()
    if rect.status == "verified" or rect.closed_at is not None:
        raise ValidationError({"response": _l("This order is already verified or closed.")})
    c = Checker(data)
    c.text("response", max_len=4000, multiline=True)
    values = c.done()
    with FileChange(session, actor) as change:
        before = audit.snapshot(rect)
        rect.response, rect.responded_on, rect.status = values["response"], change.today, "answered"
        change.flush()
        change.audit("answer", rect, water_user_id=wu.id, summary=f"rectification: {rect.requirement[:80]}",
                     changes=audit.diff(before, audit.snapshot(rect)))
    return rect


def review(session: Session, actor, obj, decision: str, reason: str | None = None):
    """Staff accept or reject an enterprise submission (reading or document); a rejection says why."""
    kind = "reading" if isinstance(obj, Reading) else "document"
    access.require(actor, f"{kind}.review", within=obj.water_user_id)
    if obj.status != "pending" and not (kind == "reading" and obj.status == "flagged"):
        raise ValidationError({"decision": _l("This submission has already been reviewed.")})
    if decision not in ("accept", "reject"):
        raise ValidationError({"decision": _l("Choose one of the listed options.")})
    reason = (reason or "").strip()
    if decision == "reject" and not reason:
        raise ValidationError({"reason": _l("Say why the submission is rejected: the enterprise will read it.")})
    if len(reason) > 1000:
        raise ValidationError({"reason": _l("At most %(n)d characters.", n=1000)})
    refuse_control("reason", reason)
    with FileChange(session, actor) as change:
        before = obj.status
        obj.status = "accepted" if decision == "accept" else "rejected"
        obj.rejected_reason = reason or None if decision == "reject" else None
        obj.reviewed_by_id, obj.reviewed_at = actor.id, utcnow()
        change.flush()
        change.audit(decision, obj, water_user_id=obj.water_user_id, reason=reason or None,
                     summary=f"{kind} submitted by the enterprise", changes={"status": [before, obj.status]})
    return obj
