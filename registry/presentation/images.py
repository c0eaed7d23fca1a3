"""An uploaded photo or scan that the queue has not prepared, or could not, in the reader's language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

# image_error (a photos.PhotoError rule, or what the job found) -> what the page says
REASONS = {
    "not_image": _l("the file is not a readable JPEG, PNG or WebP image (it may be damaged or only look like one)"),
    "too_many_pixels": _l("the image has more pixels than the registry decodes"),
    "too_large": _l("the file is larger than the upload limit"),
    "empty": _l("the file is empty"),
    "missing": _l("the uploaded file is no longer there"),
    "job_failed": _l("the preparation stopped several times; upload the file again"),
}


def image_state(doc) -> str | None:
    """pending | failed | None (ready, or nothing to prepare)."""
    state = getattr(doc, "image_state", None)
    return state if state in ("pending", "failed") else None


def image_problem(doc) -> str:
    """Why a failed image cannot be shown, as a sentence part ("" when it did not fail)."""
    if image_state(doc) != "failed":
        return ""
    return str(REASONS.get(doc.image_error or "", REASONS["not_image"]))
