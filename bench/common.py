"""A throw-away registry for a benchmark: its own database, migrated and filled with demo data."""
from __future__ import annotations

import os
import resource
import tempfile
import time
from contextlib import contextmanager

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("REGISTRY_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_BENCH_DB = os.environ.get("REGISTRY_BENCH_DB", "registry_bench")  # dropped and re-created by each bench


def database_url(kind: str) -> str:
    """A fresh, empty database of ``kind`` (sqlite or postgresql)."""
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='registry-bench-')}/bench.db"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_BENCH_DB}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_BENCH_DB


def make_app(url: str):
    from registry import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "UPLOAD_DIR": tempfile.mkdtemp()})


@contextmanager
def timed(label: str, count: int | None = None, unit: str = "users"):
    started = time.perf_counter()
    box = {}
    yield box
    elapsed = time.perf_counter() - started
    box["seconds"] = elapsed
    n = box.get("count", count)
    rate = f" = {n / elapsed:,.0f} {unit}/s" if n else ""
    print(f"  {label}: {elapsed:.2f} s{f' for {n:,} {unit}' if n else ''}{rate}", flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
