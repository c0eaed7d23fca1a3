"""Forms of the certificate pages. As elsewhere, fields only parse; the service decides."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, TextAreaField
from wtforms.validators import Optional

from registry.web.records.forms import options


class IssueForm(FlaskForm):
    idempotency_key = HiddenField()  # a resubmitted form issues nothing twice


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Reason for revoking"), [Optional()])


class BatchForm(FlaskForm):
    which = RadioField(_l("Certificates"), [Optional()], default="valid", choices=options([
        ("valid", _l("Print the valid certificates")),
        ("missing", _l("Issue and print for files that earn one and hold none"))]))
    division = SelectField(_l("Division"), [Optional()], choices=[])
    grade = SelectField(_l("Grade"), [Optional()], choices=[])
    output = RadioField(_l("Output"), [Optional()], default="pdf", choices=options([
        ("pdf", _l("One PDF to print")), ("zip", _l("A ZIP of one PDF per certificate"))]))
    # Set by the confirmation step: how many were shown, so a selection that changed meanwhile is shown again.
    confirmed = HiddenField()
