"""Between WTForms and the services: form values in, service errors back onto the fields."""
from __future__ import annotations

from uuid import uuid4

from flask_wtf import FlaskForm

_TECHNICAL = {"csrf_token", "version", "idempotency_key", "submit"}


def values(form: FlaskForm) -> dict:
    """The submitted values the service should judge (hidden technical fields left out)."""
    return {name: field.data for name, field in form._fields.items() if name not in _TECHNICAL}


def bind_errors(form: FlaskForm, errors: dict) -> dict:
    """Attach each service error to its field; return the ones no field shows (for the summary)."""
    rest = {}
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            rest[name] = message
    return rest


def new_key() -> str:
    return uuid4().hex


def version_of(form: FlaskForm) -> int | None:
    raw = form.version.data if "version" in form._fields else None
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return -1  # a tampered version can only be stale
