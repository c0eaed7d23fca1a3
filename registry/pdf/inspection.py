"""The record of one site inspection 现场检查记录 on A4, in the reader's language: the file, the
checklist with notes, the findings, the rectification orders with deadlines, the photos, and the
signatures (the one drawn on the tablet, or lines to sign on paper when the site asks for it)."""
from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from flask_babel import gettext as _
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from registry import clock
from registry.i18n import division_name, label
from registry.pdf import PdfSettings, fonts
from registry.presentation.images import image_problem
from registry.presentation.inspections import CHECKLIST_LABELS
from registry.storage import path_for

MARGIN = 16 * mm
FRAME_WIDTH = A4[0] - 2 * MARGIN
GRID = colors.Color(0.75, 0.77, 0.80)
HEAD = colors.Color(0.92, 0.94, 0.97)
PROBLEM = colors.Color(0.99, 0.91, 0.92)
PHOTOS_PER_ROW = 3


class _Styles:
    def __init__(self, font: str):
        base = dict(fontName=font, wordWrap="CJK")
        self.title = ParagraphStyle("title", fontSize=18, leading=24, alignment=1, spaceAfter=2, **base)
        self.subtitle = ParagraphStyle("subtitle", fontSize=9, leading=12, alignment=1, textColor=colors.grey, **base)
        self.h2 = ParagraphStyle("h2", fontSize=12, leading=16, spaceBefore=9, spaceAfter=4,
                                 textColor=colors.Color(0.11, 0.23, 0.42), **base)
        self.cell = ParagraphStyle("cell", fontSize=9, leading=12, **base)
        self.caption = ParagraphStyle("caption", fontSize=7.5, leading=9.5, alignment=1,
                                      textColor=colors.Color(0.3, 0.3, 0.35), **base)
        self.note = ParagraphStyle("note", fontSize=8.5, leading=11, textColor=colors.grey, **base)


def _p(text, style) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)).replace("\n", "<br/>"), style)


def _table(rows, widths, style_cmds=()) -> Table:
    total = sum(widths)
    table = Table(rows, colWidths=[w / total * FRAME_WIDTH for w in widths], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, GRID), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                               *style_cmds]))
    return table


def _image(path: Path, max_w: float, max_h: float) -> Image | None:
    try:
        with PILImage.open(path) as probe:
            w, h = probe.size
    except OSError:
        return None
    scale = min(max_w / w, max_h / h)
    return Image(str(path), width=w * scale, height=h * scale)


class _Record:
    def __init__(self, insp, files, upload_dir: str, settings: PdfSettings):
        self.insp, self.wu, self.files, self.upload_dir, self.settings = insp, insp.water_user, files, upload_dir, settings
        self.s = _Styles(fonts.cjk(settings.font_path))
        self.story: list = []

    def build(self) -> list:
        for part in (self.header, self.facts, self.checklist, self.orders, self.photos, self.signatures):
            part()
        return self.story

    def header(self) -> None:
        # " / " and not "·": the built-in CID font has no middle dot.
        self.story += [_p(_("Site inspection record"), self.s.title),
                       _p(f"{self.settings.authority} / {_('Record no. %(n)d', n=self.insp.id)} / "
                          + _("printed %(d)s", d=clock.today().isoformat()), self.s.subtitle), Spacer(1, 4 * mm)]

    def facts(self) -> None:
        wu, insp, s = self.wu, self.insp, self.s
        rows = [
            [_("Water user"), wu.name, _("File number"), wu.file_no],
            [_("USCC"), wu.uscc, _("Division"), f"{wu.division_code} {division_name(wu.division)}"],
            [_("Address"), wu.address or "—", _("Inspection date"), insp.inspected_on.isoformat()],
            [_("Inspector"), insp.inspector.label if insp.inspector else "—", _("Site contact"), insp.site_contact or "—"],
        ]
        self.story.append(_table([[_p(c, s.cell) for c in row] for row in rows], [1, 2.2, 1, 1.6],
                                 [("BACKGROUND", (0, 0), (0, -1), HEAD), ("BACKGROUND", (2, 0), (2, -1), HEAD)]))

    def checklist(self) -> None:
        s = self.s
        self.story.append(_p(_("Checklist"), s.h2))
        rows = [[_p(h, s.cell) for h in ("#", _("Item"), _("Result"), _("Note"))]]
        marks = []
        for n, item in enumerate(self.insp.items, start=1):
            rows.append([_p(n, s.cell), _p(CHECKLIST_LABELS.get(item.code, item.code), s.cell),
                         _p(label("check_result", item.result), s.cell), _p(item.note or "", s.cell)])
            if item.result == "problem":
                marks.append(("BACKGROUND", (0, n), (-1, n), PROBLEM))
        self.story.append(_table(rows, [0.35, 3, 1, 4], [("BACKGROUND", (0, 0), (-1, 0), HEAD), *marks]))
        if self.insp.findings:
            self.story += [_p(_("Findings"), s.h2), _p(self.insp.findings, s.cell)]

    def orders(self) -> None:
        s = self.s
        self.story.append(_p(_("Rectification orders"), s.h2))
        if not self.insp.rectifications:
            self.story.append(_p(_("No problem found: no order."), s.note))
            return
        rows = [[_p(h, s.cell) for h in (_("Requirement"), _("Deadline"), _("Status"))]]
        rows += [[_p(r.requirement, s.cell), _p(r.deadline.isoformat(), s.cell),
                  _p(label("rectification_status", r.status), s.cell)] for r in self.insp.rectifications]
        self.story.append(_table(rows, [5, 1.3, 1.2], [("BACKGROUND", (0, 0), (-1, 0), HEAD)]))
        self.story.append(_p(_("The water user answers each order by its deadline; the bureau verifies the "
                               "rectification on site or from the answer."), s.note))

    def photos(self) -> None:
        pictures = [d for d in self.files if d.kind == "inspection_photo"]
        if not pictures:
            return
        s = self.s
        cell_w = FRAME_WIDTH / PHOTOS_PER_ROW
        cells = []
        for doc in pictures:
            state = getattr(doc, "image_state", None)
            if state == "pending":  # the queue has not re-encoded it yet: the upload as received is never printed
                image = _p(_("(photo being prepared)"), s.note)
            elif state == "failed":
                image = _p(_("(photo not kept: %(reason)s)", reason=image_problem(doc)), s.note)
            else:
                image = _image(path_for(self.upload_dir, doc.sha256), cell_w - 4 * mm, 48 * mm)
            cells.append([image or _p(_("(photo file missing)"), s.note), _p(doc.title, s.caption)])
        rows = [cells[i:i + PHOTOS_PER_ROW] for i in range(0, len(cells), PHOTOS_PER_ROW)]
        rows[-1] += [""] * (PHOTOS_PER_ROW - len(rows[-1]))
        table = Table(rows, colWidths=[cell_w] * PHOTOS_PER_ROW)
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
        self.story += [_p(_("Photos"), s.h2), table]

    def signatures(self) -> None:
        s = self.s
        drawn = next((d for d in self.files if d.kind == "signature"), None)
        image = _image(path_for(self.upload_dir, drawn.sha256), 70 * mm, 24 * mm) if drawn else None
        blank = Spacer(1, 24 * mm)
        inspector = self.insp.inspector.label if self.insp.inspector else ""
        # Three columns, the middle one empty, so each signature has a line of its own.
        rows = [[_p(_("Site contact (signature)"), s.cell), "", _p(_("Inspector (signature)"), s.cell)],
                [image or blank, "", blank],
                [_p(_("Name: %(n)s", n=self.insp.site_contact or ""), s.cell), "", _p(_("Name: %(n)s", n=inspector), s.cell)],
                [_p(_("Date: %(d)s", d=self.insp.inspected_on.isoformat()), s.cell), "", _p(_("Date:"), s.cell)]]
        side = (FRAME_WIDTH - 16 * mm) / 2
        table = Table(rows, colWidths=[side, 16 * mm, side])
        table.setStyle(TableStyle([("LINEBELOW", (0, 1), (0, 1), 0.6, colors.black),
                                   ("LINEBELOW", (2, 1), (2, 1), 0.6, colors.black),
                                   ("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (-1, -1), 2)]))
        self.story += [Spacer(1, 6 * mm), KeepTogether([_p(_("Signatures"), s.h2), table])]


def render(insp, files, upload_dir: str, settings: PdfSettings) -> bytes:
    """The inspection record as PDF bytes; ``files`` are its photos and signature (Documents)."""
    record = _Record(insp, files, upload_dir, settings)
    out = io.BytesIO()
    font = fonts.cjk(settings.font_path)
    footer = f"{settings.authority} / {insp.water_user.file_no} / {insp.inspected_on.isoformat()}"

    def page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, 10 * mm, footer)
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, str(doc.page))
        canvas.restoreState()

    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=18 * mm, title=_("Site inspection record"), author=settings.authority)
    doc.build(record.build(), onFirstPage=page, onLaterPages=page)
    return out.getvalue()
