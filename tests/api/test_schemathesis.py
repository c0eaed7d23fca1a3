"""Property-based: generated requests over every endpoint of the OpenAPI document never get a 500
and every response conforms to the document's own schema (schemathesis strategies + hypothesis)."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from registry.extensions import db
from registry.services.tokens import create_token
from tests import factories as f

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_api_never_fails_and_keeps_its_schema(app):
    meter = f.MeterFactory()
    f.PermitFactory(water_user=meter.water_user)
    headers = {"Authorization": f"Bearer {create_token(db.session, None, f.admin(), 'schemathesis')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
