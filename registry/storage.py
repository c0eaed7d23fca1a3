"""Where an attachment's bytes live: once under their sha256, in the upload folder outside static/."""
from __future__ import annotations

from pathlib import Path


def path_for(upload_dir: str, sha256: str) -> Path:
    return Path(upload_dir) / sha256[:2] / sha256
