"""Create, edit and close any record of a file: one unit of work each, audited, committed once.

Nothing is deleted: ``close`` marks a record closed (entered in error, withdrawn, superseded)
with a reason, and the audit trail keeps the values before and after every change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from registry.domain import plausibility
from registry import access
from registry.models import (AnnualPlan, BalanceTest, Calibration, ChecklistItem, Inspection,
                             IntakePoint, Meter, Permit, Reading, Rectification, WaterUser, utcnow)
from registry.services import audit, checks, validators
from registry.services.unit_of_work import FileChange, created_changes, existing_for_key  # noqa: F401
from registry.services.errors import StaleEdit, ValidationError


@dataclass(frozen=True)
class Kind:
    """One kind of record in a file: its model, its validator and who may change it."""

    name: str
    model: type
    validate: Callable
    def water_user_id(self, obj) -> int:
        return obj.water_user_id if hasattr(obj, "water_user_id") else obj.meter.water_user_id

    @property
    def slug(self) -> str:
        return self.name.replace("_", "-") + "s"


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("intake_point", IntakePoint, validators.intake_point),
    Kind("permit", Permit, validators.permit),
    Kind("plan", AnnualPlan, validators.plan),
    Kind("meter", Meter, validators.meter),
    Kind("calibration", Calibration, validators.calibration),
    Kind("reading", Reading, validators.reading),
    Kind("balance_test", BalanceTest, validators.balance_test),
    Kind("inspection", Inspection, validators.inspection),
    Kind("rectification", Rectification, validators.rectification),
)}


def _extra_snapshot(obj) -> dict:
    """Relationships that belong to the record's meaning, so the trail shows them too."""
    if isinstance(obj, Permit):
        return {"intake_point_ids": sorted(p.id for p in obj.intake_points)}
    if isinstance(obj, Inspection):
        return {"items": [[i.code, i.result, i.note] for i in obj.items]}
    return {}


def _snap(obj) -> dict:
    return {**audit.snapshot(obj), **_extra_snapshot(obj)}


def _apply(session: Session, obj, values: dict) -> None:
    items = values.pop("items", None)
    for key, value in values.items():
        setattr(obj, key, value)
    if items is not None and isinstance(obj, Inspection):
        # One answer per checklist code: answers are edited in place; the audit trail keeps the old ones.
        by_code = {item.code: item for item in obj.items}
        for item in items:
            if item["code"] in by_code:
                by_code[item["code"]].result = item["result"]
                by_code[item["code"]].note = item["note"]
                by_code[item["code"]].position = item["position"]
            else:
                obj.items.append(ChecklistItem(**item))


def _summary(kind: str, obj) -> str:
    for attr in ("name", "number", "serial", "file_no", "requirement", "agency"):
        value = getattr(obj, attr, None)
        if value:
            return f"{kind}: {value}"[:300]
    return kind


def create(session: Session, actor, kind_name: str, water_user: WaterUser, data: dict, *,
           idempotency_key: str | None = None, action: str = "create", extra: dict | None = None):
    kind = KINDS[kind_name]
    access.require(actor, f"{kind_name}.edit")
    with FileChange(session, actor, idempotency_key) as change:
        if change.replay is not None:
            return change.replay
        values = kind.validate(session, dict(data), water_user, None)
        items = values.pop("items", None)
        obj = kind.model(**values, **(extra or {}))
        if isinstance(obj, Reading):
            obj.channel = obj.channel or ("api" if extra and extra.get("channel") == "api" else "form")
            if plausibility.held(obj.flags):
                obj.status = "flagged"  # implausible but possible: waits for review, not counted
        if hasattr(kind.model, "water_user_id"):
            obj.water_user_id = water_user.id
        if isinstance(obj, Inspection):
            obj.inspector_id = actor.id if getattr(actor, "role", None) == "inspector" else obj.inspector_id
            obj.items = [ChecklistItem(**i) for i in items or []]
        change.add(obj)
        change.flush()
        change.audit(action, obj, water_user_id=water_user.id, summary=_summary(kind_name, obj),
                     changes=created_changes(snapshot=_snap(obj)))
        change.created(obj)
    return obj


def update(session: Session, actor, kind_name: str, obj, data: dict, *, expected_version: int | None):
    kind = KINDS[kind_name]
    access.require(actor, f"{kind_name}.edit")
    if obj.closed_at is not None:
        raise ValidationError({"_": _l("This record is closed and can no longer be changed.")})
    if expected_version is not None and int(expected_version) != obj.version:
        raise StaleEdit(_snap(obj))
    water_user = session.get(WaterUser, kind.water_user_id(obj))
    with FileChange(session, actor) as change:
        before = _snap(obj)
        values = kind.validate(session, dict(data), water_user, obj)
        _apply(session, obj, values)
        if isinstance(obj, Reading) and plausibility.held(obj.flags) and obj.status in ("accepted", "pending"):
            obj.status = "flagged"
        change.flush()
        change.touch(water_user.id)
        changes = audit.diff(before, _snap(obj))
        if changes:
            change.audit("update", obj, water_user_id=water_user.id, summary=_summary(kind_name, obj),
                         changes=changes)
    return obj


def close(session: Session, actor, kind_name: str, obj, reason: str):
    """Close (void) a record with a reason: it stays in the file's history but stops counting."""
    kind = KINDS[kind_name]
    access.require(actor, f"{kind_name}.edit")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _l("Give a reason for closing this record.")})
    if len(reason) > 1000:
        raise ValidationError({"reason": _l("At most %(n)d characters.", n=1000)})
    checks.refuse_control("reason", reason)
    if obj.closed_at is not None:
        raise ValidationError({"reason": _l("This record is already closed.")})
    with FileChange(session, actor) as change:
        obj.closed_at = utcnow()
        obj.closed_reason = reason
        change.flush()
        change.audit("close", obj, water_user_id=kind.water_user_id(obj), reason=reason,
                     summary=_summary(kind_name, obj), changes={"closed_reason": [None, reason]})
    return obj


def renew_permit(session: Session, actor, old: Permit, data: dict, *, idempotency_key: str | None = None) -> Permit:
    """A renewal is a new permit that supersedes the old one; the old one stays in the history."""
    if old.renewed_by is not None:
        raise ValidationError({"_": _l("This permit has already been renewed.")})
    water_user = session.get(WaterUser, old.water_user_id)
    new = create(session, actor, "permit", water_user, {**data, validators.RENEWS_KEY: old.id},
                 idempotency_key=idempotency_key, action="renew", extra={"renews_id": old.id})
    return new
