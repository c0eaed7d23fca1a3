"""Alembic: one head, the migrations build exactly the models' schema, and they run down and up."""
from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from registry import MIGRATIONS, create_app
from registry.models import Base
from tests.scratch_db import scratch_database


@pytest.fixture
def empty_url(tmp_path):
    """A database of its own, so that migrating it up and down touches no other test's data."""
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    # Named after the test database, so that two runs on different databases never share it.
    with scratch_database(url, f"{url.rsplit('/', 1)[1]}_migrations") as scratch:
        yield scratch


def _app(url, tmp_path):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "UPLOAD_DIR": str(tmp_path)})


def test_there_is_exactly_one_head():
    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1


def _differences(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_upgrade_from_empty_gives_the_models_schema(empty_url, tmp_path):
    app = _app(empty_url, tmp_path)
    with app.app_context():
        upgrade()
        from registry.extensions import db

        assert _differences(db.engine) == []
        divisions = db.session.execute(text("SELECT count(*) FROM divisions")).scalar_one()
        assert divisions == 14
        db.session.remove()
        db.engine.dispose()


def test_downgrade_to_base_then_upgrade_to_head(empty_url, tmp_path):
    app = _app(empty_url, tmp_path)
    with app.app_context():
        from registry.extensions import db

        upgrade()
        downgrade(revision="base")
        leftover = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert leftover == set()
        upgrade()
        assert _differences(db.engine) == []
        db.session.remove()
        db.engine.dispose()


def test_item12_certificates_issued_before_the_verification_key_get_one(empty_url, tmp_path):
    """Revision b7d41e0c9a52 gives every certificate already issued a random key of its own."""
    app = _app(empty_url, tmp_path)
    with app.app_context():
        from registry.extensions import db
        from registry.services import certificates
        from tests import factories as f
        from tests.factories.certificates import graded_file

        upgrade()
        for _ in range(2):
            certificates.issue(db.session, f.admin(), graded_file("A"))
        db.session.commit()
        db.session.remove()
        downgrade(revision="9881cc1f2e27")  # as before the key existed
        upgrade()
        keys = db.session.execute(text("SELECT verify_key FROM certificates")).scalars().all()
        assert len(keys) == 2 and len(set(keys)) == 2 and all(len(key) == 43 for key in keys)
        db.session.remove()
        db.engine.dispose()
