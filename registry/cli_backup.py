"""``flask --app wsgi registry dump DIR`` and ``registry load DIR``: move a whole registry (every
row, every attachment) between SQLite and PostgreSQL, checked by checksums (registry.backup)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from registry.cli import registry_cli
from registry.extensions import db


def _rate(n: int, elapsed: float, unit: str) -> str:
    return f"{n / max(elapsed, 1e-9):.0f} {unit}/s"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class _Ticks:
    """Redraw the bar every few thousand rows, not per row."""

    def __init__(self, bar, every: int = 2000):
        self.bar, self.every, self.pending = bar, every, 0

    def __call__(self, n: int) -> None:
        self.pending += n
        if self.pending >= self.every:
            self.bar.update(self.pending)
            self.pending = 0

    def flush(self) -> None:
        self.bar.update(self.pending)
        self.pending = 0


@registry_cli.command("dump")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def dump_command(directory: Path):
    """Write the whole registry into DIR (a new or empty folder): every row of every table, every
    attachment of the upload directory, and manifest.json with row counts and sha256 checksums.

    On PostgreSQL the rows are read in one consistent snapshot while the app keeps running;
    stop the app before dumping a SQLite registry.
    """
    from registry import backup

    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    started = time.perf_counter()
    try:
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                total = backup.count_rows(conn)
                files = len(backup.upload_files(upload_dir))
                with click.progressbar(length=total + files, label="rows and files", file=sys.stderr) as bar:
                    ticks = _Ticks(bar)
                    result = backup.dump(conn, upload_dir, directory, progress=ticks, file_progress=ticks)
                    ticks.flush()
    except backup.BackupError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    elapsed = time.perf_counter() - started
    click.echo(f"dumped {result.rows} rows of {result.tables} tables and {result.files} files "
               f"({_megabytes(result.bytes)}) into {directory} in {elapsed:.1f} s ({_rate(result.rows, elapsed, 'rows')})")
    if result.missing_files:
        click.echo(f"warning: {len(result.missing_files)} attachments named by the records are missing from "
                   f"{upload_dir} (listed in manifest.json as missing_files): "
                   + ", ".join(result.missing_files[:5]), err=True)


@registry_cli.command("load")
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def load_command(directory: Path):
    """Load a dump made by `registry dump` into this (empty, migrated) database and upload directory.

    All or nothing: the dump's checksums are checked first, the rows are read back and compared
    with them before the commit, and on any failure nothing is kept. PostgreSQL sequences are
    moved past the loaded ids.
    """
    from registry import backup

    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    started = time.perf_counter()
    try:
        manifest = backup.read_manifest(directory)
        total = sum(entry["rows"] for entry in manifest["tables"].values())
        # One bar: the files, the rows written, then the same rows read back and checked.
        with click.progressbar(length=len(manifest["files"]) + 2 * total, label="files, rows, verifying",
                               file=sys.stderr) as bar:
            ticks = _Ticks(bar)
            result = backup.load(db.session, directory, upload_dir, progress=ticks, file_progress=ticks,
                                 verify_progress=ticks)
            ticks.flush()
    except backup.BackupError as err:
        click.echo(f"error: {err}; nothing was loaded", err=True)
        sys.exit(2)
    except Exception as err:  # a constraint the rows break, the database going away ...: rolled back
        click.echo(f"error: the load failed and was rolled back, nothing was kept: {type(err).__name__}: "
                   f"{str(err).splitlines()[0] if str(err) else ''}", err=True)
        sys.exit(1)
    elapsed = time.perf_counter() - started
    click.echo(f"loaded {result.rows} rows of {result.tables} tables and {result.files} files "
               f"({_megabytes(result.bytes)}) in {elapsed:.1f} s ({_rate(result.rows, elapsed, 'rows')}); "
               f"checksums verified; {result.sequences} sequences reset")
