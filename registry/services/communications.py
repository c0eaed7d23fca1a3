"""Communications history 往来记录: what was sent to a water user, when, to whom, by which
channel, and what became of it; and what people do with it: an enterprise acknowledges a
notice, the bureau marks a bounced e-mail and posts the letters that are due.

Every query is scoped through :mod:`registry.access`; objects out of scope are NotFound.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from registry import access
from registry.models import Account, Communication, WaterUser, utcnow
from registry.services import reminders
from registry.services.checks import refuse_control
from registry.services.errors import ValidationError
from registry.services.unit_of_work import FileChange

HISTORY_LIMIT = 200
OUTBOX_VIEWS = ("queued", "failed", "letters", "all")


def _acknowledged():
    """True when the item of the communication was acknowledged on some channel."""
    other = aliased(Communication)
    return exists().where(other.item_key == Communication.item_key, other.status == "acknowledged")


def letters_due_filter():
    """Letters waiting to be printed and posted; an item acknowledged in the portal needs none."""
    return (Communication.channel == "letter") & (Communication.status == "queued") & ~_acknowledged()


@dataclass
class HistoryRow:
    communication: Communication
    acknowledged_by: str | None
    state: str  # queued | sent | failed | acknowledged | letter_due | not_needed


def history(session: Session, account, water_user_id: int, limit: int = HISTORY_LIMIT) -> list[HistoryRow]:
    """The file's communications, newest first, with what each needs next."""
    access.require(account, "water_user.read", within=water_user_id)
    acknowledger = aliased(Account)
    rows = session.execute(
        select(Communication, acknowledger, _acknowledged().label("item_acknowledged"))
        .outerjoin(acknowledger, acknowledger.id == Communication.acknowledged_by_id)
        .where(Communication.water_user_id == water_user_id)
        .order_by(Communication.created_at.desc(), Communication.id.desc()).limit(limit)).all()
    out = []
    for comm, who, item_acknowledged in rows:
        state = comm.status
        if comm.channel == "letter" and comm.status == "queued":
            state = "not_needed" if item_acknowledged else "letter_due"
        out.append(HistoryRow(comm, who.label if who else None, state))
    return out


def notices(session: Session, account, water_user_ids: list[int], limit: int = 50) -> list[Communication]:
    """In-app notices of the account's files: those to acknowledge first, then the newest."""
    if not water_user_ids:
        return []
    stmt = access.scoped(
        select(Communication).join(WaterUser, WaterUser.id == Communication.water_user_id)
        .where(Communication.water_user_id.in_(water_user_ids), Communication.channel == "in_app"), account)
    stmt = stmt.order_by((Communication.status == "acknowledged").asc(), Communication.created_at.desc(),
                         Communication.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def get(session: Session, account, water_user_id: int, communication_id: int) -> Communication:
    return access.get_record(account, Communication, communication_id, within=water_user_id)


def acknowledge(session: Session, actor, comm: Communication) -> Communication:
    """The enterprise confirms it has read a notice (确认收到); asking twice changes nothing."""
    access.require(actor, "portal.use", within=comm.water_user_id)
    if comm.channel != "in_app":
        raise ValidationError({"_": _l("Only notices shown in the portal can be acknowledged here.")})
    if comm.status == "acknowledged":
        return comm
    # A notice read changes no score: nothing to re-evaluate (evaluate=False), the trail keeps it.
    with FileChange(session, actor, evaluate=False) as change:
        before = comm.status
        comm.status, comm.acknowledged_at, comm.acknowledged_by_id = "acknowledged", utcnow(), actor.id
        change.flush()
        change.audit("acknowledge", comm, water_user_id=comm.water_user_id,
                     summary=f"notice: {comm.subject}"[:300], changes={"status": [before, "acknowledged"]})
    return comm


def mark_bounced(session: Session, actor, comm: Communication, note: str | None = None) -> Communication | None:
    """A sent e-mail came back (退信): failed, and a letter becomes due. Returns the letter."""
    access.require(actor, "letter.manage", within=comm.water_user_id)
    if comm.channel != "email" or comm.status not in ("sent", "queued"):
        raise ValidationError({"_": _l("Only an e-mail that is queued or sent can be marked as bounced.")})
    note = " ".join((note or "").split())[:500]
    refuse_control("note", note)
    with FileChange(session, actor, evaluate=False):
        letter = reminders.mark_failed(session, actor, comm, f"bounced: {note}" if note else "bounced")
    return letter


def letters_due(session: Session, account, ids: list[int] | None = None) -> list[Communication]:
    """Letters to print for the account's scope (or those of ``ids`` among them), oldest first."""
    stmt = access.scoped(select(Communication).join(WaterUser, WaterUser.id == Communication.water_user_id)
                         .where(letters_due_filter()), account)
    if ids is not None:
        stmt = stmt.where(Communication.id.in_(ids))
    return list(session.scalars(stmt.order_by(Communication.created_at, Communication.id)))


def mark_posted(session: Session, actor, ids: list[int]) -> int:
    """The printed letters were posted (寄出): they count as sent today. Returns how many."""
    access.require(actor, "letter.manage")
    if not ids:
        raise ValidationError({"ids": _l("Choose at least one letter.")})
    with FileChange(session, actor, evaluate=False) as change:
        letters = letters_due(session, actor, ids)
        now = utcnow()
        for letter in letters:
            letter.status, letter.sent_at = "sent", now
            change.audit("post", letter, water_user_id=letter.water_user_id,
                         summary=f"letter to {letter.recipient}: {letter.subject}"[:300],
                         changes={"status": ["queued", "sent"]})
    return len(letters)


def outbox(account, view: str):
    """The bureau's outbox as a select (paginated by the page): e-mails not sent, failed ones,
    letters due, or everything."""
    stmt = access.scoped(select(Communication, WaterUser).join(WaterUser, WaterUser.id == Communication.water_user_id),
                         account)
    if view == "queued":
        stmt = stmt.where(Communication.channel == "email", Communication.status == "queued")
    elif view == "failed":
        stmt = stmt.where(Communication.channel == "email", Communication.status == "failed")
    elif view == "letters":
        stmt = stmt.where(letters_due_filter())
    else:
        stmt = stmt.where(Communication.channel != "in_app")
    return stmt.order_by(Communication.created_at.desc(), Communication.id.desc())


def counts(session: Session, account) -> dict[str, int]:
    """How many in each outbox view, for the tabs."""
    out = {}
    for view in OUTBOX_VIEWS:
        stmt = outbox(account, view).order_by(None).with_only_columns(func.count(Communication.id))
        out[view] = session.execute(stmt).scalar_one()
    return out


def letter_data(comm: Communication, wu: WaterUser, today):
    """What the printed letter says: the stored text, addressed to the file as it is today."""
    from registry.pdf.letter import LetterData

    return LetterData(reference=f"YW-L{comm.id:06d}", name=wu.name, contact=wu.contact_name or "",
                      address=wu.address or "", file_no=wu.file_no, subject=comm.subject, body=comm.body,
                      dated=today)
