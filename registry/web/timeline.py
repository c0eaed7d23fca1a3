"""The timeline people can read (issue 18): each change of an audit event as the field's label in the
reader's language and its values formatted as the file page shows them (units, dates, choices by
their label, ids as the record they point to: "计量设施 · — → SB000002", never ``meter_id: — → 2``).

One reader for the file page (staff and enterprise alike), and the dossier PDF. The trail stores plain
JSON values (``services.audit.snapshot``); nothing here changes what is stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.domain.reference import industry_by_code
from registry.i18n import division_name, label, local_datetime, number
from registry.models import (Account, Calibration, Certificate, Division, Evaluation, Inspection, IntakePoint, Meter, Permit,
                             Reading, Rectification, WaterUser)
from registry.web.records import forms as record_forms
from registry.web.water_users import forms as file_forms

# The form whose labels name an entity's fields (what the person typed them into).
_FORMS = {"WaterUser": file_forms.WaterUserForm, "IntakePoint": record_forms.IntakePointForm,
          "Permit": record_forms.PermitForm, "AnnualPlan": record_forms.PlanForm, "Meter": record_forms.MeterForm,
          "Calibration": record_forms.CalibrationForm, "Reading": record_forms.ReadingForm,
          "BalanceTest": record_forms.BalanceTestForm, "Inspection": record_forms.InspectionForm,
          "Rectification": record_forms.RectificationForm, "Document": record_forms.DocumentForm}

# Fields no form shows (set by the system or by a decision), by their label.
_COMMON = {
    "status": _l("Status"), "closed_reason": _l("Reason for closing"), "closed_at": _l("Closed on"),
    "water_user_id": _l("File"), "grade": _l("Grade"), "score": _l("Score"), "evaluated_on": _l("Evaluated on"),
    "rules_version": _l("Rules version"), "permit_valid_to": _l("Permit valid to"),
    "uscc_warning": _l("USCC warning"), "revoked_on": _l("Revoked on"), "revoked_reason": _l("Reason for revoking"),
    "renews_id": _l("Renews permit"), "read_on": _l("Day of the reading"), "submitted_on": _l("Submitted on"),
    "rejected_reason": _l("Reason for rejecting"), "inspector_id": _l("Inspector"),
    "signature_sha256": _l("Signature of the site contact"), "items": _l("Checklist"), "verified_on": _l("Verified on"),
    "record_type": _l("Attached to"), "record_id": _l("Attached to record"), "filename": _l("File name"),
    "content_type": _l("File type"), "size_bytes": _l("Size"), "sha256": _l("Checksum (SHA-256)"),
    "uploaded_by_id": _l("Uploaded by"), "reviewed_by_id": _l("Reviewed by"), "reviewed_at": _l("Reviewed at"),
    "number": _l("Number"), "evaluation_id": _l("Evaluation"), "snapshot": _l("Content of the certificate"),
    "issued_on": _l("Issued on"), "valid_until": _l("Valid until"), "issued_by_id": _l("Issued by"),
    "pdf_sha256": _l("Checksum of the PDF (SHA-256)"), "channels": _l("Channels"), "subject": _l("Subject"),
    "failed_logins": _l("Failed sign-ins"), "username": _l("Account name"), "role": _l("Role"),
    "active": _l("Active"), "version": _l("Version"), "account": _l("Account"), "name": _l("Name"),
    "uscc": _l("USCC"), "code": _l("Item"), "result": _l("Result"), "note": _l("Note"),
    # a warning 预警 (issue 17)
    "kind": _l("Kind"), "period": _l("Month"), "assignee_id": _l("Assigned to"), "outcome": _l("Outcome"),
    "detections": _l("Times detected"), "closed_by_id": _l("Closed by"), "detected_again": _l("Warnings detected again"),
}

# Choices shown by their label: (entity, field) first, then the field alone.
_CHOICES = {("WaterUser", "status"): "status", ("Reading", "status"): "reading_status",
            ("Document", "status"): "reading_status", ("Rectification", "status"): "rectification_status",
            ("Certificate", "status"): "certificate_status", ("Communication", "status"): "communication_status",
            ("Calibration", "kind"): "calibration_kind", ("Document", "kind"): "document_kind",
            ("IntakePoint", "source"): "source", ("Reading", "source"): "reading_source",
            "meter_type": "meter_type", "role": "role", "language": "language", "channel": "channel",
            "result": "check_result", ("UseWarning", "kind"): "warning_kind",
            ("UseWarning", "status"): "warning_status", "outcome": "warning_outcome"}

# Ids shown as the record they point to.
_REFERENCES = {"meter_id": Meter, "intake_point_id": IntakePoint, "intake_point_ids": IntakePoint,
               "inspection_id": Inspection, "renews_id": Permit, "evaluation_id": Evaluation,
               "water_user_id": WaterUser, "inspector_id": Account, "uploaded_by_id": Account,
               "reviewed_by_id": Account, "issued_by_id": Account, "acknowledged_by_id": Account,
               "assignee_id": Account, "closed_by_id": Account}
_RECORD_TYPES = {"Meter": Meter, "IntakePoint": IntakePoint, "Inspection": Inspection, "Permit": Permit,
                 "Calibration": Calibration, "Reading": Reading, "Rectification": Rectification,
                 "Certificate": Certificate, "WaterUser": WaterUser}

_VOLUMES = {"vf", "vr", "vco", "vd", "vl"}


@dataclass
class Change:
    label: str
    before: str
    after: str


@dataclass
class Entry:
    event: Any
    changes: list[Change] = field(default_factory=list)


def field_label(entity: str, name: str) -> str:
    """The label of a stored field, as its form or the page names it, in the reader's language."""
    form = _FORMS.get(entity)
    unbound = getattr(form, name, None) if form is not None else None
    if unbound is not None and getattr(unbound, "args", None):
        return str(unbound.args[0])
    if name in _COMMON:
        return str(_COMMON[name])
    return str(_l("Other detail"))  # a field added later without a label: never the column's name


def _record_name(obj) -> str:
    if isinstance(obj, Meter):
        return obj.serial
    if isinstance(obj, IntakePoint):
        return obj.name
    if isinstance(obj, Permit):
        return obj.number
    if isinstance(obj, Inspection):
        return _("inspection of %(d)s", d=obj.inspected_on.isoformat())
    if isinstance(obj, Evaluation):
        return f"{obj.evaluated_on.isoformat()} · {obj.grade or '—'}"
    if isinstance(obj, WaterUser):
        return f"{obj.file_no} {obj.name}"
    if isinstance(obj, Account):
        return obj.label
    if isinstance(obj, Certificate):
        return obj.number
    if isinstance(obj, Calibration):
        return f"{obj.certificate_no or ''} {obj.calibrated_on.isoformat()}".strip()
    if isinstance(obj, Reading):
        return obj.read_on.isoformat() if obj.read_on else obj.period.strftime("%Y-%m") if obj.period else f"#{obj.id}"
    if isinstance(obj, Rectification):
        return _("deadline %(d)s", d=obj.deadline.isoformat())
    return f"#{obj.id}"


class _Names:
    """The records the events point to, loaded in one query per kind."""

    def __init__(self, session: Session, events) -> None:
        wanted: dict[type, set[int]] = {}
        for e in events:
            for key, pair in (e.changes or {}).items():
                model = _REFERENCES.get(key)
                if key == "record_id":
                    model = _RECORD_TYPES.get((e.changes.get("record_type") or [None, None])[1] or "")
                if model is None:
                    continue
                for value in pair or ():
                    for one in value if isinstance(value, list) else [value]:
                        if isinstance(one, int) and not isinstance(one, bool):
                            wanted.setdefault(model, set()).add(one)
        self.names: dict[tuple[type, int], str] = {}
        self.divisions: dict[str, str] = {}
        if any("division_code" in (e.changes or {}) for e in events):
            self.divisions = {d.code: division_name(d) for d in session.scalars(select(Division))}
        for model, ids in wanted.items():
            for obj in session.scalars(select(model).where(model.id.in_(sorted(ids)))):
                self.names[(model, obj.id)] = _record_name(obj)

    def get(self, model, value) -> str:
        return self.names.get((model, value), f"#{value}")


def _amount(value, unit: str, digits: int = 0) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if digits == 0 and isinstance(value, float) and not value.is_integer() and abs(value) < 1e15:
        digits = 2
    return f"{number(value, digits)} {unit}".strip()


def value_text(entity: str, name: str, value, names: _Names | None = None, record_type: str | None = None) -> str:
    """One stored value as the page shows it."""
    if value is None or value == "" or value == []:
        return "—"
    kind = _CHOICES.get((entity, name)) or _CHOICES.get(name)
    if kind and isinstance(value, str):
        return label(kind, value)
    model = _REFERENCES.get(name) or (_RECORD_TYPES.get(record_type or "") if name == "record_id" else None)
    if model is not None and names is not None:
        if isinstance(value, list):
            return "、".join(names.get(model, v) for v in value) or "—"
        if isinstance(value, int):
            return names.get(model, value)
    if name == "items" and isinstance(value, list):
        from registry.services.inspections import CHECKLIST_LABELS

        parts = []
        for item in value:
            code, result, note = (list(item) + [None, None, None])[:3] if isinstance(item, (list, tuple)) else (item, None, None)
            text = _("%(item)s: %(result)s", item=CHECKLIST_LABELS.get(code, code),
                     result=label("check_result", result) if result else "—")
            parts.append(text + (f" ({note})" if note else ""))
        return "；".join(str(p) for p in parts)
    if name == "period" and isinstance(value, str) and len(value) >= 7:
        return value[:7]  # a month, stored as its first day
    if name == "record_type" and isinstance(value, str):
        return _entity(value)
    if name == "division_code" and isinstance(value, str):
        return f"{value} {names.divisions.get(value, '')}".strip() if names is not None else value
    if name == "industry_code" and isinstance(value, str):
        industry = industry_by_code(value)
        if industry is None:
            return value
        return f"{value} {industry.name_en if str(get_locale()).startswith('en') else industry.name_zh}"
    if isinstance(value, bool):
        if name == "passed":
            return _("Pass") if value else _("Fail")
        return _("Yes") if value else _("No")
    if name.endswith("_m3") or name in _VOLUMES:
        return _amount(value, "m³")
    if name.endswith("_m3h") or name == "q3":
        return _amount(value, "m³/h")
    if name == "meter_index":
        return _amount(value, "")
    if name == "error_pct":
        return _amount(value, "%", 1 if isinstance(value, (int, float)) and not isinstance(value, bool) else 0)
    if name == "score" and isinstance(value, (int, float)):
        return number(value, 1)
    if name == "dn" and isinstance(value, int):
        return f"DN{value}"
    if name == "interval_months" and isinstance(value, int):
        return _("%(n)d months", n=value)
    if name == "service_life_years" and isinstance(value, int):
        return _("%(n)d years", n=value)
    if name == "size_bytes" and isinstance(value, int):
        return f"{number(value / 1024, 1)} KB" if value >= 1024 else f"{value} B"
    if name in ("longitude", "latitude") and isinstance(value, (int, float)):
        return f"{value:.6f}°".rstrip("0").rstrip(".") if abs(value) < 1e6 else number(value)
    if name in ("sha256", "pdf_sha256", "signature_sha256") and isinstance(value, str):
        return value[:12] + "…"
    if isinstance(value, (int, float)):
        return number(value, 0 if isinstance(value, int) or float(value).is_integer() or abs(value) >= 1e15 else 2)
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and "T" in value[10:11]:
        try:
            return local_datetime(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return _("%(n)d details", n=len(value))
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def _entity(kind: str) -> str:
    return str(ENTITY_LABELS.get(kind, kind))


ENTITY_LABELS = {
    "WaterUser": _l("file"), "IntakePoint": _l("intake point"), "Permit": _l("permit"), "AnnualPlan": _l("annual plan"),
    "Meter": _l("meter"), "Calibration": _l("calibration"), "Reading": _l("reading"),
    "BalanceTest": _l("water-balance test"), "Inspection": _l("inspection"), "Rectification": _l("rectification order"),
    "Document": _l("document"), "Certificate": _l("certificate"), "Evaluation": _l("evaluation"),
    "Communication": _l("communication"), "ApiToken": _l("API token"), "Account": _l("account"),
    "UseWarning": _l("warning")}


def entity_label(kind: str) -> str:
    return _entity(kind)


def changes_of(event, names: _Names | None = None) -> list[Change]:
    """The event's changes as labelled, formatted lines (a creation lists nothing: its summary says it)."""
    if not event.changes or event.action == "create":
        return []
    record_type = (event.changes.get("record_type") or [None, None])[1]
    out = []
    for key, pair in event.changes.items():
        before, after = (list(pair) + [None, None])[:2] if isinstance(pair, (list, tuple)) else (None, pair)
        out.append(Change(field_label(event.entity_type, key),
                          value_text(event.entity_type, key, before, names, record_type),
                          value_text(event.entity_type, key, after, names, record_type)))
    return out


def entries(session: Session, events) -> list[Entry]:
    """The events with their readable changes, the records they point to loaded once for all."""
    events = list(events)
    names = _Names(session, events)
    return [Entry(e, changes_of(e, names)) for e in events]


def rows(session: Session, events, limit: int) -> list[tuple[str, str, str]]:
    """The timeline as (when, who, what) lines of text, for the dossier PDF (which takes data only)."""
    out = []
    for entry in entries(session, events[:limit]):
        e = entry.event
        what = f"{label('action', e.action)} {entity_label(e.entity_type)}"
        if e.summary:
            what += f" · {e.summary.split(': ', 1)[-1]}"
        if e.reason:
            what += f"\n{_('Reason')}: {e.reason}"
        for c in entry.changes:
            what += "\n" + _("%(label)s: %(before)s → %(after)s", label=c.label, before=c.before, after=c.after)
        out.append((local_datetime(e.at), e.actor.label if e.actor else _("system"), what))
    return out
