"""Configuration: defaults here, overridden by ``REGISTRY_*`` environment variables.

See ../shared/spec.md, "Configuration".
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """A setting is missing or unsafe for the environment we are starting in."""


DEFAULTS = {
    "ENV": "development",
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
    # Sign-in throttle (web/auth/throttle.py): every attempt per client address; refused attempts
    # per account name and client, in growing steps; refused attempts per account name from anywhere.
    "LOGIN_RATELIMIT": "20 per minute",
    "LOGIN_FAILURE_RATELIMIT": "5 per minute; 10 per 15 minutes; 20 per day",
    "LOGIN_ACCOUNT_RATELIMIT": "50 per hour; 200 per day",
    # Trusted reverse proxies in front of the app (Werkzeug ProxyFix): 0 trusts no X-Forwarded-*
    # header; 1 takes the client's address from the last X-Forwarded-For entry (one nginx), ...
    "PROXY_HOPS": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 30 * 60,  # idle timeout (seconds)
    "SESSION_ABSOLUTE_LIFETIME": 12 * 3600,  # a session ends this long after sign-in, active or not (seconds)
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ("zh_CN", "en"),
    "TIMEZONE": "Asia/Shanghai",
    "PER_PAGE": 50,
    "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
    "UPLOAD_MAX_BYTES": 20 * 1024 * 1024,
    "PASSWORD_HASH_METHOD": "scrypt",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "WTF_CSRF_TIME_LIMIT": None,
    # Certificates (issue 5): a TTF to embed for Chinese (unset: the built-in CID font STSong-Light),
    # the issuing authority printed on them, the public verification page's rate limit, and the
    # rule option that revokes a certificate when its file falls below the certificate grades.
    "CERTIFICATE_FONT": None,
    "BUREAU_NAME": "义乌市水务局",
    "BUREAU_NAME_EN": "Yiwu Water Bureau",
    "VERIFY_RATELIMIT": "30 per minute",
    "CERTIFICATE_AUTO_REVOKE": True,
    # Reminders (issue 9): SMTP for e-mail. Without MAIL_SERVER and MAIL_SENDER nothing is sent and
    # reminders wait in the bureau's outbox. MAIL_USE_TLS upgrades with STARTTLS, MAIL_USE_SSL
    # connects with implicit TLS (port 465); MAIL_TIMEOUT (seconds) bounds every SMTP exchange.
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_SENDER": None,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_TIMEOUT": 10,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    # Import files (registry/services/sheet_limits.py): checked before parsing and while rows stream,
    # so a zip bomb or a claimed 20 million rows is refused at once, naming the limit.
    "IMPORT_MAX_BYTES": 50 * 1024 * 1024,
    "IMPORT_MAX_UNCOMPRESSED_BYTES": 200 * 1024 * 1024,  # 200,000 readings unpack to about 45 MB
    "IMPORT_MAX_PART_BYTES": 20 * 1024 * 1024,  # shared strings and styles, which openpyxl reads whole
    "IMPORT_MAX_ENTRIES": 500,  # an Excel workbook has 10-30 parts
    "IMPORT_MAX_RATIO": 100,  # Excel and openpyxl sheets compress 10-15 times
    "IMPORT_MAX_ROWS": 200_000,
    "IMPORT_MAX_COLUMNS": 100,
    "IMPORT_MAX_CELLS": 5_000_000,
    # Images (registry/services/photos.py): pixels decoded at most, read from the header before decoding;
    # larger JPEGs are decoded at 1/2-1/8 scale when that fits. 16 million: a 12 MP tablet photo, an A4
    # scan at 300 dpi (8.7 MP); a 7000 x 7000 PNG (49 MP) is refused.
    "IMAGE_MAX_PIXELS": 16_000_000,
    # Re-scoring after bulk readings (registry/rescoring.py): queue | inline | off.
    "EVALUATE_PENDING": "queue",
    # The task queue (registry/queue.py, Huey): Redis when REDIS_URL is set (several hosts), else a
    # SQLite file (QUEUE_PATH, default instance/queue.db); QUEUE_IMMEDIATE runs each job at once in
    # the process that submits it (tests). A running job whose heartbeat is older than
    # JOB_STALE_SECONDS lost its worker and is queued again. NIGHTLY_AT: the bureau's time (HH:MM)
    # of the queue's nightly recompute; the reminders follow 15 minutes later.
    "REDIS_URL": None,
    "QUEUE_PATH": None,
    "QUEUE_IMMEDIATE": False,
    "JOB_STALE_SECONDS": 60,
    "NIGHTLY_AT": "02:00",
    # A background import that runs longer than this many seconds is stopped and rolled back.
    "IMPORT_MAX_SECONDS": 900,
    # ... or whose worker gains more than this much resident memory (MB) while it runs.
    "IMPORT_MAX_MEMORY_MB": 2048,
}


def load(app, overrides: dict | None = None) -> None:
    """Fill ``app.config``: defaults, then the environment, then explicit overrides (tests)."""
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("REGISTRY")
    if overrides:
        app.config.update(overrides)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    # spec.md names the setting REGISTRY_DATABASE_URL; Flask-SQLAlchemy reads SQLALCHEMY_DATABASE_URI.
    url = app.config.get("DATABASE_URL") or f"sqlite:///{instance / 'registry.db'}"
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", url)
    if not (overrides and "SQLALCHEMY_DATABASE_URI" in overrides):
        app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.setdefault("UPLOAD_DIR", str(instance / "uploads"))
    app.config.setdefault("BATCH_DIR", str(Path(app.config["UPLOAD_DIR"]).parent / "batches"))  # batch print files
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URI"]

    for name in ("PROXY_HOPS", "SESSION_ABSOLUTE_LIFETIME"):
        if not isinstance(app.config[name], int) or isinstance(app.config[name], bool) or app.config[name] < 0:
            raise ConfigError(f"REGISTRY_{name} must be a whole number, 0 or more")
    if app.config["EVALUATE_PENDING"] == "thread":  # the web process's thread is gone: the queue does it
        app.config["EVALUATE_PENDING"] = "queue"
    if app.config["EVALUATE_PENDING"] not in ("queue", "inline", "off"):  # registry.rescoring.MODES
        raise ConfigError("REGISTRY_EVALUATE_PENDING must be queue, inline or off")
    if app.config["ENV"] == "production":
        if not app.config.get("SECRET_KEY"):
            raise ConfigError("REGISTRY_SECRET_KEY must be set when REGISTRY_ENV=production")
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    elif not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _development_secret(instance / "secret_key")


def _development_secret(path: Path) -> str:
    """A key generated once per instance folder, so sessions survive restarts in development."""
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()
