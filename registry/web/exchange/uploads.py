"""Uploaded import files kept between the dry run and the confirmation: in UPLOAD_DIR/imports
under a random token, with a small JSON note of who uploaded what (never in the session, which
is a signed cookie). Files older than a day are removed at the next upload."""
from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 24 * 3600


@dataclass
class Upload:
    token: str
    path: Path
    fmt: str
    filename: str
    jobs: dict  # background check / import of a large file: {"check"|"import": job id}


def _root(upload_dir) -> Path:
    root = Path(upload_dir) / "imports"
    root.mkdir(parents=True, exist_ok=True)
    return root


def save(upload_dir, owner_id: int, storage, fmt: str) -> Upload:
    root = _root(upload_dir)
    _clean(root)
    token = secrets.token_hex(16)
    path = root / f"{token}.{fmt}"
    storage.save(str(path))
    filename = (storage.filename or f"import.{fmt}")[:200]
    (root / f"{token}.json").write_text(json.dumps({"owner": owner_id, "fmt": fmt, "filename": filename,
                                                    "at": time.time()}))
    return Upload(token, path, fmt, filename, {})


def load(upload_dir, token: str, owner_id: int) -> Upload | None:
    """The upload with this token, if it exists and belongs to ``owner_id``."""
    if not TOKEN.match(token or ""):
        return None
    root = _root(upload_dir)
    try:
        note = json.loads((root / f"{token}.json").read_text())
    except (OSError, ValueError):
        return None
    path = root / f"{token}.{note.get('fmt')}"
    if note.get("owner") != owner_id or not path.exists():
        return None
    return Upload(token, path, note["fmt"], note.get("filename") or path.name, note.get("jobs") or {})


def remember_job(upload: Upload, phase: str, job_id: str) -> None:
    note_path = upload.path.with_suffix(".json")
    note = json.loads(note_path.read_text())
    note["jobs"] = {**(note.get("jobs") or {}), phase: job_id}
    note_path.write_text(json.dumps(note))
    upload.jobs[phase] = job_id


def discard(upload: Upload) -> None:
    upload.path.unlink(missing_ok=True)
    upload.path.with_suffix(".json").unlink(missing_ok=True)


def _clean(root: Path) -> None:
    limit = time.time() - KEEP_SECONDS
    for item in root.iterdir():
        try:
            if item.stat().st_mtime < limit:
                item.unlink()
        except OSError:
            pass
