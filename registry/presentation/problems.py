"""RFC 9457 problem details: status, title, detail, and errors keyed by field."""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          409: "Conflict", 412: "Precondition failed", 413: "Payload too large", 415: "Unsupported media type",
          422: "Unprocessable content", 428: "Precondition required", 429: "Too many requests",
          500: "Internal server error", 503: "Service unavailable"}


class Problem(Exception):
    def __init__(self, status: int, detail: str = "", errors: dict | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors or {}, headers or {}


def response(status: int, detail: str = "", errors: dict | None = None, headers: dict | None = None):
    body = {"type": "about:blank", "status": status, "title": TITLES.get(status, "Error"), "detail": detail}
    if errors:
        body["errors"] = {str(k): (v if isinstance(v, (list, dict)) else str(v)) for k, v in errors.items()}
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def from_http(err: HTTPException):
    """Werkzeug/webargs errors (webargs puts field messages in ``err.data["messages"]``)."""
    data = getattr(err, "data", None) or {}
    messages = data.get("messages") or {}
    errors = {}
    for location, fields in messages.items() if isinstance(messages, dict) else []:
        if isinstance(fields, dict):
            for field, msgs in fields.items():
                errors[field] = msgs
        else:
            errors[location] = fields
    # the exception's own headers (Allow on a 405, RFC 9110 §15.5.6; Retry-After...), but its body's type
    headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    return response(err.code or 500, err.description if err.code != 500 else "", errors, headers)
