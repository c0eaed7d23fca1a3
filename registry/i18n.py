"""Language and time display: zh_CN by default, English complete; dates shown in Asia/Shanghai.

The language choice lives in the session or the account setting, never in a script cookie.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context, request, session
from babel.numbers import format_decimal
from flask_babel import get_locale, get_translations, lazy_gettext as _l, lazy_pgettext, refresh
from flask_login import current_user


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, background work: the bureau's language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    wanted = request.args.get("lang")
    if wanted:
        wanted = "zh_CN" if wanted.lower().replace("-", "_") in ("zh", "zh_cn") else wanted
        if wanted in languages:
            session["lang"] = wanted
    if session.get("lang") in languages:
        return session["lang"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.language in languages:
        return current_user.language
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def local_datetime(value: datetime | None) -> str:
    """A stored UTC timestamp as Asia/Shanghai wall time, e.g. 2026-11-24 09:30."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def iso_date(value: date | None) -> str:
    return value.isoformat() if value else ""


# Beyond this magnitude a number is shown in scientific notation: a float holds 15-17 significant
# digits, so 1.7e308 m³ written out would be 309 digits of noise (and Babel's quantize gives
# InvalidOperation beyond the decimal context's 28 digits: the 500s of issue 16 item 2).
_PLAIN_LIMIT = Decimal("1e15")


def number(value: float | int | Decimal | None, digits: int = 0) -> str:
    """Volumes with thousands separators in the current locale: 12,345 m³. Any stored value
    displays: inf and nan as ∞ and NaN, an absurd magnitude as 1.7E+308."""
    if value is None:
        return "—"
    try:
        exact = value if isinstance(value, Decimal) else Decimal(str(value) if isinstance(value, float) else value)
    except (ArithmeticError, TypeError, ValueError):
        return str(value)
    if exact.is_nan():
        return "NaN"
    if exact.is_infinite():
        return "−∞" if exact < 0 else "∞"
    if abs(exact) >= _PLAIN_LIMIT:
        return f"{exact:.{max(digits, 2)}E}"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(exact, format=pattern, locale=get_locale())


# Labels of stored codes. Codes stay English in the database; people read these.
LABELS = {
    "status": {"active": _l("Active"), "suspended": _l("Suspended"), "closed": _l("Closed")},
    "source": {"surface": _l("Surface water"), "ground": _l("Groundwater")},
    "meter_type": {"mechanical": _l("Mechanical"), "electromagnetic": _l("Electromagnetic"),
                   "ultrasonic": _l("Ultrasonic"), "other": _l("Other")},
    "calibration_kind": {"initial": _l("Initial verification"), "subsequent": _l("Subsequent verification"),
                         "in_service": _l("In-service inspection"), "on_site": _l("On-site calibration")},
    "reading_source": {"manual": _l("Manual"), "online": _l("Online"), "enterprise": _l("Enterprise"),
                       "estimated": _l("Estimated")},
    "reading_status": {"pending": _l("Pending"), "accepted": _l("Accepted"), "rejected": _l("Rejected"),
                       "flagged": _l("Flagged (implausible)"), "check": _l("Check reading (beside telemetry)")},
    "check_result": {"ok": _l("OK"), "problem": _l("Problem"), "na": _l("N/A")},
    "rectification_status": {"open": _l("Open"), "answered": _l("Answered"), "verified": _l("Verified"),
                             "overdue": _l("Overdue")},
    "permit_status": {"not_yet_valid": _l("Not yet valid"), "valid": _l("Valid"),
                      "renewal_due": _l("Renewal due"), "expired": _l("Expired"), "revoked": _l("Revoked"),
                      "superseded": _l("Superseded"), "renewal_pending": _l("Renewal pending decision")},
    "due_status": {"ok": _l("OK"), "due_soon": _l("Due soon"), "overdue": _l("Overdue"),
                   "not_required": _l("Not required")},
    "due_kind": {"permit_renewal": _l("Permit renewal"), "calibration": _l("Meter verification"),
                 "service_life": _l("Meter service life"), "balance_test": _l("Water-balance test"),
                 "annual_plan": _l("Annual water-use plan"), "monthly_readings": _l("Monthly readings"),
                 "rectification": _l("Rectification deadline")},
    "role": {"bureau_admin": _l("Bureau administrator"), "inspector": _l("Inspector"),
             "enterprise": _l("Enterprise")},
    "document_kind": {"permit_scan": _l("Permit scan"), "calibration_certificate": _l("Calibration certificate"),
                      "balance_report": _l("Water-balance test report"), "inspection_photo": _l("Inspection photo"),
                      "signature": _l("Signature"), "other": _l("Other")},
    "action": {"create": _l("created"), "update": _l("changed"), "close": _l("closed"), "renew": _l("renewed"),
               "reopen": _l("reopened"), "accept": _l("accepted"), "reject": _l("rejected"),
               "revoke": _l("revoked"), "publish": _l("published"), "submit": _l("submitted"), "answer": _l("answered"), "lock": _l("locked"),
               "sign_in": _l("signed in"), "sign_out": _l("signed out"),
               "failed_logins": _l("failed sign-ins in a row"), "sign_in_refused": _l("sign-in refused"), "issue": _l("issued"), "remind": _l("reminded"), "send": _l("sent"),
               "fail": _l("failed to deliver"), "post": _l("posted"), "acknowledge": _l("acknowledged")},
    "certificate_status": {"valid": _l("Valid"), "expired": _l("Expired"), "revoked": _l("Revoked")},
    "channel": {"email": _l("E-mail"), "in_app": _l("Portal notice"), "letter": _l("Letter")},
    "communication_status": {"queued": _l("Not sent yet"), "sent": _l("Sent"), "failed": _l("Failed"),
                             "acknowledged": _l("Acknowledged"), "letter_due": _l("Letter due"),
                             "not_needed": _l("Not needed (acknowledged)")},
    "topic": {"permit_renewal": _l("Permit renewal"), "calibration": _l("Meter verification"),
              "service_life": _l("Meter service life"), "balance_test": _l("Water-balance test"),
              "annual_plan": _l("Annual water-use plan"), "monthly_readings": _l("Monthly readings"),
              "plan_proposal": _l("Plan proposal deadline"),
              "rectification": _l("Rectification deadline"), "certificate_issued": _l("Certificate issued"),
              "certificate_revoked": _l("Certificate revoked"), "use_warning": _l("Water-use warning")},
    "warning_kind": {"above_permit_share": _l("Above the permit's monthly share"),
                     "index_jump": _l("Jump against the meter index"),
                     "change_vs_last_year": _l("Change against the same month last year"),
                     "above_median": _l("Above the 12-month median"), "below_median": _l("Below the 12-month median"),
                     "zero_use": _l("Zero use"), "flat_line": _l("Flat totalizer"), "silence": _l("Online meter silent")},
    "warning_status": {"open": lazy_pgettext("warning", "Open"), "assigned": _l("Assigned"), "closed": _l("Closed")},
    "warning_outcome": {"explained": _l("Explained"), "meter_fault": _l("Meter fault"),
                        "visit_ordered": _l("Visit ordered"), "rectification_ordered": _l("Rectification ordered")},
    "language": {"zh_CN": _l("Chinese"), "en": _l("English")},
}


def label(kind: str, code: str | None) -> str:
    if code is None:
        return ""
    return str(LABELS.get(kind, {}).get(code, code))


def division_name(division) -> str:
    if division is None:
        return ""
    return division.name_en if str(get_locale()).startswith("en") else division.name_zh


def _translations():
    """The current translations, as ``flask_babel.get_translations()`` returns them, found in a
    few attribute reads once the request has chosen its locale. The one-file page translates
    some 1,700 strings; Flask-Babel's own lookup (domain, cache, locale, its name) cost 15 µs
    each, a third of the page of a large file. Kept beside the locale object it was made for:
    ``force_locale`` and ``refresh`` put another locale there, and this looks again."""
    ns = getattr(g, "_flask_babel", None) if g else None
    if ns is not None:
        locale, cached = getattr(ns, "babel_locale", None), getattr(ns, "registry_translations", None)
        if cached is not None and locale is not None and cached[0] is locale:
            return cached[1]
    translations = get_translations()
    ns = getattr(g, "_flask_babel", None) if g else None
    locale = getattr(ns, "babel_locale", None)
    if locale is not None:
        ns.registry_translations = (locale, translations)
    return translations


def _utcnow() -> datetime:
    """As ``registry.models.utcnow``, without importing the models (the PDF code uses this module)."""
    return datetime.now(timezone.utc)


def init_app(app) -> None:
    # Flask-Babel caches the locale on ``g``; when an app context outlives one request (tests,
    # CLI-driven requests) the next request must choose again.
    app.before_request(refresh)
    app.jinja_env.install_gettext_callables(  # as Flask-Babel installs them, with the quicker lookup
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n))
    app.jinja_env.filters.update(localdt=local_datetime, isodate=iso_date, number=number)
    from registry import clock
    from registry.presentation import explain, images

    app.jinja_env.globals.update(label=label, division_name=division_name, get_locale=get_locale,
                                 today_date=clock.today, now=_utcnow, explain=explain.sentence,
                                 explain_action=explain.action, todo_of=explain.todo,
                                 image_state=images.image_state, image_problem=images.image_problem, rule_name=lambda r: str(explain.RULE_NAMES.get(r, r)))
