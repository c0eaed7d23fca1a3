"""What a certificate's state is and when it lapses by itself: shared by the certificates service
(issue, revoke) and the evaluation refresh (a grade that fell revokes at once, issue 14).

A module of its own so that the layering has no circle: ``evaluations`` needs the automatic
revocation, ``certificates`` needs ``evaluations`` (an issue brings the file's evaluation up to
date first) and the unit of work (``unit_of_work`` → ``evaluations`` → here). This module imports
neither of them.
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Mapping

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Certificate, WaterUser
# A certificate's state and revocation reason as people read them live below the services (the PDF
# code reads them too); re-exported here for the services.
from registry.presentation.certificates import AUTO_GRADE, AUTO_PERMIT, reason_text, status_of  # noqa: F401
from registry.services import audit

log = logging.getLogger("registry.services.certificates")

def revocation(cert: Certificate, today: date, reason: str) -> dict:
    """Mark ``cert`` revoked today for ``reason``; returns what its audit event says (the words of
    ``FileChange.audit`` / ``audit.record``), the same for a manual and an automatic revocation."""
    cert.status, cert.revoked_on, cert.revoked_reason = "revoked", today, reason
    return {"water_user_id": cert.water_user_id, "reason": str(reason_text(cert)),
            "summary": f"certificate: {cert.number}", "changes": {"status": ["valid", "revoked"]}}


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
        # Inside the unit of work that re-evaluated the file (FileChange's commit, or a recompute batch).
        audit.record(session, None, "revoke", cert, **revocation(cert, today, reason))
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
