"""The content-addressed store of attachments and certificate PDFs: bytes kept once under their
sha256, outside static/. Shared by ``documents`` (uploads) and ``certificates`` (issued PDFs), so
that neither imports the other (issue 14: no import circle among the services)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def path_for(upload_dir: str, sha256: str) -> Path:
    return Path(upload_dir) / sha256[:2] / sha256


def store(upload_dir: str, content: bytes) -> str:
    """Write the bytes once under their sha256 (same content, same file) and return the hash."""
    digest = hashlib.sha256(content).hexdigest()
    target = path_for(upload_dir, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(content)
        os.replace(tmp, target)
    return digest
