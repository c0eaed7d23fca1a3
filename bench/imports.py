"""Spreadsheet import: a 100,000-row XLSX of monthly readings (1,000 meters × 100 months) built in
write-only mode, checked (dry run), imported, then imported again (every row unchanged). Prints
time, rows/s and the peak resident memory of this process (goal: under 500 MB, openpyxl
read-only streaming)."""
from __future__ import annotations

import random
import tempfile
from datetime import date
from pathlib import Path

from bench.common import database_url, make_app, peak_rss_mb, timed

METERS = 1_000


def _registry(db, meters: int, seed: int = 2026) -> list[tuple[str, str]]:
    """``meters`` water users, each with one intake point and one meter; (file number, serial) pairs."""
    from registry.domain.uscc import make_uscc
    from registry.models import IntakePoint, Meter, WaterUser

    rng = random.Random(seed)
    pairs = []
    for i in range(meters):
        wu = WaterUser(file_no=f"YW-B{i:05d}", name=f"义乌市测试{i}印染有限公司", uscc=make_uscc(rng),
                       division_code="001", industry_code="1713", opened_on=date(2000, 1, 1), status="active")
        point = IntakePoint(water_user=wu, name="1号取水口", source="ground", longitude=120.07, latitude=29.31)
        db.session.add(Meter(water_user=wu, intake_point=point, serial=f"SN-B{i:05d}", meter_type="electromagnetic",
                             dn=100, installed_on=date(2000, 1, 1)))
        pairs.append((wu.file_no, f"SN-B{i:05d}"))
    db.session.commit()
    return pairs


def _workbook(path: Path, pairs, rows: int) -> None:
    from openpyxl import Workbook

    months = []
    y, m = 2025, 12
    while len(months) * len(pairs) < rows:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    book = Workbook(write_only=True)
    ws = book.create_sheet("月取水量")
    ws.append(["档案号", "表号", "月份", "取水量(m³)", "表底数", "来源"])
    written = 0
    for month in months:
        for file_no, serial in pairs:
            if written == rows:
                break
            ws.append([file_no, serial, month, 1000 + written % 977, None, "人工抄表"])
            written += 1
    book.save(path)


def run(kind: str, users: int, rows: int = 100_000) -> None:
    from flask_migrate import upgrade

    from registry.extensions import db
    from registry.services import exchange

    url = database_url(kind)
    app = make_app(url)
    path = Path(tempfile.mkdtemp(prefix="registry-bench-")) / "readings.xlsx"
    with app.app_context():
        upgrade()
        pairs = _registry(db, min(METERS, rows))
        with timed("build the XLSX (write-only)", rows, "rows"):
            _workbook(path, pairs, rows)
        print(f"  file: {path.stat().st_size / 1e6:.1f} MB; peak memory so far {peak_rss_mb():.0f} MB", flush=True)
        for label, apply in (("dry run", False), ("import", True), ("import again (all unchanged)", True)):
            with timed(label, rows, "rows"):
                report = exchange.run(db.session, None, path, "xlsx", apply=apply)
            counts = report.counts["readings"]
            print(f"    {counts.created:,} to create/created, {counts.updated:,} updated, {counts.unchanged:,} unchanged, "
                  f"{len(report.errors)} errors; peak resident memory {peak_rss_mb():.0f} MB (goal < 500 MB)",
                  flush=True)
