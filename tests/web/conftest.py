"""An app with settings of the test's own (rate limits on, proxy hops), on the session's schema.

Flask-Limiter's limiter is one object bound by each ``create_app``, so a test that needs limits
builds its own app here instead of beside the ``app`` fixture.
"""
from __future__ import annotations

import pytest

from tests.conftest import _config, empty_tables


@pytest.fixture
def make_app(_schema, tmp_path):
    made = []

    def make(**overrides):
        from registry import create_app

        app = create_app({**_config(_schema, tmp_path / "uploads"), **overrides})
        context = app.app_context()
        context.push()
        made.append(context)
        return app

    yield make
    for context in reversed(made):
        empty_tables()
        context.pop()
