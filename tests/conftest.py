"""Fixtures in the spirit of flaskr: ``app``, ``client``, ``auth``; real databases, never mocks.

The schema is built once per run by the real Alembic migrations (on SQLite by default, on
PostgreSQL when REGISTRY_TEST_DATABASE_URL is set); after each test every table but the
reference data is emptied, so no test sees another's rows.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
KEEP = {"divisions", "alembic_version"}
BUREAU = ZoneInfo("Asia/Shanghai")  # registry.clock.DEFAULT_TIMEZONE: the bureau's calendar day


def pytest_addoption(parser):
    parser.addoption(
        "--at", default=os.environ.get("REGISTRY_TEST_AT") or None, metavar="WHEN",
        help="start the process clock at WHEN: 'HH:MMZ' is the next such UTC time from now (the clock only "
             "moves forward, so a browser never sees an expired cookie), or a full ISO 8601 instant with an "
             "offset. The clock ticks from there. Default: now. Env: REGISTRY_TEST_AT.")


def session_start(at: str | None, now: datetime) -> datetime:
    """The instant the suite's clock starts at.

    Tests and the app read one clock (the bureau's day from ``registry.clock``), so the suite's
    result must not depend on it; ``--at`` moves it to prove that. A run never straddles the
    bureau's midnight either (a test's ``TODAY`` taken at import and the app's day taken later
    would differ by one): a start in the last hour before midnight in Shanghai moves on to 00:05.
    """
    if not at:
        start = now
    elif re.fullmatch(r"\d{1,2}:\d{2}Z", at, re.IGNORECASE):
        hour, minute = (int(part) for part in at[:-1].split(":"))
        start = datetime.combine(now.date(), time(hour, minute), timezone.utc)
        if start <= now:
            start += timedelta(days=1)
    else:
        start = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if start.tzinfo is None:
            raise pytest.UsageError(f"--at {at}: give an offset (e.g. 2026-12-01T18:30:00+00:00) or HH:MMZ")
    local = start.astimezone(BUREAU)
    if local.hour == 23:
        start = datetime.combine(local.date() + timedelta(days=1), time(0, 5), BUREAU)
    return start.astimezone(timezone.utc)


def pytest_configure(config):
    config._clock_start = start = session_start(config.getoption("--at"), datetime.now(timezone.utc))
    config._clock = time_machine.travel(start, tick=True)
    config._clock.start()


def pytest_unconfigure(config):
    clock = getattr(config, "_clock", None)
    if clock is not None:
        clock.stop()


def pytest_report_header(config):
    start = config._clock_start
    return (f"clock: started at {start:%Y-%m-%d %H:%M} UTC = {start.astimezone(BUREAU):%Y-%m-%d %H:%M} "
            f"Asia/Shanghai" + (f" (--at {config.getoption('--at')})" if config.getoption("--at") else ""))


def _compile_translations() -> None:
    po = ROOT / "registry/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
    mo = po.with_suffix(".mo")
    if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "compile", "-d",
                        str(ROOT / "registry/translations")], check=True)


def reset_database(url: str) -> None:
    """An empty database at ``url``: a fresh file for SQLite, a fresh public schema for PostgreSQL."""
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    reset_database(url)
    return url


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    """Run the migrations once for the whole session."""
    _compile_translations()
    from flask_migrate import upgrade

    from registry import create_app

    app = create_app(_config(database_url, tmp_path_factory.mktemp("uploads")))
    with app.app_context():
        upgrade()
        from registry.extensions import db

        db.engine.dispose()
    return database_url


def _config(url: str, upload_dir) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast in tests; production uses scrypt
        "UPLOAD_DIR": str(upload_dir),
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "EVALUATE_PENDING": "inline",  # a request leaves no thread working behind it
        "QUEUE_IMMEDIATE": True,  # a job runs in the request that submits it (tests/test_queue.py runs real workers)
    }


@pytest.fixture
def app(_schema, tmp_path):
    from registry import create_app

    app = create_app(_config(_schema, tmp_path / "uploads"))
    with app.app_context():
        yield app
        empty_tables()


def empty_tables() -> None:
    """Every row a test wrote, gone (the reference data stays), and the app's connections closed."""
    from registry.extensions import db
    from registry.models import Base

    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEEP:
                conn.execute(table.delete())
    db.engine.dispose()


@pytest.fixture
def db_session(app):
    from registry.extensions import db

    return db.session


@pytest.fixture
def client(app):
    return app.test_client()


class Auth:
    """Sign in and out through the real pages, as a person would."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = "correct-horse-battery"):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def english(message) -> str:
    """A (lazy) message as the English reader sees it, whatever the default language."""
    from flask_babel import force_locale

    with force_locale("en"):
        return str(message)
