"""Certificates: our renderer against a naive reportlab page, single-certificate latency, a batch
of 10,000 streamed to disk, and issuing through the service on the chosen database.

Ours: the QR matrix from segno (fixed mask) drawn as one ``re`` operator per run of dark modules,
each certificate a standalone PDF (the issued document), streamed into one merged PDF on disk.
Naive: the same page with the QR drawn by ``reportlab.graphics.barcode.qr.QrCodeWidget``, every
page on one canvas saved at the end (so the whole batch is held in memory).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from bench.common import database_url, make_app, timed

BATCH = 1_000
STREAMED = 10_000
LATENCY_RUNS = 200
ISSUED = 1_000
_rendered_once = False


def _certificates(n: int):
    from registry.pdf.certificate import CertificateData

    base = CertificateData(
        number="", name="", uscc="91330100716105852F", file_no="", address="浙江省义乌市稠城街道丹溪北路1088号",
        grade="A", score=92.5, rules_version="YW-2026.1", evaluated_on=date(2026, 11, 20), issued_on=date(2026, 11, 25),
        valid_until=date(2027, 11, 24), verify_url="", authority="义乌市水务局", authority_en="Yiwu Water Bureau")
    for i in range(1, n + 1):
        number = f"YWZS-2026-{i:06d}"
        yield replace(base, number=number, name=f"义乌市第{i}号印染有限公司", file_no=f"YW-2021-{i:05d}",
                      verify_url=f"https://water.yw.gov.cn/verify/{number}")


def _widget_qr(canvas, data: str, x: float, y: float, size: float) -> None:
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(data)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def naive(items, path: Path) -> None:
    from registry.pdf import fonts
    from registry.pdf.certificate import draw_page, new_canvas

    canvas = new_canvas(str(path))
    font = fonts.cjk()
    for data in items:
        draw_page(canvas, data, font, qr_drawer=_widget_qr, cached=False)
        canvas.showPage()
    canvas.save()


def ours(items, path: Path) -> int:
    from registry.pdf import batch
    from registry.pdf.certificate import render

    return batch.write(path, "pdf", ((d.number, render(d)) for d in items))


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux), so the next reading is this step's own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    from bench.common import peak_rss_mb

    return peak_rss_mb()


def rendering() -> None:
    from registry.pdf.certificate import render

    work = Path(tempfile.mkdtemp(prefix="registry-bench-certs-"))
    items = list(_certificates(BATCH))
    render(items[0])  # fonts registered, modules warm

    # CPU seconds beside wall seconds: on a shared machine the wall clock also counts other work.
    cpu = time.process_time()
    with timed(f"ours: {BATCH:,} certificates into one merged PDF on disk", BATCH, "certificates") as t:
        ours(items, work / "ours.pdf")
    ours_cpu, cpu = time.process_time() - cpu, time.process_time()
    with timed(f"naive: {BATCH:,} pages, QrCodeWidget, one canvas", BATCH, "certificates") as n:
        naive(items, work / "naive.pdf")
    naive_cpu = time.process_time() - cpu
    print(f"  ratio ours / naive: {n['seconds'] / t['seconds']:,.1f}x wall, {naive_cpu / ours_cpu:,.1f}x CPU "
          f"({BATCH / ours_cpu:,.0f} vs {BATCH / naive_cpu:,.0f} certificates per CPU second; goal: at least 10x)",
          flush=True)

    wall, cpu_ms = [], []
    for data in items[:LATENCY_RUNS]:
        started, started_cpu = time.perf_counter(), time.process_time()
        render(data)
        wall.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - started_cpu) * 1000)
    wall.sort()
    print(f"  single certificate: median {statistics.median(wall):.1f} ms wall ({statistics.median(cpu_ms):.1f} ms CPU), "
          f"p95 {wall[int(len(wall) * 0.95)]:.1f} ms, over {LATENCY_RUNS} (goal: under 20 ms)", flush=True)

    del items
    exact = _reset_peak()
    with timed(f"ours: {STREAMED:,} certificates streamed to disk", STREAMED, "certificates"):
        ours(_certificates(STREAMED), work / "streamed.pdf")
    size = (work / "streamed.pdf").stat().st_size / 1e6
    print(f"  {size:,.0f} MB written; peak RSS {'during the batch' if exact else 'of the process'}: "
          f"{_peak_mb():,.0f} MB (goal: under 300 MB)", flush=True)


def issuing(kind: str, users: int) -> None:
    """The service on a real database: issue for every file that earns a certificate, then reprint."""
    from flask_migrate import upgrade

    from registry import clock
    from registry.demo import generate
    from registry.extensions import db
    from registry.models import Account
    from registry.pdf import batch
    from registry.services import certificates, evaluations, rules_versions
    from registry.services.certificates import BatchFilters

    app = make_app(database_url(kind))
    with app.app_context():
        upgrade()
        today = clock.today()
        generate(db.session, users=users, seed=2026, today=today, chunk=2000)
        evaluations.refresh(db.session, rules_versions.current(db.session), today)
        db.session.commit()
        admin = Account(username="bench-admin", display_name="基准测试", role="bureau_admin", password_hash="-")
        db.session.add(admin)
        db.session.commit()
        ids = certificates.batch_selection(db.session, admin, BatchFilters("missing"))[:ISSUED]
        with timed(f"issue_many: {len(ids):,} files (lock, refresh, number, render, store, audit)",
                   len(ids), "files") as t:
            issued = certificates.issue_many(db.session, admin, ids)
            t["count"] = len(issued)
        path = Path(tempfile.mkdtemp(prefix="registry-bench-reprint-")) / "reprint.pdf"
        with timed(f"reprint {len(issued):,} issued certificates from the store into one PDF",
                   len(issued), "certificates"):
            batch.write(path, "pdf", certificates.iter_pdfs(db.session, issued))
        db.session.remove()
        db.engine.dispose()


def run(kind: str, users: int) -> None:
    global _rendered_once
    if not _rendered_once:  # rendering does not depend on the database: once per run
        _rendered_once = True
        rendering()
    issuing(kind, min(users, 5_000))
