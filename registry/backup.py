"""Move a whole registry between databases: ``registry dump DIR`` and ``registry load DIR``.

A dump is a folder that any database the app supports can be rebuilt from, row for row:

- ``manifest.json``: the schema revision, and per table its row count and the sha256 of its rows;
  per attachment file its size and sha256;
- ``tables/<table>.jsonl``: one line per row, ordered by primary key, in a canonical form that does
  not depend on the database (timestamps in UTC as ``...Z``, dates ISO, JSON with sorted keys), so
  the same registry gives the same checksums on SQLite and on PostgreSQL;
- ``files/``: every file of the upload directory (documents, photos, signatures, certificate PDFs,
  all stored by sha256).

``load`` writes into an empty database migrated to the dump's revision and nothing else: it checks
the dump first (every checksum), copies the files, inserts every row in one transaction (COPY on
PostgreSQL), reads the rows back and compares their checksums before it commits; on any failure
nothing stays (the transaction is rolled back and the files it added are removed). Then the
PostgreSQL sequences are moved past the loaded ids.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import Table, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from registry.bulk import copy_rows
from registry.models import Base

FORMAT = "yiwu-registry-dump"
FORMAT_VERSION = 1
REFERENCE_TABLES = {"divisions"}  # filled by the migrations themselves; on load only the dump's missing rows are added
BATCH = 5000
_UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_NAIVE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


class BackupError(Exception):
    """The dump or the target cannot be used; the message says why and what to do."""


Progress = Callable[[int], None]


def _noop(_n: int) -> None:
    pass


# --- canonical rows --------------------------------------------------------------------------

def _write_moment(v: datetime) -> str:
    if v.tzinfo is not None:
        return v.astimezone(timezone.utc).strftime(_UTC_FORMAT)
    return v.strftime(_NAIVE_FORMAT)


def _read_moment(v: str) -> datetime:
    if v.endswith("Z"):
        return datetime.strptime(v, _UTC_FORMAT).replace(tzinfo=timezone.utc)
    return datetime.strptime(v, _NAIVE_FORMAT)


_MOMENT = (_write_moment, _read_moment)
# + 0.0 turns -0.0 into 0.0: SQLite keeps no negative zero, PostgreSQL does (equal values).
_NUMBER = (lambda v: float(v) + 0.0, float)
_BYTES = (lambda v: base64.b64encode(bytes(v)).decode("ascii"), base64.b64decode)
# column type -> (how a value is written, how a written value is read back); None, or a type not
# named here: the value as it is. None stays None both ways.
_CANONICAL: dict[str, tuple[Callable | None, Callable | None]] = {
    "UTCDateTime": _MOMENT, "DateTime": _MOMENT,
    "Date": (lambda v: v.isoformat(), date.fromisoformat),
    "Float": _NUMBER, "Numeric": _NUMBER, "Double": _NUMBER,
    "Boolean": (bool, None),
    "LargeBinary": _BYTES, "BLOB": _BYTES,
}


def _canonical(column, *, reading: bool = False) -> Callable | None:
    """How one column's value is written, or with ``reading`` read back as a Python value for the bulk
    loader; chosen once per column. None: the value as it is."""
    convert = _CANONICAL.get(type(column.type).__name__, (None, None))[reading]
    if convert is None:
        return None
    return lambda v: None if v is None else convert(v)


def canonical_line(row: dict) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def tables() -> list[Table]:
    """Every table of the models, parents before children."""
    return list(Base.metadata.sorted_tables)


def _canonical_rows(conn: Connection, table: Table) -> Iterator[str]:
    """The table's rows as canonical lines, in primary-key order, streamed."""
    plan = [(c.name, _canonical(c)) for c in table.c]
    stmt = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=2000)
    for row in conn.execute(stmt):
        values = row._mapping
        yield canonical_line({name: (conv(values[name]) if conv else values[name]) for name, conv in plan})


def _count(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):  # never migrated
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def upload_files(upload_dir: Path) -> list[Path]:
    """Every file under the upload directory (relative paths, sorted), except half-written ``.part`` files."""
    if not upload_dir.is_dir():
        return []
    found = []
    for root, dirs, names in os.walk(upload_dir):
        dirs.sort()
        for name in sorted(names):
            if not name.endswith(".part"):
                found.append((Path(root) / name).relative_to(upload_dir))
    return found


# --- dump --------------------------------------------------------------------------------------

@dataclass
class DumpResult:
    rows: int = 0
    tables: int = 0
    files: int = 0
    bytes: int = 0
    missing_files: list[str] = field(default_factory=list)


def referenced_files(conn: Connection) -> set[str]:
    """The sha256 of every attachment the rows name (documents, certificate PDFs, signatures)."""
    from registry.models import Certificate, Document, Inspection

    found: set[str] = set()
    for column in (Document.sha256, Certificate.pdf_sha256, Inspection.signature_sha256):
        found.update(v for v in conn.execute(select(column).where(column.is_not(None))).scalars())
    return found


def count_rows(conn: Connection) -> int:
    return sum(_count(conn, t) for t in tables())


def dump(conn: Connection, upload_dir: Path, target: Path, progress: Progress = _noop,
         file_progress: Progress = _noop) -> DumpResult:
    """Write every row and every attachment into ``target`` (an empty or new folder)."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: dump into a new folder")
    result = DumpResult()
    (target / "tables").mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "revision": revision(conn),
                "source": conn.dialect.name, "created_at": datetime.now(timezone.utc).strftime(_UTC_FORMAT),
                "tables": {}, "files": {}}
    for table in tables():
        digest = hashlib.sha256()
        rows = 0
        name = f"tables/{table.name}.jsonl"
        with (target / name).open("w", encoding="utf-8", newline="\n") as out:
            for line in _canonical_rows(conn, table):
                out.write(line)
                digest.update(line.encode("utf-8"))
                rows += 1
                if rows % 1000 == 0:
                    progress(1000)
        progress(rows % 1000)
        manifest["tables"][table.name] = {"rows": rows, "sha256": digest.hexdigest(), "file": name}
        result.rows += rows
        result.tables += 1
    stored = set()
    for rel in upload_files(upload_dir):
        destination = target / "files" / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upload_dir / rel, destination)
        sha, size = _hash_file(destination)
        manifest["files"][rel.as_posix()] = {"sha256": sha, "bytes": size}
        stored.add(sha)
        result.files += 1
        result.bytes += size
        file_progress(1)
    result.missing_files = sorted(referenced_files(conn) - stored)
    manifest["missing_files"] = result.missing_files
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True),
                                          encoding="utf-8")
    return result


# --- load --------------------------------------------------------------------------------------

@dataclass
class LoadResult:
    rows: int = 0
    tables: int = 0
    files: int = 0
    bytes: int = 0
    sequences: int = 0


def read_manifest(source: Path) -> dict:
    path = source / "manifest.json"
    if not path.is_file():
        raise BackupError(f"{source} holds no manifest.json: not a registry dump")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise BackupError(f"{path} is not valid JSON ({err}): the dump is damaged") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{path} is not a registry dump of format {FORMAT} {FORMAT_VERSION}")
    return manifest


def check_target(conn: Connection, manifest: dict) -> None:
    """Refuse anything but an empty database migrated to the dump's revision."""
    have, want = revision(conn), manifest["revision"]
    if have is None:
        raise BackupError("the target database is not migrated: run `flask --app wsgi db upgrade "
                          f"{want}` on an empty database first")
    if have != want:
        raise BackupError(f"the target database is at schema revision {have}, the dump at {want}: migrate an "
                          f"empty database to {want} (`flask --app wsgi db upgrade {want}`), load, then upgrade")
    names = {t.name for t in tables()}
    if set(manifest["tables"]) != names:
        odd = sorted(set(manifest["tables"]) ^ names)
        raise BackupError(f"the dump's tables differ from this version's ({', '.join(odd)})")
    filled = [(t.name, n) for t in tables() if t.name not in REFERENCE_TABLES and (n := _count(conn, t))]
    if filled:
        listed = ", ".join(f"{name} ({n} rows)" for name, n in filled[:5])
        raise BackupError(f"the target database is not empty: {listed}. Load only into an empty database "
                          "(create it and run `flask --app wsgi db upgrade`)")


def check_dump(source: Path, manifest: dict, progress: Progress = _noop) -> None:
    """Every table file and attachment matches its checksum in the manifest (a damaged dump loads nothing)."""
    for name, entry in manifest["tables"].items():
        path = source / entry["file"]
        if not path.is_file():
            raise BackupError(f"{entry['file']} is missing from the dump")
        if _hash_file(path)[0] != entry["sha256"]:
            raise BackupError(f"{entry['file']} does not match its checksum in the manifest: the dump is damaged")
    for rel, entry in manifest["files"].items():
        path = source / "files" / rel
        if not path.is_file():
            raise BackupError(f"files/{rel} is missing from the dump")
        if _hash_file(path)[0] != entry["sha256"]:
            raise BackupError(f"files/{rel} does not match its checksum in the manifest: the dump is damaged")
        progress(1)


def _copy_files(source: Path, manifest: dict, upload_dir: Path, added: list[Path], progress: Progress) -> int:
    """Copy the attachments; a file already there must be the same bytes. Returns the bytes copied."""
    total = 0
    for rel, entry in manifest["files"].items():
        destination = upload_dir / rel
        if destination.exists():
            if _hash_file(destination)[0] != entry["sha256"]:
                raise BackupError(f"{destination} exists with other content: load into an empty upload directory")
            progress(1)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        shutil.copyfile(source / "files" / rel, partial)
        os.replace(partial, destination)
        added.append(destination)
        if _hash_file(destination)[0] != entry["sha256"]:
            raise BackupError(f"{destination} was not copied intact")
        total += entry["bytes"]
        progress(1)
    return total


def _read_rows(path: Path, table: Table) -> Iterator[dict]:
    plan = [(c.name, _canonical(c, reading=True)) for c in table.c]
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                raw = json.loads(line)
            except ValueError as err:
                raise BackupError(f"{path.name} line {number}: not JSON ({err})") from None
            yield {name: (conv(raw.get(name)) if conv else raw.get(name)) for name, conv in plan}


def _keys(conn: Connection, table: Table) -> set[tuple]:
    """The primary keys of the rows ``table`` holds."""
    pk = list(table.primary_key.columns)
    return {tuple(row) for row in conn.execute(select(*pk))}


def _insert_table(session: Session, source: Path, table: Table, entry: dict, progress: Progress,
                  present: set[tuple] | None = None) -> int:
    """Stream the table's rows in batches. A column naming a row of the same table (a permit that
    renews another) is filled in afterwards, so that no batch refers to a row of a later one.
    Rows whose primary key is in ``present`` are there already (seeded reference rows): counted,
    not inserted."""
    path = source / entry["file"]
    own = [(fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table]
    pk = [c.name for c in table.primary_key.columns]
    later: list[dict] = []
    count = 0
    batch: list[dict] = []
    for row in _read_rows(path, table):
        if present and tuple(row[c] for c in pk) in present:
            count += 1
            continue
        for child, parent in own:
            if row[child] is not None:
                later.append({"ref": row[child], "key": row[parent], "column": child, "key_column": parent})
                row[child] = None
        batch.append(row)
        if len(batch) >= BATCH:
            copy_rows(session, table, batch)
            count += len(batch)
            progress(len(batch))
            batch = []
    copy_rows(session, table, batch)
    progress(len(batch))
    for child, parent in own:
        links = [{"ref": x["ref"], "key": x["key"]} for x in later if x["column"] == child]
        if links:  # plain SQL: no onupdate timestamp, no version bump, the row stays as dumped
            session.connection().execute(
                text(f'UPDATE "{table.name}" SET "{child}" = :ref WHERE "{parent}" = :key'), links)
    return count + len(batch)


def _reset_sequences(conn: Connection) -> int:
    """PostgreSQL: every serial/identity sequence continues after the largest loaded id."""
    if conn.dialect.name != "postgresql":
        return 0
    moved = 0
    for table in tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or type(pk[0].type).__name__ != "Integer":
            continue
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": table.name, "c": pk[0].name}).scalar()
        if sequence is None:
            continue
        top = conn.execute(select(func.max(pk[0]))).scalar()
        conn.execute(text("SELECT setval(CAST(:s AS regclass), :v, false)"), {"s": sequence, "v": (top or 0) + 1})
        moved += 1
    return moved


def verify(conn: Connection, manifest: dict, progress: Progress = _noop) -> list[str]:
    """Names of the tables whose rows (read back canonically) differ from the manifest's checksums."""
    wrong = []
    for table in tables():
        entry = manifest["tables"][table.name]
        digest = hashlib.sha256()
        rows = 0
        for line in _canonical_rows(conn, table):
            digest.update(line.encode("utf-8"))
            rows += 1
        progress(rows)
        if rows != entry["rows"] or digest.hexdigest() != entry["sha256"]:
            wrong.append(table.name)
    return wrong


def load(session: Session, source: Path, upload_dir: Path, progress: Progress = _noop,
         file_progress: Progress = _noop, verify_progress: Progress = _noop) -> LoadResult:
    """Load the dump at ``source`` into the session's (empty) database and ``upload_dir``; all or nothing."""
    manifest = read_manifest(source)
    conn = session.connection()
    check_target(conn, manifest)
    check_dump(source, manifest)
    result = LoadResult()
    added: list[Path] = []
    try:
        result.bytes = _copy_files(source, manifest, upload_dir, added, file_progress)
        result.files = len(manifest["files"])
        conn = session.connection()
        for table in tables():
            # The reference rows the migrations seeded (divisions) stay: the dump's rows with their keys are
            # not inserted again, and the checksums below prove the table equals the dump's all the same.
            seeded = _keys(conn, table) if table.name in REFERENCE_TABLES else None
            result.rows += _insert_table(session, source, table, manifest["tables"][table.name], progress, seeded)
            result.tables += 1
        wrong = verify(session.connection(), manifest, verify_progress)
        if wrong:
            raise BackupError(f"after loading, the rows of {', '.join(wrong)} differ from the dump's checksums; "
                              "nothing was kept")
        result.sequences = _reset_sequences(session.connection())
        session.commit()
    except BaseException:
        try:
            session.rollback()
        except Exception:  # the connection itself is gone: nothing was committed anyway
            session.invalidate()
        for path in added:
            path.unlink(missing_ok=True)
        raise
    return result
