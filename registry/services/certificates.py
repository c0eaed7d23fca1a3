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
from typing import Callable, Iterable, Mapping

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import access, clock
from registry.domain.dates import add_months
from registry.models import Account, Certificate, CertificateCounter, Evaluation, IdempotencyKey, WaterUser
from registry.pdf import PdfSettings
from registry.pdf.certificate import CertificateData, render
# Re-exported: the pages, the API and the reminders read a certificate through this service.
from registry.presentation.certificates import AUTO_GRADE, AUTO_PERMIT, reason_text, status_of  # noqa: F401
from registry.services import audit, documents, evaluations, rules_versions
from registry.services.checks import idempotency_key as clean_key, refuse_control
from registry.services.errors import NotFound, ValidationError

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
    idempotency_key = clean_key(idempotency_key)
    again = _existing_for_key(session, idempotency_key)
    if again is not None:
        return again
    issued = _issue_chunk(session, actor, [wu.id], today=today or clock.today(),
                          rules=rules or rules_versions.current(session), settings=_settings(settings),
                          upload_dir=_upload_dir(upload_dir), strict=True)
    cert = issued[0]
    if idempotency_key:
        session.add(IdempotencyKey(key=idempotency_key[:64], account_id=getattr(actor, "id", None),
                                   entity_type="Certificate", entity_id=cert.id))
    session.commit()
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
        new = [c.id for c in _issue_chunk(session, actor, chunk, today=today, rules=rules, settings=settings,
                                          upload_dir=upload_dir, strict=False)]
        out += new
        if on_chunk:
            on_chunk(len(chunk), new)
        session.commit()
        if progress:
            progress(len(chunk))
    return out


def _issue_chunk(session: Session, actor, ids: list[int], *, today: date, rules, settings: PdfSettings,
                 upload_dir: str, strict: bool) -> list[Certificate]:
    """Lock the files, bring their evaluations up to date, check each, number and render.
    ``strict``: a file that does not qualify raises :class:`CertificateRefused`; else it is skipped."""
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
    return [_create(session, actor, wu, latest[wu.id], number, today=today, rules=rules, settings=settings,
                    upload_dir=upload_dir) for wu, number in zip(chosen, numbers)]


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


def _create(session: Session, actor, wu: WaterUser, evaluation: Evaluation, number: str, *, today: date, rules,
            settings: PdfSettings, upload_dir: str) -> Certificate:
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
    cert.pdf_sha256 = documents.store(upload_dir, render(data_of(cert), settings))
    session.add(cert)
    session.flush()
    audit.record(session, actor, "issue", cert, water_user_id=wu.id, summary=f"certificate: {number}",
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


def _existing_for_key(session: Session, key: str | None) -> Certificate | None:
    seen = session.get(IdempotencyKey, key[:64]) if key else None
    if seen is None or seen.entity_type != "Certificate":
        return None
    return session.get(Certificate, seen.entity_id)


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
    _mark_revoked(session, actor, cert, today or clock.today(), reason)
    session.commit()
    return cert


def _mark_revoked(session: Session, actor, cert: Certificate, today: date, reason: str) -> None:
    cert.status, cert.revoked_on, cert.revoked_reason = "revoked", today, reason
    audit.record(session, actor, "revoke", cert, water_user_id=cert.water_user_id, reason=str(reason_text(cert)),
                 summary=f"certificate: {cert.number}", changes={"status": ["valid", "revoked"]})


def auto_revoke_enabled() -> bool:
    return bool(current_app.config.get("CERTIFICATE_AUTO_REVOKE", True)) if has_app_context() else True


def revoke_lapsed(session: Session, today: date, rules, results: Mapping[int, object] | None = None) -> int:
    """Revoke the valid certificates of files that no longer earn one: the grade fell out of
    ``rules.certificate.grades`` or no permit is in force (a rule option: ``CERTIFICATE_AUTO_REVOKE``).

    ``results`` maps water-user ids to fresh ``domain.scoring.Evaluation`` results (the
    evaluation refresh passes each batch); without it the cached grades of all files are used.
    Set-based: one query for the certificates concerned, whatever the number of files.
    """
    if not auto_revoke_enabled():
        return 0
    allowed = set(rules.certificate.grades)
    current = (Certificate.status == "valid", Certificate.valid_until >= today)
    if results is None:
        stmt = (select(Certificate, WaterUser.grade).join(WaterUser, WaterUser.id == Certificate.water_user_id)
                .where(*current, WaterUser.grade.is_not(None), WaterUser.grade.not_in(allowed)))
        found = [(cert, AUTO_GRADE + grade) for cert, grade in session.execute(stmt)]
    else:
        reasons = {wu_id: reason for wu_id, result in results.items() if (reason := _lapse(result, allowed))}
        found = []
        ids = list(reasons)
        for start in range(0, len(ids), 1000):
            stmt = select(Certificate).where(*current, Certificate.water_user_id.in_(ids[start:start + 1000]))
            found += [(cert, reasons[cert.water_user_id]) for cert in session.scalars(stmt)]
    for cert, reason in found:
        _mark_revoked(session, None, cert, today, reason)
    if found:
        log.info("revoked %d certificates automatically", len(found))
    return len(found)


def _lapse(result, allowed: set[str]) -> str | None:
    permit = next((row for row in result.rows if row.rule == "permit"), None)
    if permit is not None and any(f.code == "permit.none_valid" for f in permit.findings):
        return AUTO_PERMIT
    if result.grade not in allowed:
        return AUTO_GRADE + result.grade
    return None


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
    path = documents.path_for(_upload_dir(upload_dir), cert.pdf_sha256 or "0" * 64)
    if path.exists():
        return path.read_bytes()
    content = render(data_of(cert), _settings(settings))
    digest = documents.store(_upload_dir(upload_dir), content)
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
