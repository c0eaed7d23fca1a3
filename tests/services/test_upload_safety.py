"""Issue 16 item 10: images are decoded whole and re-encoded (only the re-encoded bytes are kept);
PDFs with active content are refused; a download carries one extension, the one of the type found
in the content, and is served with nosniff."""
from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image, PngImagePlugin
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from sqlalchemy import select

from registry.extensions import db
from registry.models import Document
from registry.services import ValidationError, documents, pdf_safety
from tests import factories as f
from tests.conftest import english


def _png(size, mode="1", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG", **save)
    return out.getvalue()


def _jpeg(size=(400, 300), exif: bool = False) -> bytes:
    out = io.BytesIO()
    data = Image.Exif()
    if exif:
        data[0x8825] = {1: "N", 2: (29.0, 18.0, 0.0)}  # GPS: where it was taken
    Image.new("RGB", size, (40, 120, 200)).save(out, "JPEG", exif=data.tobytes(), quality=80)
    return out.getvalue()


def _attach(wu, content: bytes, tmp_path, filename="scan.pdf"):
    from flask import current_app

    return documents.attach(db.session, f.admin(), wu, {"title": "许可证扫描件", "kind": "permit_scan"},
                            filename=filename, content=content, upload_dir=current_app.config["UPLOAD_DIR"],
                            max_bytes=20 * 1024 * 1024)


def _refused(wu, content: bytes, tmp_path) -> str:
    with pytest.raises(ValidationError) as err:
        _attach(wu, content, tmp_path)
    assert db.session.scalar(select(Document.id)) is None
    return english(err.value.errors["file"])


def _stored(app, doc) -> bytes:
    return documents.path_for(app.config["UPLOAD_DIR"], doc.sha256).read_bytes()


@pytest.mark.parametrize("tail", [
    b"<html><body><script>alert(document.cookie)</script></body></html>",
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
])
def test_item10_a_jpeg_header_followed_by_html_or_svg_is_refused(app, tmp_path, tail):
    message = _refused(f.WaterUserFactory(), b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + tail, tmp_path)
    assert message == "The file is not a readable JPEG or PNG image."


def test_item10_a_real_jpeg_is_re_encoded_without_metadata_or_what_followed_it(app, tmp_path):
    content = _jpeg(exif=True) + b"<script>alert(1)</script>"
    doc = _attach(f.WaterUserFactory(), content, tmp_path, filename="photo.jpg.html")
    stored = _stored(app, doc)
    assert b"<script" not in stored and stored != content
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (400, 300) and not image.getexif()
    assert (doc.content_type, doc.filename, doc.size_bytes) == ("image/jpeg", "photo.jpg", len(stored))


def test_item10_a_png_keeps_its_pixels_and_loses_its_text_chunks(app, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    doc = _attach(f.WaterUserFactory(), _png((300, 200), "RGB", pnginfo=info), tmp_path, filename="scan.svg")
    stored = _stored(app, doc)
    assert b"<script" not in stored and doc.filename == "scan.png"
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG" and image.size == (300, 200) and "Comment" not in image.info


def _pdf(extra=None, attachment: bool = False) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    if extra:
        for key, value in extra.items():
            writer._root_object[NameObject(key)] = value
    if attachment:
        writer.add_attachment("run.bat", b"format c:")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _js_action() -> DictionaryObject:
    return DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                             NameObject("/JS"): TextStringObject("app.alert('x')")})


def _object_stream_pdf(body: bytes, filters: bytes = b"/Filter /FlateDecode") -> bytes:
    """A PDF whose catalog sits packed in a compressed object stream, as PDF 1.5 writers do it."""
    packed = zlib.compress(b"1 0 " + body) if b"Flate" in filters else body
    return (b"%PDF-1.7\n2 0 obj\n<< /Type /ObjStm /N 1 /First 4 " + filters + b" /Length "
            + str(len(packed)).encode() + b" >>\nstream\n" + packed + b"\nendstream\nendobj\n%%EOF\n")


@pytest.mark.parametrize("content, what", [
    (_pdf({"/OpenAction": _js_action()}), "/JavaScript"),
    (_pdf({"/OpenAction": DictionaryObject({NameObject("/S"): NameObject("/Launch"),
                                             NameObject("/F"): TextStringObject("cmd.exe")})}), "/Launch"),
    (_pdf({"/AA": DictionaryObject({NameObject("/WC"): _js_action()})}), "/AA"),
    (_pdf(attachment=True), "/EmbeddedFile"),
    (b"%PDF-1.4\n1 0 obj << /OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >> >> endobj\n%%EOF", "/JavaScript"),
    (_object_stream_pdf(b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>"), "/JavaScript"),
])
def test_item10_a_pdf_with_javascript_launch_actions_or_embedded_files_is_refused(app, tmp_path, content, what):
    message = _refused(f.WaterUserFactory(), content, tmp_path)
    assert f"active content ({what})" in message or (what == "/EmbeddedFile" and "active content (/Embedded" in message)


def test_item10_a_pdf_whose_packed_objects_cannot_be_read_is_refused(app, tmp_path):
    unreadable = _object_stream_pdf(b"<< /S /JavaScript >>".hex().encode() + b">", filters=b"/Filter /ASCIIHexDecode")
    assert "cannot be checked" in _refused(f.WaterUserFactory(), unreadable, tmp_path)
    bomb = _object_stream_pdf(b"<< /Type /Catalog >>" + b" " * (80 * 1024 * 1024))  # 80 MB of spaces, 80 KB packed
    assert "cannot be checked" in _refused(f.WaterUserFactory(), bomb, tmp_path)


def test_item10_a_plain_pdf_opening_at_its_first_page_is_kept_as_it_came(app, tmp_path):
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(
        DictionaryObject({NameObject("/S"): NameObject("/GoTo")}))
    out = io.BytesIO()
    writer.write(out)
    assert page is not None
    content = out.getvalue()
    doc = _attach(f.WaterUserFactory(), content, tmp_path, filename="许可证.PDF")
    assert _stored(app, doc) == content and doc.filename == "许可证.pdf"
    pdf_safety.check(_object_stream_pdf(b"<< /Type /Catalog /Pages 3 0 R >>"))  # packed but harmless


@pytest.mark.parametrize("uploaded, content_type, offered", [
    ("scan.pdf.html", "application/pdf", "scan.pdf"),
    ("photo.svg", "image/jpeg", "photo.jpg"),
    ("C:\\fakepath\\报告.2026.PNG", "image/png", "报告.2026.png"),
    ("../../etc/passwd", "application/pdf", "passwd.pdf"),
    ("..", "application/pdf", "document.pdf"),
    ("", "image/png", "document.png"),
])
def test_item10_download_names_have_one_checked_extension(uploaded, content_type, offered):
    assert documents.download_name(uploaded, content_type) == offered


def test_item10_a_document_is_served_under_its_checked_name_with_nosniff(app, client, auth):
    wu = f.WaterUserFactory()
    f.admin(username="admin")
    auth.login("admin")
    digest = documents.store(app.config["UPLOAD_DIR"], b"%PDF-1.4\n% old\n")
    doc = Document(water_user_id=wu.id, title="旧附件", kind="permit_scan", filename="x.pdf.html",  # stored before
                   content_type="application/pdf", size_bytes=15, sha256=digest, status="accepted")
    db.session.add(doc)
    db.session.commit()
    response = client.get(f"/water-users/{wu.id}/documents/{doc.id}")
    assert response.headers["Content-Disposition"] == "attachment; filename=x.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/pdf"
    response.close()
