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
MAX_STREAMS = 50_000  # a 500-page scan has about a thousand; each one is looked at below
DELIMITER = rb"[\x00\t\n\x0c\r ()<>\[\]{}/%]"  # ISO 32000-1 §7.2.2: white space and delimiters end a name

# Searched, never listed: a 20 MB file of slashes is one C-speed pass, not twenty million names.
ACTIVE_NAME = re.compile(b"/(" + b"|".join(ACTIVE) + b")(?=" + DELIMITER + b"|$)")
ESCAPED_NAME = re.compile(b"/[^" + DELIMITER[1:-1] + b"]*#[0-9A-Fa-f]{2}[^" + DELIMITER[1:-1] + b"]*")
MAX_ESCAPED = 10_000  # names written with #xx escapes: a font name now and then ("/Arial#20Bold")
NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)")
ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
STREAM = re.compile(rb"(?<!end)stream\r?\n")
OTHER_FILTERS = {b"ASCIIHexDecode", b"ASCII85Decode", b"LZWDecode", b"RunLengthDecode", b"Crypt", b"DCTDecode",
                 b"JPXDecode", b"JBIG2Decode", b"CCITTFaxDecode"}
LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")


class PdfRefused(ValueError):
    """``message`` says why, in the user's language."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _names(dictionary: bytes) -> set[bytes]:
    """The names of one stream's dictionary (at most 2 KB), escapes decoded."""
    return {ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw) for raw in NAME.findall(dictionary)}


def _active(data: bytes) -> str | None:
    """What the first active name found is called, plain or written with #xx escapes."""
    match = ACTIVE_NAME.search(data)
    if match is not None:
        return ACTIVE[match.group(1)]
    if b"#" not in data:
        return None
    for count, match in enumerate(ESCAPED_NAME.finditer(data)):
        if count >= MAX_ESCAPED:
            raise OverflowError
        name = ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group()[1:])
        if name in ACTIVE:
            return ACTIVE[name]
    return None


def _object_streams(content: bytes):
    """(dictionary names, raw data) of every ``/Type /ObjStm`` stream of the file."""
    for seen, match in enumerate(STREAM.finditer(content)):
        if seen >= MAX_STREAMS:
            raise OverflowError
        begin = match.start()
        head = content.rfind(b"obj", max(0, begin - 2048), begin)  # "N G obj", where the dictionary starts
        if head < 0:
            continue
        dictionary = content[head + 3:begin]
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
    cannot = PdfRefused(_l("The PDF cannot be checked: parts of it are packed or encrypted in a way this registry "
                           "does not read. Print it to a new PDF and upload that."))
    try:
        found = _active(content) or _packed_active(content)
    except (OverflowError, zlib.error):
        raise cannot from None
    if found is not None:
        raise PdfRefused(_l("The PDF holds active content (%(what)s): scripts, actions that run by themselves, "
                            "launched programs and embedded files are not accepted. Print it to a new PDF and "
                            "upload that.", what="/" + found))


def _packed_active(content: bytes) -> str | None:
    """The first active name inside the file's object streams, or None; OverflowError or zlib.error
    for one that cannot be read (another filter, a predictor, encrypted, past the budget)."""
    budget = INFLATE_BUDGET
    for names, data in _object_streams(content):
        if budget <= 0 or b"Predictor" in names:  # predictor bytes interleaved with the text could split a name
            raise OverflowError
        if names & {b"FlateDecode"} and not names & OTHER_FILTERS:
            data = _inflate(data, budget)
        elif b"Filter" in names:
            raise OverflowError
        budget -= len(data)  # an object stream without /Filter is stored plain
        found = _active(data)
        if found is not None:
            return found
    return None
