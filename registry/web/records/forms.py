"""Forms for each part of a file. Fields only parse types (Optional everywhere); the service
decides what is required and valid, so the web, the API and imports share one set of rules."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (DateField, FloatField, HiddenField, IntegerField, RadioField, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.fields.core import UnboundField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from registry.i18n import LABELS
from registry.models import CALIBRATION_KINDS, DOCUMENT_KINDS, METER_TYPES, READING_SOURCES, SOURCES


def options(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs; labels may be lazy translations."""
    return [SelectChoice(value, label) for value, label in pairs]


def _choices(kind: str, codes) -> list[SelectChoice]:
    return options([("", "—")] + [(code, LABELS[kind][code]) for code in codes])


class RecordForm(FlaskForm):
    """Every record form carries its version (stale edits are refused) and an idempotency key
    (a resubmitted create form makes nothing twice)."""

    version = HiddenField()
    idempotency_key = HiddenField()


class IntakePointForm(RecordForm):
    name = StringField(_l("Name"), [Optional()])
    source = SelectField(_l("Source"), [Optional()], choices=_choices("source", SOURCES))
    water_body = StringField(_l("Water body or aquifer"), [Optional()])
    longitude = FloatField(_l("Longitude (° E, CGCS2000)"), [Optional()], render_kw={"step": "any", "inputmode": "decimal"})
    latitude = FloatField(_l("Latitude (° N, CGCS2000)"), [Optional()], render_kw={"step": "any", "inputmode": "decimal"})
    intake_method = StringField(_l("Intake method"), [Optional()])
    design_capacity_m3h = FloatField(_l("Design capacity (m³/h)"), [Optional()], render_kw={"step": "any"})


class PermitForm(RecordForm):
    number = StringField(_l("Permit number"), [Optional()], render_kw={"placeholder": "D330782S2021-0120"})
    issuing_authority = StringField(_l("Issuing authority"), [Optional()])
    issued_on = DateField(_l("Issued on"), [Optional()])
    valid_from = DateField(_l("Valid from"), [Optional()])
    valid_to = DateField(_l("Valid to"), [Optional()])
    annual_volume_m3 = FloatField(_l("Annual permitted volume (m³)"), [Optional()], render_kw={"step": "any"})
    purpose = StringField(_l("Purpose"), [Optional()])
    intake_point_ids = SelectMultipleField(_l("Intake points covered"), [Optional()], coerce=int, choices=[])
    renewal_applied_on = DateField(_l("Renewal applied for on"), [Optional()])


class PlanForm(RecordForm):
    year = IntegerField(_l("Year"), [Optional()])
    planned_volume_m3 = FloatField(_l("Planned volume (m³)"), [Optional()], render_kw={"step": "any"})
    approved_on = DateField(_l("Approved on"), [Optional()])
    notes = TextAreaField(_l("Notes"), [Optional()])


class MeterForm(RecordForm):
    serial = StringField(_l("Serial number"), [Optional()])
    intake_point_id = SelectField(_l("Intake point"), [Optional()], choices=[], validate_choice=False)
    meter_type = SelectField(_l("Type"), [Optional()], choices=_choices("meter_type", METER_TYPES))
    manufacturer = StringField(_l("Manufacturer"), [Optional()])
    dn = IntegerField(_l("Nominal diameter DN (mm)"), [Optional()])
    q3 = FloatField(_l("Permanent flow Q3 (m³/h)"), [Optional()], render_kw={"step": "any"})
    accuracy_class = StringField(_l("Accuracy class"), [Optional()])
    installed_on = DateField(_l("Installed on"), [Optional()])
    removed_on = DateField(_l("Removed on"), [Optional()])
    telemetry_id = StringField(_l("Telemetry id (online meters)"), [Optional()])
    register_capacity_m3 = FloatField(_l("Register capacity (m³: the totalizer rolls over to 0 there)"), [Optional()],
                                      render_kw={"step": "any"})
    interval_months = IntegerField(_l("Verification interval override (months)"), [Optional()])
    service_life_years = IntegerField(_l("Service life override (years)"), [Optional()])


class CalibrationForm(RecordForm):
    meter_id = SelectField(_l("Meter"), [Optional()], choices=[], validate_choice=False)
    calibrated_on = DateField(_l("Date"), [Optional()])
    kind = SelectField(_l("Kind"), [Optional()], choices=_choices("calibration_kind", CALIBRATION_KINDS))
    agency = StringField(_l("Agency"), [Optional()])
    certificate_no = StringField(_l("Certificate number"), [Optional()])
    error_pct = FloatField(_l("Measured error (%(unit)s)", unit="%"), [Optional()], render_kw={"step": "any"})
    passed = RadioField(_l("Result"), [Optional()], choices=options([("1", _l("Pass")), ("0", _l("Fail"))]))
    next_due_on = DateField(_l("Next due (empty: computed from the meter class)"), [Optional()])


class ReadingForm(RecordForm):
    meter_id = SelectField(_l("Meter"), [Optional()], choices=[], validate_choice=False)
    period = StringField(_l("Month"), [Optional()], render_kw={"type": "month", "placeholder": "2026-10"})
    volume_m3 = FloatField(_l("Volume (m³)"), [Optional()], render_kw={"step": "any", "inputmode": "decimal"})
    meter_index = FloatField(_l("Meter index (dial reading)"), [Optional()], render_kw={"step": "any"})
    source = SelectField(_l("Source"), [Optional()], choices=_choices("reading_source", READING_SOURCES))


class BalanceTestForm(RecordForm):
    tested_on = DateField(_l("Test date"), [Optional()])
    agency = StringField(_l("Agency"), [Optional()])
    report_no = StringField(_l("Report number"), [Optional()])
    vf = FloatField(_l("Fresh intake Vf (m³)"), [Optional()], render_kw={"step": "any"})
    vr = FloatField(_l("Reused Vr (m³)"), [Optional()], render_kw={"step": "any"})
    vco = FloatField(_l("Consumed Vco (m³)"), [Optional()], render_kw={"step": "any"})
    vd = FloatField(_l("Discharged Vd (m³)"), [Optional()], render_kw={"step": "any"})
    vl = FloatField(_l("Leaked Vl (m³)"), [Optional()], render_kw={"step": "any"})
    next_due_on = DateField(_l("Next test due (empty: 5 years)"), [Optional()])


class InspectionForm(RecordForm):
    inspected_on = DateField(_l("Inspection date"), [Optional()])
    site_contact = StringField(_l("Site contact"), [Optional()])
    findings = TextAreaField(_l("Findings"), [Optional()])


class RectificationForm(RecordForm):
    inspection_id = SelectField(_l("Inspection"), [Optional()], choices=[], validate_choice=False)
    requirement = TextAreaField(_l("Requirement"), [Optional()])
    deadline = DateField(_l("Deadline"), [Optional()])
    response = TextAreaField(_l("Enterprise response"), [Optional()])
    responded_on = DateField(_l("Responded on"), [Optional()])
    status = SelectField(_l("Status"), [Optional()], choices=options([
        ("", "—"), ("open", _l("Open")), ("answered", _l("Answered")), ("verified", _l("Verified"))]))


class DocumentForm(RecordForm):
    title = StringField(_l("Title"), [Optional()])
    kind = SelectField(_l("Kind"), [Optional()], choices=_choices("document_kind", DOCUMENT_KINDS))
    file = FileField(_l("File (PDF, JPEG or PNG)"))


class CloseForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), [Optional()])
    version = HiddenField()


FORMS = {
    "intake_point": IntakePointForm, "permit": PermitForm, "plan": PlanForm, "meter": MeterForm,
    "calibration": CalibrationForm, "reading": ReadingForm, "balance_test": BalanceTestForm,
    "inspection": InspectionForm, "rectification": RectificationForm,
}


def lengths_from(form_class, model) -> None:
    """Every text input of ``form_class`` carries ``maxlength`` from its model column (String(n)), so a
    browser stops typing where the database would refuse (issue 18); the service still checks."""
    columns = model.__table__.columns
    for name in dir(form_class):
        unbound = getattr(form_class, name, None)
        if not isinstance(unbound, UnboundField) or unbound.field_class not in (StringField, TextAreaField):
            continue
        column = columns.get(name)
        length = getattr(getattr(column, "type", None), "length", None)
        if length:
            unbound.kwargs["render_kw"] = {**(unbound.kwargs.get("render_kw") or {}), "maxlength": length}


def _set_lengths() -> None:
    from registry import models

    for kind, form_class in FORMS.items():
        lengths_from(form_class, {"intake_point": models.IntakePoint, "permit": models.Permit,
                                  "plan": models.AnnualPlan, "meter": models.Meter,
                                  "calibration": models.Calibration, "reading": models.Reading,
                                  "balance_test": models.BalanceTest, "inspection": models.Inspection,
                                  "rectification": models.Rectification}[kind])
    lengths_from(DocumentForm, models.Document)


_set_lengths()
