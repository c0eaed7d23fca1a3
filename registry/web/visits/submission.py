"""Between the inspection form and ``services.inspections``: the posted fields in, the values to
show again and the errors (with the label of the field each one belongs to) back out."""
from __future__ import annotations

from datetime import date, timedelta

from flask_babel import gettext as _

from registry.domain.dates import add_months, month_start
from registry.services.inspections import CHECKLIST_LABELS, READING_FIELDS, Photo, Submission
from registry.services.validators import CHECKLIST_CODES

DEFAULT_DEADLINE_DAYS = 30  # the usual time the bureau gives a site to fix a finding


def parse(form, files, max_bytes: int) -> Submission:
    """The request's fields as the service expects them. Photos are read up to one byte past the
    limit, so an oversized one is known to be too large without reading all of it."""
    answers = {code: {"result": form.get(f"item-{code}") or None, "note": form.get(f"note-{code}", ""),
                      "requirement": form.get(f"requirement-{code}", ""), "deadline": form.get(f"deadline-{code}", "")}
               for code in CHECKLIST_CODES}
    photos = []
    for code in CHECKLIST_CODES:
        for upload in files.getlist(f"photo-{code}"):
            content = upload.read(max_bytes + 1)
            if upload.filename or content:  # an empty file input still posts an empty part
                photos.append(Photo(code=code, filename=upload.filename or "", content=content))
    return Submission(inspected_on=form.get("inspected_on"), site_contact=form.get("site_contact"),
                      findings=form.get("findings"), answers=answers,
                      reading={k: form.get(f"reading-{k}", "") for k in READING_FIELDS},
                      photos=photos, signature=form.get("signature") or None)


def defaults(wu, today: date) -> dict:
    """The values a new inspection starts with (the draft on the tablet may replace them)."""
    values = {"inspected_on": today.isoformat(), "site_contact": wu.contact_name or "", "findings": "",
              "signature": "", "reading-period": add_months(month_start(today), -1).strftime("%Y-%m")}
    deadline = (today + timedelta(days=DEFAULT_DEADLINE_DAYS)).isoformat()
    for code in CHECKLIST_CODES:
        values.update({f"item-{code}": "", f"note-{code}": "", f"requirement-{code}": "", f"deadline-{code}": deadline})
    return values


def posted(form) -> dict:
    """What was typed, to show again after a refusal (photos and the signature live in the draft)."""
    keys = ["inspected_on", "site_contact", "findings", "signature"] + [f"reading-{k}" for k in READING_FIELDS]
    for code in CHECKLIST_CODES:
        keys += [f"item-{code}", f"note-{code}", f"requirement-{code}", f"deadline-{code}"]
    return {k: form.get(k, "") for k in keys}


def field_labels() -> dict[str, str]:
    """The label a reader sees for each error key, for the summary at the top of the form."""
    labels = {"_": "", "inspected_on": _("Inspection date"), "site_contact": _("Site contact"), "items": _("Checklist"),
              "photos": _("Photos")}
    parts = {"item": _("Result"), "note": _("Note"), "photo": _("Photos"), "requirement": _("What must be done"),
             "deadline": _("Rectification deadline")}
    for code, label in CHECKLIST_LABELS.items():
        for prefix, part in parts.items():
            labels[f"{prefix}-{code}"] = f"{label} · {part}"
    labels.update({"reading-meter_id": _("Meter"), "reading-period": _("Month of the reading"),
                   "reading-volume_m3": _("Volume (m³)"), "reading-meter_index": _("Meter index (dial reading)"),
                   "findings": _("Findings"), "signature": _("Signature of the site contact")})
    return labels


def error_list(errors: dict) -> list[dict]:
    """[{field, label, message}] in the order of the form, for the summary (HTML and JSON alike)."""
    labels = field_labels()
    order = list(labels)
    ranked = sorted(errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1)
    return [{"field": key, "label": labels.get(key, ""), "message": str(message)} for key, message in ranked]
