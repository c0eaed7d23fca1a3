"""A throw-away registry for a benchmark: its own database, migrated and filled with demo data."""
from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("REGISTRY_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_BENCH_DB = os.environ.get("REGISTRY_BENCH_DB", "registry_bench")  # dropped and re-created by each bench
SEED_DIR = Path(os.environ.get("REGISTRY_BENCH_SEED_DIR", Path(tempfile.gettempdir()) / "registry-bench-seeds"))


def database_url(kind: str) -> str:
    """A fresh, empty database of ``kind`` (sqlite or postgresql)."""
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='registry-bench-')}/bench.db"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_BENCH_DB}"'))
    admin.dispose()
    return _pg_url(PG_BENCH_DB)


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def seeded_database_url(kind: str, key: str, build: Callable[[str], None]) -> str:
    """A fresh database of ``kind`` holding the seed ``key``, copied from a kept seed.

    The seed is built once by ``build(url)`` (migrate and fill an empty database) and kept: a
    SQLite file under ``REGISTRY_BENCH_SEED_DIR``, or the PostgreSQL database
    ``<REGISTRY_BENCH_DB>_seed_<key>``. Every run works on its own copy (a file copy, or
    ``CREATE DATABASE … TEMPLATE``), so a seed of 100,000 demo water users is generated once,
    not per run. A seed is kept only once ``build`` has finished.
    """
    if kind == "sqlite":
        SEED_DIR.mkdir(parents=True, exist_ok=True)
        seed = SEED_DIR / f"{key}.db"
        if not seed.exists():
            partial = SEED_DIR / f"{key}.partial.db"
            partial.unlink(missing_ok=True)
            started = time.perf_counter()
            build(f"sqlite:///{partial}")
            os.replace(partial, seed)
            print(f"  seed {seed} built in {time.perf_counter() - started:.0f} s", flush=True)
        target = Path(tempfile.mkdtemp(prefix="registry-bench-")) / "bench.db"
        shutil.copyfile(seed, target)
        return f"sqlite:///{target}"
    seed_db = f"{PG_BENCH_DB}_seed_{key}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            kept = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": seed_db}).first()
            if kept is None:
                partial = f"{seed_db}_partial"
                conn.execute(text(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{partial}"'))
                started = time.perf_counter()
                build(_pg_url(partial))
                _analyze(_pg_url(partial))  # as autovacuum would in time: plans need statistics
                conn.execute(text(f'ALTER DATABASE "{partial}" RENAME TO "{seed_db}"'))
                print(f"  seed database {seed_db} built in {time.perf_counter() - started:.0f} s", flush=True)
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)'))
            # PostgreSQL 15 copies through the WAL by default: minutes for a 1.5 GB seed.
            copy = " STRATEGY = FILE_COPY" if conn.dialect.server_version_info >= (15,) else ""
            conn.execute(text(f'CREATE DATABASE "{PG_BENCH_DB}" TEMPLATE "{seed_db}"{copy}'))
    finally:
        admin.dispose()
    return _pg_url(PG_BENCH_DB)


def _analyze(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def settle(engine) -> None:
    """PostgreSQL: fresh statistics and visibility map, as autovacuum keeps them on a running
    server. A copied seed just upgraded by migrations (which fill new columns) otherwise has
    autovacuum start mid-run and the planner guess from stale counts."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def make_app(url: str):
    from registry import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "UPLOAD_DIR": tempfile.mkdtemp(),
                       "QUEUE_PATH": str(Path(tempfile.mkdtemp()) / "queue.db")})


@contextmanager
def timed(label: str, count: int | None = None, unit: str = "users", server_cpu: Callable[[], float] | None = None):
    """Wall time, rate and CPU seconds of the block: this process and its children, plus the
    database server's when ``server_cpu`` reads it (the machine is shared: CPU time shows
    what the work cost, wall time what it took under the load at the time)."""
    started, cpu, server = time.perf_counter(), cpu_seconds(), server_cpu() if server_cpu else 0.0
    box = {}
    yield box
    elapsed = time.perf_counter() - started
    box["seconds"] = elapsed
    box["cpu"] = cpu_seconds() - cpu
    n = box.get("count", count)
    rate = f" = {n / elapsed:,.0f} {unit}/s" if n else ""
    used = f"; CPU {box['cpu']:.1f} s"
    if server_cpu:
        box["server_cpu"] = server_cpu() - server
        used += f" + database server {box['server_cpu']:.1f} s"
    load = os.getloadavg()[0]
    print(f"  {label}: {elapsed:.2f} s{f' for {n:,} {unit}' if n else ''}{rate}{used}; load {load:.1f}", flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
