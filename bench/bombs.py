"""Upload bombs of issue 16 (items 6, 7, 10), built here as an attacker would send them, and how long
their refusal takes and what memory it needs (the import limits' defaults; no database):

- an XLSX of about 300 KB holding one 300 MB shared string (was 428 s and 4.3 GB in a web worker);
- an XLSX of 20 million rows, without <dimension> (was over 9 minutes of counting in the request),
  plainly and with noise that keeps it under the ratio and total limits;
- a 7000 x 7000 PNG of 143 KB (was about 370 MB per photo);
- a 20 MB "PDF" of slashes (harmless, accepted) and one of stream keywords (the scan's worst cases).

The "upload request only" lines time what a web request now does with each XLSX (its size and zip
directory; the rest is the import job's, whose time the lines before show).
"""
from __future__ import annotations

import io
import random
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import peak_rss_mb

def _workbook() -> dict[str, bytes]:
    """The parts of a real one-sheet workbook, as openpyxl writes it."""
    from openpyxl import Workbook

    out = io.BytesIO()
    Workbook().save(out)
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _xlsx(path: Path, part: str, head: bytes, chunk: bytes, count: int, tail: bytes) -> Path:
    """A real workbook whose ``part`` is streamed in: ``head``, ``count`` times ``chunk``, ``tail``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in _workbook().items():
            if name != part:
                archive.writestr(name, content)
        with archive.open(part, "w", force_zip64=True) as out:
            out.write(head)
            for _ in range(count):
                out.write(chunk)
            out.write(tail)
    return path


SHEET = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'


def _refusal(label: str, size: int, refuse) -> None:
    started = time.perf_counter()
    try:
        refuse()
        outcome = "accepted"
    except Exception as err:  # noqa: BLE001 — what the refusal raised is what is printed
        outcome = f"refused ({type(err).__name__}: {str(err)[:70]})"
    print(f"  {label}: {size / 1e3:,.0f} KB, {outcome} in {time.perf_counter() - started:.2f} s; "
          f"peak memory so far {peak_rss_mb():.0f} MB", flush=True)


def run(kind: str = "sqlite", users: int = 0, **_options) -> None:
    from PIL import Image

    from registry.services import pdf_safety, photos
    from registry.services.spreadsheets import check_upload, read

    def read_all(path):
        with read(path, "xlsx") as sheets:
            for sheet in sheets:
                for _row in sheet.rows:
                    pass

    def in_request(path):  # what the upload request does before it queues the job (issue 16 item 6)
        return lambda: check_upload(path, "xlsx")

    with tempfile.TemporaryDirectory() as tmp:
        strings = _xlsx(Path(tmp) / "strings.xlsx", "xl/sharedStrings.xml", b"<sst><si><t>", b"A" * (1 << 20), 300,
                        b"</t></si></sst>")
        _refusal("XLSX, one 300 MB shared string", strings.stat().st_size, lambda: read_all(strings))
        rows = _xlsx(Path(tmp) / "rows.xlsx", "xl/worksheets/sheet1.xml", SHEET,
                     b"<row/>" * 100_000, 200, b"</sheetData></worksheet>")
        _refusal("XLSX, 20 million rows", rows.stat().st_size, lambda: read_all(rows))
        # The same rows with 1.3 MB of noise, so that the ratio stays under 100 and the total under 200 MB:
        # what is left is counting the row tags.
        noise = b"<!--" + bytes(random.Random(16).choices(b"abcdefghijklmnopqrstuvwxyz", k=2_000_000)) + b"-->"
        evasive = _xlsx(Path(tmp) / "evasive.xlsx", "xl/worksheets/sheet1.xml", SHEET + noise,
                        b"<row/>" * 100_000, 200, b"</sheetData></worksheet>")
        _refusal("XLSX, 20 million rows under the ratio", evasive.stat().st_size, lambda: read_all(evasive))
        for label, path in (("one 300 MB shared string", strings), ("20 million rows", rows),
                            ("20 million rows under the ratio", evasive)):  # accepted here: then refused by the job
            _refusal(f"upload request only, XLSX, {label}", path.stat().st_size, in_request(path))
    png = io.BytesIO()
    Image.new("1", (7000, 7000)).save(png, "PNG")
    _refusal("PNG, 7000 x 7000", len(png.getvalue()), lambda: photos.clean_photo(png.getvalue()))
    for label, content in (("PDF, 20 MB of slashes", b"%PDF-1.4\n" + b"/" * 20_000_000),
                           ("PDF, 1 million stream keywords", b"%PDF-1.4\n" + b"1 0 obj <<>> stream\n" * 1_000_000)):
        _refusal(label, len(content), lambda content=content: pdf_safety.check(content))
