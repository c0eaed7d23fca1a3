from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.web.records.forms import options

BREAKDOWN_CHOICES = [("none", _l("No breakdown (the year as a whole)")), ("month", _l("By month (12 shares)")),
                     ("quarter", _l("By quarter (4 shares)"))]


def _share_fields(cls):
    for i in range(1, 13):
        setattr(cls, f"share_{i}", StringField(_l("Share %(n)d (m³): month %(n)d, or quarter %(n)d", n=i), [Optional()],
                                               render_kw={"inputmode": "decimal"}))
    return cls


class _Breakdown(FlaskForm):
    breakdown = SelectField(_l("Breakdown"), [Optional()], choices=options(BREAKDOWN_CHOICES), default="none")


@_share_fields
class ProposalForm(_Breakdown):
    idempotency_key = HiddenField()
    year = StringField(_l("Plan year"), [Optional()], render_kw={"inputmode": "numeric"})
    planned_volume_m3 = StringField(_l("Proposed volume (m³ a year)"), [Optional()], render_kw={"inputmode": "decimal"})
    past_year_use_m3 = StringField(_l("Past year's use (m³)"), [Optional()], render_kw={"inputmode": "decimal"})
    past_year_report = TextAreaField(_l("Report of the past year"), [Optional()], render_kw={"rows": 4})


@_share_fields
class DecisionForm(_Breakdown):
    decision = SelectField(_l("Decision"), [Optional()], choices=options([
        ("", "—"), ("approve", _l("Approve as proposed")), ("change", _l("Approve changed")),
        ("refuse", _l("Refuse"))]))
    decision_reason = TextAreaField(_l("Reason (shown to the enterprise)"), [Optional()], render_kw={"rows": 3})
    planned_volume_m3 = StringField(_l("Approved volume (m³ a year, when changed)"), [Optional()],
                                    render_kw={"inputmode": "decimal"})


@_share_fields
class AdjustForm(_Breakdown):
    planned_volume_m3 = StringField(_l("Adjusted volume (m³ a year)"), [Optional()], render_kw={"inputmode": "decimal"})
    effective_from = StringField(_l("In force from"), [Optional()], render_kw={"type": "date"})
    reason = TextAreaField(_l("Reason for the adjustment"), [Optional()], render_kw={"rows": 3})
