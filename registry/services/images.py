"""Uploaded photos and scans, re-encoded by the task queue instead of inside the request.

A 7000 x 7000 PNG of 143 KB decodes to some 150 MB, two or three times that while it is
converted: a web worker should not do that for every upload. So the request only checks what an
image's header says (``photos.check_photo`` / ``check_scan``: bytes, format, pixels under the
limit) and keeps the upload as received outside the served store (``storage.original_path``);
the document is ``image_state`` pending and its pages show a placeholder. A job of kind
``image`` then decodes each one whole and re-encodes it (``photos.prepare``: no metadata, a photo
at most 1600 px), stores the copy by its sha256 and marks the document ready, or marks it failed
with the reason (a JPEG header followed by HTML, a truncated file) without serving anything. The
original is removed once its copy is committed; a refused one stays in the quarantine. A job run twice (its worker died) prepares only
what is still pending.
"""
from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import storage
from registry.models import Document
from registry.services import audit, photos
from registry.services.unit_of_work import FileChange

log = logging.getLogger(__name__)

KIND = "image"  # the job's kind
FAILED_JOB = "job_failed"  # image_error when the job itself failed (its worker died each run)


def keep_original(upload_dir: str, pending: photos.PendingImage) -> str:
    """Keep the upload as received (not served) and return its sha256: the document's until the copy exists."""
    digest = hashlib.sha256(pending.content).hexdigest()
    storage.write_once(storage.original_path(upload_dir, digest), pending.content)
    return digest


def pending_fields(upload_dir: str, pending: photos.PendingImage) -> dict:
    """The columns of a document whose image waits for the queue."""
    digest = keep_original(upload_dir, pending)
    return {"sha256": digest, "original_sha256": digest, "size_bytes": len(pending.content),
            "content_type": pending.content_type, "image_state": "pending", "image_error": None}


def queue(session: Session, owner, documents: list[Document]) -> str | None:
    """After the documents are committed: one job, ``owner``'s (the uploader), that prepares them all.
    Returns its id. What the job changes is audited by ``prepare``."""
    ids = [d.id for d in documents if d.image_state == "pending"]
    if not ids:
        return None
    from registry import queue as task_queue

    return task_queue.submit(KIND, owner, {"ids": ids}, total=len(ids))


def prepare(session: Session, ids: list[int], *, upload_dir: str, progress=None) -> dict:
    """Re-encode each pending document of ``ids``: ready with its copy, or failed with the reason.
    Each document commits on its own, and its original goes once the commit is done."""
    counts = {"ready": 0, "failed": 0}
    limit = photos.max_pixels()
    for doc_id in ids:
        doc = session.get(Document, doc_id)
        if doc is None or doc.image_state != "pending" or not doc.original_sha256:
            if progress:
                progress()
            continue
        with FileChange(session, None, evaluate=False) as change:  # one commit per document
            source = storage.original_path(upload_dir, doc.original_sha256)
            before = doc.sha256
            try:
                content = source.read_bytes()
            except OSError:
                doc.image_state, doc.image_error = "failed", "missing"
            else:
                kind = "photo" if doc.kind == "inspection_photo" else "scan"
                try:
                    clean = photos.prepare(content, kind, max_bytes=max(len(content), 1), limit=limit)
                except photos.PhotoError as err:
                    doc.image_state, doc.image_error = "failed", err.rule
                except Exception:  # noqa: BLE001 - any decoder fault fails this photo, not the others
                    log.exception("image of document %s could not be prepared", doc_id)
                    doc.image_state, doc.image_error = "failed", "not_image"
                else:
                    digest = hashlib.sha256(clean.content).hexdigest()
                    storage.write_once(storage.path_for(upload_dir, digest), clean.content)
                    doc.sha256, doc.size_bytes, doc.content_type = digest, len(clean.content), clean.content_type
                    doc.image_state, doc.image_error = "ready", None
            counts[doc.image_state] += 1
            # In the trail as the system's (no actor): the upload itself was audited with its uploader.
            change.audit("update", doc, water_user_id=doc.water_user_id,
                         summary=f"document: {doc.title}: image {doc.image_state}",
                         changes={"image_state": ["pending", doc.image_state], "sha256": [before, doc.sha256],
                                  **({"image_error": [None, doc.image_error]} if doc.image_error else {})})
        still_needed = session.scalar(select(Document.id).where(Document.original_sha256 == doc.original_sha256,
                                                                Document.image_state == "pending").limit(1))
        # The copy is stored: the upload as received (its EXIF, its GPS position) goes. A refused one
        # stays in the quarantine, never served, for the bureau to look at (and so a backup finds
        # the file its document names).
        if doc.image_state == "ready" and still_needed is None:
            try:
                source.unlink(missing_ok=True)
            except OSError:
                log.warning("could not remove %s", source)
        if progress:
            progress()
    return counts


def fail_pending(session: Session, ids: list[int], reason: str = FAILED_JOB) -> None:
    """The job failed as a whole: every document it left pending says so (none stays pending forever)."""
    for doc in session.scalars(select(Document).where(Document.id.in_(ids), Document.image_state == "pending")):
        doc.image_state, doc.image_error = "failed", reason
        audit.record(session, None, "update", doc, water_user_id=doc.water_user_id,
                     summary=f"document: {doc.title}: image failed",
                     changes={"image_state": ["pending", "failed"], "image_error": [None, reason]})
