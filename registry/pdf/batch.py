"""Batch output written to disk as it is produced: one merged PDF, or a ZIP of one PDF per
certificate. Each certificate's bytes are dropped once written, so memory does not grow with
the batch."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Callable, Iterable

from registry.pdf.merge import MergedPdf

FORMATS = ("pdf", "zip")


def write(path: Path, fmt: str, pdfs: Iterable[tuple[str, bytes]], *, title: str = "",
          progress: Callable[[int], None] | None = None) -> int:
    """Write ``(name, pdf bytes)`` pairs to ``path`` as one PDF (``fmt="pdf"``) or a ZIP; the
    file appears only when complete. Returns the number of certificates written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown batch format {fmt!r}")
    part = Path(f"{path}.part")
    count = 0
    with open(part, "wb") as stream:
        if fmt == "pdf":
            with MergedPdf(stream, title=title) as merged:
                for _name, content in pdfs:
                    merged.append(content)
                    count += 1
                    if progress:
                        progress(1)
        else:
            # PDFs are compressed already: stored, not deflated again. Fixed timestamps keep the archive reproducible.
            with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
                for name, content in pdfs:
                    info = zipfile.ZipInfo(f"{name}.pdf", date_time=(2000, 1, 1, 0, 0, 0))
                    archive.writestr(info, content)
                    count += 1
                    if progress:
                        progress(1)
    os.replace(part, path)
    return count
