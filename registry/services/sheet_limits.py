"""What one import file may hold (导入文件限额), checked before anything is parsed and while rows stream.

An XLSX is a zip of XML parts: 300 KB on disk can unpack to one 300 MB shared string (openpyxl
reads the shared strings whole when it opens the book), and a 3 MB file can describe 20 million
rows, or number two rows 1 and 20,000,000 (openpyxl yields every row between as an empty one).
So before openpyxl sees the file its zip directory is checked: the number of parts, the
total unpacked size, the largest part read whole (everything but the worksheets, which are
streamed) and the compression ratio of each part. The sizes the directory declares are binding:
Python's zipfile stops reading a part at its declared size and a part that would unpack further
fails its CRC, so openpyxl cannot get more than was checked here.

Then, still before openpyxl opens the book (which, for a sheet without ``<dimension>``, parses the
whole sheet just to size it, and which builds a whole row before handing it on), the row and cell
tags of every worksheet are counted in the unpacked bytes at C speed: more rows or cells than the
limits, or a row of more cells than Excel has columns, is refused there. A sheet's rows are its
``<dimension>`` when that is within the limit, else its row tags (an inflated dimension, as whole
formatted rows give, is no reason to refuse). While the rows stream, one budget per file counts rows, and cells as they are handed
on, and stops at the first row over a limit, so nothing is counted by walking 20 million rows. The limits are
the app's ``IMPORT_MAX_*`` settings (``REGISTRY_IMPORT_MAX_*``, see config.py and the README).

A refused file raises SheetError with a message in the user's language naming the limit; the
import reports it like any other error, so nothing is kept.
"""
from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, fields
from pathlib import Path

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

MB = 1024 * 1024
RATIO_FROM_BYTES = MB  # below 1 MB unpacked a part is harmless whatever its ratio (a tiny XML compresses 3-6x)
# How a row starts: <row r="1">, <row>, <row/>, and with a namespace prefix <x:row r="1"> or <x:row/>
# (the closing </x:row> ends in ":row>", so it is not counted).
ROW_TAGS = (b"<row", b":row ", b":row/")
ROW_SPLIT = re.compile(rb"<row|:row[ /]")
# How a cell starts: <c r="A1">, <c>, <c/>, <x:c r="A1">, <x:c/> (the closing </x:c> is not counted).
CELL_TAGS = (b"<c ", b"<c>", b"<c/", b":c ", b":c/")
ROW_MAX_CELLS = 16_384  # Excel's columns (A to XFD): a row with more cells is no spreadsheet
WIDE_ROW_WINDOW = 32 * 1024
CSV_MAX_LINE = MB  # characters on one line of a CSV: a million commas would be a million fields


class LimitError(Exception):
    """Raised by the checks; spreadsheets.py turns it into a SheetError (same message)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # IMPORT_MAX_BYTES: the file as stored (XLSX compressed, CSV as is)
    max_uncompressed_bytes: int  # IMPORT_MAX_UNCOMPRESSED_BYTES: every part of the workbook unpacked
    max_part_bytes: int  # IMPORT_MAX_PART_BYTES: one part read whole (shared strings, styles)
    max_entries: int  # IMPORT_MAX_ENTRIES: parts in the zip
    max_ratio: int  # IMPORT_MAX_RATIO: unpacked / packed size of one part
    max_rows: int  # IMPORT_MAX_ROWS: data rows of the whole file, empty rows included
    max_columns: int  # IMPORT_MAX_COLUMNS: columns of one sheet
    max_cells: int  # IMPORT_MAX_CELLS: cells of the whole file

    @classmethod
    def of(cls, config) -> Limits:
        from registry.config import DEFAULTS

        return cls(**{f.name: int(config.get("IMPORT_" + f.name.upper(), DEFAULTS["IMPORT_" + f.name.upper()]))
                      for f in fields(cls)})

    @classmethod
    def current(cls) -> Limits:
        """The running app's limits; the defaults outside an app (a script, a unit test)."""
        from registry.config import DEFAULTS

        return cls.of(current_app.config if has_app_context() else DEFAULTS)


def _n(value: int) -> str:
    return f"{value:,}"


def _mb(value: int) -> str:
    return f"{value / MB:g}"


def check_size(path: Path, limits: Limits) -> None:
    if Path(path).stat().st_size > limits.max_bytes:
        raise LimitError(_l("The file is larger than %(n)s MB; import it in smaller files.", n=_mb(limits.max_bytes)))


def _declared_entries(path: Path) -> int | None:
    """The entry count of the end-of-central-directory record, read before zipfile builds an
    object per entry (a 50 MB directory of empty entries would be a million of them)."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - (65535 + 22)))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None  # not a zip: openpyxl will say so
    (total,) = struct.unpack("<H", tail[at + 10:at + 12])
    return total


def check_upload(path: Path, fmt: str, limits: Limits) -> None:
    """What the web request checks before it queues the work (issue 16 item 6): the file's size and,
    for an XLSX, its zip directory (parts, unpacked sizes, ratios), read from the zip's headers
    without unpacking anything. Counting rows and parsing are the job's (``check_archive``, then
    openpyxl), in the queue's worker, never in a web worker."""
    check_size(path, limits)
    if fmt == "xlsx":
        archive = _checked_zip(path, limits)
        if archive is not None:
            archive.close()


def _checked_zip(path: Path, limits: Limits) -> zipfile.ZipFile | None:
    """The XLSX opened as a zip once its directory passed the limits; None when it is no zip (openpyxl
    refuses it later with the usual message)."""
    declared = _declared_entries(path)
    too_many = _l("The workbook holds more than %(n)s parts; save it again from Excel as a plain .xlsx.",
                  n=_n(limits.max_entries))
    if declared is None:
        return None
    if declared > limits.max_entries:  # 0xFFFF (ZIP64: more than 65,534) is more than any limit here
        raise LimitError(too_many)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError):
        return None
    try:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise LimitError(too_many)
        _check_directory(entries, limits)
    except BaseException:
        archive.close()
        raise
    return archive


def check_archive(path: Path, limits: Limits) -> dict[str, int]:
    """The zip directory of an XLSX, then the row and cell tags of its worksheets, against the
    limits, before openpyxl opens it; the row tags of each worksheet part."""
    check_size(path, limits)
    archive = _checked_zip(path, limits)
    if archive is None:
        return {}
    try:
        with archive:
            parts = [e.filename for e in archive.infolist() if _is_worksheet(e.filename)]
            return _check_worksheets(archive, parts, limits)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError):
        return {}  # openpyxl refuses it with the usual message


def _is_worksheet(name: str) -> bool:
    return name.startswith("xl/worksheets/") and name.endswith(".xml") and "/_rels/" not in name


def _check_directory(entries, limits: Limits) -> None:
    total = 0
    for entry in entries:
        total += entry.file_size
        if total > limits.max_uncompressed_bytes:
            raise LimitError(_l("The workbook unpacks to more than %(n)s MB; import it in smaller files.",
                                n=_mb(limits.max_uncompressed_bytes)))
        if entry.file_size >= RATIO_FROM_BYTES and entry.file_size > limits.max_ratio * max(entry.compress_size, 1):
            raise LimitError(_l("The part %(part)s of the workbook is compressed more than %(n)s times, as only a "
                                "zip bomb is; the file is refused.", part=entry.filename[:100], n=_n(limits.max_ratio)))
        if not _is_worksheet(entry.filename) and entry.file_size > limits.max_part_bytes:
            raise LimitError(_l("The part %(part)s of the workbook unpacks to more than %(n)s MB (shared texts and "
                                "styles are read whole); import it in smaller files.",
                                part=entry.filename[:100], n=_mb(limits.max_part_bytes)))


def _check_worksheets(archive: zipfile.ZipFile, parts: list[str], limits: Limits) -> dict[str, int]:
    """Row and cell tags of the worksheets, counted in the unpacked bytes at C speed, before openpyxl
    opens the book: without a <dimension> openpyxl parses a whole sheet to size it when it opens, and
    it builds a whole row before handing it on, so 20 million rows, or one row of 10 million cells,
    would be in memory before the first row reached the budget."""
    rows_seen = cells_seen = 0
    counts = {}
    for part in parts:
        rows, cells = _scan_worksheet(archive, part, limits, rows_seen, cells_seen)
        counts[part] = rows
        rows_seen, cells_seen = rows_seen + max(rows - 1, 0), cells_seen + cells
    return counts


def _may_hold_a_wide_row(work: bytes, current: int) -> bool:
    """Whether a row of this block may pass ROW_MAX_CELLS: a cell takes at least 4 bytes (<c/>), so
    such a row spans 64 KB and covers a whole 32 KB window without a row tag. Most blocks have a row
    tag every few hundred bytes and are let through with a find() per window."""
    first = min((at for at in (work.find(tag) for tag in ROW_TAGS) if at >= 0), default=len(work))
    if current + _tags(work[:first], CELL_TAGS) > ROW_MAX_CELLS:
        return True
    return any(all(work.find(tag, start, start + WIDE_ROW_WINDOW) < 0 for tag in ROW_TAGS)
               for start in range(first, len(work), WIDE_ROW_WINDOW)
               if start + WIDE_ROW_WINDOW <= len(work))


def _tags(data: bytes, tags) -> int:
    return sum(data.count(tag) for tag in tags)


def _scan_worksheet(archive: zipfile.ZipFile, part: str, limits: Limits, rows_before: int,
                    cells_before: int) -> tuple[int, int]:
    rows = cells = widest = current = 0  # current: cells of the row being read
    carry = b""
    with archive.open(part) as src:
        for chunk in iter(lambda: src.read(MB), b""):
            data = carry + chunk
            # Work up to the last ">": no tag is cut (a tag's text holds no ">"), the rest waits for the next chunk.
            cut = data.rfind(b">") + 1 or max(len(data) - 8, 0)
            work, carry = data[:cut], data[cut:]
            block_rows, block_cells = _tags(work, ROW_TAGS), _tags(work, CELL_TAGS)
            rows, cells = rows + block_rows, cells + block_cells
            if rows_before + rows - 1 > limits.max_rows:
                raise LimitError(_l("The file has more than %(n)s rows; import at most %(n)s rows at a time.",
                                    n=_n(limits.max_rows)))
            if cells_before + cells > limits.max_cells:
                raise LimitError(_l("The file has more than %(n)s cells; import it in smaller files.",
                                    n=_n(limits.max_cells)))
            if current + block_cells <= ROW_MAX_CELLS or not _may_hold_a_wide_row(work, current):
                last = max(work.rfind(tag) for tag in ROW_TAGS)  # keep the cells of the row that goes on
                current = current + block_cells if last < 0 else _tags(work[last:], CELL_TAGS)
                continue
            pieces = ROW_SPLIT.split(work)  # at most the row limit: checked above
            current += _tags(pieces[0], CELL_TAGS)
            widest = max(widest, current)
            for piece in pieces[1:]:
                current = _tags(piece, CELL_TAGS)
                widest = max(widest, current)
            if widest > ROW_MAX_CELLS:
                raise LimitError(_l("A row of the sheet has more than %(n)s cells, more than Excel has columns.",
                                    n=_n(ROW_MAX_CELLS)))
    return rows + _tags(carry, ROW_TAGS), cells


class Budget:
    """Rows and cells of one file, counted as they stream; the first row over a limit stops the import."""

    def __init__(self, limits: Limits):
        self.limits, self.rows, self.cells = limits, 0, 0

    def check_claimed_rows(self, sheet: str, rows: int | None) -> None:
        """Refuse before the first row when the rows a sheet holds (with the sheets before it) pass the limit."""
        if rows is not None and self.rows + rows > self.limits.max_rows:
            raise LimitError(self._rows_message(sheet))

    def row(self, sheet: str, values: tuple, header: bool = False, cells: bool = True) -> tuple:
        """Count one row (before it is used); return it cut to the column limit when the rest is empty.
        ``cells`` False: the row is padded to the sheet's width and its cells were counted from the
        file's cell tags before it was opened (_check_worksheets)."""
        self.rows += 0 if header else 1
        if self.rows > self.limits.max_rows:
            raise LimitError(self._rows_message(sheet))
        width = self.limits.max_columns
        if len(values) > width:
            if any(v not in (None, "") for v in values[width:]):
                raise LimitError(_l("The sheet %(sheet)s has more than %(n)s columns; see the template for the "
                                    "columns.", sheet=sheet, n=_n(width)))
            values = values[:width]
        self.cells += len(values) if cells else 0
        if self.cells > self.limits.max_cells:
            raise LimitError(_l("The file has more than %(n)s cells; import it in smaller files.",
                                n=_n(self.limits.max_cells)))
        return values

    def _rows_message(self, sheet: str):
        return _l("The file has more than %(n)s rows (sheet %(sheet)s); import at most %(n)s rows at a time.",
                  n=_n(self.limits.max_rows), sheet=sheet)
