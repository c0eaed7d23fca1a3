"""Compliance certificates 合规证书: issue, revoke, revoke automatically, verify, print in batches.

A certificate is issued by a bureau administrator for a file whose latest evaluation earns one
(grades A and B under the default rules, ``rules.certificate.grades``), valid for
``rules.certificate.validity_months``. Numbers run ``YWZS-<year>-<serial>`` without gaps: the
serial comes from the year's row in ``certificate_counters``, taken under a row lock in the
same transaction that inserts the certificate, so a failed issue gives its number back.

What the certificate says is frozen into ``snapshot`` when it is issued, the PDF is rendered
from it once and kept in the content-addressed store, and ``pdf_sha256`` names those bytes.
"""
from __future__ import annotations

import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import access, clock
from registry.domain.dates import add_months
from registry.models import Account, Certificate, CertificateCounter, Evaluation, WaterUser
from registry.pdf import PdfSettings
from registry.pdf.certificate import CertificateData, render
from registry.services import evaluations, file_store, rules_versions
from registry.services.certificate_status import (AUTO_GRADE, AUTO_PERMIT, auto_revoke_enabled,  # noqa: F401
                                                  reason_text, revocation, revoke_lapsed, status_of)
from registry.services.checks import refuse_control
from registry.services.errors import NotFound, ValidationError
from registry.services.unit_of_work import FileChange

log = logging.getLogger(__name__)

PREFIX = "YWZS"
NUMBER = re.compile(r"^YWZS-(\d{4})-(\d{6})$")
CHUNK = 100  # files issued per transaction in a batch


class CertificateRefused(ValidationError):
    """The file does not earn a certificate now (the grade, a valid certificate, the file's
    status); the message says why. The API answers 409."""


def number_for(year: int, serial: int) -> str:
    return f"{PREFIX}-{year}-{serial:06d}"




def _settings(settings: PdfSettings | None) -> PdfSettings:
    return settings or PdfSettings.from_config(current_app.config)


def _upload_dir(upload_dir: str | None) -> str:
    return upload_dir or current_app.config["UPLOAD_DIR"]


# --- numbers ----------------------------------------------------------------------------------

def take_numbers(session: Session, year: int, count: int = 1) -> list[str]:
    """The next ``count`` numbers of ``year``, under a lock on the year's counter row held until
    the caller's transaction ends (PostgreSQL: SELECT ... FOR UPDATE; SQLite serialises writers)."""
    stmt = (select(CertificateCounter).where(CertificateCounter.year == year)
            .with_for_update().execution_options(populate_existing=True))
    counter = session.scalars(stmt).one_or_none()
    if counter is None:
        try:  # the year's first certificate: create the row; a concurrent creator wins on the key
            with session.begin_nested():
                session.add(CertificateCounter(year=year, last_number=0))
        except IntegrityError:
            pass
        counter = session.scalars(stmt).one()
    first = counter.last_number + 1
    counter.last_number += count
    session.flush()
    return [number_for(year, serial) for serial in range(first, first + count)]


# --- issue ------------------------------------------------------------------------------------

def issue(session: Session, actor, wu: WaterUser, *, today: date | None = None, rules=None,
          settings: PdfSettings | None = None, upload_dir: str | None = None,
          idempotency_key: str | None = None) -> Certificate:
    """Issue a certificate for ``wu`` from its evaluation as of today, or refuse saying why."""
    access.require(actor, "certificate.issue")
    # The file's evaluation is brought up to date under its lock inside the block (_issue_chunk),
    # and issuing changes no score: nothing to re-evaluate at the commit.
    with FileChange(session, actor, idempotency_key, today=today, rules=rules, evaluate=False) as change:
        if isinstance(change.replay, Certificate):
            return change.replay
        if change.replay is not None:
            raise ValidationError({"_": _l("This form was already used for another record. Reload the page.")})
        cert = _issue_chunk(change, [wu.id], settings=_settings(settings), upload_dir=_upload_dir(upload_dir),
                            strict=True)[0]
        change.created(cert)
    return cert


def issue_many(session: Session, actor, water_user_ids: Iterable[int], *, today: date | None = None, rules=None,
               settings: PdfSettings | None = None, upload_dir: str | None = None,
               progress: Callable[[int], None] | None = None,
               on_chunk: Callable[[int, list[int]], None] | None = None) -> list[int]:
    """Issue for every listed file that earns a certificate (others are skipped), ``CHUNK`` files
    a transaction. Returns the ids of the certificates issued, in the order given.

    ``on_chunk(files, certificate_ids)`` runs inside each chunk's transaction, before its commit:
    a job's record of what it issued commits with the certificates, or neither does."""
    access.require(actor, "certificate.issue")
    today, rules = today or clock.today(), rules or rules_versions.current(session)
    settings, upload_dir = _settings(settings), _upload_dir(upload_dir)
    ids, out = list(water_user_ids), []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        with FileChange(session, actor, today=today, rules=rules, evaluate=False) as change:  # one per chunk
            new = [c.id for c in _issue_chunk(change, chunk, settings=settings, upload_dir=upload_dir, strict=False)]
            if on_chunk:
                on_chunk(len(chunk), new)
        out += new
        if progress:
            progress(len(chunk))
    return out


def _issue_chunk(change: FileChange, ids: list[int], *, settings: PdfSettings, upload_dir: str,
                 strict: bool) -> list[Certificate]:
    """Lock the files, bring their evaluations up to date, check each, number and render.
    ``strict``: a file that does not qualify raises :class:`CertificateRefused`; else it is skipped."""
    session, today, rules = change.session, change.today, change.rules
    # Row locks in id order: two officers issuing for the same file queue here, and see each other's certificate.
    files = list(session.scalars(select(WaterUser).where(WaterUser.id.in_(ids)).order_by(WaterUser.id)
                                 .with_for_update(of=WaterUser)))
    evaluations.refresh(session, rules, today, ids)
    latest = _latest_evaluations(session, ids)
    current = _valid_certificates(session, ids, today)
    chosen = []
    by_id = {wu.id: wu for wu in files}
    for wu_id in ids:
        wu = by_id.get(wu_id)
        if wu is None:
            raise NotFound()
        refusal = _refusal(wu, latest.get(wu_id), current.get(wu_id), rules)
        if refusal is not None:
            if strict:
                raise CertificateRefused({"_": refusal})
            continue
        chosen.append(wu)
    numbers = take_numbers(session, today.year, len(chosen)) if chosen else []
    return [_create(change, wu, latest[wu.id], number, settings=settings, upload_dir=upload_dir)
            for wu, number in zip(chosen, numbers)]


def _refusal(wu: WaterUser, evaluation: Evaluation | None, valid: Certificate | None, rules):
    """Why this file gets no certificate now, or None."""
    if wu.status != "active":
        return _l("The file is not active, so no certificate can be issued.")
    if evaluation is None:
        return _l("The file has not been evaluated yet, so no certificate can be issued.")
    if evaluation.grade not in rules.certificate.grades:
        return _l("A certificate is issued only for grade %(allowed)s; this file is graded %(grade)s (%(score)s points).",
                  allowed=" / ".join(rules.certificate.grades), grade=evaluation.grade, score=f"{evaluation.total:.1f}")
    if valid is not None:
        return _l("Certificate %(n)s is valid until %(d)s; revoke it before issuing a new one.",
                  n=valid.number, d=valid.valid_until.isoformat())
    return None


def refusal_for(session: Session, wu: WaterUser, today: date | None = None, rules=None):
    """Why ``wu`` would be refused today (from its stored evaluation), or None: for the pages."""
    today, rules = today or clock.today(), rules or rules_versions.current(session)
    return _refusal(wu, _latest_evaluations(session, [wu.id]).get(wu.id),
                    _valid_certificates(session, [wu.id], today).get(wu.id), rules)


def _create(change: FileChange, wu: WaterUser, evaluation: Evaluation, number: str, *, settings: PdfSettings,
            upload_dir: str) -> Certificate:
    actor, today, rules = change.actor, change.today, change.rules
    valid_until = add_months(today, rules.certificate.validity_months) - timedelta(days=1)
    key = secrets.token_urlsafe(32)  # 256 random bits: the number alone is guessable, the key is not (in the QR)
    snapshot = {
        "water_user": {"id": wu.id, "file_no": wu.file_no, "name": wu.name, "uscc": wu.uscc,
                       "address": wu.address or "", "division_code": wu.division_code},
        "evaluation": {"id": evaluation.id, "evaluated_on": evaluation.evaluated_on.isoformat(),
                       "rules_version": evaluation.rules_version, "total": evaluation.total,
                       "grade": evaluation.grade, "veto": evaluation.veto, "rows": evaluation.rows},
        "verify_url": verify_url(settings.public_url, number, key),
        "authority": settings.authority, "authority_en": settings.authority_en,
        "issued_by": {"id": actor.id, "name": actor.label},
        "validity_months": rules.certificate.validity_months,
    }
    cert = Certificate(number=number, water_user_id=wu.id, evaluation_id=evaluation.id, snapshot=snapshot,
                       grade=evaluation.grade, score=evaluation.total, issued_on=today, valid_until=valid_until,
                       issued_by_id=actor.id, status="valid", verify_key=key)
    cert.pdf_sha256 = file_store.store(upload_dir, render(data_of(cert), settings))
    change.add(cert)
    change.flush()
    change.audit("issue", cert, water_user_id=wu.id, summary=f"certificate: {number}",
                 changes={"number": [None, number], "grade": [None, cert.grade], "score": [None, cert.score],
                          "valid_until": [None, valid_until.isoformat()]})
    return cert


def verify_url(public_url: str, number: str, key: str) -> str:
    """The address printed in the QR code: the public page shows what the certificate states only
    to someone holding the key (the paper), and to anyone else only whether it is valid."""
    return f"{public_url}/verify/{number}?k={key}"


def holds_key(cert: Certificate, key: str | None) -> bool:
    return bool(key) and bool(cert.verify_key) and hmac.compare_digest(str(key).encode(), cert.verify_key.encode())


def data_of(cert: Certificate) -> CertificateData:
    return CertificateData.from_snapshot(cert.number, cert.snapshot, grade=cert.grade, score=cert.score,
                                         issued_on=cert.issued_on, valid_until=cert.valid_until)


def _latest_evaluations(session: Session, ids: list[int]) -> dict[int, Evaluation]:
    newest = (select(func.max(Evaluation.id)).where(Evaluation.water_user_id.in_(ids))
              .group_by(Evaluation.water_user_id))
    return {e.water_user_id: e for e in session.scalars(select(Evaluation).where(Evaluation.id.in_(newest)))}


def _valid_certificates(session: Session, ids: list[int], today: date) -> dict[int, Certificate]:
    stmt = select(Certificate).where(Certificate.water_user_id.in_(ids), Certificate.status == "valid",
                                     Certificate.valid_until >= today)
    return {c.water_user_id: c for c in session.scalars(stmt)}


# --- revoke -----------------------------------------------------------------------------------

def revoke(session: Session, actor, cert: Certificate, reason: str, *, today: date | None = None) -> Certificate:
    """Revoke with a reason: the verification page says so from this moment."""
    access.require(actor, "certificate.issue")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _l("Give a reason for revoking the certificate: the verification page shows it.")})
    if len(reason) > 1000:
        raise ValidationError({"reason": _l("At most %(n)d characters.", n=1000)})
    refuse_control("reason", reason)
    if cert.status == "revoked":  # a conflict with the certificate's state (the API answers 409)
        raise CertificateRefused({"reason": _l("This certificate is already revoked.")})
    with FileChange(session, actor, today=today) as change:
        change.audit("revoke", cert, **revocation(cert, change.today, reason))
    return cert


# --- finding and reading ----------------------------------------------------------------------

def normalise(number: str) -> str | None:
    number = (number or "").strip().upper()
    return number if NUMBER.match(number) else None


def lookup(session: Session, number: str) -> Certificate | None:
    """Any certificate by number, unscoped: verification is public by design (it shows only what
    the holder's paper shows)."""
    number = normalise(number)
    if number is None:
        return None
    return session.scalars(select(Certificate).where(Certificate.number == number)).one_or_none()


def get(session: Session, account, number: str) -> Certificate:
    """A certificate the account may see (its file is in scope), else NotFound."""
    number = normalise(number)
    stmt = access.scoped(select(Certificate).join(WaterUser, WaterUser.id == Certificate.water_user_id)
                         .where(Certificate.number == (number or "")), account)
    cert = session.scalars(stmt).one_or_none()
    if cert is None:
        raise NotFound()
    return cert


def pdf_bytes(cert: Certificate, *, settings: PdfSettings | None = None, upload_dir: str | None = None) -> bytes:
    """The issued bytes; if the store lost them, rendered again from the snapshot (identical when
    the font setting has not changed since) and kept again."""
    path = file_store.path_for(_upload_dir(upload_dir), cert.pdf_sha256 or "0" * 64)
    if path.exists():
        return path.read_bytes()
    content = render(data_of(cert), _settings(settings))
    digest = file_store.store(_upload_dir(upload_dir), content)
    if digest != cert.pdf_sha256:
        log.warning("certificate %s re-rendered with different bytes (font setting changed?)", cert.number)
    return content


# --- batch selection --------------------------------------------------------------------------

BATCH_KINDS = ("valid", "missing")  # print the valid certificates | issue for files without one, then print


@dataclass(frozen=True)
class BatchFilters:
    which: str = "valid"
    division: str = ""
    grade: str = ""


def batch_selection(session: Session, account, filters: BatchFilters, *, today: date | None = None,
                    rules=None) -> list[int]:
    """Ids to print, scoped to the account: certificate ids (``valid``) or water-user ids
    (``missing``: active files whose grade earns a certificate and that hold no valid one)."""
    today, rules = today or clock.today(), rules or rules_versions.current(session)
    if filters.which == "valid":
        stmt = access.scoped(select(Certificate.id).join(WaterUser, WaterUser.id == Certificate.water_user_id)
                             .where(Certificate.status == "valid", Certificate.valid_until >= today), account)
        if filters.grade:
            stmt = stmt.where(Certificate.grade == filters.grade)
        if filters.division:
            stmt = stmt.where(WaterUser.division_code == filters.division)
        return list(session.scalars(stmt.order_by(Certificate.number)))
    holding = exists().where(Certificate.water_user_id == WaterUser.id, Certificate.status == "valid",
                             Certificate.valid_until >= today)
    grades = [g for g in rules.certificate.grades if not filters.grade or g == filters.grade]
    stmt = access.scoped(select(WaterUser.id).where(WaterUser.status == "active", WaterUser.grade.in_(grades),
                                                    ~holding), account)
    if filters.division:
        stmt = stmt.where(WaterUser.division_code == filters.division)
    return list(session.scalars(stmt.order_by(WaterUser.file_no)))


def iter_pdfs(session: Session, certificate_ids: list[int], *, settings: PdfSettings | None = None,
              upload_dir: str | None = None, chunk: int = 500):
    """(number, pdf bytes) in the order given, loading ``chunk`` rows at a time."""
    settings, upload_dir = _settings(settings), _upload_dir(upload_dir)
    for start in range(0, len(certificate_ids), chunk):
        ids = certificate_ids[start:start + chunk]
        rows = {c.id: c for c in session.scalars(select(Certificate).where(Certificate.id.in_(ids)))}
        for cid in ids:
            cert = rows[cid]
            yield cert.number, pdf_bytes(cert, settings=settings, upload_dir=upload_dir)


def actor_by_id(session: Session, account_id: int) -> Account:
    return session.get(Account, account_id)
