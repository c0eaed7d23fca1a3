"""The enterprise portal: submissions wait for review, only accepted readings count, and an
enterprise can change nothing of its file directly."""
from __future__ import annotations

from datetime import timedelta
from io import BytesIO

from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import AuditEvent, Document, Reading, Rectification
from tests import factories as f

TODAY = bureau_today()
LAST_MONTH = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _setup():
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=400))
    wu = meter.water_user
    f.enterprise(wu, username="ent")
    f.admin(username="admin")
    return wu, meter


def test_enterprise_reading_waits_for_review_then_counts(client, auth):
    wu, meter = _setup()
    auth.login("ent")
    assert client.get("/").headers["Location"].endswith("/portal")
    response = client.post(f"/portal/water-users/{wu.id}/readings/new",
                           data={"meter_id": str(meter.id), "period": LAST_MONTH, "volume_m3": "4321"})
    assert response.status_code == 302
    reading = db.session.execute(select(Reading)).scalar_one()
    assert (reading.status, reading.source) == ("pending", "enterprise")
    home = client.get("/portal?lang=en").get_data(as_text=True)
    assert "4,321.0 m³" in home and "Pending" in home
    auth.logout()

    auth.login("admin")
    queue = client.get("/review?lang=en").get_data(as_text=True)
    assert wu.name in queue and "4,321.0 m³" in queue
    assert client.post(f"/review/readings/{reading.id}", data={"decision": "accept"}).status_code == 302
    db.session.refresh(reading)
    assert reading.status == "accepted"
    timeline = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert "submitted" in timeline and "accepted" in timeline
    auth.logout()

    auth.login("ent")
    assert "Accepted" in client.get("/portal?lang=en").get_data(as_text=True)


def test_rejection_needs_a_reason_that_the_enterprise_reads(client, auth):
    wu, meter = _setup()
    auth.login("ent")
    client.post(f"/portal/water-users/{wu.id}/readings/new",
                data={"meter_id": str(meter.id), "period": LAST_MONTH, "volume_m3": "10"})
    auth.logout()
    reading = db.session.execute(select(Reading)).scalar_one()
    auth.login("admin")
    client.post(f"/review/readings/{reading.id}", data={"decision": "reject", "reason": ""})
    db.session.refresh(reading)
    assert reading.status == "pending"
    client.post(f"/review/readings/{reading.id}", data={"decision": "reject", "reason": "读数与上月水表示数不符"})
    auth.logout()
    auth.login("ent")
    assert "读数与上月水表示数不符" in client.get("/portal").get_data(as_text=True)
    # The month is free again for a corrected reading.
    again = client.post(f"/portal/water-users/{wu.id}/readings/new",
                        data={"meter_id": str(meter.id), "period": LAST_MONTH, "volume_m3": "12"})
    assert again.status_code == 302


def test_bad_reading_keeps_what_was_typed(client, auth):
    wu, meter = _setup()
    auth.login("ent")
    response = client.post(f"/portal/water-users/{wu.id}/readings/new?lang=en",
                           data={"meter_id": str(meter.id), "period": "2100-01", "volume_m3": "-3"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and 'value="-3' in body and 'value="2100-01"' in body
    assert "negative" in body and "future" in body
    assert db.session.execute(select(Reading)).first() is None


def test_enterprise_answers_a_rectification_order(client, auth):
    wu, meter = _setup()
    rect = f.RectificationFactory(inspection=f.InspectionFactory(water_user=wu), water_user_id=wu.id,
                                  deadline=TODAY + timedelta(days=10))
    auth.login("ent")
    assert rect.requirement in client.get("/portal").get_data(as_text=True)
    url = f"/portal/water-users/{wu.id}/rectifications/{rect.id}/answer"
    assert client.post(url, data={"response": ""}).status_code == 400
    assert client.post(url, data={"response": "已加装铅封并拍照留存"}).status_code == 302
    db.session.refresh(rect)
    assert rect.status == "answered" and rect.response == "已加装铅封并拍照留存"
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "answer")).scalar_one()


def test_enterprise_document_is_pending_until_reviewed(client, auth):
    wu, _ = _setup()
    auth.login("ent")
    response = client.post(f"/portal/water-users/{wu.id}/documents/new", data={
        "title": "2026年检定证书", "kind": "calibration_certificate", "file": (BytesIO(b"%PDF-1.4 x"), "cert.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    doc = db.session.execute(select(Document)).scalar_one()
    assert doc.status == "pending"
    auth.logout()
    auth.login("admin")
    client.post(f"/review/documents/{doc.id}", data={"decision": "accept"})
    db.session.refresh(doc)
    assert doc.status == "accepted"


def test_enterprise_cannot_change_its_file_directly(client, auth):
    wu, meter = _setup()
    auth.login("ent")
    for url, data in ((f"/water-users/{wu.id}/edit", {"name": "改名"}),
                      (f"/water-users/{wu.id}/readings/new", {"meter_id": meter.id, "period": LAST_MONTH, "volume_m3": 1}),
                      (f"/water-users/{wu.id}/meters/{meter.id}/edit", {"serial": "X"}),
                      (f"/water-users/{wu.id}/permits/new", {}), ("/admin/rules/new", {"document": "{}"})):
        assert client.post(url, data=data).status_code in (403, 404), url
    assert db.session.execute(select(Reading)).first() is None


def test_staff_cannot_use_the_portal_and_other_enterprises_get_404(client, auth):
    wu, meter = _setup()
    other = f.WaterUserFactory()
    auth.login("ent")
    assert client.get(f"/portal/water-users/{other.id}/readings/new").status_code == 404
    rect = f.RectificationFactory(inspection=f.InspectionFactory(water_user=other), water_user_id=other.id)
    assert client.get(f"/portal/water-users/{wu.id}/rectifications/{rect.id}/answer").status_code == 404
    auth.logout()
    auth.login("admin")
    assert client.get("/portal").status_code == 403  # forbidden to the role
    assert client.get(f"/portal/water-users/{wu.id}/readings/new").status_code == 403  # in scope, the enterprise's
    assert db.session.execute(select(Rectification).where(Rectification.status == "answered")).first() is None
