"""Response headers every page carries, a request id in the logs, and the health check."""
from __future__ import annotations

import logging
import time
import uuid

from flask import Blueprint, g, jsonify, request
from sqlalchemy import text

from registry.extensions import db

log = logging.getLogger("registry.requests")
bp = Blueprint("health", __name__)

# No inline scripts anywhere: scripts come from /static only. Inline style attributes are allowed
# for the server-drawn charts' sizes.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
       "object-src 'none'")


def register(app) -> None:
    @app.before_request
    def start():
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        request_id = getattr(g, "request_id", None)
        if request_id:
            response.headers["X-Request-Id"] = request_id
            elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            log.info("request", extra={"request_id": request_id, "method": request.method, "path": request.path,
                                       "status": response.status_code, "ms": round(elapsed, 1)})
        return response


@bp.route("/healthz")
def healthz():
    """For load balancers and monitoring: 200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 — any database failure means "not healthy"
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
