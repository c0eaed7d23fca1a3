"""Copies kept for the list page, refreshed in the transaction that changed their inputs,
whoever wrote them (services, the importer, test factories): an ORM flush that writes a permit
refreshes its file's ``water_users.permit_valid_to``; one that writes a water user's name
rewrites its ``water_user_name_bigrams``. Writers that bypass the ORM (demo data inserted in
bulk) call ``refresh_permit_valid_to`` and ``name_bigram_rows`` themselves; a dump carries both.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, event, func, inspect, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from registry.models.permit import Permit
from registry.models.water_user import IndustryPeriod, NameBigram, WaterUser

_CHUNK = 5000  # ids per statement: far below SQLite's limit on bound parameters


def latest_permit_end(water_user_id):
    """The end of the latest live permit of the file ``water_user_id`` (a column or an id)."""
    return (select(func.max(Permit.valid_to))
            .where(Permit.water_user_id == water_user_id, Permit.closed_at.is_(None), Permit.revoked_on.is_(None))
            .scalar_subquery())


def refresh_permit_valid_to(conn: Connection | Session, ids: Iterable[int]) -> dict[int, object]:
    """Recompute ``water_users.permit_valid_to`` of the files ``ids``; their new values by id."""
    table = WaterUser.__table__
    ids = sorted(set(ids))
    values = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        conn.execute(update(table).where(table.c.id.in_(chunk))
                     .values(permit_valid_to=latest_permit_end(table.c.id)))
        values.update(conn.execute(select(table.c.id, table.c.permit_valid_to).where(table.c.id.in_(chunk))).all())
    return values


def name_bigrams(name: str | None) -> set[str]:
    """The pairs of adjacent characters of ``name`` that a two-character search can be: no
    cased letter (searched case-blind, with ILIKE), not ASCII (numbers and codes), no space."""
    name = name or ""
    pairs = {name[i:i + 2] for i in range(len(name) - 1)}
    return {p for p in pairs if searchable_bigram(p)}


def searchable_bigram(text: str) -> bool:
    """True when ``text`` is two characters that ``water_user_name_bigrams`` holds whenever a
    name contains them: the list's search then reads that table instead of every name."""
    return (len(text) == 2 and not text.isascii() and text.lower() == text.upper()
            and not any(ch.isspace() for ch in text))


def name_bigram_rows(water_user_id: int, name: str | None) -> list[dict]:
    return [{"bigram": b, "water_user_id": water_user_id} for b in sorted(name_bigrams(name))]


@event.listens_for(Session, "after_flush")
def _permits_flushed(session: Session, _context) -> None:
    ids = {obj.water_user_id for obj in (*session.new, *session.dirty, *session.deleted)
           if isinstance(obj, Permit) and obj.water_user_id is not None}
    if ids:
        session.info.setdefault("permit_valid_to", {}).update(refresh_permit_valid_to(session.connection(), ids))


@event.listens_for(Session, "after_flush")
def _names_flushed(session: Session, _context) -> None:
    named = [wu for wu in session.new if isinstance(wu, WaterUser)]
    named += [wu for wu in session.dirty
              if isinstance(wu, WaterUser) and inspect(wu).attrs.name.history.has_changes()]
    if not named:
        return
    conn, table = session.connection(), NameBigram.__table__
    renamed = [wu.id for wu in named if wu not in session.new]
    for start in range(0, len(renamed), _CHUNK):
        conn.execute(delete(table).where(table.c.water_user_id.in_(renamed[start:start + _CHUNK])))
    rows = [row for wu in named for row in name_bigram_rows(wu.id, wu.name)]
    if rows:
        conn.execute(insert(table), rows)


@event.listens_for(Session, "after_flush")
def _industries_flushed(session: Session, _context) -> None:
    """Keep the industry history (water_user_industries) on every write of a file's industry,
    whatever wrote it (the form, the API, an import): a new file's industry from its opening, a
    change from the bureau's today; a file without history (opened before it was kept) first
    gets its old industry from its opening."""
    from registry import clock

    rows, touched = [], []
    for wu in session.new:
        if isinstance(wu, WaterUser):
            rows.append({"water_user_id": wu.id, "industry_code": wu.industry_code, "since": wu.opened_on})
    changed = [(wu, inspect(wu).attrs.industry_code.history) for wu in session.dirty
               if isinstance(wu, WaterUser) and wu not in session.new
               and inspect(wu).attrs.industry_code.history.has_changes()]
    if not rows and not changed:
        return
    conn, table = session.connection(), IndustryPeriod.__table__
    today = clock.today()
    for wu, history in changed:
        old = history.deleted[0] if history.deleted else None
        if old is None or old == wu.industry_code:
            continue
        kept = conn.execute(select(func.count()).select_from(table).where(table.c.water_user_id == wu.id)).scalar_one()
        if not kept:
            rows.append({"water_user_id": wu.id, "industry_code": old, "since": wu.opened_on})
        rows.append({"water_user_id": wu.id, "industry_code": wu.industry_code, "since": max(today, wu.opened_on)})
        touched.append(wu.id)
    if rows:
        conn.execute(insert(table), rows)
    if touched:
        session.info.setdefault("industries_changed", set()).update(touched)


@event.listens_for(Session, "after_flush_postexec")
def _show_new_values(session: Session, _context) -> None:
    """Give the files already loaded their new value without a reload (nor a lazy load later)."""
    for water_user_id in session.info.pop("industries_changed", ()):
        wu = session.identity_map.get(identity_key(WaterUser, water_user_id))
        if wu is not None:
            session.expire(wu, ["industry_history"])
    values = session.info.pop("permit_valid_to", None)
    for water_user_id, value in (values or {}).items():
        wu = session.identity_map.get(identity_key(WaterUser, water_user_id))
        if wu is not None:
            set_committed_value(wu, "permit_valid_to", value)


@event.listens_for(Session, "after_soft_rollback")
def _forget_new_values(session: Session, _previous) -> None:
    """A flush that failed after computing the values never reached after_flush_postexec."""
    session.info.pop("permit_valid_to", None)
    session.info.pop("industries_changed", None)
