"""The reminder letter 提醒函 (A4 portrait) for water users without e-mail or whose mail bounced.

A letter prints what the e-mail would have said (the stored subject and body, in the recipient's
language) under the bureau's letterhead, with the recipient block placed for a window envelope,
the date, a reference and a place for the seal. Chinese is drawn with the built-in CID font
STSong-Light (or the configured TTF), which has Latin glyphs too.

Batches go to one PDF written to disk as it is produced (:func:`write_batch`): each letter is
rendered alone and appended to the merged file, so memory does not grow with the batch.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterable
from xml.sax.saxutils import escape

from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from registry.pdf import PdfSettings, batch, fonts

WIDTH, HEIGHT = A4
MARGIN = 22 * mm
INK = Color(0.10, 0.10, 0.12)
BLUE = Color(0.11, 0.23, 0.42)
GREY = Color(0.42, 0.42, 0.45)
SEAL = Color(0.75, 0.20, 0.20)
_CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")


@dataclass(frozen=True)
class LetterData:
    """What one letter says (from a communication and its file)."""

    reference: str
    name: str
    contact: str
    address: str
    file_no: str
    subject: str
    body: str
    dated: date


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=11, leading=18, textColor=INK)
    return {
        "head": ParagraphStyle("head", base, fontSize=20, leading=26, alignment=1, textColor=BLUE),
        "head_en": ParagraphStyle("head_en", base, fontSize=10, leading=14, alignment=1, textColor=GREY),
        "meta": ParagraphStyle("meta", base, fontSize=9.5, leading=14, alignment=2, textColor=GREY),
        "to": ParagraphStyle("to", base, fontSize=11.5, leading=17),
        "title": ParagraphStyle("title", base, fontSize=14, leading=21, alignment=1, spaceBefore=8, spaceAfter=10),
        "body": ParagraphStyle("body", base, spaceAfter=6),
        "sign": ParagraphStyle("sign", base, alignment=2),
    }


def _paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph that breaks between any two Chinese characters, and between words otherwise."""
    if _CJK.search(text):
        style = ParagraphStyle(f"{style.name}-cjk", style, wordWrap="CJK")
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _flowables(letter: LetterData, settings: PdfSettings, font: str) -> list:
    s = _styles(font)
    story = [
        _paragraph(settings.authority, s["head"]),
        _paragraph(settings.authority_en, s["head_en"]),
        Spacer(1, 4 * mm),
        Table([[""]], colWidths=[WIDTH - 2 * MARGIN], rowHeights=[1],
              style=TableStyle([("LINEABOVE", (0, 0), (-1, -1), 1.2, BLUE)])),
        _paragraph(f"编号 Ref.: {letter.reference}　　日期 Date: {letter.dated.isoformat()}", s["meta"]),
        Spacer(1, 6 * mm),
        _paragraph(f"致 To: {letter.name}", s["to"]),
    ]
    if letter.address:
        story.append(_paragraph(f"地址 Address: {letter.address}", s["to"]))
    if letter.contact:
        story.append(_paragraph(f"联系人 Attn.: {letter.contact}", s["to"]))
    story += [_paragraph(f"档案号 File no.: {letter.file_no}", s["to"]), Spacer(1, 8 * mm),
              _paragraph(letter.subject, s["title"])]
    blocks = [b.strip() for b in re.split(r"\n\s*\n", letter.body.strip()) if b.strip()]
    if blocks and blocks[-1] in (settings.authority, settings.authority_en):
        blocks.pop()  # the e-mail's closing; the letter is signed below, with the seal
    story += [_paragraph(block, s["body"]) for block in blocks]
    story += [Spacer(1, 14 * mm), _paragraph(f"{settings.authority}（盖章）", s["sign"]),
              _paragraph(f"{settings.authority_en} (seal)", s["sign"]),
              _paragraph(letter.dated.isoformat(), s["sign"])]
    return story


def _footer(reference: str, font: str):
    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColor(GREY)
        canvas.drawString(MARGIN, 12 * mm, f"{reference}  第 {doc.page} 页 / page {doc.page}")
        canvas.restoreState()
    return draw


def render(letter: LetterData, settings: PdfSettings | None = None) -> bytes:
    """One letter as a PDF of one page, or more for a long body. Same input, same bytes."""
    settings = settings or PdfSettings()
    font = fonts.cjk(settings.font_path)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=f"提醒函 {letter.reference}", author=settings.authority,
                            creator="yiwu-registry", invariant=1, pageCompression=1)
    footer = _footer(letter.reference, font)
    doc.build(_flowables(letter, settings, font), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def write_batch(path: Path, letters: Iterable[LetterData], settings: PdfSettings | None = None, *,
                progress: Callable[[int], None] | None = None) -> int:
    """All ``letters`` into one PDF at ``path``, appended one by one; returns how many."""
    settings = settings or PdfSettings()
    pdfs = ((letter.reference, render(letter, settings)) for letter in letters)
    return batch.write(Path(path), "pdf", pdfs, title="提醒函 Reminder letters", progress=progress)
