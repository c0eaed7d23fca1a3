"""Where an attachment's bytes live: once under their sha256, in the upload folder outside static/."""
from __future__ import annotations

import os
from pathlib import Path


def path_for(upload_dir: str, sha256: str) -> Path:
    return Path(upload_dir) / sha256[:2] / sha256


def original_path(upload_dir: str, sha256: str) -> Path:
    """An uploaded image as received, kept until the queue has re-encoded it: outside the served
    store (``path_for`` never names it), so nothing serves bytes that were not decoded whole."""
    return Path(upload_dir) / "originals" / sha256[:2] / sha256


def write_once(target: Path, content: bytes) -> None:
    """Write the bytes at ``target`` unless there already (content-addressed: same name, same bytes)."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(content)
        os.replace(tmp, target)
