"""Fonts for Chinese text: reportlab's built-in CID font STSong-Light (nothing embedded, every
PDF reader has a substitute), or a TrueType font embedded as a subset when the bureau configures
one (``REGISTRY_CERTIFICATE_FONT=/path/to/font.ttf``). Latin-only text uses Helvetica."""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

CID_FONT = "STSong-Light"
LATIN = "Helvetica"

_lock = threading.Lock()

# Characters outside STSong-Light's Unicode map (Adobe-GB1 via UniGB-UCS2-H), which readers show as
# empty boxes, and the nearest ones inside it.
_CID_SUBSTITUTES = str.maketrans({"·": "・", "•": "・", "³": "3", "²": "2", "−": "-", "⚠": "！", "✓": "√",
                                  "✗": "×", "\u00a0": " "})


class FontError(RuntimeError):
    """The configured font cannot be used (missing file, not a TrueType font)."""


class _Formatted(pdfdoc.PDFObject):
    """A PDF object whose bytes were formatted once."""

    def __init__(self, data: bytes):
        self.data = data

    def format(self, document) -> bytes:
        return self.data


class _CIDFont(UnicodeCIDFont):
    """STSong-Light whose font dictionary (with its long widths array) is formatted once per
    process instead of once per document: a third of the time a one-page certificate took."""

    _formatted: dict[str, bytes] = {}

    def addObjects(self, doc) -> None:
        name = "F" + repr(len(doc.fontMapping) + 1)
        data = self._formatted.get(name)
        if data is None:
            super().addObjects(doc)  # registers the dictionary the usual way; keep its bytes
            reference = doc.idToObject["BasicFonts"].dict[name]
            data = self._formatted[name] = doc.idToObject[reference.name].format(doc)
            return
        doc.idToObject["BasicFonts"].dict[name] = doc.Reference(_Formatted(data), name)
        doc.fontMapping[self.name] = "/" + name


@lru_cache(maxsize=8)
def cjk(path: str | None = None) -> str:
    """Register (once) and name the font that draws Chinese: the TTF at ``path``, else STSong-Light."""
    with _lock:
        if not path:
            pdfmetrics.registerFont(_CIDFont(CID_FONT))
            return CID_FONT
        font_file = Path(path)
        name = "Registry-" + "".join(ch if ch.isalnum() else "-" for ch in font_file.stem)[:40]
        try:
            pdfmetrics.registerFont(TTFont(name, str(font_file)))
        except Exception as err:  # reportlab raises TTFError, IOError, struct errors...
            raise FontError(f"cannot use {path} as the certificate font: {err}") from err
        return name


def printable(text: str, font: str) -> str:
    """``text`` with the characters the built-in CID font lacks replaced (a TTF is trusted as is)."""
    return text.translate(_CID_SUBSTITUTES) if font == CID_FONT else text


def width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


def wrap(text: str, font: str, size: float, max_width: float, max_lines: int = 3) -> list[str]:
    """Lines of at most ``max_width`` points. Chinese breaks between any two characters; a Latin
    word is kept whole when it fits on a line. The last line is cut with an ellipsis."""
    text = " ".join((text or "").split())
    if width(text, font, size) <= max_width:
        return [text]
    lines: list[str] = []
    rest = text
    while rest and len(lines) < max_lines:
        cut = _fit(rest, font, size, max_width)
        if cut < len(rest) and rest[cut - 1].isascii() and rest[cut].isascii() and rest[cut - 1] != " ":
            space = rest.rfind(" ", 0, cut)
            cut = space + 1 if space > 0 else cut
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        last = lines[-1]
        while last and width(last + "…", font, size) > max_width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def _fit(text: str, font: str, size: float, max_width: float) -> int:
    """How many leading characters fit (binary search on the measured width)."""
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if width(text[:mid], font, size) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return lo
