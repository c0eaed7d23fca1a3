"""A site inspection 现场检查 as the inspector records it on the tablet, in one unit of work.

One submission carries the checklist (ok / problem / n.a. with a note), the photos taken for
each item, the meter reading taken on site, the site contact's name and drawn signature, and a
rectification order 整改 with a deadline for every problem. Either all of it is written, audited
and the file's evaluation refreshed in a single commit, or nothing is (a bad photo refuses the
whole submission, so the inspector fixes it and sends the same draft again).

A submission carries an idempotency key made when the draft was started: a tablet that lost
the connection halfway may send the same draft twice, and the second answer is the first
inspection, never a copy (``existing_for_key`` before anything else, and the key's primary
key in the same transaction as the rows it names).

Later, the enterprise answers an order in the portal and the inspector verifies it or reopens
it with a reason and a new deadline (``verify``, ``reopen``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.domain import plausibility
from registry import access
from registry.models import ChecklistItem, Document, DueItem, Inspection, Reading, Rectification, WaterUser, utcnow
from registry.services import audit, file_store, images, photos, records, validators
from registry.services.checks import Checker
from registry.services.errors import ValidationError
from registry.services.unit_of_work import FileChange, created_changes, existing_for_key
from registry.services.validators import CHECKLIST_CODES
from registry.services.work_queue import status_expression
# Re-exported: the visit form lists the items through this service.
from registry.presentation.inspections import CHECKLIST_LABELS  # noqa: F401

# Same message ids as the checklist macro in templates/_macros.html, so one translation serves both.
MAX_PHOTOS_PER_ITEM = 6
MAX_PHOTOS = 30
MAX_DEADLINE_DAYS = 366  # an order is about what the site can fix this year; longer is a permit matter
READING_FIELDS = ("meter_id", "period", "volume_m3", "meter_index")


@dataclass
class Photo:
    code: str  # the checklist item it shows
    filename: str
    content: bytes


@dataclass
class Submission:
    """What the tablet sends: plain values as typed, judged here."""

    inspected_on: object = None
    site_contact: object = None
    findings: object = None
    answers: dict[str, dict] = field(default_factory=dict)  # code -> {result, note, requirement, deadline}
    reading: dict = field(default_factory=dict)  # meter_id, period, volume_m3, meter_index (all empty: none)
    photos: list[Photo] = field(default_factory=list)
    signature: str | None = None  # a data: URL from the signature pad


def _photo_message(err: photos.PhotoError, name: str, max_bytes: int):
    if err.rule == "too_large":
        return _l("“%(name)s” is larger than %(size)s MB. Take the photo again at a lower resolution.",
                  name=name, size=megabytes(max_bytes))
    if err.rule == "too_many_pixels":
        return _l("“%(name)s” has more than %(n)s million pixels; take it again at a lower resolution.", name=name,
                  n=f"{photos.max_pixels() / 1_000_000:g}")
    return _l("“%(name)s” is not a photo: only JPEG, PNG or WebP images are accepted.", name=name)


def megabytes(size: int) -> str:
    """1048576 → "1", 10485760 → "10", 102400 → "0.1"."""
    return f"{round(size / (1024 * 1024), 1):g}"


def _safe_name(filename: str, fallback: str) -> str:
    name = "".join(ch for ch in Path(filename or "").name if ch.isprintable())[:120]
    return name or fallback


@dataclass
class _Clean:
    values: dict
    orders: list[dict]
    reading: dict | None
    photos: list[tuple[str, str, photos.PendingImage]]  # checked by header; the queue re-encodes them
    signature: photos.CleanImage | None


def _judge(session: Session, wu: WaterUser, sub: Submission, photo_max_bytes: int) -> _Clean:
    """Every rule at once, so the inspector sees every problem in one go; nothing is written."""
    errors: dict[str, object] = {}
    items = [{"code": code, "result": (sub.answers.get(code) or {}).get("result"),
              "note": (sub.answers.get(code) or {}).get("note") or ""}
             for code in CHECKLIST_CODES if (sub.answers.get(code) or {}).get("result")]
    values = {}
    try:
        values = validators.inspection(session, {"inspected_on": sub.inspected_on, "site_contact": sub.site_contact,
                                                 "findings": sub.findings, "items": items}, wu, None)
    except ValidationError as err:
        errors.update(err.errors)
    for code in CHECKLIST_CODES:
        if not (sub.answers.get(code) or {}).get("result"):
            errors.setdefault(f"item-{code}", _l("Choose OK, problem or N/A for every item."))
    if not str(sub.site_contact or "").strip():
        errors.setdefault("site_contact", _l("Enter the name of the person who showed you the site."))

    inspected_on = values.get("inspected_on") or Checker({"d": sub.inspected_on}).date("d")  # for the deadlines
    orders = []
    for code in CHECKLIST_CODES:
        answer = sub.answers.get(code) or {}
        if answer.get("result") != "problem":
            continue
        c = Checker({"requirement": answer.get("requirement"), "deadline": answer.get("deadline")})
        requirement = c.text("requirement", required=False, max_len=2000, multiline=True)
        deadline = c.date("deadline")
        if deadline is not None and inspected_on is not None:
            if deadline <= inspected_on:
                c.fail("deadline", _l("The deadline must be after the inspection date (%(d)s).", d=inspected_on.isoformat()))
            elif deadline > inspected_on + timedelta(days=MAX_DEADLINE_DAYS):
                c.fail("deadline", _l("The deadline can be at most one year after the inspection."))
        for name, message in c.errors.items():
            errors.setdefault(f"{name}-{code}", message)
        note = str(answer.get("note") or "").strip()
        orders.append({"code": code, "requirement": requirement or note, "deadline": deadline})

    reading = None
    # The month is filled in beforehand; a reading is taken when a meter, a volume or a dial reading is given.
    if any(str(sub.reading.get(k) or "").strip() for k in ("meter_id", "volume_m3", "meter_index")):
        try:
            reading = validators.reading(session, {**{k: sub.reading.get(k) for k in READING_FIELDS},
                                                   "source": "manual"}, wu, None)
        except ValidationError as err:
            errors.update({f"reading-{k}": v for k, v in err.errors.items()})

    cleaned = []
    per_item: dict[str, int] = {}
    for n, photo in enumerate(sub.photos, start=1):
        name = _safe_name(photo.filename, f"photo-{n}.jpg")
        key = f"photo-{photo.code}"
        if photo.code not in CHECKLIST_CODES:
            errors.setdefault("photos", _l("A photo belongs to an unknown checklist item."))
            continue
        per_item[photo.code] = per_item.get(photo.code, 0) + 1
        if per_item[photo.code] > MAX_PHOTOS_PER_ITEM or len(sub.photos) > MAX_PHOTOS:
            errors.setdefault(key, _l("At most %(n)d photos per item and %(t)d per inspection.",
                                      n=MAX_PHOTOS_PER_ITEM, t=MAX_PHOTOS))
            continue
        try:
            cleaned.append((photo.code, name, photos.check_photo(photo.content, max_bytes=photo_max_bytes)))
        except photos.PhotoError as err:
            errors.setdefault(key, _photo_message(err, name, photo_max_bytes))

    signature = None
    try:
        raw = photos.decode_data_url(sub.signature)
        signature = photos.clean_signature(raw) if raw else None
    except photos.PhotoError as err:
        if err.rule != "blank":  # an untouched pad is no signature, not an error
            errors["signature"] = _l("The signature could not be read. Clear it and sign again.")

    if errors:
        raise ValidationError(errors)
    return _Clean(values, orders, reading, cleaned, signature)


def _attach(change: FileChange, wu: WaterUser, insp: Inspection, upload_dir: str,
            image: photos.CleanImage | photos.PendingImage, *, kind: str, title: str, filename: str) -> Document:
    if isinstance(image, photos.PendingImage):  # a photo: re-encoded by the queue, kept as received meanwhile
        stored = images.pending_fields(upload_dir, image)
    else:  # the signature, small and drawn on the pad: re-encoded here
        stored = {"sha256": file_store.store(upload_dir, image.content), "size_bytes": len(image.content),
                  "content_type": image.content_type}
    doc = change.add(Document(water_user_id=wu.id, record_type="inspection", record_id=insp.id, kind=kind,
                              title=title[:200], filename=Path(filename).stem[:200] + image.extension,
                              uploaded_by_id=change.actor.id, status="accepted", **stored))
    change.flush()
    change.audit("create", doc, water_user_id=wu.id, summary=f"document: {doc.title}", changes=created_changes(doc))
    return doc


def _created(change: FileChange, kind: str, obj, wu: WaterUser) -> None:
    change.audit("create", obj, water_user_id=wu.id, summary=records._summary(kind, obj),
                 changes=created_changes(snapshot=records._snap(obj)))


def record(session: Session, actor, wu: WaterUser, sub: Submission, *, upload_dir: str,
           photo_max_bytes: int = photos.DEFAULT_MAX_BYTES, idempotency_key: str | None = None) -> Inspection:
    """Write the whole inspection, or refuse it whole with every field's error."""
    access.require(actor, "inspection.edit", within=wu)
    change = FileChange(session, actor, idempotency_key)
    try:
        with change:
            if isinstance(change.replay, Inspection) and change.replay.water_user_id == wu.id:
                return change.replay  # the same draft sent again (a retry after a lost answer): already recorded
            if change.replay is not None:
                raise ValidationError({"_": _l("This form was already used for another record. Reload the page.")})
            insp, pictures = _write(change, wu, sub, upload_dir=upload_dir, photo_max_bytes=photo_max_bytes)
    except ValidationError as err:
        # Two sends of one draft raced: the other one won and holds the key. Answer with its inspection.
        again = existing_for_key(session, change.key)
        if isinstance(again, Inspection) and again.water_user_id == wu.id:
            return again
        if isinstance(err.__cause__, IntegrityError) and "period" in err.errors:  # the month was taken meanwhile
            raise ValidationError({"reading-period": err.errors["period"]}) from err
        raise
    images.queue(session, actor, pictures)  # after the commit: the queue's job reads the documents
    return insp


def _write(change: FileChange, wu: WaterUser, sub: Submission, *, upload_dir: str,
           photo_max_bytes: int) -> tuple[Inspection, list[Document]]:
    session, actor = change.session, change.actor
    if wu.status == "closed":
        raise ValidationError({"_": _l("This file is closed and can no longer be changed.")})
    clean = _judge(session, wu, sub, photo_max_bytes)
    items = clean.values.pop("items")
    insp = Inspection(**clean.values, water_user_id=wu.id, inspector_id=actor.id)
    insp.items = [ChecklistItem(**i) for i in items]
    change.add(insp)
    change.flush()
    labels = {code: str(text) for code, text in CHECKLIST_LABELS.items()}
    pictures = [_attach(change, wu, insp, upload_dir, image, kind="inspection_photo",
                        title=f"{labels[code]} {insp.inspected_on.isoformat()}", filename=name)
                for code, name, image in clean.photos]
    if clean.signature is not None:
        doc = _attach(change, wu, insp, upload_dir, clean.signature, kind="signature",
                      title=str(_l("Signature of %(name)s", name=insp.site_contact or "")),
                      filename=f"signature-{insp.inspected_on.isoformat()}")
        insp.signature_sha256 = doc.sha256
    change.flush()
    _created(change, "inspection", insp, wu)
    for order in clean.orders:
        rect = change.add(Rectification(inspection_id=insp.id, water_user_id=wu.id, requirement=order["requirement"],
                                        deadline=order["deadline"], status="open"))
        change.flush()
        _created(change, "rectification", rect, wu)
    if clean.reading is not None:
        # Read by the inspector in person: accepted at once, unlike an enterprise's submission.
        status = "flagged" if plausibility.held(clean.reading.get("flags")) else "accepted"  # implausible: reviewed first
        reading = change.add(Reading(**clean.reading, water_user_id=wu.id, status=status, submitted_on=change.today,
                                     reviewed_by_id=actor.id, reviewed_at=utcnow()))
        change.flush()
        change.audit("create", reading, water_user_id=wu.id,
                     summary=f"reading: {reading.period:%Y-%m} {reading.volume_m3:g} m³", changes=created_changes(reading))
    change.created(insp)
    return insp, pictures


# --- after the visit: the enterprise answered; the inspector verifies or reopens ------------------

def _order_in_scope(actor, rect: Rectification) -> None:
    access.require(actor, "rectification.edit", within=rect.water_user_id)
    if rect.closed_at is not None or rect.inspection.closed_at is not None:
        raise ValidationError({"_": _l("This record is closed and can no longer be changed.")})


def verify(session: Session, actor, rect: Rectification) -> Rectification:
    """The rectification was done (seen on site or in the enterprise's answer): it stops counting."""
    _order_in_scope(actor, rect)
    if rect.status == "verified":
        raise ValidationError({"_": _l("This order is already verified.")})
    with FileChange(session, actor) as change:
        before = audit.snapshot(rect)
        rect.status, rect.verified_on = "verified", change.today
        change.flush()
        change.audit("accept", rect, water_user_id=rect.water_user_id,
                     summary=records._summary("rectification", rect), changes=audit.diff(before, audit.snapshot(rect)))
    return rect


def reopen(session: Session, actor, rect: Rectification, data: dict) -> Rectification:
    """Not done after all: the order is open again with a new deadline, and says why."""
    _order_in_scope(actor, rect)
    if rect.status == "open":
        raise ValidationError({"_": _l("This order is still open; there is nothing to reopen.")})
    c = Checker(data)
    reason = c.text("reason", max_len=1000, multiline=True)
    deadline = c.date("deadline")
    if deadline is not None and deadline <= c.today:
        c.fail("deadline", _l("The new deadline must be after today."))
    elif deadline is not None and deadline > c.today + timedelta(days=MAX_DEADLINE_DAYS):
        c.fail("deadline", _l("The deadline can be at most one year away."))
    c.done()
    with FileChange(session, actor) as change:
        before = audit.snapshot(rect)
        # The enterprise reads the order, not the audit trail: the reason goes into the order itself.
        note = str(_l("Reopened on %(d)s: %(reason)s", d=c.today.isoformat(), reason=reason))
        rect.requirement = f"{rect.requirement}\n{note}"
        rect.status, rect.deadline, rect.verified_on = "open", deadline, None
        change.flush()
        change.audit("reopen", rect, water_user_id=rect.water_user_id, reason=reason,
                     summary=records._summary("rectification", rect), changes=audit.diff(before, audit.snapshot(rect)))
    return rect


# --- read models for the tablet -------------------------------------------------------------------

def my_visits(session: Session, account, today: date, *, q: str = "", due_only: bool = False):
    """A select of (WaterUser, urgency, next due, overdue count, last inspected on, answers to verify):
    the active files the account may see, the most urgent first (what ``DueItem`` says is due),
    then those never or least recently inspected."""
    status = status_expression(today)
    due = (select(DueItem.water_user_id.label("wu_id"),
                  func.min(case((status == "overdue", 0), else_=1)).label("urgency"),
                  func.min(DueItem.due_on).label("next_due"),
                  func.sum(case((status == "overdue", 1), else_=0)).label("overdue"))
           .group_by(DueItem.water_user_id).subquery())
    last = (select(Inspection.water_user_id.label("wu_id"), func.max(Inspection.inspected_on).label("last_on"))
            .where(Inspection.closed_at.is_(None)).group_by(Inspection.water_user_id).subquery())
    answered = (select(Rectification.water_user_id.label("wu_id"), func.count().label("n"))
                .where(Rectification.status == "answered", Rectification.closed_at.is_(None))
                .group_by(Rectification.water_user_id).subquery())
    urgency = func.coalesce(due.c.urgency, 2)
    stmt = (select(WaterUser, urgency.label("urgency"), due.c.next_due, func.coalesce(due.c.overdue, 0),
                   last.c.last_on, func.coalesce(answered.c.n, 0))
            .outerjoin(due, due.c.wu_id == WaterUser.id).outerjoin(last, last.c.wu_id == WaterUser.id)
            .outerjoin(answered, answered.c.wu_id == WaterUser.id)
            .where(WaterUser.status == "active"))
    stmt = access.scoped(stmt, account)
    q = (q or "").strip()[:100]
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(WaterUser.name.ilike(like, escape="\\"), WaterUser.file_no.ilike(like, escape="\\")))
    if due_only:
        stmt = stmt.where(or_(due.c.urgency.is_not(None), answered.c.n > 0))
    return stmt.order_by(urgency, due.c.next_due.is_(None), due.c.next_due, last.c.last_on.is_not(None),
                         last.c.last_on, WaterUser.file_no)


def due_items_of(session: Session, water_user_ids: list[int], today: date) -> dict[int, list]:
    """(DueItem, status) per water user, most urgent first: one query for a page of visits."""
    status = status_expression(today).label("status")
    rows = session.execute(select(DueItem, status).where(DueItem.water_user_id.in_(water_user_ids or [-1]))
                           .order_by(DueItem.water_user_id, case((status == "overdue", 0), else_=1),
                                     DueItem.due_on)).all()
    out: dict[int, list] = {}
    for item, item_status in rows:
        out.setdefault(item.water_user_id, []).append((item, item_status))
    return out


def answers_to_verify(session: Session, account, limit: int = 50):
    """Rectification orders the enterprise has answered, waiting for an inspector: oldest answer first."""
    stmt = access.scoped(select(Rectification, WaterUser).join(WaterUser, WaterUser.id == Rectification.water_user_id)
                         .where(Rectification.status == "answered", Rectification.closed_at.is_(None)), account)
    return session.execute(stmt.order_by(Rectification.responded_on, Rectification.id).limit(limit)).all()


def attachments(session: Session, insp: Inspection) -> list[Document]:
    """The photos and the signature of an inspection (open documents only), in the order taken."""
    return list(session.scalars(select(Document).where(
        Document.record_type == "inspection", Document.record_id == insp.id,
        Document.water_user_id == insp.water_user_id, Document.closed_at.is_(None)).order_by(Document.id)))
