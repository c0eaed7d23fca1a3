"""Reminders 到期提醒: what falls due becomes a message to the water user, once per item and step.

The nightly ``registry remind`` computes each open file's due items for the day (the same
``domain.due`` engine as the file page and the score, from facts loaded set-based), turns each
item that has reached a reminder step into a :class:`Reminder` and stores it as communications:

- always an in-app notice (channel ``in_app``) on the enterprise's portal, to acknowledge;
- an e-mail (``email``) when the file has an address, queued and then sent over SMTP; without
  mail settings it stays queued in the bureau's outbox;
- a letter (``letter``) to print when the file has no usable address, or when the e-mail was
  refused (:func:`deliver`).

Steps: a permit's renewal at the rules' ``permit.reminder_days`` (90, 45, 15 days before expiry,
:func:`registry.domain.permits.reminder_step`) and once expired; meter verification, service
life, water-balance test and rectification deadline when due soon (the engine's soon windows)
and again when overdue; the annual plan and last month's readings once missing. A new
certificate, and a revoked one, is announced too. The item key names the record, its due date
and the step (``permit_renewal:12:2026-03-01:45``), and is unique per channel in the table, so
a rerun — the same night or after a missed one — never sends the same reminder twice, while a
new due date (a meter verified again) starts its own steps.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable, Iterable, Iterator, Mapping

from flask_babel import force_locale
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from registry.domain import due as due_engine
from registry.domain.facts import FileFacts
from registry.domain.permits import reminder_step
from registry.domain.rules import Rules
from registry.models import Account, Certificate, Communication, Rectification, WaterUser, account_water_users, utcnow
from registry.services import audit, mailer, messages
from registry.services.certificate_status import reason_text
from registry.services.evaluations import iter_facts
from registry.services.unit_of_work import FileChange

BATCH = 500
CERTIFICATE_NEWS_DAYS = 30  # certificates issued or revoked this recently are announced (once)
ONLY_WHEN_MISSING = ("annual_plan", "monthly_readings")  # nothing to say before they are late


@dataclass(frozen=True)
class Reminder:
    """One message to send (on every channel that applies): a due item at one step."""

    water_user_id: int
    kind: str  # reminder | certificate
    topic: str  # a due kind, certificate_issued or certificate_revoked
    step: str  # 90 / 45 / 15 / expired (permits), soon / overdue, or issued / revoked
    item_key: str
    item: str = ""  # what it is about, as printed: permit number, meter serial, month ...
    due_on: date | None = None
    reason: str = ""


@dataclass
class Settings:
    """What the wording depends on besides the file."""

    bureau: str = "义乌市水务局"
    bureau_en: str = "Yiwu Water Bureau"
    public_url: str = "http://127.0.0.1:5000"
    default_language: str = "zh_CN"

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(bureau=config.get("BUREAU_NAME") or cls.bureau, bureau_en=config.get("BUREAU_NAME_EN") or cls.bureau_en,
                   public_url=str(config.get("PUBLIC_URL") or cls.public_url).rstrip("/"),
                   default_language=config.get("BABEL_DEFAULT_LOCALE") or cls.default_language)

    @property
    def portal_url(self) -> str:
        return f"{self.public_url}/portal"


@dataclass
class Planned:
    """A reminder with the channels it would be created on, for the run's report."""

    file_no: str
    reminder: Reminder
    channels: tuple[str, ...]


@dataclass
class RunResult:
    files: int = 0
    created: Counter = field(default_factory=Counter)  # channel -> rows
    topics: Counter = field(default_factory=Counter)  # topic -> reminders
    planned: list[Planned] = field(default_factory=list)

    @property
    def reminders(self) -> int:
        return sum(self.topics.values())


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    letters: int = 0
    stopped: str | None = None  # why sending stopped early (the server went away)


# --- which reminders are due (pure) ---------------------------------------------------------


def step_of(item: due_engine.DueItem, today: date, rules: Rules) -> str | None:
    """The reminder step ``item`` has reached today, or None when there is nothing to say."""
    if item.status == "ok":
        return None
    if item.kind == "permit_renewal":
        if item.params.get("pending_decision"):
            return None  # applied for in time (art. 25): the bureau decides, nothing to remind
        applied = item.params.get("renewal_applied_on")
        if item.status != "overdue" and applied and applied <= today.isoformat():
            return None  # applied for, if late (the score says so): asking again changes nothing
        if item.status == "overdue":
            return "expired"
        step = reminder_step(item.due_on, today, rules)
        return None if step is None else str(step)
    if item.kind in ONLY_WHEN_MISSING:
        return "overdue" if item.status == "overdue" else None
    if item.kind == "rectification" and item.params.get("rectification_status") == "answered":
        return None  # the enterprise has answered; the inspector verifies next
    return "overdue" if item.status == "overdue" else "soon"


def _item_key(item: due_engine.DueItem, water_user_id: int, step: str) -> str:
    record_id = item.record[1] if item.record else water_user_id
    if item.kind == "annual_plan":
        return f"annual_plan:{water_user_id}:{item.params['year']}"
    if item.kind == "monthly_readings":
        return f"monthly_readings:{water_user_id}:{item.params['month']}"
    if item.kind == "balance_test":
        record_id = water_user_id  # the last test changes when a new one is recorded; the file does not
    return f"{item.kind}:{record_id}:{item.due_on.isoformat()}:{step}"


def _item_text(item: due_engine.DueItem, requirements: Mapping[int, str]) -> str:
    p = item.params
    if item.kind == "permit_renewal":
        return str(p.get("number", ""))
    if item.kind in ("calibration", "service_life"):
        return str(p.get("serial", ""))
    if item.kind == "annual_plan":
        return str(p.get("year", ""))
    if item.kind == "monthly_readings":
        month = int(p.get("month", 0))
        return f"{month // 100:04d}-{month % 100:02d}"
    if item.kind == "rectification":
        return requirements.get(item.record[1], "")
    return ""


def reminders_for(facts: FileFacts, today: date, rules: Rules,
                  requirements: Mapping[int, str] | None = None) -> list[Reminder]:
    """The reminders a file's due items call for today, most urgent first."""
    windows = {"permit_renewal": max(rules.permit.reminder_days, default=rules.permit.renewal_window_days)}
    out = []
    for item in due_engine.due_items(facts, today, rules, soon_days=windows):
        step = step_of(item, today, rules)
        if step is None or item.due_on is None:
            continue
        out.append(Reminder(facts.water_user_id, "reminder", item.kind, step,
                            _item_key(item, facts.water_user_id, step), _item_text(item, requirements or {}),
                            item.due_on))
    out.extend(plan_proposal_reminders(facts, today, rules))
    return out


def plan_proposal_reminders(facts: FileFacts, today: date, rules: Rules) -> list[Reminder]:
    """Before the deadline to propose next year's plan (rules ``plan_year``: 31 December, reminders
    30, 15 and 5 days before): a file that must have a plan next year and has neither a plan nor a
    waiting or approved proposal for it is reminded once per step."""
    from registry.domain import plans as plan_rules

    year = today.year + 1
    month_day = rules.plan_year.deadline_month_day
    if plan_rules.proposal_deadline(year, month_day) < today:  # a deadline early in the year: that year's plan
        return []
    step = plan_rules.proposal_reminder_step(year, today, month_day, rules.plan_year.reminder_days)
    if step is None or due_engine.is_paused(facts) or facts.status == "closed":
        return []
    volume = due_engine.annual_permitted_volume(facts, today, rules)
    if not due_engine.plan_required(volume, rules) or not due_engine.plan_required_in(facts, year):
        return []
    if year in facts.proposed_years or any(p.year == year for p in facts.plans):
        return []
    deadline = plan_rules.proposal_deadline(year, month_day)
    return [Reminder(facts.water_user_id, "reminder", "plan_proposal", str(step),
                     f"plan_proposal:{facts.water_user_id}:{year}:{step}", str(year), deadline)]


def certificate_reminders(certs: Iterable[Certificate], today: date, reason_text: Callable) -> list[Reminder]:
    """Announce certificates issued or revoked in the last :data:`CERTIFICATE_NEWS_DAYS` days."""
    since = today - timedelta(days=CERTIFICATE_NEWS_DAYS)
    out = []
    for c in certs:
        if c.status == "revoked" and c.revoked_on and c.revoked_on >= since:
            out.append(Reminder(c.water_user_id, "certificate", "certificate_revoked", "revoked",
                                f"certificate_revoked:{c.id}", c.number, c.revoked_on, reason_text(c)))
        elif c.status == "valid" and c.issued_on >= since and c.valid_until >= today:
            out.append(Reminder(c.water_user_id, "certificate", "certificate_issued", "issued",
                                f"certificate_issued:{c.id}", c.number, c.valid_until))
    return out


# --- wording ---------------------------------------------------------------------------------


def compose(reminder: Reminder, wu, language: str, wordings: Mapping, settings: Settings,
            today: date) -> tuple[str, str]:
    """Subject and body of one reminder in ``language`` (the bureau's template, else the default)."""
    language = language if language in messages.LANGUAGES else "zh_CN"
    wording = wordings[(reminder.topic, language)]
    days_left = None if reminder.due_on is None else (reminder.due_on - today).days
    context = {
        "name": wu.name, "file_no": wu.file_no, "contact": wu.contact_name or wu.name, "item": reminder.item,
        "due_on": reminder.due_on.isoformat() if reminder.due_on else "",
        "days_left": max(days_left, 0) if days_left is not None else "",
        "days_overdue": max(-days_left, 0) if days_left is not None else "",
        "state": messages.state_phrase(language, reminder.due_on, days_left) if reminder.kind == "reminder" else "",
        "reason": reminder.reason or "—",
        "bureau": settings.bureau_en if language == "en" else settings.bureau,
        "portal_url": settings.portal_url,
    }
    subject = " ".join(messages.render(wording.subject, context).split())[:300]
    return subject, messages.render(wording.body, context)


def postal_recipient(wu) -> str:
    return ", ".join(part for part in (wu.contact_name, wu.name, wu.address) if part)[:200]


# --- the nightly run -------------------------------------------------------------------------


def _batches(session: Session, today: date, ids) -> Iterator[list[FileFacts]]:
    batch: list[FileFacts] = []
    for facts in iter_facts(session, today, ids):
        batch.append(facts)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def languages(session: Session, ids: list[int], default: str) -> dict[int, str]:
    """A file's language: that of an enterprise account linked to it, else the bureau's (its
    reminders and its notices, e.g. a new warning, are written in it)."""
    rows = session.execute(
        select(account_water_users.c.water_user_id, Account.language)
        .join(Account, Account.id == account_water_users.c.account_id)
        .where(account_water_users.c.water_user_id.in_(ids), Account.role == "enterprise",
               Account.language.is_not(None), Account.closed_at.is_(None))
        .order_by(account_water_users.c.water_user_id, Account.id))
    out: dict[int, str] = {}
    for wu_id, language in rows:
        out.setdefault(wu_id, language)
    return {i: out.get(i, default) for i in ids}


def _reason_text(language: str) -> Callable:
    def text(cert) -> str:
        with force_locale(language):
            return str(reason_text(cert))
    return text


def run(session: Session, today: date, rules: Rules, settings: Settings, *, dry_run: bool = False,
        ids: list[int] | None = None, progress: Callable[[int], None] | None = None) -> RunResult:
    """Create today's reminders for every open file (or ``ids``); commits once unless ``dry_run``.

    Nothing is sent here: :func:`deliver` sends the queued e-mails afterwards.
    """
    result = RunResult()
    # One unit of work for the run (a dry run is rolled back); reminders change no score.
    with FileChange(session, evaluate=False) as change:
        if dry_run:
            change.discard()
        else:
            messages.ensure_defaults(session)
        _remind(change, today, rules, settings, dry_run, ids, progress, result)
    return result


def _remind(change: FileChange, today: date, rules: Rules, settings: Settings, dry_run: bool, ids, progress,
            result: RunResult) -> None:
    session = change.session
    wordings = messages.current(session)
    seen: set[str] = set()
    since = today - timedelta(days=CERTIFICATE_NEWS_DAYS)
    for batch in _batches(session, today, ids):
        wu_ids = [f.water_user_id for f in batch]
        rect_ids = [r.id for f in batch for r in f.rectifications if r.status == "open"]
        requirements = dict(session.execute(select(Rectification.id, Rectification.requirement)
                                            .where(Rectification.id.in_(rect_ids))).all()) if rect_ids else {}
        certs = session.scalars(select(Certificate).where(
            Certificate.water_user_id.in_(wu_ids), Certificate.closed_at.is_(None),
            or_(and_(Certificate.status == "valid", Certificate.issued_on >= since),
                and_(Certificate.status == "revoked", Certificate.revoked_on >= since)))).all()
        language_of = languages(session, wu_ids, settings.default_language)
        by_user: dict[int, list[Reminder]] = {f.water_user_id: reminders_for(f, today, rules, requirements)
                                              for f in batch}
        for cert_reminder in certificate_reminders(certs, today, lambda c: _reason_text(language_of[c.water_user_id])(c)):
            by_user[cert_reminder.water_user_id].append(cert_reminder)
        keys = [r.item_key for rs in by_user.values() for r in rs]
        existing = set(session.scalars(select(Communication.item_key).where(Communication.item_key.in_(keys)))) \
            if keys else set()
        users = {wu.id: wu for wu in session.scalars(select(WaterUser).where(WaterUser.id.in_(
            [i for i, rs in by_user.items() if rs])))}
        for wu_id, reminders in by_user.items():
            fresh = [r for r in reminders if r.item_key not in existing and r.item_key not in seen]
            seen.update(r.item_key for r in fresh)
            if fresh:
                _create(change, users[wu_id], fresh, language_of[wu_id], wordings, settings, today, result, dry_run)
        result.files += len(batch)
        if progress:
            progress(len(batch))


def _create(change: FileChange, wu, reminders: list[Reminder], language: str, wordings, settings: Settings,
            today: date, result: RunResult, dry_run: bool) -> None:
    email = (wu.email or "").strip()
    outward = ("email",) if mailer.is_address(email) else ("letter",)
    rows = []
    for r in reminders:
        channels = ("in_app", *outward)
        result.planned.append(Planned(wu.file_no, r, channels))
        result.topics[r.topic] += 1
        result.created.update(channels)
        if dry_run:
            continue
        subject, body = compose(r, wu, language, wordings, settings, today)
        now = utcnow()
        for channel in channels:
            rows.append(Communication(
                water_user_id=wu.id, kind=r.kind, topic=r.topic, item_key=r.item_key, channel=channel,
                recipient={"email": email, "letter": postal_recipient(wu)}.get(channel),
                subject=subject, body=body, status="sent" if channel == "in_app" else "queued",
                sent_at=now if channel == "in_app" else None))
    if dry_run:
        return
    change.session.add_all(rows)
    change.flush()
    summary = "; ".join(f"{r.topic} {r.step}" for r in reminders)
    change.audit("remind", rows[0], water_user_id=wu.id, summary=f"reminders: {summary}",
                 changes={"channels": [None, ", ".join(outward + ("in_app",))]})


def deliver(session: Session, settings: mailer.MailSettings, *, progress: Callable[[int], None] | None = None,
            ids: list[int] | None = None) -> Delivery:
    """Send every queued e-mail (or those of ``ids``), committing each outcome as it happens.

    Refused for good → ``failed`` with the server's answer, and a letter becomes due; deferred
    (4xx, connection lost) → stays queued for the next run. Raises MailServerUnavailable when
    no connection can be made at all (nothing changes then).
    """
    stmt = select(Communication.id).where(Communication.channel == "email", Communication.status == "queued")
    if ids is not None:
        stmt = stmt.where(Communication.id.in_(ids))
    queued = list(session.scalars(stmt.order_by(Communication.id)))
    outcome = Delivery()
    if not queued:
        return outcome
    with mailer.Mailer(settings) as smtp:
        for number, comm_id in enumerate(queued):
            # Each outcome is its own unit of work, kept even if a later message hangs the run.
            with FileChange(session, evaluate=False) as change:
                stop = _send_one(change, smtp, session.get(Communication, comm_id), outcome)
            if stop:  # the server went away: the rest waits for the next run
                outcome.deferred += len(queued) - number - 1
                break
            if progress:
                progress(1)
    return outcome


def _send_one(change: FileChange, smtp, comm: Communication, outcome: Delivery) -> bool:
    """Send one e-mail and record how it went; True when the server went away."""
    try:
        smtp.send(comm.recipient or "", comm.subject, comm.body, reference=comm.item_key)
    except mailer.PermanentFailure as err:
        mark_failed(change.session, None, comm, str(err))
        outcome.failed += 1
        outcome.letters += 1
    except mailer.TransientFailure as err:
        comm.error = f"deferred: {err}"[:2000]
        outcome.deferred += 1
        if not smtp.connected:
            outcome.stopped = str(err)
            return True
    else:
        comm.status, comm.sent_at, comm.error = "sent", utcnow(), None
        change.audit("send", comm, water_user_id=comm.water_user_id,
                     summary=f"e-mail to {comm.recipient}: {comm.subject}"[:300], changes={"status": ["queued", "sent"]})
        outcome.sent += 1
    return False


def mark_failed(session: Session, actor, comm: Communication, error: str) -> Communication | None:
    """An e-mail that did not arrive: failed, and a letter with the same text becomes due.
    Returns the letter (None when one exists already). Called inside the caller's unit of work."""
    before = comm.status
    comm.status, comm.error = "failed", error[:2000]
    audit.record(session, actor, "fail", comm, water_user_id=comm.water_user_id, reason=error[:500],
                 summary=f"e-mail to {comm.recipient}: {comm.subject}"[:300], changes={"status": [before, "failed"]})
    exists = session.scalar(select(Communication.id).where(Communication.item_key == comm.item_key,
                                                           Communication.channel == "letter"))
    if exists is not None:
        return None
    wu = session.get(WaterUser, comm.water_user_id)
    letter = Communication(water_user_id=comm.water_user_id, kind=comm.kind, topic=comm.topic,
                           item_key=comm.item_key, channel="letter", recipient=postal_recipient(wu),
                           subject=comm.subject, body=comm.body, status="queued")
    session.add(letter)
    session.flush()
    return letter
