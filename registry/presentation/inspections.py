"""The site-inspection checklist's items in the reader's language (the form, the record page, the PDF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

CHECKLIST_LABELS = {
    "permit_displayed": _l("Permit displayed at the site"),
    "meter_present_sealed": _l("Meter present and sealed"),
    "meter_reading": _l("Meter reading taken"),
    "calibration_label": _l("Calibration label date valid"),
    "intake_matches_permit": _l("Intake point matches the permit"),
    "online_device_working": _l("Online monitoring device working"),
    "records_kept": _l("Water-use records kept"),
}
