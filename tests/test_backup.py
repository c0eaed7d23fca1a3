"""`registry dump` / `registry load`: a whole registry moves between SQLite and PostgreSQL with every
row, attachment and audit event, checked by checksums; a load is all or nothing.

The test database is one side; the other is a temporary SQLite file (when the tests run on
PostgreSQL) or a throwaway PostgreSQL database at 127.0.0.1:5432 (when they run on SQLite; skipped
when no PostgreSQL answers there).
"""
from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from registry.extensions import db
from registry.models import AuditEvent
from tests import factories as f
from tests.factories.certificates import graded_file
from tests.scratch_db import scratch_database

PDF = b"%PDF-1.4\n% a scanned permit\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL", "")
    candidate = url.rsplit("/", 1)[0] + "/postgres" if url.startswith("postgresql") else LOCAL_POSTGRES
    engine = create_engine(candidate, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return candidate
    except Exception:
        return None
    finally:
        engine.dispose()


@pytest.fixture
def fresh_postgres():
    """A new empty PostgreSQL database, dropped afterwards (skip when none can be reached)."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432: the SQLite <-> PostgreSQL direction is not tested")
    base = os.environ.get("REGISTRY_TEST_DATABASE_URL", "").rsplit("/", 1)[-1] or f"registry{os.getpid()}"
    with scratch_database(admin_url, f"{base}_load") as url:
        yield url


def _other_app(url: str, upload_dir: Path):
    """An app on another (empty) database, migrated to head."""
    from flask_migrate import upgrade

    from registry import create_app
    from tests.conftest import _config

    other = create_app(_config(url, upload_dir))
    with other.app_context():
        upgrade()
    return other


def _cli(app, *args):
    with app.app_context():  # the command runs in the current app context, so make it this app's
        result = app.test_cli_runner().invoke(args=["registry", *args])
        db.session.remove()
    return result


def _fill(app) -> dict:
    """A registry with demo files, accounts, audit events, a certificate (PDF), a scanned document
    and a renewed permit; returns what the test checks afterwards."""
    from registry import clock
    from registry.demo import generate, seed_accounts
    from registry.services import certificates, documents, evaluations, rules_versions

    generate(db.session, users=4, seed=11, today=clock.today())
    seed_accounts(db.session, "demo-password", [])
    evaluations.refresh(db.session, rules_versions.current(db.session), clock.today())
    db.session.commit()
    admin = f.admin()
    wu = graded_file("A")
    old = f.PermitFactory(water_user=wu, valid_from=date(2015, 1, 1), valid_to=date(2019, 12, 31),
                          issued_on=date(2015, 1, 1))
    from registry.models import Permit

    renewal = db.session.scalars(select(Permit).where(Permit.water_user_id == wu.id, Permit.id != old.id)).first()
    renewal.renews_id = old.id
    from registry.models import Calibration

    # PostgreSQL keeps a negative zero, SQLite does not: the checksums must not tell them apart.
    db.session.scalars(select(Calibration)).first().error_pct = -0.0
    db.session.commit()
    doc = documents.attach(db.session, admin, wu, {"title": "取水许可证扫描件", "kind": "permit_scan"},
                           filename="permit.pdf", content=PDF, upload_dir=app.config["UPLOAD_DIR"],
                           max_bytes=10**6)
    cert = certificates.issue(db.session, admin, wu)
    events = [(e.action, e.entity_type, e.entity_id, e.summary, e.changes, e.at)
              for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    return {"doc_sha": doc.sha256, "cert_sha": cert.pdf_sha256, "events": events, "renewal": renewal.id,
            "old": old.id}


def _tables(dump_dir: Path) -> dict:
    return json.loads((dump_dir / "manifest.json").read_text())["tables"]


def _audit(app):
    with app.app_context():
        return [(e.action, e.entity_type, e.entity_id, e.summary, e.changes, e.at)
                for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def _stored(upload_dir: Path, sha: str) -> bytes:
    return (upload_dir / sha[:2] / sha).read_bytes()


@pytest.fixture
def other_url(database_url, tmp_path, request):
    """The other kind of database: SQLite when the tests run on PostgreSQL, else PostgreSQL."""
    if database_url.startswith("postgresql"):
        return f"sqlite:///{tmp_path / 'other.db'}"
    return request.getfixturevalue("fresh_postgres")


@pytest.fixture
def back_url(database_url, tmp_path, request):
    """A fresh database of the test run's own kind, to load the dump of the other side into."""
    if database_url.startswith("postgresql"):
        return request.getfixturevalue("fresh_postgres")
    return f"sqlite:///{tmp_path / 'back.db'}"


def test_registry_moves_to_the_other_database_and_back_with_equal_checksums(app, tmp_path, other_url, back_url):
    made = _fill(app)
    first = tmp_path / "dump1"
    result = _cli(app, "dump", str(first))
    assert result.exit_code == 0, result.output
    assert "dumped" in result.output and "rows/s" in result.output
    tables = _tables(first)
    for name in ("audit_events", "accounts", "certificates", "documents", "readings", "permits", "evaluations"):
        assert tables[name]["rows"] > 0, name

    # There: SQLite -> PostgreSQL, or PostgreSQL -> SQLite.
    there = _other_app(other_url, tmp_path / "uploads-there")
    loaded = _cli(there, "load", str(first))
    assert loaded.exit_code == 0, loaded.output
    assert "checksums verified" in loaded.output
    second = tmp_path / "dump2"
    assert _cli(there, "dump", str(second)).exit_code == 0
    assert _tables(second) == tables
    assert _stored(tmp_path / "uploads-there", made["doc_sha"]) == PDF
    assert _stored(tmp_path / "uploads-there", made["cert_sha"]).startswith(b"%PDF")
    assert _audit(there) == made["events"]
    with there.app_context():
        from registry.models import Permit

        assert db.session.get(Permit, made["renewal"]).renews_id == made["old"]
        # Sequences continue after the loaded ids: a new record gets a new id.
        wu = f.WaterUserFactory()
        assert wu.id > max(e[2] or 0 for e in made["events"] if e[1] == "WaterUser")
        db.session.remove()
        db.engine.dispose()

    # And back: the other kind -> a fresh database of this run's kind.
    back = _other_app(back_url, tmp_path / "uploads-back")
    assert _cli(back, "load", str(second)).exit_code == 0
    third = tmp_path / "dump3"
    assert _cli(back, "dump", str(third)).exit_code == 0
    assert _tables(third) == tables
    assert _stored(tmp_path / "uploads-back", made["doc_sha"]) == PDF
    assert _audit(back) == made["events"]
    for other in (back,):
        with other.app_context():
            db.engine.dispose()


def test_load_refuses_a_database_that_is_not_empty(app, tmp_path):
    f.WaterUserFactory()
    dump_dir = tmp_path / "dump"
    assert _cli(app, "dump", str(dump_dir)).exit_code == 0
    result = _cli(app, "load", str(dump_dir))
    assert result.exit_code == 2
    assert "not empty" in result.output and "water_users (1 rows)" in result.output
    assert db.session.execute(text("SELECT count(*) FROM water_users")).scalar_one() == 1


def test_load_refuses_a_database_that_is_not_migrated(app, tmp_path):
    f.WaterUserFactory()
    dump_dir = tmp_path / "dump"
    assert _cli(app, "dump", str(dump_dir)).exit_code == 0
    from registry import create_app
    from tests.conftest import _config

    bare = create_app(_config(f"sqlite:///{tmp_path / 'bare.db'}", tmp_path / "bare-uploads"))
    result = _cli(bare, "load", str(dump_dir))
    assert result.exit_code == 2 and "not migrated" in result.output


def test_a_damaged_dump_loads_nothing(app, tmp_path):
    _fill(app)
    dump_dir = tmp_path / "dump"
    assert _cli(app, "dump", str(dump_dir)).exit_code == 0
    with (dump_dir / "tables/audit_events.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"id": 999999, "action": "forged"}\n')
    target = _other_app(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "uploads-target")
    result = _cli(target, "load", str(dump_dir))
    assert result.exit_code == 2
    assert "audit_events.jsonl does not match its checksum" in result.output
    with target.app_context():
        assert db.session.execute(text("SELECT count(*) FROM water_users")).scalar_one() == 0
    assert not (tmp_path / "uploads-target").exists() or not any((tmp_path / "uploads-target").rglob("*"))


def test_a_load_that_fails_midway_keeps_nothing(app, tmp_path):
    """A row the database refuses (late in the load order) rolls back every table and removes the
    attachments already copied."""
    _fill(app)
    dump_dir = tmp_path / "dump"
    assert _cli(app, "dump", str(dump_dir)).exit_code == 0
    path = dump_dir / "tables/readings.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    bad = json.loads(lines[-1])
    bad["id"] += 10**6
    bad["volume_m3"] = -5.0  # breaks the check constraint
    lines.append(json.dumps(bad, ensure_ascii=False) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    _rewrite_checksum(dump_dir, "readings")
    target = _other_app(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "uploads-target")
    result = _cli(target, "load", str(dump_dir))
    assert result.exit_code == 1, result.output
    assert "rolled back" in result.output
    with target.app_context():
        for table in ("water_users", "audit_events", "accounts", "documents"):
            assert db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
        assert db.session.execute(text("SELECT count(*) FROM divisions")).scalar_one() == 14
    assert not [p for p in (tmp_path / "uploads-target").rglob("*") if p.is_file()]


def _rewrite_checksum(dump_dir: Path, table: str) -> None:
    import hashlib

    manifest_path = dump_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    data = (dump_dir / f"tables/{table}.jsonl").read_bytes()
    manifest["tables"][table]["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["tables"][table]["rows"] = data.count(b"\n")
    manifest_path.write_text(json.dumps(manifest))


def test_seeded_reference_rows_stay_and_must_equal_the_dumps(app, tmp_path):
    """Load keeps the divisions the migration seeded (nothing is deleted) and adds only the dump's
    missing ones; a seeded division that differs from the dump's refuses the load, keeping nothing."""
    _fill(app)
    dump_dir = tmp_path / "dump"
    assert _cli(app, "dump", str(dump_dir)).exit_code == 0
    target = _other_app(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "uploads-target")
    with target.app_context():
        db.session.execute(text("UPDATE divisions SET name_en = 'Renamed' WHERE code = '001'"))
        db.session.commit()

    result = _cli(target, "load", str(dump_dir))

    assert result.exit_code != 0 and "divisions" in result.output, result.output
    with target.app_context():
        assert db.session.execute(text("SELECT count(*) FROM water_users")).scalar_one() == 0
        assert db.session.execute(text("SELECT name_en FROM divisions WHERE code = '001'")).scalar_one() == "Renamed"
