"""One PDF from many, written to a file as it goes: a batch of 10,000 certificates never sits in
memory, only the document being copied and a table of object offsets.

General PDF merging (pypdf's writer) keeps every page object until the end. This writer only
needs to understand what reportlab writes: a classic cross-reference table, no object streams, a
direct ``/Length`` on every stream, no strings in the dictionaries of copied objects. It copies
the page tree of each document (the page, its content stream, its fonts) renumbering references,
and writes an object identical to one already written only once, so the fonts that every
certificate carries appear once in the merged file.
"""
from __future__ import annotations

import hashlib
import re
from typing import BinaryIO

_XREF = re.compile(rb"xref\s+(\d+)\s+(\d+)\s*\n")
_OBJ_HEAD = re.compile(rb"\s*(\d+)\s+0\s+obj\s*")
_STREAM = re.compile(rb">>\s*stream\r?\n")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
_REF = re.compile(rb"(\d+)\s+0\s+R\b")
_PARENT = re.compile(rb"/Parent\s+\d+\s+0\s+R")
_ROOT = re.compile(rb"/Root\s+(\d+)\s+0\s+R")
_KIDS = re.compile(rb"/Kids\s*\[([^\]]*)\]")
_TYPE_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")

CATALOG, PAGES, INFO = 1, 2, 3


class MergeError(ValueError):
    """The input is not a PDF this writer understands."""


class MergedPdf:
    """``with MergedPdf(open(path, "wb")) as out: out.append(pdf_bytes) ...``"""

    def __init__(self, stream: BinaryIO, *, title: str = "", producer: str = "yiwu-registry"):
        self._out = stream
        self._position = 0
        self._offsets: dict[int, int] = {}
        self._next = INFO + 1
        self._kids: list[int] = []
        self._seen: dict[bytes, int] = {}
        self._digest = hashlib.sha256()
        self._title, self._producer = title, producer
        self._write(b"%PDF-1.4\n%\x93\x8c\x8b\x9e\n")

    @property
    def pages(self) -> int:
        return len(self._kids)

    def append(self, pdf: bytes) -> int:
        """Copy every page of ``pdf``; returns the number of pages copied."""
        objects = _objects(pdf)
        memo: dict[int, int] = {}
        copied = 0
        for number in _page_numbers(pdf, objects):
            head, stream = objects[number]
            head = _PARENT.sub(b"", head)
            new = self._copy_tree(head, stream, objects, memo, dedupe=False)
            self._kids.append(new)
            copied += 1
        return copied

    def close(self) -> None:
        kids = b" ".join(b"%d 0 R" % k for k in self._kids)
        self._object(PAGES, b"<< /Type /Pages /Count %d /Kids [ %s ] >>" % (len(self._kids), kids))
        self._object(CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % PAGES)
        self._object(INFO, b"<< /Producer %s /Title %s >>" % (_text(self._producer), _text(self._title)))
        xref_at = self._position
        size = self._next
        lines = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
        for number in range(1, size):
            offset = self._offsets.get(number)
            lines.append(b"%010d 00000 n \n" % offset if offset is not None else b"0000000000 65535 f \n")
        file_id = self._digest.hexdigest()[:32].encode()
        lines.append(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s><%s>] >>\nstartxref\n%d\n%%%%EOF\n"
                     % (size, CATALOG, INFO, file_id, file_id, xref_at))
        self._write(b"".join(lines))
        self._out.flush()

    def __enter__(self) -> MergedPdf:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()

    # -- copying ------------------------------------------------------------------------------

    def _copy(self, number: int, objects: dict, memo: dict[int, int | None]) -> int:
        if number in memo:
            if memo[number] is None:
                raise MergeError(f"reference cycle through object {number}")
            return memo[number]
        if number not in objects:
            raise MergeError(f"reference to missing object {number}")
        memo[number] = None
        head, stream = objects[number]
        memo[number] = self._copy_tree(head, stream, objects, memo, dedupe=True)
        return memo[number]

    def _copy_tree(self, head: bytes, stream: bytes | None, objects: dict, memo: dict, *, dedupe: bool) -> int:
        """Write the objects ``head`` refers to (children first), then the object itself."""
        head = _REF.sub(lambda m: b"%d 0 R" % self._copy(int(m.group(1)), objects, memo), head)
        if not dedupe:  # a page: always its own object, with our page tree as its parent
            number = self._allocate()
            self._object(number, head.replace(b"<<", b"<< /Parent %d 0 R" % PAGES, 1), stream)
            return number
        key = hashlib.sha256(head + b"\0" + (stream or b"")).digest()
        number = self._seen.get(key)
        if number is None:
            number = self._seen[key] = self._allocate()
            self._object(number, head, stream)
        return number

    def _allocate(self) -> int:
        number, self._next = self._next, self._next + 1
        return number

    def _object(self, number: int, head: bytes, stream: bytes | None = None) -> None:
        self._offsets[number] = self._position
        parts = [b"%d 0 obj\n" % number, head]
        if stream is not None:
            parts += [b"\nstream\n", stream, b"\nendstream"]
        parts.append(b"\nendobj\n")
        self._write(b"".join(parts))

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._position += len(data)
        self._digest.update(data[:64])


def _text(value: str) -> bytes:
    """A PDF text string (UTF-16BE with BOM, hex), safe for any characters."""
    return b"<" + ("\ufeff" + value).encode("utf-16-be").hex().encode() + b">"


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Object number -> (dictionary or value bytes, stream bytes or None), from the xref table."""
    try:
        start = int(pdf[pdf.rindex(b"startxref") + 9:].split()[0])
    except ValueError:
        raise MergeError("no startxref") from None
    table = _XREF.match(pdf, start)
    if table is None:
        raise MergeError("no classic cross-reference table (object streams are not supported)")
    first, count = int(table.group(1)), int(table.group(2))
    entries = pdf[table.end(): table.end() + 20 * count]
    offsets = {first + i: int(entries[20 * i: 20 * i + 10]) for i in range(count)
               if entries[20 * i + 17: 20 * i + 18] == b"n"}
    objects = {}
    for number, offset in offsets.items():
        head = _OBJ_HEAD.match(pdf, offset)
        if head is None or int(head.group(1)) != number:
            raise MergeError(f"object {number} is not at its offset")
        body_start = head.end()
        streamed = _STREAM.search(pdf, body_start, pdf.find(b"endobj", body_start))
        if streamed is not None:
            dictionary = pdf[body_start: streamed.start() + 2]
            length = _LENGTH.search(dictionary)
            if length is None:
                raise MergeError(f"stream {number} has no direct /Length")
            data = pdf[streamed.end(): streamed.end() + int(length.group(1))]
            objects[number] = (dictionary.strip(), data)
        else:
            end = pdf.find(b"endobj", body_start)
            objects[number] = (pdf[body_start:end].strip(), None)
    return objects


def _page_numbers(pdf: bytes, objects: dict) -> list[int]:
    """Page objects in document order, walking the page tree from the catalog."""
    root = _ROOT.search(pdf, pdf.rindex(b"trailer"))
    if root is None:
        raise MergeError("no /Root in the trailer")
    catalog = objects[int(root.group(1))][0]
    pages = re.search(rb"/Pages\s+(\d+)\s+0\s+R", catalog)
    out: list[int] = []

    def walk(number: int, depth: int = 0) -> None:
        if depth > 32:
            raise MergeError("page tree too deep")
        head = objects[number][0]
        kids = _KIDS.search(head)
        if kids is not None:
            for ref in _REF.finditer(kids.group(1)):
                walk(int(ref.group(1)), depth + 1)
        elif _TYPE_PAGE.search(head):
            out.append(number)

    walk(int(pages.group(1)))
    return out
