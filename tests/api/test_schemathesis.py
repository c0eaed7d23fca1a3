"""Property-based: generated requests over every operation of the OpenAPI document, valid and
invalid, pass every check schemathesis has (no 500, status codes, content types, headers and
bodies as documented, invalid data rejected, valid data not refused by the parser...).

Valid data may still break a rule of the registry that no JSON Schema can say (an unknown meter,
a permit that ends before it starts): that is 422, or 412/428 for an edit without a fresh ETag,
so those join the statuses the positive-data check accepts. Bounded in examples (a few per
operation and mode, once against the real file's ids and once against drawn ones) so the file
runs well under two minutes.
"""
from __future__ import annotations

from itertools import islice

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from registry.extensions import db
from registry.services.tokens import create_token
from tests import factories as f
from tests.factories.certificates import graded_file

EXAMPLES = 6
COVERAGE = 25  # of the coverage phase's cases per operation: boundaries, missing parts, other methods
# A PATCH whose If-Match is stale answers 412 before its body is read, whatever the body holds
# (RFC 9110 §13.2.1: preconditions are evaluated before the content is processed), so 412 is a
# right answer to invalid data too.
CONFIG = {"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "428", "429"]},
    "negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "412", "415", "422", "428", "429"]}}}


def _run(operation, mode, headers, path_parameters):
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)  # the same cases every run: a failure is the code's, never the draw's
    def check(case):
        case.call_and_validate(headers=headers)  # every built-in check (schemathesis' default)

    check()


def test_api_never_fails_and_keeps_its_schema(app):
    wu = graded_file("A")
    meter = wu.meters[0]
    admin = f.admin()
    headers = {"Authorization": f"Bearer {create_token(db.session, None, admin, 'schemathesis')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                            config=SchemathesisConfig.from_dict(CONFIG))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    known = {"water_user_id": wu.id, "record_id": meter.id}

    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        for mode in modes:
            _run(operation, mode, headers, None)
            if names and names <= set(known):
                _run(operation, mode, headers, {name: known[name] for name in names})
        cases = schema.iter_coverage_cases(operation, generation_modes=modes,
                                           generation_config=schema.config.generation_for(operation=operation))
        for case in islice(cases, COVERAGE):
            case.call_and_validate(headers=headers)
