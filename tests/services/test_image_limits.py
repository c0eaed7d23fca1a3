"""Issue 16 item 7: an image is capped in pixels before it is decoded (read from its header), a
large JPEG is decoded at a fraction of its size, and Pillow's own guard is lowered for the app."""
from __future__ import annotations

import pytest
from PIL import Image, ImageFile

from registry.services import inspections, photos
from tests import factories as f
from tests.conftest import english
from tests.services.test_upload_safety import _jpeg, _png, _refused


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(self):
        raise AssertionError("pixels were decoded")
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_item7_a_7000_by_7000_png_is_refused_from_its_header_before_decoding(app, tmp_path, no_decoding):
    bomb = _png((7000, 7000))  # a few KB on disk, 49 million pixels
    assert len(bomb) < 200_000
    with pytest.raises(photos.PhotoError) as err:
        photos.clean_photo(bomb)
    assert err.value.rule == "too_many_pixels"
    assert "more than 16 million pixels" in _refused(f.WaterUserFactory(), bomb, tmp_path)


def test_item7_the_inspection_photo_message_names_the_limit(app):
    message = inspections._photo_message(photos.PhotoError("too_many_pixels"), "seal.png", photos.DEFAULT_MAX_BYTES)
    assert "more than 16 million pixels" in english(message)


def test_item7_a_large_jpeg_is_decoded_at_a_fraction_of_its_size_with_draft(app):
    content = _jpeg((2000, 1500))  # 3 MP against a limit of 1 MP: libjpeg decodes it at 1/2, never whole
    scan = photos.clean_scan(content, max_bytes=10**7, limit=1_000_000)
    assert (scan.width, scan.height) == (1000, 750)
    photo = photos.clean_photo(content, limit=1_000_000, max_edge=400)
    assert max(photo.width, photo.height) == 400
    with pytest.raises(photos.PhotoError) as err:  # a PNG cannot be drafted: refused
        photos.clean_scan(_png((2000, 1500), "RGB"), max_bytes=10**7, limit=1_000_000)
    assert err.value.rule == "too_many_pixels"


def test_item7_pillows_own_guard_is_lowered_for_the_app(app):
    assert Image.MAX_IMAGE_PIXELS == app.config["IMAGE_MAX_PIXELS"] * photos.JPEG_HEADER_FACTOR
    assert Image.MAX_IMAGE_PIXELS < 89_478_485  # Pillow's default


def test_item7_a_jpeg_too_large_even_for_draft_is_refused_before_decoding(app, no_decoding):
    content = _jpeg((1000, 1000))  # a million pixels: more than 4 times a limit of 100,000
    with pytest.raises(photos.PhotoError) as err:
        photos.clean_scan(content, max_bytes=10**7, limit=100_000)
    assert err.value.rule == "too_many_pixels"
