"""The content-addressed store of attachments and certificate PDFs: bytes kept once under their
sha256, outside static/. Shared by ``documents`` (uploads) and ``certificates`` (issued PDFs), so
that neither imports the other (issue 14: no import circle among the services)."""
from __future__ import annotations

import hashlib

from registry.storage import path_for, write_once  # noqa: F401  (re-exported: where the bytes are)


def store(upload_dir: str, content: bytes) -> str:
    """Write the bytes once under their sha256 (same content, same file) and return the hash."""
    digest = hashlib.sha256(content).hexdigest()
    write_once(path_for(upload_dir, digest), content)
    return digest
