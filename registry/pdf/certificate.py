"""The compliance certificate 自备取水户规范评价合格证书 (ux.md, "Certificate (A4 portrait)").

Everything printed comes from :class:`CertificateData`, which the service freezes into the
certificate's snapshot when it is issued; the page never reads the live file, so re-rendering an
old certificate gives the same bytes. The layout is bilingual and fixed (a legal document does not
follow the reader's language setting).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterable

from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from registry.pdf import PdfSettings, fonts, qr

WIDTH, HEIGHT = A4
MARGIN = 36
INK = Color(0.10, 0.10, 0.12)
BLUE = Color(0.11, 0.23, 0.42)
GREY = Color(0.42, 0.42, 0.45)
RULE = Color(0.82, 0.84, 0.88)
SEAL = Color(0.75, 0.20, 0.20)
SEAL_TEXT = Color(0.85, 0.55, 0.55)

QR_SIZE = 96
LABEL_X, VALUE_X, VALUE_RIGHT = 92, 210, WIDTH - 92
COLUMN2_X = 330


@dataclass(frozen=True)
class CertificateData:
    """What one certificate says, as frozen when it was issued."""

    number: str
    name: str
    uscc: str
    file_no: str
    address: str
    grade: str
    score: float
    rules_version: str
    evaluated_on: date
    issued_on: date
    valid_until: date
    verify_url: str
    authority: str
    authority_en: str

    @classmethod
    def from_snapshot(cls, number: str, snapshot: dict, *, grade: str, score: float, issued_on: date,
                      valid_until: date) -> CertificateData:
        wu, ev = snapshot["water_user"], snapshot["evaluation"]
        return cls(number=number, name=wu["name"], uscc=wu["uscc"], file_no=wu["file_no"],
                   address=wu.get("address") or "", grade=grade, score=score,
                   rules_version=ev["rules_version"], evaluated_on=date.fromisoformat(ev["evaluated_on"]),
                   issued_on=issued_on, valid_until=valid_until, verify_url=snapshot["verify_url"],
                   authority=snapshot["authority"], authority_en=snapshot.get("authority_en", ""))


QrDrawer = Callable[[Canvas, str, float, float, float], None]


def new_canvas(target, number: str | None = None, authority: str = "") -> Canvas:
    """A canvas in invariant mode: no creation date, a document id derived from the content."""
    c = Canvas(target, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(f"自备取水户规范评价合格证书 {number}" if number else "自备取水户规范评价合格证书")
    c.setAuthor(authority)
    c.setCreator("yiwu-registry")
    return c


def render(data: CertificateData, settings: PdfSettings | None = None) -> bytes:
    """One certificate as a one-page PDF."""
    settings = settings or PdfSettings()
    buffer = io.BytesIO()
    c = new_canvas(buffer, data.number, data.authority)
    draw_page(c, data, fonts.cjk(settings.font_path))
    c.showPage()
    c.save()
    return buffer.getvalue()


def render_many(items: Iterable[CertificateData], settings: PdfSettings | None = None) -> bytes:
    """Several certificates as one PDF (fonts written once). The batch writer streams many of
    these small documents into one file (``pdf.merge``), so memory stays bounded."""
    settings = settings or PdfSettings()
    buffer = io.BytesIO()
    c = new_canvas(buffer)
    font = fonts.cjk(settings.font_path)
    for data in items:
        draw_page(c, data, font)
        c.showPage()
    c.save()
    return buffer.getvalue()


def draw_page(c: Canvas, d: CertificateData, font: str, qr_drawer: QrDrawer = qr.draw) -> None:
    _frame(c)
    _heading(c, d, font)
    _fields(c, d, font, HEIGHT - 286)
    _authority(c, d, font)
    _verification(c, d, font, qr_drawer)
    _footnote(c, font)


def _frame(c: Canvas) -> None:
    c.setStrokeColor(BLUE)
    c.setLineWidth(2.2)
    c.rect(MARGIN, MARGIN, WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN)
    c.setLineWidth(0.6)
    c.rect(MARGIN + 6, MARGIN + 6, WIDTH - 2 * MARGIN - 12, HEIGHT - 2 * MARGIN - 12)


def _heading(c: Canvas, d: CertificateData, font: str) -> None:
    right = WIDTH - MARGIN - 24
    c.setFillColor(GREY)
    c.setFont(font, 9)
    c.drawRightString(right, HEIGHT - MARGIN - 30, "证书编号 Certificate No.")
    c.setFillColor(INK)
    c.setFont(fonts.LATIN_BOLD, 13)
    c.drawRightString(right, HEIGHT - MARGIN - 47, d.number)

    c.setFillColor(BLUE)
    c.setStrokeColor(BLUE)
    c.setLineWidth(0.5)
    c.setFont(font, 27)
    c.drawCentredString(WIDTH / 2, HEIGHT - 160, "自备取水户规范评价合格证书", mode=2)  # fill + stroke: a bolder face
    c.setFont(fonts.LATIN, 12.5)
    c.drawCentredString(WIDTH / 2, HEIGHT - 184, "Certificate of Compliance: Self-supplied Water User Evaluation")
    c.setLineWidth(0.8)
    c.line(WIDTH / 2 - 150, HEIGHT - 200, WIDTH / 2 + 150, HEIGHT - 200)

    c.setFillColor(INK)
    c.setFont(font, 12)
    c.drawCentredString(WIDTH / 2, HEIGHT - 230, f"经规范评价，下列自备取水户评定为 {d.grade} 级，特发此证。")
    c.setFillColor(GREY)
    c.setFont(fonts.LATIN, 8.5)
    c.drawCentredString(WIDTH / 2, HEIGHT - 245,
                        f"Following the compliance evaluation, the water user below is graded {d.grade}.")


def _fields(c: Canvas, d: CertificateData, font: str, y: float) -> float:
    """Rows of label (Chinese, English under it) and value; short values two to a row; long
    names and addresses wrap. Returns the y under the last row."""
    rows = (
        (("取水户名称", "Water user", d.name, 14),),
        (("统一社会信用代码", "Unified social credit code", d.uscc, 12.5),),
        (("档案号", "File number", d.file_no, 12.5),),
        (("地址", "Address", d.address or "—", 11.5),),
        (("评价等级", "Grade", f"{d.grade} 级", 15), ("评价得分", "Score", f"{d.score:.1f} 分", 13)),
        (("评价规则版本", "Rules version", d.rules_version, 12.5), ("评价日期", "Evaluated on", d.evaluated_on.isoformat(), 12.5)),
        (("有效期自", "Valid from", d.issued_on.isoformat(), 12.5), ("有效期至", "Valid until", d.valid_until.isoformat(), 12.5)),
    )
    for row in rows:
        extra = 0.0
        for i, (label, label_en, value, size) in enumerate(row):
            label_x, value_x = (LABEL_X, VALUE_X) if i == 0 else (COLUMN2_X, COLUMN2_X + 80)
            right = VALUE_RIGHT if len(row) == 1 else (COLUMN2_X - 10 if i == 0 else VALUE_RIGHT)
            c.setFillColor(INK)
            c.setFont(font, 11)
            c.drawString(label_x, y, label)
            c.setFillColor(GREY)
            c.setFont(fonts.LATIN, 7.5)
            c.drawString(label_x, y - 11, label_en)
            c.setFillColor(INK)
            c.setFont(font, size)
            lines = fonts.wrap(value, font, size, right - value_x, max_lines=3)
            for n, line in enumerate(lines):
                c.drawString(value_x, y - n * (size + 4), line)
            extra = max(extra, (len(lines) - 1) * (size + 4))
        bottom = y - max(11, extra) - 8
        c.setStrokeColor(RULE)
        c.setLineWidth(0.4)
        c.line(LABEL_X, bottom, VALUE_RIGHT, bottom)
        y = bottom - 18
    return y


def _authority(c: Canvas, d: CertificateData, font: str) -> None:
    """Issuing authority and date, and a dashed circle beside them where the seal is pressed."""
    c.setFillColor(GREY)
    c.setFont(font, 9)
    c.drawString(LABEL_X, 236, "发证机关 Issuing authority")
    c.setFillColor(INK)
    c.setFont(font, 16)
    c.drawString(LABEL_X, 214, d.authority)
    if d.authority_en:
        c.setFillColor(GREY)
        c.setFont(fonts.LATIN, 8)
        c.drawString(LABEL_X, 201, d.authority_en)
    c.setFillColor(GREY)
    c.setFont(font, 9)
    c.drawString(LABEL_X, 172, "签发日期 Issued on")
    c.setFillColor(INK)
    c.setFont(font, 12.5)
    c.drawString(LABEL_X, 156, d.issued_on.isoformat())

    cx, cy, radius = 300, 180, 50
    c.setStrokeColor(SEAL)
    c.setLineWidth(0.7)
    c.setDash(3, 3)
    c.circle(cx, cy, radius)
    c.setDash()
    c.setFillColor(SEAL_TEXT)
    c.setFont(font, 9)
    c.drawCentredString(cx, cy - 2, "（盖章）")
    c.setFont(fonts.LATIN, 7)
    c.drawCentredString(cx, cy - 13, "Seal")


def _verification(c: Canvas, d: CertificateData, font: str, qr_drawer: QrDrawer) -> None:
    """QR code of the verification address, bottom right, the address printed under it."""
    right = WIDTH - MARGIN - 28
    x, y = right - QR_SIZE, 110
    qr_drawer(c, d.verify_url, x, y, QR_SIZE)
    c.setFillColor(INK)
    c.setFont(font, 9)
    c.drawCentredString(x + QR_SIZE / 2, y + QR_SIZE + 9, "扫码核验 Scan to verify")
    c.setFillColor(GREY)
    size = 6.5
    while fonts.width(d.verify_url, fonts.LATIN, size) > 230 and size > 4.5:
        size -= 0.5
    c.setFont(fonts.LATIN, size)
    c.drawRightString(right, y - 11, d.verify_url)


def _footnote(c: Canvas, font: str) -> None:
    c.setFillColor(GREY)
    c.setFont(font, 8.5)
    c.drawCentredString(WIDTH / 2, 66, "本证书在有效期内有效，撤销或过期即失效；真伪与状态以扫码核验结果为准。")
    c.setFont(fonts.LATIN, 7)
    c.drawCentredString(WIDTH / 2, 55, "Valid until the date above unless revoked. Scan the code to check that it is genuine and in force.")
