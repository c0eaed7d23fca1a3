"""What one import file may hold (导入文件限额), checked before anything is parsed and while rows stream.

An XLSX is a zip of XML parts: 300 KB on disk can unpack to one 300 MB shared string (openpyxl
reads the shared strings whole when it opens the book), and a 3 MB file can describe 20 million
rows, or number two rows 1 and 20,000,000 (openpyxl yields every row between as an empty one).
So before openpyxl sees the file its zip directory is checked: the number of parts, the
total unpacked size, the largest part read whole (everything but the worksheets, which are
streamed) and the compression ratio of each part. The sizes the directory declares are binding:
Python's zipfile stops reading a part at its declared size and a part that would unpack further
fails its CRC, so openpyxl cannot get more than was checked here.

A sheet's rows are taken from its ``<dimension>`` when that is within the limit (nothing to read),
else counted from its row tags in the unpacked bytes (an inflated dimension, as whole formatted rows
give, is no reason to refuse), and a sheet holding more row tags than the limit is refused before
its first row. While the rows stream, one budget per file counts rows, and cells as they are handed
on, and stops at the first row over a limit, so nothing is counted by walking 20 million rows. The limits are
the app's ``IMPORT_MAX_*`` settings (``REGISTRY_IMPORT_MAX_*``, see config.py and the README).

A refused file raises SheetError with a message in the user's language naming the limit; the
import reports it like any other error, so nothing is kept.
"""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

MB = 1024 * 1024
RATIO_FROM_BYTES = MB  # below 1 MB unpacked a part is harmless whatever its ratio (a tiny XML compresses 3-6x)
# How a row starts: <row r="1">, <row>, <row/>, and with a namespace prefix <x:row r="1"> or <x:row/>
# (the closing </x:row> ends in ":row>", so it is not counted).
ROW_TAGS = (b"<row", b":row ", b":row/")
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


def check_archive(path: Path, limits: Limits) -> None:
    """The zip directory of an XLSX against the limits, before openpyxl opens it."""
    check_size(path, limits)
    declared = _declared_entries(path)
    too_many = _l("The workbook holds more than %(n)s parts; save it again from Excel as a plain .xlsx.",
                  n=_n(limits.max_entries))
    if declared is None:
        return
    if declared > limits.max_entries:  # 0xFFFF (ZIP64: more than 65,534) is more than any limit here
        raise LimitError(too_many)
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # openpyxl refuses it with the usual message
    if len(entries) > limits.max_entries:
        raise LimitError(too_many)
    total = 0
    for entry in entries:
        total += entry.file_size
        if total > limits.max_uncompressed_bytes:
            raise LimitError(_l("The workbook unpacks to more than %(n)s MB; import it in smaller files.",
                                n=_mb(limits.max_uncompressed_bytes)))
        if entry.file_size >= RATIO_FROM_BYTES and entry.file_size > limits.max_ratio * max(entry.compress_size, 1):
            raise LimitError(_l("The part %(part)s of the workbook is compressed more than %(n)s times, as only a "
                                "zip bomb is; the file is refused.", part=entry.filename[:100], n=_n(limits.max_ratio)))
        streamed = entry.filename.startswith("xl/worksheets/") and not entry.filename.startswith("xl/worksheets/_rels")
        if not streamed and entry.file_size > limits.max_part_bytes:
            raise LimitError(_l("The part %(part)s of the workbook unpacks to more than %(n)s MB (shared texts and "
                                "styles are read whole); import it in smaller files.",
                                part=entry.filename[:100], n=_mb(limits.max_part_bytes)))


def count_row_tags(archive: zipfile.ZipFile, part: str) -> int:
    """Rows a worksheet part holds: its ``<row`` tags counted in the unpacked bytes (C speed, bounded
    by check_archive), not by parsing every row."""
    count, tail, keep = 0, b"", max(map(len, ROW_TAGS)) - 1
    with archive.open(part) as src:
        for chunk in iter(lambda: src.read(MB), b""):
            data = tail + chunk
            # Each tag only where it may end in the new chunk: one cut by the chunk border is counted once.
            count += sum(data.count(tag, max(0, len(tail) - len(tag) + 1)) for tag in ROW_TAGS)
            tail = data[-keep:]
    return count


class Budget:
    """Rows and cells of one file, counted as they stream; the first row over a limit stops the import."""

    def __init__(self, limits: Limits):
        self.limits, self.rows, self.cells = limits, 0, 0

    def check_claimed_rows(self, sheet: str, rows: int | None) -> None:
        """Refuse before the first row when the rows a sheet holds (with the sheets before it) pass the limit."""
        if rows is not None and self.rows + rows > self.limits.max_rows:
            raise LimitError(self._rows_message(sheet))

    def row(self, sheet: str, values: tuple, header: bool = False) -> tuple:
        """Count one row (before it is used); return it cut to the column limit when the rest is empty."""
        self.rows += 0 if header else 1
        if self.rows > self.limits.max_rows:
            raise LimitError(self._rows_message(sheet))
        width = self.limits.max_columns
        if len(values) > width:
            if any(v not in (None, "") for v in values[width:]):
                raise LimitError(_l("The sheet %(sheet)s has more than %(n)s columns; see the template for the "
                                    "columns.", sheet=sheet, n=_n(width)))
            values = values[:width]
        self.cells += len(values)
        if self.cells > self.limits.max_cells:
            raise LimitError(_l("The file has more than %(n)s cells; import it in smaller files.",
                                n=_n(self.limits.max_cells)))
        return values

    def _rows_message(self, sheet: str):
        return _l("The file has more than %(n)s rows (sheet %(sheet)s); import at most %(n)s rows at a time.",
                  n=_n(self.limits.max_rows), sheet=sheet)
