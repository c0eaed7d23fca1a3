"""Forms of a warning 预警: assign it to an inspector, close it with an outcome."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import Length, Optional

from registry.i18n import LABELS
from registry.models import WARNING_OUTCOMES
from registry.web.records.forms import options


class AssignForm(FlaskForm):
    assignee_id = SelectField(_l("Inspector"), choices=[], validate_choice=False)


class CloseForm(FlaskForm):
    outcome = RadioField(_l("Outcome"), choices=options((o, LABELS["warning_outcome"][o]) for o in WARNING_OUTCOMES),
                         validators=[Optional()], validate_choice=False)
    note = TextAreaField(_l("What was found"), validators=[Length(max=2000)], render_kw={"rows": 3, "maxlength": 2000})
