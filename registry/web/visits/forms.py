"""Forms of the tablet pages. The inspection form's checklist, photo and reading fields are
named per checklist code (``item-meter_present_sealed``...) and parsed in ``submission``; the
WTForms classes here carry the CSRF token, the idempotency key and the plain fields."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Optional


class InspectionVisitForm(FlaskForm):
    idempotency_key = HiddenField()


class DecisionForm(FlaskForm):
    """Verify or reopen a rectification order after the enterprise answered it."""

    decision = HiddenField()
    reason = TextAreaField(_l("Why the rectification is not accepted"), [Optional()], render_kw={"rows": 3})
    deadline = StringField(_l("New deadline"), [Optional()], render_kw={"type": "date"})
