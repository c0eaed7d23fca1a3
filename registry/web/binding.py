"""Between WTForms and the services: form values in, service errors back onto the fields."""
from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from flask import current_app, request
from flask_wtf import FlaskForm

from registry.services import ValidationError

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


def submit(form: FlaskForm, save: Callable[[], object]) -> tuple[bool, dict | None, int]:
    """One pass of a keyed form: a fresh idempotency key on GET; on a valid POST, ``save()``, with
    the service's refusal bound to the fields. Returns (saved, summary of unbound errors, status):
    a refused or invalid POST answers 400 with the form as typed."""
    if request.method == "GET" and "idempotency_key" in form._fields:
        form.idempotency_key.data = new_key()
    if form.validate_on_submit():
        try:
            save()
        except ValidationError as err:
            return False, bind_errors(form, err.errors), 400
        return True, None, 200
    return False, None, 400 if request.method == "POST" else 200


def upload_of(form: FlaskForm) -> dict:
    """``form.file`` and the upload settings as the document services take them (read one byte
    past the limit, so an oversized file is told apart from one exactly at it)."""
    upload, limit = form.file.data, current_app.config["UPLOAD_MAX_BYTES"]
    return {"filename": getattr(upload, "filename", "") or "", "content": upload.read(limit + 1) if upload else b"",
            "upload_dir": current_app.config["UPLOAD_DIR"], "max_bytes": limit,
            "idempotency_key": form.idempotency_key.data}
