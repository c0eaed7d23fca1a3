from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import FloatField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.web.records.forms import options


class SubmitReadingForm(FlaskForm):
    idempotency_key = HiddenField()
    meter_id = SelectField(_l("Meter"), [Optional()], choices=[], validate_choice=False)
    period = StringField(_l("Month"), [Optional()], render_kw={"type": "month", "placeholder": "2026-10"})
    volume_m3 = FloatField(_l("Volume (m³)"), [Optional()], render_kw={"step": "any", "inputmode": "decimal"})
    meter_index = FloatField(_l("Meter index (dial reading)"), [Optional()], render_kw={"step": "any"})


class SubmitDocumentForm(FlaskForm):
    idempotency_key = HiddenField()
    title = StringField(_l("Title"), [Optional()])
    kind = SelectField(_l("Kind"), [Optional()], choices=options([
        ("", "—"), ("calibration_certificate", _l("Calibration certificate")),
        ("balance_report", _l("Water-balance test report")), ("permit_scan", _l("Permit scan")), ("other", _l("Other"))]))
    file = FileField(_l("File (PDF, JPEG or PNG)"))


class AnswerForm(FlaskForm):
    response = TextAreaField(_l("What was done"), [Optional()], render_kw={"rows": 5})


class ReviewForm(FlaskForm):
    decision = HiddenField()
    reason = StringField(_l("Reason for rejecting"), [Optional()])


def _set_lengths() -> None:
    from registry.models import Document
    from registry.web.records.forms import lengths_from

    lengths_from(SubmitDocumentForm, Document)


_set_lengths()
