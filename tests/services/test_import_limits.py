"""Issue 16 item 6: spreadsheet bombs are refused before parsing, or at the first row over a limit,
with a message naming the limit, and nothing is kept. The bombs are built here: small on disk,
large unpacked, as an attacker would send them."""
from __future__ import annotations

import io
import random
import zipfile

import openpyxl
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import WaterUser
from registry.services import exchange, sheet_limits
from registry.services.spreadsheets import read
from tests import factories as f
from tests.conftest import english

HEADER = ["档案号", "单位名称", "统一社会信用代码"]
NOISE = random.Random(16).randbytes(1024 * 1024)  # a megabyte that does not compress


def _base_workbook() -> dict[str, bytes]:
    """The parts of a real one-sheet workbook with a shared-string table, as openpyxl writes it."""
    book = Workbook()
    book.active.title = "取水户"
    book.active.append(HEADER)
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _bomb(path, replace: dict[str, object], extra: dict[str, bytes] | None = None):
    """The base workbook with some parts replaced; a part given as (head, chunk, count, tail) is
    streamed into the zip (count chunks), so a 100 MB part never sits in memory."""
    parts = {**_base_workbook(), **(extra or {}), **replace}
    if "xl/sharedStrings.xml" in replace:  # declared, so that openpyxl would read it on opening
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            if isinstance(content, tuple):
                head, chunk, count, tail = content
                with archive.open(name, "w", force_zip64=True) as part:
                    part.write(head)
                    for _ in range(count):
                        part.write(chunk)
                    part.write(tail)
            else:
                archive.writestr(name, content)
    return path


def _sheet_xml(rows: str, dimension: str | None = None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dim}'
            f"<sheetData>{rows}</sheetData></worksheet>").encode()


HEADER_ROW = '<row r="1"><c r="A1" t="inlineStr"><is><t>档案号</t></is></c></row>'


@pytest.fixture
def never_parsed(monkeypatch):
    """openpyxl must not even open the file."""
    def refuse(*args, **kwargs):
        raise AssertionError("the workbook was opened")
    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


@pytest.fixture
def rows_read(monkeypatch):
    """How many rows streamed past the budget (each one is counted there before it is used)."""
    seen = {"rows": 0}
    original = sheet_limits.Budget.row

    def counting(self, sheet, values, header=False, cells=True):
        seen["rows"] += 1
        return original(self, sheet, values, header, cells)
    monkeypatch.setattr(sheet_limits.Budget, "row", counting)
    return seen


def _refusal(app, path, fmt="xlsx") -> str:
    report = exchange.run(db.session, f.admin(), path, fmt, apply=True)
    assert not report.applied and report.errors
    assert db.session.scalar(select(func.count()).select_from(WaterUser)) == 0  # nothing kept
    return english(report.errors[0].message)


def test_item6_shared_string_bomb_is_refused_before_parsing(app, tmp_path, never_parsed):
    # 60 MB of one shared string in a file of about 60 KB: openpyxl would read it whole on opening.
    path = _bomb(tmp_path / "strings.xlsx", {"xl/sharedStrings.xml": (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>',
        b"A" * (1 << 20), 60, b"</t></si></sst>")})
    assert path.stat().st_size < 200_000

    message = _refusal(app, path)
    assert "xl/sharedStrings.xml" in message and "compressed more than 100 times" in message


def test_item6_shared_strings_over_the_part_limit_are_refused_even_when_compressed_plainly(app, tmp_path, never_parsed):
    app.config["IMPORT_MAX_PART_BYTES"] = 1024 * 1024
    path = _bomb(tmp_path / "strings.xlsx", {"xl/sharedStrings.xml": (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>', NOISE, 2,
        b"</t></si></sst>")})
    assert "unpacks to more than 1 MB" in _refusal(app, path)


def test_item6_workbook_unpacking_past_the_total_limit_is_refused(app, tmp_path, never_parsed):
    app.config["IMPORT_MAX_UNCOMPRESSED_BYTES"] = 2 * 1024 * 1024
    padding = {f"xl/media/pad{i}.bin": NOISE for i in range(3)}  # 3 MB of pictures, say
    path = _bomb(tmp_path / "big.xlsx", {}, extra=padding)
    assert "unpacks to more than 2 MB" in _refusal(app, path)


def test_item6_workbook_of_too_many_parts_is_refused(app, tmp_path, never_parsed):
    path = _bomb(tmp_path / "parts.xlsx", {}, extra={f"customXml/item{i}.xml": b"<a/>" for i in range(600)})
    assert "more than 500 parts" in _refusal(app, path)


def test_item6_rows_past_the_limit_are_refused_before_the_first_one_is_parsed(app, tmp_path, rows_read):
    rows = "".join(f'<row r="{n}"/>' for n in range(2, 200_003))  # 200,001 rows; the dimension claims 20 million
    path = _bomb(tmp_path / "rows.xlsx", {"xl/worksheets/sheet1.xml": _sheet_xml(HEADER_ROW + rows, "A1:C20000001")})
    assert "more than 200,000 rows" in _refusal(app, path)
    assert rows_read["rows"] == 0
    assert exchange.count_rows(path, "xlsx") == 0  # the progress bar's count refuses it as fast


def test_item6_an_inflated_dimension_is_no_reason_to_refuse(app, tmp_path):
    # Whole rows formatted in Excel: <dimension> says a million rows, the sheet holds three.
    rows = '<row r="2"><c r="A2" t="inlineStr"><is><t>YW-1</t></is></c></row><row r="3"/>'
    path = _bomb(tmp_path / "rows.xlsx", {"xl/worksheets/sheet1.xml": _sheet_xml(HEADER_ROW + rows, "A1:C1048576")})
    with read(path, "xlsx") as sheets:
        assert sheets[0].total == 2 and [n for n, _ in sheets[0].rows] == [2]


def test_item6_row_bomb_without_dimension_is_counted_from_its_row_tags_and_refused(app, tmp_path, rows_read):
    app.config["IMPORT_MAX_ROWS"] = 1000
    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(2, 5002))
    path = _bomb(tmp_path / "rows.xlsx", {"xl/worksheets/sheet1.xml": _sheet_xml(HEADER_ROW + rows)})
    assert "more than 1,000 rows" in _refusal(app, path)
    assert rows_read["rows"] == 0


def test_item6_rows_skipped_by_number_stop_at_the_row_limit_while_streaming(app, tmp_path, rows_read):
    # Three row tags, but row 20,000,000: openpyxl fills the gap with empty rows, one by one.
    app.config["IMPORT_MAX_ROWS"] = 1000
    rows = '<row r="2"><c r="A2"><v>1</v></c></row><row r="20000000"><c r="A20000000"><v>1</v></c></row>'
    path = _bomb(tmp_path / "gap.xlsx", {"xl/worksheets/sheet1.xml": _sheet_xml(HEADER_ROW + rows)})
    assert "more than 1,000 rows" in _refusal(app, path)
    assert rows_read["rows"] <= 1000 + 2  # the header and the one row over the limit


def test_item6_a_cell_in_column_xfd_does_not_build_16384_cells_a_row(app, tmp_path, rows_read):
    rows = "".join(f'<row r="{n}"><c r="XFD{n}"><v>1</v></c></row>' for n in range(2, 50))
    path = _bomb(tmp_path / "wide.xlsx", {"xl/worksheets/sheet1.xml": _sheet_xml(HEADER_ROW + rows)})
    with read(path, "xlsx") as sheets:
        assert len(sheets[0].header) == 100  # read one column past the limit, found empty, cut
        assert list(sheets[0].rows) == []  # nothing past column 101 is read at all
    assert rows_read["rows"] == 49


def test_item6_a_value_past_the_column_limit_is_refused_naming_it(app, tmp_path):
    rows = '<row r="2"><c r="A2"><v>1</v></c><c r="CW2"><v>1</v></c></row>'  # CW: column 101
    path = _bomb(tmp_path / "wide.xlsx", {"xl/worksheets/sheet1.xml": _sheet_xml(HEADER_ROW + rows)})
    assert "sheet 取水户 has more than 100 columns" in _refusal(app, path)


def test_item6_cells_of_a_workbook_over_the_limit_are_refused_before_it_is_opened(app, tmp_path, never_parsed):
    app.config["IMPORT_MAX_CELLS"] = 1000
    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>1</v></c><c r="B{n}"><v>2</v></c></row>' for n in range(2, 1000))
    path = _bomb(tmp_path / "cells.xlsx", {"xl/worksheets/sheet1.xml": _sheet_xml(HEADER_ROW + rows)})
    assert "more than 1,000 cells" in _refusal(app, path)


def test_item6_cells_over_the_limit_stop_the_import(app, tmp_path):
    app.config["IMPORT_MAX_CELLS"] = 1000
    path = tmp_path / "cells.csv"
    path.write_text("档案号,单位名称,统一社会信用代码\n" + "YW-1,甲,x\n" * 2000, encoding="utf-8")
    assert "more than 1,000 cells" in _refusal(app, path, "csv")


def test_item6_csv_over_the_row_limit_stops_at_the_limit(app, tmp_path, rows_read):
    app.config["IMPORT_MAX_ROWS"] = 500
    path = tmp_path / "rows.csv"
    with open(path, "w", encoding="utf-8") as out:
        out.write("档案号,单位名称,统一社会信用代码\n")
        out.writelines(f"YW-{n},甲公司,x\n" for n in range(100_000))
    assert exchange.count_rows(path, "csv") == 100_000  # counted by newlines, not parsed
    rows_read["rows"] = 0
    assert "more than 500 rows" in _refusal(app, path, "csv")
    assert rows_read["rows"] <= 500 + 2


def test_item6_csv_over_the_size_limit_is_refused_before_reading(app, tmp_path, rows_read):
    app.config["IMPORT_MAX_BYTES"] = 1024 * 1024
    path = tmp_path / "big.csv"
    path.write_bytes("档案号,单位名称\n".encode() + b"YW-1,x\n" * 200_000)
    assert "larger than 1 MB" in _refusal(app, path, "csv")
    assert rows_read["rows"] == 0


def test_item6_a_csv_line_of_a_million_commas_is_refused_before_it_is_split(app, tmp_path):
    path = tmp_path / "commas.csv"
    path.write_bytes("档案号,单位名称\n".encode() + b"," * 2_000_000 + b"\n")
    assert "longer than 1 MB" in _refusal(app, path, "csv")


def test_item6_limits_come_from_the_environment(monkeypatch, tmp_path):
    from flask import Flask

    from registry import config

    monkeypatch.setenv("REGISTRY_IMPORT_MAX_ROWS", "1234")
    flask_app = Flask("limits", instance_path=str(tmp_path))
    config.load(flask_app, {"SECRET_KEY": "x", "UPLOAD_DIR": "/tmp/unused"})
    limits = sheet_limits.Limits.of(flask_app.config)
    assert limits.max_rows == 1234 and limits.max_ratio == config.DEFAULTS["IMPORT_MAX_RATIO"]


def test_item6_an_ordinary_workbook_passes_every_check(app, tmp_path):
    app.config["IMPORT_MAX_CELLS"] = 10_000  # its cells as written, not the 101 a row is padded to when read
    book = Workbook(write_only=True)
    ws = book.create_sheet("取水户")
    ws.append(HEADER)
    for n in range(3000):
        ws.append([f"YW-2020-{n:04d}", "义乌市某某有限公司", None])
    book.save(tmp_path / "ok.xlsx")
    with read(tmp_path / "ok.xlsx", "xlsx") as sheets:
        assert sheets[0].total == 3000 and sum(1 for _ in sheets[0].rows) == 3000


@pytest.mark.parametrize("shift", range(8))
def test_item6_row_tags_are_counted_once_across_chunk_borders_with_or_without_a_prefix(app, tmp_path, shift):
    body = b"x" * ((1 << 20) - 11 - shift) + b'<row r="1"/><x:row r="2"><x:c/></x:row><row/><x:row/></sheetData>'
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as archive:
        archive.writestr("sheet.xml", b"<sheetData>" + body)
    with zipfile.ZipFile(tmp_path / "s.zip") as archive:
        assert sheet_limits._scan_worksheet(archive, "sheet.xml", sheet_limits.Limits.current(), 0, 0) == (4, 1)


def test_item6_a_sheet_of_twenty_million_rows_is_refused_before_openpyxl_sizes_it(app, tmp_path, never_parsed):
    # No <dimension>: openpyxl would parse the whole sheet on opening, just to size it (1.7 GB for this one).
    app.config["IMPORT_MAX_RATIO"] = 10_000
    path = _bomb(tmp_path / "rows.xlsx", {"xl/worksheets/sheet1.xml": (
        _sheet_xml(HEADER_ROW).replace(b"</sheetData></worksheet>", b""), b"<row/>" * 100_000, 200,
        b"</sheetData></worksheet>")})
    assert "more than 200,000 rows" in _refusal(app, path)


def test_item6_one_row_of_a_million_cells_is_refused_before_openpyxl_builds_it(app, tmp_path, never_parsed):
    app.config["IMPORT_MAX_RATIO"] = 10_000
    path = _bomb(tmp_path / "cells.xlsx", {"xl/worksheets/sheet1.xml": (
        _sheet_xml(HEADER_ROW).replace(b"</sheetData></worksheet>", b"<row r=\"2\">"), b"<c/>" * 100_000, 10,
        b"</row></sheetData></worksheet>")})
    assert "more than 16,384 cells, more than Excel has columns" in _refusal(app, path)


def _declare_size(path, part: str, size: int) -> None:
    """Rewrite the size the zip directory declares for ``part`` (a lying directory)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")  # the central directory entries
    while at >= 0:
        name_length = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + name_length] == part.encode():
            data[at + 24:at + 28] = size.to_bytes(4, "little")
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def test_item6_a_part_that_unpacks_past_its_declared_size_is_refused_not_a_500(app, tmp_path, rows_read):
    # The directory says 200 KB of the 800 KB, so every check passes; zipfile stops there, mid-stream
    # (after the header and some rows), and the CRC fails.
    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(2, 20_000))
    path = _bomb(tmp_path / "liar.xlsx", {"xl/worksheets/sheet1.xml": _sheet_xml(HEADER_ROW + rows, "A1:A19999")})
    _declare_size(path, "xl/worksheets/sheet1.xml", 200_000)
    assert "not an XLSX workbook" in _refusal(app, path)
    assert 100 < rows_read["rows"] < 19_999
