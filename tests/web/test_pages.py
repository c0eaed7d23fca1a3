"""What people see: language, dates in Asia/Shanghai, the list's search and filters, documents."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import AuditEvent, Document
from tests import factories as f


def test_pages_are_in_chinese_by_default_and_english_on_request(client, auth):
    f.admin(username="admin")
    auth.login("admin")
    assert "取水户" in client.get("/water-users/").get_data(as_text=True)
    english = client.get("/water-users/?lang=en").get_data(as_text=True)
    assert "Water users" in english and "取水户" not in english.split("<main")[1].split("</main>")[0]
    # The choice is remembered in the session for the next page.
    assert "Dashboard" in client.get("/").get_data(as_text=True)


def test_timeline_shows_times_in_asia_shanghai(client, auth):
    wu = f.WaterUserFactory()
    f.admin(username="admin")
    db.session.add(AuditEvent(action="update", entity_type="WaterUser", entity_id=wu.id, water_user_id=wu.id,
                              at=datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc), changes={"name": ["a", "b"]}))
    db.session.commit()
    auth.login("admin")
    page = client.get(f"/water-users/{wu.id}").get_data(as_text=True)
    assert "2026-03-02 07:30" in page  # UTC+8


def _names(client, query: str) -> str:
    return client.get(f"/water-users/?{query}").get_data(as_text=True)


def test_list_searches_name_uscc_file_number_and_permit_number(client, auth):
    a = f.WaterUserFactory(name="义乌市青岩印染有限公司", division_code="102")
    b = f.WaterUserFactory(name="义乌市九龙纸业有限公司", division_code="001", industry_code="2221")
    f.PermitFactory(water_user=b, number="D330782G2023-0456")
    f.admin(username="admin")
    auth.login("admin")
    assert a.name in _names(client, "q=青岩") and b.name not in _names(client, "q=青岩")
    assert a.name in _names(client, f"q={a.uscc[:10]}")
    assert b.name in _names(client, f"q={b.file_no}") and a.name not in _names(client, f"q={b.file_no}")
    assert b.name in _names(client, "q=G2023-0456")
    assert b.name in _names(client, "division=001") and a.name not in _names(client, "division=001")
    assert b.name in _names(client, "industry=2221") and a.name not in _names(client, "industry=2221")
    assert a.name in _names(client, "due=no_permit") and b.name not in _names(client, "due=no_permit")
    assert "2 " in _names(client, "") or "2 water users" in _names(client, "lang=en")


def test_list_survives_odd_input(client, auth):
    f.admin(username="admin")
    auth.login("admin")
    for query in ("q=%25%5F%5C", "page=-3", "page=abc", "division=zzz", "q=" + "长" * 500):
        assert client.get(f"/water-users/?{query}").status_code == 200, query
    # NUL cannot match anything (and PostgreSQL refuses it): a 400 that names the parameter.
    assert client.get("/water-users/?q=%00").status_code == 400


def test_expiring_permits_show_on_the_dashboard(client, auth):
    permit = f.PermitFactory(valid_to=bureau_today() + timedelta(days=10))
    f.admin(username="admin")
    auth.login("admin")
    assert permit.number in client.get("/").get_data(as_text=True)


def test_document_is_checked_by_content_and_downloaded_as_attachment(client, auth, app):
    wu = f.WaterUserFactory()
    f.admin(username="admin")
    auth.login("admin")
    from io import BytesIO

    fake = client.post(f"/water-users/{wu.id}/documents/new?lang=en", data={
        "title": "许可证扫描件", "kind": "permit_scan", "file": (BytesIO(b"<script>alert(1)</script>"), "scan.pdf")},
        content_type="multipart/form-data")
    assert fake.status_code == 400 and "Only PDF, JPEG and PNG" in fake.get_data(as_text=True)
    assert 'value="许可证扫描件"' in fake.get_data(as_text=True)
    ok = client.post(f"/water-users/{wu.id}/documents/new", data={
        "title": "许可证扫描件", "kind": "permit_scan", "file": (BytesIO(b"%PDF-1.4 real enough"), "scan.pdf")},
        content_type="multipart/form-data")
    assert ok.status_code == 302
    doc = db.session.execute(select(Document)).scalar_one()
    response = client.get(f"/water-users/{wu.id}/documents/{doc.id}")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data() == b"%PDF-1.4 real enough"
    response.close()
    assert str(app.config["UPLOAD_DIR"]) not in str(app.static_folder)


def test_closing_a_record_asks_for_a_reason_and_keeps_it(client, auth):
    meter = f.MeterFactory()
    f.admin(username="admin")
    auth.login("admin")
    url = f"/water-users/{meter.water_user_id}/meters/{meter.id}/close"
    assert client.post(url, data={"reason": ""}).status_code == 400
    assert client.post(url, data={"reason": "录入错误"}).status_code == 302
    page = client.get(f"/water-users/{meter.water_user_id}").get_data(as_text=True)
    assert meter.serial in page and "录入错误" in page


def test_stale_edit_form_shows_the_saved_values(client, auth):
    meter = f.MeterFactory(manufacturer="宁波水表")
    f.admin(username="admin")
    auth.login("admin")
    url = f"/water-users/{meter.water_user_id}/meters/{meter.id}/edit"
    form = {"serial": meter.serial, "intake_point_id": str(meter.intake_point_id), "meter_type": "electromagnetic",
            "dn": "100", "installed_on": "2022-01-10", "version": str(meter.version)}
    assert client.post(url, data={**form, "manufacturer": "杭州竞达"}).status_code == 302
    stale = client.post(url + "?lang=en", data={**form, "manufacturer": "上海光华"})
    assert stale.status_code == 409
    body = stale.get_data(as_text=True)
    assert "Someone else saved this record" in body and "杭州竞达" in body and 'value="上海光华"' in body
