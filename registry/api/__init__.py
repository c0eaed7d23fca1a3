"""/api/v1: the registry for the city water platform, telemetry gateways and scripts.

Bearer tokens only (a browser session cookie is never accepted here, so no cross-site request can
use it); every query is scoped by ``registry.access``; writes go through the same services as
the web forms; errors are ``application/problem+json`` (RFC 9457).
"""
from __future__ import annotations

import http

import marshmallow as ma
from flask_smorest import Api
from flask_smorest.utils import prepare_response

PROBLEM = "application/problem+json"


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, with the per-field messages under ``errors``."""

    type = ma.fields.String()
    status = ma.fields.Integer()
    title = ma.fields.String()
    detail = ma.fields.String()
    errors = ma.fields.Dict()


class RegistryApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """Errors are answered by registry.web.errors, which picks HTML or problem+json by path."""

    def _register_responses(self):
        """Document every error response as application/problem+json, as they are sent."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


api = RegistryApi()

API_CONFIG = {
    "API_TITLE": "Yiwu self-supplied water user registry",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "info": {"description": "One file per self-supplied water user (自备取水户一户一档). "
                                "Authenticate with `Authorization: Bearer <token>` (registry create-token)."},
    },
}


def init_app(app) -> None:
    for key, value in API_CONFIG.items():
        app.config.setdefault(key, value)
    api.init_app(app)
    from registry.api import resources  # noqa: F401  (registers the blueprints)

    for blueprint in resources.BLUEPRINTS:
        api.register_blueprint(blueprint)
    from registry.api.schemas import TelemetryPointIn

    if "TelemetryPoint" not in api.spec.components.schemas:  # named by the telemetry batch's items (anyOf)
        api.spec.components.schema("TelemetryPoint", schema=TelemetryPointIn)
    from registry.api.docs import bp as docs_bp
    from registry.extensions import csrf

    app.register_blueprint(docs_bp)

    for blueprint in resources.BLUEPRINTS:
        csrf.exempt(blueprint)
