"""Active content in an uploaded PDF (PDF 中的活动内容): found by a careful scan of its bytes.

A scanned permit or a test report is pages and nothing else. What a PDF reader would run or open
is refused (ISO 32000-1 §12.6 actions, §7.11.4 embedded files, §12.7.8 XFA forms): JavaScript
(``/JavaScript``, ``/JS``, also as the ``/OpenAction`` of the document), ``/Launch``, automatic
actions (``/AA``), embedded files, rich media, form submission and import.

The scan reads every name token of the file, with ``#xx`` escapes decoded (``/J#61vaScript`` is
``/JavaScript``), and the objects packed in compressed object streams (``/Type /ObjStm``), which
are inflated within a budget. An object stream it cannot read (another filter, encrypted, or
beyond the budget) could hide anything, so such a PDF is refused as one that cannot be checked.
No PDF library is needed; pypdf (a test dependency) builds the tests' PDFs.
"""
from __future__ import annotations

import re
import zlib

from flask_babel import lazy_gettext as _l

# PDF names that make a document do something, each with what the refusal calls it.
ACTIVE = {
    b"JavaScript": "JavaScript", b"JS": "JavaScript", b"Launch": "Launch", b"AA": "AA",
    b"EmbeddedFile": "EmbeddedFile", b"EmbeddedFiles": "EmbeddedFiles", b"RichMedia": "RichMedia",
    b"SubmitForm": "SubmitForm", b"ImportData": "ImportData", b"GoToE": "GoToE", b"XFA": "XFA",
}
INFLATE_BUDGET = 64 * 1024 * 1024  # object streams hold dictionaries: a few MB even in a long report
# A name: "/" then regular characters (ISO 32000-1 §7.3.5; delimiters and white space end it).
NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)")
ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
STREAM = re.compile(rb"(?<!end)stream\r?\n")
OBJ = re.compile(rb"\d+\s+\d+\s+obj\b")
LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")


class PdfRefused(ValueError):
    """``message`` says why, in the user's language."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _names(data: bytes) -> set[bytes]:
    return {ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw) for raw in NAME.findall(data)}


def _active(data: bytes) -> str | None:
    found = sorted(ACTIVE[name] for name in _names(data) & ACTIVE.keys())
    return found[0] if found else None


def _object_streams(content: bytes):
    """(dictionary, raw data) of every ``/Type /ObjStm`` stream of the file."""
    for match in STREAM.finditer(content):
        begin = match.start()
        head_from = max(0, begin - 4096)
        heads = list(OBJ.finditer(content, head_from, begin))
        if not heads:
            continue
        dictionary = content[heads[-1].end():begin]
        if not dictionary.rstrip().endswith(b">>"):
            continue  # "stream" inside some other text, not a stream's keyword
        names = _names(dictionary)
        if b"ObjStm" not in names:
            continue
        length = LENGTH.search(dictionary)
        start = match.end()
        end = start + int(length.group(1)) if length else content.find(b"endstream", start)
        if end < start or end > len(content):
            end = content.find(b"endstream", start)
        yield names, content[start:end if end >= start else len(content)]


def _inflate(data: bytes, budget: int) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, budget + 1)
    if len(out) > budget:
        raise OverflowError
    return out


def check(content: bytes) -> None:
    """Refuse a PDF with active content, or one whose packed objects cannot be read."""
    cannot = _l("The PDF cannot be checked: parts of it are packed or encrypted in a way this registry does not "
                "read. Print it to a new PDF and upload that.")
    found = _active(content)
    budget = INFLATE_BUDGET
    if found is None:
        for names, data in _object_streams(content):
            if budget <= 0 or b"Predictor" in names:  # predictor bytes interleaved with the text could split a name
                raise PdfRefused(cannot)
            filters = names & {b"ASCIIHexDecode", b"ASCII85Decode", b"LZWDecode", b"RunLengthDecode", b"Crypt",
                               b"DCTDecode", b"JPXDecode", b"JBIG2Decode", b"CCITTFaxDecode"}
            if filters or b"FlateDecode" not in names:
                if b"Filter" in names:
                    raise PdfRefused(cannot)
                packed = data  # an object stream may be stored plain
            else:
                try:
                    packed = _inflate(data, budget)
                except (zlib.error, OverflowError):
                    raise PdfRefused(cannot) from None
            budget -= len(packed)
            found = _active(packed)
            if found is not None:
                break
    if found is not None:
        raise PdfRefused(_l("The PDF holds active content (%(what)s): scripts, actions that run by themselves, "
                            "launched programs and embedded files are not accepted. Print it to a new PDF and "
                            "upload that.", what="/" + found))
