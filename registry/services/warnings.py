"""Warnings 预警 (issue 17): the detection over every file, and what staff do with a warning.

:func:`detect` loads the recent use of every meter of the active files in a fixed number of
queries (meters, monthly readings, permits, last telemetry point, last daily reading, warnings
already known), judges it with ``registry.domain.warnings`` (the plausibility rules and the
meter's silence) and writes through one :class:`FileChange`: a new cause becomes a warning (its
creation audited, the enterprise told once by the reminder channels: a portal notice, and an
e-mail when the file has an address); a cause already open is detected again (its count, time
and figures updated, never a second row); a cause already closed stays closed.

Staff assign a warning to an inspector and close it with an outcome and a note, audited like
any change of a file.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from registry import access
from registry.bulk import one_of
from registry.domain import due
from registry.domain import warnings as detection
from registry.domain.dates import add_months
from registry.domain.plausibility import Finding
from registry.models import (Account, Communication, Meter, Permit, Reading, TelemetryPoint, UseWarning,
                             WARNING_KINDS, WARNING_OUTCOMES, WaterUser, account_divisions, utcnow)
from registry.services import analysis, mailer, messages, plausibility_context, reminders
from registry.services.checks import Checker
from registry.services.errors import ValidationError
from registry.services.unit_of_work import FileChange

LIVE_STATUSES = ("accepted", "pending", "flagged")


@dataclass
class Outcome:
    files: int = 0
    meters: int = 0
    created: int = 0
    detected_again: int = 0
    notices: int = 0
    seconds: float = 0.0
    new_ids: list[int] = field(default_factory=list)


# --- detection ---------------------------------------------------------------------------------


def _histories(session: Session, today: date, ids: list[int] | None):
    months = detection.months_judged(today)
    first = add_months(months[0], -12)
    active = [WaterUser.status == "active"] + ([WaterUser.id.in_(ids)] if ids else [])
    meters = session.execute(
        select(Meter.id, Meter.water_user_id, Meter.telemetry_id, Meter.removed_on, Meter.installed_on)
        .join(WaterUser, WaterUser.id == Meter.water_user_id)
        .where(Meter.closed_at.is_(None), *active)).all()
    permits = analysis.permit_facts(session.execute(
        analysis.permit_rows([Permit.valid_to >= date(months[0].year, 1, 1), *active])
        .join(WaterUser, WaterUser.id == Permit.water_user_id)))
    years = sorted({m.year for m in months})
    permitted = {wu: {y: due.max_permitted_volume(ps, date(y, 1, 1), date(y, 12, 31)) for y in years}
                 for wu, ps in permits.items()}
    counted: dict[int, dict[date, float]] = defaultdict(dict)
    live: dict[int, dict[date, tuple[float, list | None]]] = defaultdict(dict)
    for r in session.execute(
            select(Reading.meter_id, Reading.period, Reading.volume_m3, Reading.status, Reading.flags)
            .join(WaterUser, WaterUser.id == Reading.water_user_id)
            .where(Reading.period >= first, Reading.read_on.is_(None), Reading.closed_at.is_(None),
                   Reading.status.in_(LIVE_STATUSES), *active)):
        if r.status == "accepted":
            counted[r.meter_id][r.period] = r.volume_m3
        if r.period >= months[0]:
            live[r.meter_id][r.period] = (r.volume_m3, r.flags if isinstance(r.flags, list) else None)
    histories = [detection.MeterHistory(m.id, m.water_user_id, counted.get(m.id, {}), live.get(m.id, {}),
                                        permitted.get(m.water_user_id, {})) for m in meters]
    online = [m for m in meters if m.telemetry_id is not None and m.removed_on is None]
    return months, histories, online


def _last_seen(session: Session, online, tz, few: bool) -> dict[int, datetime]:
    """The last point of each online meter, else the end of its last day with a daily reading
    (``few``: the meters are named, as after a batch of readings; else every online meter)."""
    if not online:
        return {}
    ids = {m.id for m in online}
    named = [one_of(session, Reading.meter_id, ids, Integer)] if few else [Meter.telemetry_id.is_not(None)]
    seen: dict[int, datetime] = {}
    for meter_id, day in session.execute(
            select(Reading.meter_id, func.max(Reading.read_on)).join(Meter, Meter.id == Reading.meter_id)
            .where(*named, Reading.read_on.is_not(None), Reading.closed_at.is_(None),
                   Reading.status != "rejected").group_by(Reading.meter_id)):
        if meter_id in ids and day is not None:
            seen[meter_id] = detection.last_seen_day_end(day, tz)
    named = [one_of(session, TelemetryPoint.meter_id, ids, Integer)] if few else [Meter.telemetry_id.is_not(None)]
    for meter_id, at in session.execute(
            select(TelemetryPoint.meter_id, func.max(TelemetryPoint.at)).join(Meter, Meter.id == TelemetryPoint.meter_id)
            .where(*named).group_by(TelemetryPoint.meter_id)):
        if meter_id in ids and at is not None:
            seen[meter_id] = at
    return seen


def detect(session: Session, *, today: date, now: datetime, rules, ids: list[int] | None = None,
           progress: Callable[[int], None] | None = None,
           settings: reminders.Settings | None = None) -> Outcome:
    """Detect the anomalies of every active file (or of ``ids``) and keep one warning per cause."""
    started = time.perf_counter()
    out = Outcome()
    months, histories, online = _histories(session, today, ids)
    found: dict[str, detection.Detection] = {}
    for n, h in enumerate(histories, 1):
        for d in detection.detect_meter(h, months, rules, today):
            found.setdefault(d.key, d)
        if progress and n % 5000 == 0:
            progress(5000)
    last = _last_seen(session, online, now.tzinfo, few=ids is not None)
    for m in online:
        d = detection.silence(m.water_user_id, m.id, last.get(m.id), now, rules, installed_on=m.installed_on)
        if d is not None:
            found.setdefault(d.key, d)
    out.meters = len(histories)
    out.files = len({h.water_user_id for h in histories})
    if progress and out.meters % 5000:
        progress(out.meters % 5000)
    # The warnings a cause found now may already have: every live one, and the closed ones of the
    # months judged or of a silence (keyed by the day it began, however long ago): one query.
    known = {}
    mine = [one_of(session, UseWarning.water_user_id, ids, Integer)] if ids is not None else []
    for w in session.execute(select(UseWarning.id, UseWarning.dedupe_key, UseWarning.status, UseWarning.detections)
                             .where((UseWarning.status != "closed") | (UseWarning.period >= months[0])
                                    | (UseWarning.kind == "silence"), *mine)):
        if w.dedupe_key in found and (w.dedupe_key not in known or w.status != "closed"):
            known[w.dedupe_key] = w
    with FileChange(session, evaluate=False, rules=rules, today=today) as change:
        again = [{"wid": w.id, "n": w.detections + 1, "at": now, "ev": found[k].evidence}
                 for k, w in known.items() if w.status != "closed"]
        if again:
            table = UseWarning.__table__
            session.execute(table.update().where(table.c.id == bindparam("wid"))
                            .values(detections=bindparam("n"), last_detected_at=bindparam("at"),
                                    evidence=bindparam("ev")), again)
            change.audit("detect", entity="UseWarning", entity_id=None,
                         summary=f"warnings detected again: {len(again)}",
                         changes={"detected_again": [None, len(again)]})
        fresh = [d for k, d in found.items() if k not in known]
        rows = [UseWarning(water_user_id=d.water_user_id, meter_id=d.meter_id, kind=d.kind, period=d.period,
                           dedupe_key=d.key, evidence=d.evidence, status="open", first_detected_at=now,
                           last_detected_at=now, detections=1) for d in fresh]
        session.add_all(rows)
        change.flush()
        for w in rows:
            change.audit("create", w, water_user_id=w.water_user_id, summary=f"warning: {w.period:%Y-%m}", changes={
                "kind": [None, w.kind], "period": [None, w.period.isoformat()], "meter_id": [None, w.meter_id],
                "status": [None, w.status]})
        out.notices = _notify(change, rows, settings or reminders.Settings())
        out.new_ids = [w.id for w in rows]  # read before the commit expires them
    out.created = len(rows)
    out.detected_again = len(again)
    out.seconds = time.perf_counter() - started
    return out


# --- telling the enterprise ---------------------------------------------------------------------


def describe(kind: str, evidence: dict) -> str:
    """The finding behind a warning in the reader's language, with its figures and rule."""
    figures = evidence.get("figures") or {}
    if kind == "silence":
        return _("No data from the online meter for %(h)s hours (allowed: up to %(l)d hours).",
                 h=f"{figures.get('hours', evidence.get('value', 0)):,.1f}",
                 l=int(figures.get("limit_hours", evidence.get("high") or 0)))
    try:
        return plausibility_context.message(Finding(kind, figures))
    except (KeyError, TypeError, ValueError):
        return kind


def _notify(change: FileChange, rows: list[UseWarning], settings: reminders.Settings) -> int:
    """One portal notice (and an e-mail when the file has an address) per new warning."""
    if not rows:
        return 0
    session = change.session
    messages.ensure_defaults(session)
    wordings = messages.current(session)
    ids = sorted({w.water_user_id for w in rows})
    users = {wu.id: wu for wu in session.scalars(select(WaterUser).where(WaterUser.id.in_(ids)))}
    serials = dict(session.execute(select(Meter.id, Meter.serial).where(
        Meter.id.in_({w.meter_id for w in rows if w.meter_id}))).all()) if any(w.meter_id for w in rows) else {}
    language_of = reminders.languages(session, ids, settings.default_language)
    reasons: dict[int, str] = {}
    for language in set(language_of.values()):  # the translations switched once per language, not per warning
        with force_locale(language):
            reasons.update({id(w): describe(w.kind, w.evidence) for w in rows if language_of[w.water_user_id] == language})
    today, now = change.today, utcnow()
    out = []
    for w in rows:
        wu = users[w.water_user_id]
        notice = reminders.Reminder(
            water_user_id=wu.id, kind="notice", topic="use_warning", step="new", item_key=f"use_warning:{w.id}",
            item=" ".join(part for part in (serials.get(w.meter_id, ""), f"{w.period:%Y-%m}") if part),
            reason=reasons[id(w)])
        subject, body = reminders.compose(notice, wu, language_of[wu.id], wordings, settings, today)
        email = (wu.email or "").strip()
        channels = ("in_app", "email") if mailer.is_address(email) else ("in_app",)
        for channel in channels:
            out.append(Communication(water_user_id=wu.id, kind=notice.kind, topic=notice.topic,
                                     item_key=notice.item_key, channel=channel,
                                     recipient=email if channel == "email" else None, subject=subject, body=body,
                                     status="sent" if channel == "in_app" else "queued",
                                     sent_at=now if channel == "in_app" else None))
    session.add_all(out)
    return len(out)


# --- what staff see and do --------------------------------------------------------------------


def listing(account, filters: dict) -> Select:
    """The warnings in the account's scope, filtered (kind, division, industry, status), the
    open ones first, newest month first."""
    stmt = access.scoped(
        select(UseWarning.id, UseWarning.kind, UseWarning.period, UseWarning.status, UseWarning.evidence,
               UseWarning.detections, UseWarning.last_detected_at, WaterUser.id, WaterUser.file_no, WaterUser.name,
               Meter.serial, Account.display_name, Account.username)
        .join(WaterUser, WaterUser.id == UseWarning.water_user_id)
        .outerjoin(Meter, Meter.id == UseWarning.meter_id)
        .outerjoin(Account, Account.id == UseWarning.assignee_id), account)
    if filters.get("kind") in WARNING_KINDS:
        stmt = stmt.where(UseWarning.kind == filters["kind"])
    if filters.get("division"):
        stmt = stmt.where(WaterUser.division_code == filters["division"])
    if filters.get("industry"):
        stmt = stmt.where(WaterUser.industry_code.startswith(filters["industry"], autoescape=True))
    status = filters.get("status") or "live"
    if status == "live":
        stmt = stmt.where(UseWarning.status != "closed")
    elif status in ("open", "assigned", "closed"):
        stmt = stmt.where(UseWarning.status == status)
    if filters.get("water_user_id"):
        stmt = stmt.where(UseWarning.water_user_id == filters["water_user_id"])
    return stmt.order_by((UseWarning.status == "closed").asc(), UseWarning.period.desc(), UseWarning.id.desc())


def for_file(session: Session, water_user_id: int, limit: int = 50) -> list[UseWarning]:
    """A file's warnings, the live ones first (the caller has checked the scope)."""
    return session.scalars(select(UseWarning).options(selectinload(UseWarning.meter))
                           .where(UseWarning.water_user_id == water_user_id)
                           .order_by((UseWarning.status == "closed").asc(), UseWarning.period.desc(),
                                     UseWarning.id.desc()).limit(limit)).all()


def live_for_files(session: Session, water_user_ids: list[int], limit: int = 50) -> list[UseWarning]:
    """The warnings not closed of these files (the enterprise's portal; the caller scoped the ids)."""
    if not water_user_ids:
        return []
    return session.scalars(select(UseWarning).options(selectinload(UseWarning.meter))
                           .where(UseWarning.water_user_id.in_(water_user_ids), UseWarning.status != "closed")
                           .order_by(UseWarning.period.desc(), UseWarning.id.desc()).limit(limit)).all()


def meters_to_judge(session: Session) -> int:
    """How many meters a run judges (the length of the command's progress bar)."""
    return session.execute(select(func.count()).select_from(Meter).join(WaterUser, WaterUser.id == Meter.water_user_id)
                           .where(Meter.closed_at.is_(None), WaterUser.status == "active")).scalar_one()


def live_count(session: Session, account) -> int:
    return session.execute(access.scoped(
        select(func.count()).select_from(UseWarning).join(WaterUser, WaterUser.id == UseWarning.water_user_id)
        .where(UseWarning.status != "closed"), account)).scalar_one()


def inspectors(session: Session, warning: UseWarning) -> list[Account]:
    """The inspectors who may be given the warning: active, city-wide or of the file's division."""
    wu = session.get(WaterUser, warning.water_user_id)
    ours = select(account_divisions.c.account_id).where(account_divisions.c.division_code == wu.division_code)
    return session.scalars(select(Account).where(Account.role == "inspector", Account.active.is_(True),
                                                 (Account.city_wide.is_(True)) | Account.id.in_(ours))
                           .order_by(Account.username)).all()


def assign(session: Session, actor, warning: UseWarning, data: dict) -> UseWarning:
    """Give the warning to an inspector (指派): it is then ``assigned`` until closed."""
    access.require(actor, "warning.handle", within=warning.water_user_id)
    if warning.status == "closed":
        raise ValidationError({"assignee_id": _l("The warning is closed.")})
    try:
        assignee_id = int(data.get("assignee_id"))
    except (TypeError, ValueError):
        raise ValidationError({"assignee_id": _l("Choose an inspector.")}) from None
    if assignee_id not in {a.id for a in inspectors(session, warning)}:
        raise ValidationError({"assignee_id": _l("Choose an inspector who works on this file's division.")})
    with FileChange(session, actor, evaluate=False) as change:
        before = {"assignee_id": warning.assignee_id, "status": warning.status}
        warning.assignee_id = assignee_id
        warning.status = "assigned"
        change.flush()
        change.audit("update", warning, water_user_id=warning.water_user_id,
                     changes={k: [v, getattr(warning, k)] for k, v in before.items() if v != getattr(warning, k)}
                     or {"assignee_id": [assignee_id, assignee_id]}, summary=f"warning: {warning.period:%Y-%m}")
    return warning


def close(session: Session, actor, warning: UseWarning, data: dict) -> UseWarning:
    """Close the warning with its outcome (explained, meter fault, visit ordered, rectification
    ordered) and a note saying what was found."""
    access.require(actor, "warning.handle", within=warning.water_user_id)
    c = Checker(data)
    if warning.status == "closed":
        c.fail("outcome", _l("The warning is closed."))
    elif data.get("outcome") not in WARNING_OUTCOMES:
        c.fail("outcome", _l("Choose the outcome."))
    if not str(data.get("note") or "").strip():
        c.fail("note", _l("Say what was found."))
    note = c.text("note", max_len=2000, multiline=True)
    c.done()
    outcome = data["outcome"]
    with FileChange(session, actor, evaluate=False) as change:
        before = {"status": warning.status, "outcome": warning.outcome, "note": warning.note}
        warning.status = "closed"
        warning.outcome = outcome
        warning.note = note
        warning.closed_by_id = getattr(actor, "id", None)
        warning.closed_at = utcnow()
        change.flush()
        change.audit("close", warning, water_user_id=warning.water_user_id,
                     changes={k: [v, getattr(warning, k)] for k, v in before.items()},
                     summary=f"warning: {warning.period:%Y-%m}")
    return warning

