"""The certificate page: what it says (text extracted with pypdf), that its QR code decodes to the
verification address (rendered with pdftoppm, read with zxing-cpp), that it is deterministic, and
that batches merge into one valid PDF or a ZIP."""
from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from registry.pdf import PdfSettings, fonts
from registry.pdf import batch as batch_pdf
from registry.pdf.certificate import CertificateData, render
from registry.pdf.merge import MergedPdf

SAMPLE = CertificateData(
    number="YWZS-2026-000123", name="义乌市华丰印染有限公司", uscc="91330100716105852F", file_no="YW-2021-00123",
    address="浙江省义乌市稠城街道丹溪北路1088号", grade="A", score=92.5, rules_version="YW-2026.1",
    evaluated_on=date(2026, 11, 20), issued_on=date(2026, 11, 25), valid_until=date(2027, 11, 24),
    verify_url="http://127.0.0.1:5000/verify/YWZS-2026-000123", authority="义乌市水务局", authority_en="Yiwu Water Bureau")
TTF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def page_image(pdf: bytes, page: int = 1, dpi: int = 150) -> Image.Image:
    """A page rendered by poppler's pdftoppm, as a reader's printer or phone would see it."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    png = subprocess.run(["pdftoppm", "-png", "-singlefile", "-r", str(dpi), "-f", str(page), "-l", str(page), "-"],
                         input=pdf, capture_output=True, check=True).stdout
    return Image.open(io.BytesIO(png))


def qr_texts(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


def text_of(pdf: bytes, page: int = 0) -> str:
    return PdfReader(io.BytesIO(pdf)).pages[page].extract_text()


def test_the_page_states_what_ux_md_asks_for():
    text = text_of(render(SAMPLE))
    for expected in ("自备取水户规范评价合格证书", "Certificate of Compliance", "YWZS-2026-000123", "义乌市华丰印染有限公司",
                     "91330100716105852F", "YW-2021-00123", "丹溪北路1088号", "92.5", "YW-2026.1", "2026-11-20",
                     "2026-11-25", "2027-11-24", "义乌市水务局", "盖章", SAMPLE.verify_url):
        assert expected in text, expected


def test_the_page_is_a4_portrait():
    box = PdfReader(io.BytesIO(render(SAMPLE))).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_the_qr_code_decodes_to_the_verification_address():
    assert qr_texts(page_image(render(SAMPLE))) == [SAMPLE.verify_url]


@pytest.mark.parametrize("serial", [1, 99999, 123456])
def test_qr_codes_of_other_numbers_decode_too(serial):
    number = f"YWZS-2027-{serial:06d}"
    data = replace(SAMPLE, number=number, verify_url=f"https://water.yw.gov.cn/registry/verify/{number}")
    assert qr_texts(page_image(render(data), dpi=100)) == [data.verify_url]


def test_the_same_certificate_renders_to_the_same_bytes():
    assert render(SAMPLE) == render(SAMPLE)
    assert render(SAMPLE) != render(replace(SAMPLE, score=92.4))


def test_chinese_uses_the_built_in_cid_font_by_default_nothing_embedded():
    pdf = render(SAMPLE)
    assert b"/STSong-Light" in pdf and b"/FontFile" not in pdf


@pytest.mark.skipif(not TTF.exists(), reason="no TrueType font on this machine")
def test_a_configured_truetype_font_is_embedded_deterministically():
    settings = PdfSettings(font_path=str(TTF))
    latin = replace(SAMPLE, name="Yiwu Huafeng Dyeing Co., Ltd.", address="1088 Danxi North Road")
    pdf = render(latin, settings)
    assert b"/FontFile2" in pdf and pdf == render(latin, settings)
    assert "Yiwu Huafeng Dyeing Co., Ltd." in text_of(pdf)


def test_a_missing_font_file_is_a_clear_error(tmp_path):
    with pytest.raises(fonts.FontError, match="cannot use"):
        render(SAMPLE, PdfSettings(font_path=str(tmp_path / "nothing.ttf")))


def test_long_names_wrap_inside_the_frame():
    name = "义乌市" + "稠城街道工业园区精细化工与印染整理" * 4 + "有限公司"
    pdf = render(replace(SAMPLE, name=name))
    lines = fonts.wrap(name, fonts.cjk(), 14, 595.28 - 92 - 210)
    assert 2 <= len(lines) <= 3
    assert lines[0] in text_of(pdf)


def test_wrap_keeps_latin_words_whole_and_cuts_with_an_ellipsis():
    font = fonts.cjk()
    name = "Yiwu Huafeng Dyeing and Finishing Company Limited"
    lines = fonts.wrap(name, font, 12, 150)
    assert len(lines) > 1 and " ".join(lines) == name
    lines = fonts.wrap("很" * 300, font, 12, 100, max_lines=2)
    assert len(lines) == 2 and lines[-1].endswith("…")


def _many(n: int) -> list[CertificateData]:
    return [replace(SAMPLE, number=f"YWZS-2026-{i:06d}", verify_url=f"http://x/verify/YWZS-2026-{i:06d}",
                    name=f"义乌市测试{i}号有限公司") for i in range(1, n + 1)]


def test_a_batch_merges_into_one_pdf_with_the_fonts_once(tmp_path):
    items = _many(3)
    path = tmp_path / "batch.pdf"
    assert batch_pdf.write(path, "pdf", ((d.number, render(d)) for d in items), title="证书") == 3
    pdf = path.read_bytes()
    reader = PdfReader(io.BytesIO(pdf), strict=True)
    assert len(reader.pages) == 3 and "义乌市测试2号有限公司" in reader.pages[1].extract_text()
    assert pdf.count(b"/BaseFont /STSong-Light /DescendantFonts") == 1
    assert qr_texts(page_image(pdf, page=3, dpi=100)) == ["http://x/verify/YWZS-2026-000003"]
    assert not Path(f"{path}.part").exists()


def test_merging_copies_pages_of_multi_page_documents_in_order():
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1)
    for label in ("one", "two"):
        canvas.drawString(72, 72, label)
        canvas.showPage()
    canvas.save()
    out = io.BytesIO()
    with MergedPdf(out) as merged:
        merged.append(buffer.getvalue())
        merged.append(render(SAMPLE))
    reader = PdfReader(io.BytesIO(out.getvalue()), strict=True)
    assert [p.extract_text().split()[0] for p in reader.pages[:2]] == ["one", "two"] and len(reader.pages) == 3


def test_a_batch_as_zip_holds_one_pdf_per_certificate(tmp_path):
    items = _many(2)
    path = tmp_path / "batch.zip"
    batch_pdf.write(path, "zip", ((d.number, render(d)) for d in items))
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["YWZS-2026-000001.pdf", "YWZS-2026-000002.pdf"]
        assert archive.read("YWZS-2026-000002.pdf") == render(items[1])
