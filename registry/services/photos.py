"""Photos, drawn signatures and scanned documents, made safe to keep in a file.

A tablet camera writes large JPEGs with EXIF: the GPS position, the device's serial number,
the time. None of that belongs in a file an enterprise may later read, and a 12-megapixel
photo is more than a record needs. An upload that only starts like a JPEG may go on as HTML or
SVG, or hide a script after the picture. So every image is

- checked by its content (Pillow must decode it whole; the name and the browser's word count
  for nothing) and by its size in bytes and pixels: the pixels are read from the header before
  anything is decoded, and an image of more than ``IMAGE_MAX_PIXELS`` (a setting) is refused,
  except a JPEG, which libjpeg decodes at 1/2, 1/4 or 1/8 of its size (``draft``) when that
  brings it under the limit (a 7000 x 7000 PNG decodes to about 150 MB, and 2-3 times that
  while it is converted);
- turned upright as its EXIF orientation says, then re-encoded without any metadata, and only
  the re-encoded bytes are served: a photo as JPEG at most ``MAX_EDGE_PX`` on its longer side, a
  signature (line art) as PNG, a scanned document in its own format at its own resolution.

The request does only the header's part (``check_photo``, ``check_scan``); decoding and
re-encoding (``prepare``) is a job of the queue (``services/images.py``). A drawn signature,
at most 1 MB and 1200 px, is still cleaned in the request (``clean_signature``).
"""
from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass

from flask import current_app, has_app_context
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # a tablet photo is 2-6 MB; the app setting PHOTO_MAX_BYTES overrides
MAX_EDGE_PX = 1600  # enough to read a meter dial or a seal number
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}  # MPO: JPEG with a depth map, as some cameras write
DRAFT_FORMATS = {"JPEG", "MPO"}  # libjpeg can decode these at a fraction of their size
JPEG_QUALITY = 85
SCAN_JPEG_QUALITY = 90  # a scanned permit's small print must stay legible
SIGNATURE_MAX_BYTES = 1024 * 1024
SIGNATURE_MAX_EDGE_PX = 1200
# A JPEG header may claim up to this many times the limit: draft() at 1/2 scale brings it under.
# Pillow's own guard (Image.MAX_IMAGE_PIXELS, set by configure()) refuses anything past twice that.
JPEG_HEADER_FACTOR = 4


class PhotoError(ValueError):
    """The upload cannot be kept; ``rule`` says which check failed (empty, too_large, not_image, too_many_pixels)."""

    def __init__(self, rule: str):
        super().__init__(rule)
        self.rule = rule


@dataclass(frozen=True)
class CleanImage:
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int


def configure(app) -> None:
    """Lower Pillow's decompression-bomb guard for the whole process to what the app accepts, so
    that no other code path (the inspection PDF, reportlab) opens a larger image either."""
    Image.MAX_IMAGE_PIXELS = int(app.config["IMAGE_MAX_PIXELS"]) * JPEG_HEADER_FACTOR


def max_pixels() -> int:
    from registry.config import DEFAULTS

    return int((current_app.config if has_app_context() else DEFAULTS)["IMAGE_MAX_PIXELS"])


def _draft_size(size: tuple[int, int], limit: int, edge: int | None) -> tuple[int, int] | None:
    """The size to ask libjpeg for: draft() picks the smallest 1/2^k scale not below it, so asking
    for half of what fits the limit lands between a quarter of the limit and the limit."""
    w, h = size
    want = 1.0
    if w * h > limit:
        want = math.sqrt(limit / (w * h)) / 2
    if edge is not None and max(w, h) > edge:
        want = min(want, edge / max(w, h))
    if want >= 1.0:
        return None
    return max(1, int(w * want)), max(1, int(h * want))


def _header(content: bytes, max_bytes: int, *, limit: int | None = None, edge: int | None = None) -> Image.Image:
    """The image opened from its header only (JPEGs drafted down towards ``edge``), nothing decoded,
    or PhotoError: the byte size, the format and the pixels it would decode to are checked."""
    limit = limit or max_pixels()
    if not content:
        raise PhotoError("empty")
    if len(content) > max_bytes:
        raise PhotoError("too_large")
    try:
        image = Image.open(io.BytesIO(content))  # reads the header only
        if image.format not in ACCEPTED_FORMATS:
            raise PhotoError("not_image")
        if image.format in DRAFT_FORMATS and image.width * image.height <= limit * JPEG_HEADER_FACTOR:
            wanted = _draft_size(image.size, limit, edge)
            if wanted is not None:
                image.draft("RGB" if image.mode not in ("L", "CMYK") else image.mode, wanted)
        if image.width * image.height > limit:  # after draft(): what would be decoded
            raise PhotoError("too_many_pixels")
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("too_many_pixels") from None
    except UnidentifiedImageError:
        raise PhotoError("not_image") from None
    except (OSError, SyntaxError, ValueError, EOFError):  # truncated or corrupt data
        raise PhotoError("not_image") from None
    return image


def _open(content: bytes, max_bytes: int, *, limit: int | None = None, edge: int | None = None) -> Image.Image:
    """The image decoded whole, at most ``limit`` pixels (JPEGs drafted down towards ``edge``), or PhotoError."""
    image = _header(content, max_bytes, limit=limit, edge=edge)
    try:
        image.load()  # decodes every pixel: a JPEG header followed by HTML fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("too_many_pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError):  # truncated or corrupt data
        raise PhotoError("not_image") from None
    return image


@dataclass(frozen=True)
class PendingImage:
    """An upload whose header passed (``check_photo`` / ``check_scan``): kept as received until a
    job of the queue decodes and re-encodes it (``prepare``); it will be ``content_type``."""
    content: bytes
    kind: str  # photo | scan
    content_type: str
    extension: str


def check_photo(content: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, limit: int | None = None) -> PendingImage:
    """What the request checks of a site photo: its size, format and pixels, from the header."""
    _header(content, max_bytes, limit=limit, edge=MAX_EDGE_PX)
    return PendingImage(content, "photo", "image/jpeg", ".jpg")


def check_scan(content: bytes, *, max_bytes: int, limit: int | None = None) -> PendingImage:
    """What the request checks of a scanned document (JPEG or PNG), from the header."""
    image = _header(content, max_bytes, limit=limit)
    if image.format == "PNG":
        return PendingImage(content, "scan", "image/png", ".png")
    return PendingImage(content, "scan", "image/jpeg", ".jpg")


def prepare(content: bytes, kind: str, *, max_bytes: int, limit: int | None = None) -> CleanImage:
    """The queue's half: decode the kept upload whole and re-encode it (``clean_photo`` or
    ``clean_scan``), or PhotoError naming the rule it broke."""
    if kind == "photo":
        return clean_photo(content, max_bytes=max_bytes, limit=limit)
    return clean_scan(content, max_bytes=max_bytes, limit=limit)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparency (a PNG screenshot) would otherwise turn black in a JPEG."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def clean_photo(content: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_edge: int = MAX_EDGE_PX,
                limit: int | None = None) -> CleanImage:
    """A site photo as an upright JPEG of at most ``max_edge`` px, with no EXIF, or PhotoError."""
    image = _open(content, max_bytes, limit=limit, edge=max_edge)
    image = ImageOps.exif_transpose(image)  # the camera's "rotate me" tag is lost with the EXIF
    image = _flatten(image)
    image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)  # no exif=, no icc_profile=: nothing carried over
    return CleanImage(out.getvalue(), "image/jpeg", ".jpg", image.width, image.height)


def clean_scan(content: bytes, *, max_bytes: int, limit: int | None = None) -> CleanImage:
    """A scanned document (JPEG or PNG) decoded whole and re-encoded in its own format, upright,
    without metadata or anything after the picture, at its own resolution (a large JPEG drafted
    under the limit), or PhotoError."""
    image = _open(content, max_bytes, limit=limit)
    fmt = "PNG" if image.format == "PNG" else "JPEG"
    image = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode not in ("L", "RGB", "CMYK"):
            image = _flatten(image)
        image.save(out, "JPEG", quality=SCAN_JPEG_QUALITY, optimize=True)
        return CleanImage(out.getvalue(), "image/jpeg", ".jpg", image.width, image.height)
    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        image = image.convert("RGBA")
    image.save(out, "PNG")  # no pnginfo=: text chunks are dropped (no optimize=: much slower on a page scan, barely smaller)
    return CleanImage(out.getvalue(), "image/png", ".png", image.width, image.height)


def clean_signature(content: bytes, *, max_bytes: int = SIGNATURE_MAX_BYTES) -> CleanImage:
    """A signature drawn on the tablet, as a PNG of at most ``SIGNATURE_MAX_EDGE_PX``, or PhotoError."""
    image = _open(content, max_bytes, edge=SIGNATURE_MAX_EDGE_PX)
    image = _flatten(image)
    image.thumbnail((SIGNATURE_MAX_EDGE_PX, SIGNATURE_MAX_EDGE_PX), Image.Resampling.LANCZOS)
    if image.getextrema() == ((255, 255),) * 3:
        raise PhotoError("blank")  # a white canvas: nothing was drawn
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return CleanImage(out.getvalue(), "image/png", ".png", image.width, image.height)


def decode_data_url(value: str | None) -> bytes | None:
    """The bytes of a ``data:image/png;base64,...`` URL as a canvas writes it; None when empty."""
    value = (value or "").strip()
    if not value:
        return None
    head, _, payload = value.partition(",")
    if not head.startswith("data:image/") or ";base64" not in head:
        raise PhotoError("not_image")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise PhotoError("not_image") from None
