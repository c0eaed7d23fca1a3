"""The compliance certificate 自备取水户规范评价合格证书 (ux.md, "Certificate (A4 portrait)").

Everything printed comes from :class:`CertificateData`, which the service freezes into the
certificate's snapshot when it is issued; the page never reads the live file, so re-rendering an
old certificate gives the same bytes. The layout is bilingual and fixed (a legal document does not
follow the reader's language setting).
"""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import date
from typing import Callable

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
QR_X, QR_Y = WIDTH - MARGIN - 28 - QR_SIZE, 110
SEAL_CENTRE = (300, 180)
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


def render_revoked(data: CertificateData, revoked_on: date | None, settings: PdfSettings | None = None) -> bytes:
    """A revoked certificate: the same page stamped across "已吊销 / REVOKED" with the date of the
    revocation and where to check it, so a print-out can never pass for the clean original."""
    settings = settings or PdfSettings()
    font = fonts.cjk(settings.font_path)
    buffer = io.BytesIO()
    c = new_canvas(buffer, data.number, data.authority)
    draw_page(c, data, font, cached=False)
    c.saveState()
    c.setFillColor(Color(1, 1, 1, alpha=0.55))
    c.rect(0, 0, WIDTH, HEIGHT, stroke=0, fill=1)  # the original fades behind the stamp
    c.translate(WIDTH / 2, HEIGHT / 2)
    c.rotate(30)
    red = Color(0.78, 0.08, 0.08)
    c.setStrokeColor(red)
    c.setFillColor(red)
    c.setLineWidth(5)
    c.roundRect(-250, -70, 500, 150, 14, stroke=1, fill=0)
    c.setFont(font, 44)
    c.drawCentredString(0, 20, fonts.printable("已吊销 / REVOKED", font))
    c.setFont(font, 18)
    when = revoked_on.isoformat() if revoked_on else ""
    c.drawCentredString(0, -22, fonts.printable(f"吊销日期 Revoked on {when}", font))
    c.setFont(fonts.LATIN, 10)
    c.drawCentredString(0, -50, data.verify_url.split("?", 1)[0][:80])
    c.restoreState()
    c.showPage()
    c.save()
    return buffer.getvalue()


def draw_page(c: Canvas, d: CertificateData, font: str, qr_drawer: QrDrawer = qr.draw, *,
              cached: bool = True) -> None:
    """Draw one certificate on the canvas's current page.

    The fixed part (frame, headings, labels, seal, notes) depends only on the font and on where
    the rows fall; with the built-in CID font it is drawn once per layout and reused as ready
    PDF operators (``cached``), which halves the time a page takes. The rest is drawn each time.
    """
    cells, rules = _layout(d, font)
    _register_fonts(c, font)
    template = _template(font, cells, rules) if cached else None
    if template is not None:
        c.addLiteral(template)
    else:
        _fixed(c, font, cells, rules)
    _variable(c, d, font, cells, qr_drawer)


@dataclass(frozen=True)
class _Cell:
    """One label and its value, placed."""

    label: str
    label_en: str
    x: float  # label
    value_x: float
    y: float
    lines: tuple[str, ...]
    size: float
    face: str


def _layout(d: CertificateData, font: str) -> tuple[list[_Cell], list[float]]:
    """Where every label and value goes: short values two to a row, long names and addresses
    wrap (shrinking before they are ever cut). Returns the cells and the y of each row's rule."""
    rows = (
        (("取水户名称", "Water user", d.name, 14),),
        (("统一社会信用代码", "Unified social credit code", d.uscc, 12.5),),
        (("档案号", "File number", d.file_no, 12.5),),
        (("地址", "Address", d.address or "—", 11.5),),
        (("评价等级", "Grade", f"{d.grade} 级", 15), ("评价得分", "Score", f"{d.score:.1f} 分", 13)),
        (("评价规则版本", "Rules version", d.rules_version, 12.5),
         ("评价日期", "Evaluated on", d.evaluated_on.isoformat(), 12.5)),
        (("有效期自", "Valid from", d.issued_on.isoformat(), 12.5),
         ("有效期至", "Valid until", d.valid_until.isoformat(), 12.5)),
    )
    cells, rules, y = [], [], HEIGHT - 286
    for row in rows:
        extra = 0.0
        for i, (label, label_en, value, size) in enumerate(row):
            x, value_x = (LABEL_X, VALUE_X) if i == 0 else (COLUMN2_X, COLUMN2_X + 80)
            right = VALUE_RIGHT if len(row) == 1 or i == 1 else COLUMN2_X - 10
            face = fonts.LATIN if value.isascii() else font  # codes and dates read best in a Latin face
            value = fonts.printable(value, face)
            for size in (size, size - 2, size - 3.5):
                lines = fonts.wrap(value, face, size, right - value_x, max_lines=3)
                if not lines[-1].endswith("…"):
                    break
            cells.append(_Cell(label, label_en, x, value_x, y, tuple(lines), size, face))
            extra = max(extra, (len(lines) - 1) * (size + 4))
        rules.append(y - max(11, extra) - 8)
        y = rules[-1] - 18
    return cells, rules


def _register_fonts(c: Canvas, font: str) -> None:
    """Name the fonts in a fixed order, so a cached template's /F1 /F2 mean the same here."""
    for name in (fonts.LATIN, font):
        c.setFont(name, 10)


_templates: dict[tuple, str] = {}
_templates_lock = threading.Lock()
_BEGIN, _END = "%fixed-part{", "%}fixed-part"


def _template(font: str, cells: list[_Cell], rules: list[float]) -> str | None:
    """The fixed part as PDF operators, wrapped in q/Q so it leaves no state behind. Only for the
    CID font, whose text encoding (UCS-2) is the same in every document; an embedded TTF is
    subset per document, so its pages draw everything."""
    if font != fonts.CID_FONT:
        return None
    key = (font, tuple((cell.label, cell.y) for cell in cells), tuple(rules))
    cached = _templates.get(key)
    if cached is None:
        buffer = io.BytesIO()
        scratch = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=0)
        _register_fonts(scratch, font)
        scratch.addLiteral(_BEGIN)
        _fixed(scratch, font, cells, rules)
        scratch.addLiteral(_END)
        scratch.showPage()
        scratch.save()
        data = buffer.getvalue().decode("latin-1")
        cached = "q\n" + data[data.index(_BEGIN) + len(_BEGIN):data.index(_END)].strip() + "\nQ"
        with _templates_lock:
            if len(_templates) > 256:  # a handful of layouts occur; never grow without bound
                _templates.clear()
            _templates[key] = cached
    return cached


def _fixed(c: Canvas, font: str, cells: list[_Cell], rules: list[float]) -> None:
    """Everything that is the same on every certificate with this layout."""
    c.setStrokeColor(BLUE)
    c.setLineWidth(2.2)
    c.rect(MARGIN, MARGIN, WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN)
    c.setLineWidth(0.6)
    c.rect(MARGIN + 6, MARGIN + 6, WIDTH - 2 * MARGIN - 12, HEIGHT - 2 * MARGIN - 12)

    c.setFillColor(GREY)
    _pair(c, WIDTH - MARGIN - 24, HEIGHT - MARGIN - 30, "证书编号", "Certificate No.", font, 9, align="right")
    c.setFillColor(BLUE)
    c.setLineWidth(0.5)
    c.setFont(font, 27)
    c.drawCentredString(WIDTH / 2, HEIGHT - 160, "自备取水户规范评价合格证书", mode=2)  # fill + stroke: a bolder face
    c.setFont(fonts.LATIN, 12.5)
    c.drawCentredString(WIDTH / 2, HEIGHT - 184, "Certificate of Compliance: Self-supplied Water User Evaluation")
    c.setLineWidth(0.8)
    c.line(WIDTH / 2 - 150, HEIGHT - 200, WIDTH / 2 + 150, HEIGHT - 200)

    for cell in cells:
        c.setFillColor(INK)
        c.setFont(font, 11)
        c.drawString(cell.x, cell.y, cell.label)
        c.setFillColor(GREY)
        c.setFont(fonts.LATIN, 7.5)
        c.drawString(cell.x, cell.y - 11, cell.label_en)
    c.setStrokeColor(RULE)
    c.setLineWidth(0.4)
    for y in rules:
        c.line(LABEL_X, y, VALUE_RIGHT, y)

    c.setFillColor(GREY)
    _pair(c, LABEL_X, 236, "发证机关", "Issuing authority", font, 9)
    _pair(c, LABEL_X, 172, "签发日期", "Issued on", font, 9)
    cx, cy = SEAL_CENTRE
    c.setStrokeColor(SEAL)
    c.setLineWidth(0.7)
    c.setDash(3, 3)
    c.circle(cx, cy, 50)
    c.setDash()
    c.setFillColor(SEAL_TEXT)
    c.setFont(font, 9)
    c.drawCentredString(cx, cy - 2, "（盖章）")
    c.setFont(fonts.LATIN, 7)
    c.drawCentredString(cx, cy - 13, "Seal")

    c.setFillColor(INK)
    _pair(c, QR_X + QR_SIZE / 2, QR_Y + QR_SIZE + 9, "扫码核验", "Scan to verify", font, 9, align="centre")
    c.setFillColor(GREY)
    c.setFont(font, 8.5)
    c.drawCentredString(WIDTH / 2, 66, "本证书在有效期内有效，撤销或过期即失效；真伪与状态以扫码核验结果为准。")
    c.setFont(fonts.LATIN, 7)
    c.drawCentredString(WIDTH / 2, 55, "Valid until the date above unless revoked. "
                                       "Scan the code to check that it is genuine and in force.")


def _variable(c: Canvas, d: CertificateData, font: str, cells: list[_Cell], qr_drawer: QrDrawer) -> None:
    """What differs from one certificate to the next."""
    c.setFillColor(INK)
    c.setStrokeColor(INK)
    c.setLineWidth(0.45)
    c.setFont(fonts.LATIN, 13)  # bold by fill + stroke: one font object less in every document
    c.drawRightString(WIDTH - MARGIN - 24, HEIGHT - MARGIN - 47, d.number, mode=2)
    c.setFont(font, 12)
    c.drawCentredString(WIDTH / 2, HEIGHT - 230, f"经规范评价，下列自备取水户评定为 {d.grade} 级，特发此证。")
    c.setFillColor(GREY)
    c.setFont(fonts.LATIN, 8.5)
    c.drawCentredString(WIDTH / 2, HEIGHT - 245,
                        f"Following the compliance evaluation, the water user below is graded {d.grade}.")

    c.setFillColor(INK)
    for cell in cells:
        c.setFont(cell.face, cell.size)
        for n, line in enumerate(cell.lines):
            c.drawString(cell.value_x, cell.y - n * (cell.size + 4), line)

    c.setFont(font, 16)
    c.drawString(LABEL_X, 214, fonts.printable(d.authority, font))
    c.setFont(fonts.LATIN, 12.5)
    c.drawString(LABEL_X, 156, d.issued_on.isoformat())
    c.setFillColor(GREY)
    if d.authority_en:
        c.setFont(fonts.LATIN, 8)
        c.drawString(LABEL_X, 201, d.authority_en)
    size = 6.5  # the address under the code, in small type; smaller still if the public URL is long
    while fonts.width(d.verify_url, fonts.LATIN, size) > 230 and size > 4.5:
        size -= 0.5
    c.setFont(fonts.LATIN, size)
    c.drawRightString(QR_X + QR_SIZE, QR_Y - 11, d.verify_url)
    qr_drawer(c, d.verify_url, QR_X, QR_Y, QR_SIZE)


def _pair(c: Canvas, x: float, y: float, zh: str, en: str, font: str, size: float, align: str = "left") -> None:
    """A Chinese label and its English in a Latin face, one line: left-, right- or centre-aligned at x."""
    zh_width, gap = fonts.width(zh, font, size), size * 0.4
    total = zh_width + gap + fonts.width(en, fonts.LATIN, size - 0.5)
    left = {"left": x, "right": x - total, "centre": x - total / 2}[align]
    c.setFont(font, size)
    c.drawString(left, y, zh)
    c.setFont(fonts.LATIN, size - 0.5)
    c.drawString(left + zh_width + gap, y, en)
