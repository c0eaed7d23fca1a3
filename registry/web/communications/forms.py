"""Forms of the communication pages. As elsewhere, fields only parse; the services decide."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Optional


class TemplateForm(FlaskForm):
    subject = StringField(_l("Subject"), [Optional()])
    body = TextAreaField(_l("Text"), [Optional()], render_kw={"rows": 14})
    version = HiddenField()


class BounceForm(FlaskForm):
    note = StringField(_l("What the returned mail said"), [Optional()])


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
