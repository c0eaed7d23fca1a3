"""Attachments: checked by content (not by the name or the browser's word), stored once by sha256
outside static/, and never deleted (a document is closed instead).

An image is checked by its header in the request and decoded whole and re-encoded by a job of
the queue (services/images.py, photos.clean_scan); only the re-encoded bytes are ever served: no
metadata, nothing after the picture (a JPEG header followed by HTML fails, a JPEG with a script
appended loses it). A PDF with active content is refused (pdf_safety). The name a
download carries has exactly one extension, the one of the type found in the content."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from registry import access
from registry.models import DOCUMENT_KINDS, Document, WaterUser, utcnow
from registry.services import images, pdf_safety, photos
from registry.services.checks import Checker, refuse_control
from registry.services.errors import ValidationError
from registry.services.file_store import path_for, store  # noqa: F401  (re-exported: the upload paths)
from registry.services.unit_of_work import FileChange, created_changes

# Magic numbers of the types we accept.
SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)


EXTENSIONS = {content_type: ext for _magic, content_type, ext in SIGNATURES}
# What reads as an extension at the end of a name: letters and digits after a dot, not only digits
# ("报告.2026" keeps its year).
SUFFIX = re.compile(r"\.(?=[0-9]*[A-Za-z])[A-Za-z0-9]{1,10}$")


def sniff(content: bytes) -> tuple[str, str] | None:
    for magic, content_type, ext in SIGNATURES:
        if content.startswith(magic):
            return content_type, ext
    return None


def download_name(filename: str | None, content_type: str) -> str:
    """The name a stored file is offered under: the uploaded name without its path or extensions
    ("scan.pdf.html", "x.svg"), then the one extension of the type its content was found to be."""
    name = "".join(ch for ch in str(filename or "") if ch.isprintable()).replace("\\", "/").rsplit("/", 1)[-1]
    while SUFFIX.search(name):
        name = SUFFIX.sub("", name)
    name = name.strip(" .")[:200] or "document"
    return name + EXTENSIONS.get(content_type, ".bin")


def _image_message(err: photos.PhotoError, limit: int):
    if err.rule == "too_many_pixels":
        return _l("The image has more than %(n)s million pixels; scan it at 300 dpi or save it smaller.",
                  n=f"{limit / 1_000_000:g}")
    return _l("The file is not a readable JPEG or PNG image.")


def checked_content(content: bytes, content_type: str, max_bytes: int):
    """(the bytes to keep, their type), or (None, why not): PDFs scanned; an image checked by its
    header only, as a ``photos.PendingImage`` for the queue to re-encode."""
    if content_type == "application/pdf":
        try:
            pdf_safety.check(content)
        except pdf_safety.PdfRefused as err:
            return None, err.message
        return content, content_type
    limit = photos.max_pixels()
    try:
        pending = photos.check_scan(content, max_bytes=max_bytes, limit=limit)
    except photos.PhotoError as err:
        return None, _image_message(err, limit)
    return pending, pending.content_type


def attach(session: Session, actor, wu: WaterUser, data: dict, *, filename: str, content: bytes,
           upload_dir: str, max_bytes: int, idempotency_key: str | None = None, status: str = "accepted",
           kinds=DOCUMENT_KINDS) -> Document:
    """Attach a file. Staff attach directly; the portal passes status "pending" for review."""
    if status == "accepted":
        access.require(actor, "document.edit")
    with FileChange(session, actor, idempotency_key) as change:
        if change.replay is not None:
            return change.replay
        c = Checker(data)
        c.text("title", max_len=200)
        c.choice("kind", kinds)
        sniffed = sniff(content or b"")
        if not content:
            c.fail("file", _l("Choose a file to upload."))
        elif len(content) > max_bytes:
            c.fail("file", _l("The file is larger than %(n)d MB.", n=max_bytes // (1024 * 1024)))
        elif sniffed is None:
            c.fail("file", _l("Only PDF, JPEG and PNG files are accepted."))
        else:
            content, content_type = checked_content(content, sniffed[0], max_bytes)
            if content is None:
                c.fail("file", content_type)
        values = c.done()
        safe_name = download_name(filename, content_type)
        if isinstance(content, photos.PendingImage):  # re-encoded by the queue; kept as received meanwhile
            stored = images.pending_fields(upload_dir, content)
        else:
            stored = {"sha256": store(upload_dir, content), "size_bytes": len(content), "content_type": content_type}
        doc = change.add(Document(water_user_id=wu.id, title=values["title"], kind=values["kind"], filename=safe_name,
                                  uploaded_by_id=getattr(actor, "id", None), status=status, **stored))
        change.flush()
        change.audit("create", doc, water_user_id=wu.id, summary=f"document: {doc.title}",
                     changes=created_changes(doc))
        change.created(doc)
    images.queue(session, actor, [doc])
    return doc


def close(session: Session, actor, doc: Document, reason: str) -> Document:
    access.require(actor, "document.edit")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _l("Give a reason for closing this record.")})
    if len(reason) > 1000:
        raise ValidationError({"reason": _l("At most %(n)d characters.", n=1000)})
    refuse_control("reason", reason)
    if doc.closed_at is not None:
        raise ValidationError({"reason": _l("This record is already closed.")})
    with FileChange(session, actor) as change:
        doc.closed_at, doc.closed_reason = utcnow(), reason[:1000]
        change.flush()
        change.audit("close", doc, water_user_id=doc.water_user_id, reason=reason,
                     summary=f"document: {doc.title}", changes={"closed_reason": [None, reason]})
    return doc
