"""Error pages (HTML) that never show a stack trace; domain errors become 400/403/404."""
from __future__ import annotations

import logging

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from registry.presentation import problems
from registry.extensions import db
from registry.services import Conflict, Forbidden, NotFound, StaleEdit
from registry.services.checks import CONTROL_CHARS

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You are not allowed to do this."),
    404: _l("There is nothing at this address, or you may not see it."),
    405: _l("This address does not accept that method."),
    409: _l("Someone else changed this record at the same moment. Nothing of yours was saved: reload the page and "
            "try again."),
    413: _l("The upload is too large for any form of the registry. Go back: what you typed is still in the form; "
            "choose a smaller file (scan at a lower resolution, or split the document)."),
    429: _l("Too many requests: wait a minute and try again."),
    500: _l("Something went wrong on our side. Nothing was saved; please try again."),
    503: _l("The database is not reachable right now. Nothing was saved; please try again."),
}


def _api() -> bool:
    return request.path.startswith("/api/")


def _page(status: int, message=None):
    if _api():
        return problems.response(status, str(message or MESSAGES.get(status, "")))
    return render_template("errors/error.html", status=status, message=message or MESSAGES.get(status, "")), status


def register(app) -> None:
    @app.before_request
    def refuse_control_characters():
        """A query string with NUL or other control characters (a search box, a filter) is refused here:
        no filter could match it, and PostgreSQL refuses NUL in text (it would answer 503)."""
        for name, value in request.args.items(multi=True):
            if CONTROL_CHARS.search(name) or CONTROL_CHARS.search(value) or "\n" in value or "\r" in value:
                shown = CONTROL_CHARS.sub("", name)[:40]
                return _page(400, _l("The address contains control characters (in “%(name)s”).", name=shown))
        return None

    @app.errorhandler(NotFound)
    def not_found(_err):
        return _page(404)

    @app.errorhandler(Forbidden)
    def forbidden(_err):
        return _page(403)

    @app.errorhandler(StaleEdit)
    @app.errorhandler(Conflict)
    def changed_meanwhile(err):
        """A write that met another at the same moment (a parallel edit of one version, a close
        that lost the race) where the view has no page of its own for it: 409 with what to do,
        412 for the API when the version was the client's (If-Match), never a 500."""
        db.session.rollback()
        if _api() and isinstance(err, StaleEdit):
            return problems.response(412, "The record changed since you read it: GET it again and resend with "
                                          "the new ETag.")
        return _page(409)

    @app.errorhandler(CSRFError)
    def csrf_failed(_err):
        return _page(400, _l("The form expired or was sent from elsewhere. Go back, reload and try again."))

    @app.errorhandler(HTTPException)
    def http_error(err):
        if err.response is not None:  # an answer made for the case (the sign-in throttle's page)
            return err.response
        if _api():
            return problems.from_http(err)
        body, status = _page(err.code or 500)
        return body, status, [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]  # Allow on a 405

    @app.errorhandler(problems.Problem)
    def problem(err):
        return problems.response(err.status, err.detail, err.errors, err.headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(err):
        log.exception("database error")
        db.session.rollback()
        return _page(503)

    @app.errorhandler(Exception)
    def unexpected(err):
        log.exception("unhandled error")
        db.session.rollback()
        return _page(500)
