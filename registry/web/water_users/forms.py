from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.web.records.forms import RecordForm, options


class WaterUserForm(RecordForm):
    file_no = StringField(_l("File number"), [Optional()], render_kw={"placeholder": "YW-2026-0001"})
    name = StringField(_l("Name"), [Optional()])
    uscc = StringField(_l("Unified social credit code (USCC)"), [Optional()],
                       render_kw={"placeholder": "91330782MA2XXXXXXX", "autocapitalize": "characters",
                                  "spellcheck": "false"})
    legal_representative = StringField(_l("Legal representative"), [Optional()])
    contact_name = StringField(_l("Contact person"), [Optional()])
    contact_phone = StringField(_l("Contact phone"), [Optional()], render_kw={"inputmode": "tel"})
    email = StringField(_l("E-mail"), [Optional()], render_kw={"inputmode": "email"})
    address = StringField(_l("Address"), [Optional()])
    division_code = SelectField(_l("Division"), [Optional()], choices=[], validate_choice=False)
    industry_code = SelectField(_l("Industry (GB/T 4754-2017)"), [Optional()], choices=[], validate_choice=False)
    opened_on = DateField(_l("File opened on"), [Optional()])
    notes = TextAreaField(_l("Notes"), [Optional()])


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), [Optional()], choices=options([
        ("active", _l("Active")), ("suspended", _l("Suspended")), ("closed", _l("Closed"))]))
    reason = TextAreaField(_l("Reason"), [Optional()])


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Search"), [Optional()])
    division = SelectField(_l("Division"), [Optional()], choices=[], validate_choice=False)
    industry = SelectField(_l("Industry"), [Optional()], choices=[], validate_choice=False)
    status = SelectField(_l("Status"), [Optional()], choices=[], validate_choice=False)
    due = SelectField(_l("Permit"), [Optional()], choices=[], validate_choice=False)
    grade = SelectField(_l("Grade"), [Optional()], choices=[], validate_choice=False)
    opened = StringField(_l("Opened in (month)"), [Optional()], render_kw={"type": "month", "placeholder": "2026-03"})


def _set_lengths() -> None:
    from registry.models import WaterUser
    from registry.web.records.forms import lengths_from

    lengths_from(WaterUserForm, WaterUser)
    # A USCC is stored as 18 characters, but may be typed or pasted with spaces or hyphens (normalised).
    WaterUserForm.uscc.kwargs["render_kw"]["maxlength"] = 40


_set_lengths()
