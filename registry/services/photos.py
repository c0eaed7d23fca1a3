"""Photos and drawn signatures taken on site, made safe to keep in a file.

A tablet camera writes large JPEGs with EXIF: the GPS position, the device's serial number,
the time. None of that belongs in a file an enterprise may later read, and a 12-megapixel
photo is more than a record needs. So every image is

- checked by its content (Pillow must decode it; the name and the browser's word count for
  nothing) and by its size in bytes and pixels (a "decompression bomb" is refused);
- turned upright as its EXIF orientation says, then re-encoded without any metadata: a photo
  as JPEG at most ``MAX_EDGE_PX`` on its longer side, a signature (line art) as PNG.
"""
from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # a tablet photo is 2-6 MB; the app setting PHOTO_MAX_BYTES overrides
MAX_EDGE_PX = 1600  # enough to read a meter dial or a seal number
MAX_PIXELS = 50_000_000  # refuse before decoding anything larger (a 7000 x 7000 photo still passes)
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}  # MPO: JPEG with a depth map, as some cameras write
JPEG_QUALITY = 85
SIGNATURE_MAX_BYTES = 1024 * 1024
SIGNATURE_MAX_EDGE_PX = 1200


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


def _open(content: bytes, max_bytes: int) -> Image.Image:
    if not content:
        raise PhotoError("empty")
    if len(content) > max_bytes:
        raise PhotoError("too_large")
    try:
        with Image.open(io.BytesIO(content)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise PhotoError("not_image")
            if probe.width * probe.height > MAX_PIXELS:
                raise PhotoError("too_many_pixels")
            probe.verify()  # checks the structure without decoding; the image must be opened again after
        image = Image.open(io.BytesIO(content))
        image.load()
    except PhotoError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("not_image") from None
    except (OSError, SyntaxError, ValueError, EOFError):  # truncated or corrupt data
        raise PhotoError("not_image") from None
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparency (a PNG screenshot) would otherwise turn black in a JPEG."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def clean_photo(content: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_edge: int = MAX_EDGE_PX) -> CleanImage:
    """A site photo as an upright JPEG of at most ``max_edge`` px, with no EXIF, or PhotoError."""
    image = _open(content, max_bytes)
    image = ImageOps.exif_transpose(image)  # the camera's "rotate me" tag is lost with the EXIF
    image = _flatten(image)
    image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)  # no exif=, no icc_profile=: nothing carried over
    return CleanImage(out.getvalue(), "image/jpeg", ".jpg", image.width, image.height)


def clean_signature(content: bytes, *, max_bytes: int = SIGNATURE_MAX_BYTES) -> CleanImage:
    """A signature drawn on the tablet, as a PNG of at most ``SIGNATURE_MAX_EDGE_PX``, or PhotoError."""
    image = _open(content, max_bytes)
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
