"""A certificate's status and revocation reason as people read them (pages, API, dossier, reminders)."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l

from registry import clock

# Reasons written by automatic revocation; the pages translate them (manual reasons are shown as typed).
AUTO_GRADE = "auto:grade:"
AUTO_PERMIT = "auto:permit"


def status_of(cert, today: date | None = None) -> str:
    """valid | expired | revoked: expiry is read from the date, never stored."""
    if cert.status == "revoked":
        return "revoked"
    return "expired" if cert.valid_until < (today or clock.today()) else "valid"


def reason_text(cert):
    """The reason as people read it (a lazy translation for automatic revocations)."""
    reason = cert.revoked_reason or ""
    if reason.startswith(AUTO_GRADE):
        return _l("Revoked automatically: the grade fell to %(g)s.", g=reason[len(AUTO_GRADE):])
    if reason == AUTO_PERMIT:
        return _l("Revoked automatically: no water-withdrawal permit is in force.")
    return reason
