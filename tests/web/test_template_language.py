"""Templates translate through registry.i18n's quicker lookup: it must follow the locale the
request chose, a forced locale (mails in the recipient's language) and a refresh."""
from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale, refresh

PAGE = '{{ _("Timeline") }}|{{ ngettext("%(num)d day", "%(num)d days", 2) }}'


def test_templates_follow_the_locale_in_force(app):
    with app.test_request_context("/"):
        assert render_template_string(PAGE).startswith("时间线|")
        with force_locale("en"):
            assert render_template_string(PAGE) == "Timeline|2 days"
        assert render_template_string(PAGE).startswith("时间线|")  # back to the request's own
    # The next request of the same app context chooses English; before_request refreshes.
    with app.test_request_context("/?lang=en"):
        refresh()
        assert render_template_string(PAGE) == "Timeline|2 days"
