"""Inputs that keep what was typed (issue 18): maxlength from the model, an oversized upload answered by
its form with the field named and every other field kept, the portal's reading form saying which
month is due and the last accepted reading, accepted documents staying in 我的报送记录, a favicon."""
from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.domain.dates import add_months, month_start
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.models import Document
from registry.services import evaluations
from registry.web.requests import UPLOAD_PARSE_FACTOR
from tests import factories as f

TODAY = bureau_today()
LAST_MONTH = add_months(month_start(TODAY), -1)


@pytest.fixture
def site(app):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=400), serial="SB000002")
    wu = meter.water_user
    f.enterprise(wu, username="ent")
    f.admin(username="admin")
    db.session.commit()
    return wu, meter


def test_text_inputs_carry_maxlength_from_the_model(client, auth, site):
    wu, meter = site
    auth.login("admin")
    meter_form = client.get(f"/water-users/{wu.id}/meters/{meter.id}/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*id="serial"[^>]*maxlength="60"|<input[^>]*maxlength="60"[^>]*id="serial"', meter_form)
    file_form = client.get(f"/water-users/{wu.id}/edit").get_data(as_text=True)
    assert re.search(r'id="name"[^>]*maxlength="200"|maxlength="200"[^>]*id="name"', file_form)
    assert re.search(r'id="file_no"[^>]*maxlength="30"|maxlength="30"[^>]*id="file_no"', file_form)


@pytest.fixture
def small_limits(app):
    """Limits small enough to post past them quickly: 50 KB a file, 100 KB a request as configured."""
    saved = {k: app.config.get(k) for k in ("MAX_CONTENT_LENGTH", "UPLOAD_MAX_BYTES", "IMPORT_MAX_BYTES", "PHOTO_MAX_BYTES")}
    app.config.update(MAX_CONTENT_LENGTH=100 * 1024, UPLOAD_MAX_BYTES=50 * 1024, IMPORT_MAX_BYTES=50 * 1024,
                      PHOTO_MAX_BYTES=50 * 1024)
    yield 50 * 1024
    app.config.update(saved)


def test_an_oversized_document_is_answered_by_the_form_with_the_field_named_and_the_title_kept(
        client, auth, site, small_limits):
    wu, _meter = site
    auth.login("ent")
    big = b"%PDF-1.4\n" + b"0" * (3 * small_limits)  # past the request limit (100 KB) and the file limit (50 KB)
    response = client.post(f"/portal/water-users/{wu.id}/documents/new?lang=en", data={
        "title": "2026年检定证书（扫描件）", "kind": "calibration_certificate", "file": (BytesIO(big), "scan.pdf")},
        content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:500]
    assert 'value="2026年检定证书（扫描件）"' in page  # what was typed is kept
    assert "File (PDF, JPEG or PNG)" in page and "larger than" in page  # the field and the rule
    assert db.session.scalars(select(Document)).first() is None


def test_a_body_far_beyond_any_form_gets_a_page_saying_what_to_do(client, auth, site, small_limits):
    wu, _meter = site
    auth.login("ent")
    huge = b"0" * (UPLOAD_PARSE_FACTOR * small_limits + 1024)
    response = client.post(f"/portal/water-users/{wu.id}/documents/new?lang=en", data={
        "title": "x", "kind": "other", "file": (BytesIO(huge), "scan.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "what you typed is still in the form" in response.get_data(as_text=True)


def test_the_reading_form_says_which_month_is_due_and_shows_the_last_accepted_reading(client, auth, site):
    wu, meter = site
    f.ReadingFactory(meter=meter, water_user_id=wu.id, period=add_months(LAST_MONTH, -1), volume_m3=4321,
                     meter_index=98765.5, status="accepted", source="manual")
    evaluations.refresh(db.session, load_rules(), TODAY, [wu.id])
    db.session.commit()
    auth.login("ent")
    page = client.get(f"/portal/water-users/{wu.id}/readings/new?lang=en").get_data(as_text=True)
    month = LAST_MONTH.strftime("%Y-%m")
    due = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page[page.index('id="reading-due"'):]))
    assert f"Due now: the reading of {month}, by " in due
    assert re.search(rf'name="period"[^>]*value="{month}"|value="{month}"[^>]*name="period"', page)
    last = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page[page.index('id="last-readings"'):]))
    assert f"SB000002: {add_months(LAST_MONTH, -1):%Y-%m} · 4,321 m³ · meter index 98,765.50" in last


def test_an_accepted_document_stays_in_my_submissions_with_its_state(client, auth, site):
    wu, _meter = site
    auth.login("ent")
    client.post(f"/portal/water-users/{wu.id}/documents/new", data={
        "title": "2026年检定证书", "kind": "calibration_certificate", "file": (BytesIO(b"%PDF-1.4 x"), "cert.pdf")},
        content_type="multipart/form-data")
    doc = db.session.execute(select(Document)).scalar_one()
    auth.logout()
    auth.login("admin")
    client.post(f"/review/documents/{doc.id}", data={"decision": "accept"})
    auth.logout()
    auth.login("ent")
    home = client.get("/portal?lang=en").get_data(as_text=True)
    mine = home[home.index('id="submissions"'):]
    assert "2026年检定证书" in mine and "Accepted" in mine


def test_the_favicon_is_served_to_everyone(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    response.close()
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)
