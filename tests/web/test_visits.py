"""The inspector's tablet pages: my visits sorted by what is due, the inspection form sent as a
browser would (multipart, with photos), refusals that keep what was typed, the record and its
PDF, and the verification of an answered order."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.models import Document, Inspection, Reading, Rectification
from registry.services import evaluations
from registry.services.validators import CHECKLIST_CODES
from tests import factories as f
from tests.services.test_inspections import jpeg, signature_url

TODAY = bureau_today()
LAST_MONTH = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


@pytest.fixture
def site(app):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=400), serial="EM-TAB-1",
                           water_user=f.WaterUserFactory(name="义乌市青岩印染有限公司", division_code="001"))
    meter.intake_point.water_user = meter.water_user
    db.session.commit()
    f.inspector(divisions=("001",), username="insp")
    f.inspector(divisions=("100",), username="far")
    f.enterprise(meter.water_user, username="ent")
    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    return meter.water_user, meter


def form_data(meter=None, **over) -> dict:
    data = {"idempotency_key": "key-1", "inspected_on": TODAY.isoformat(), "site_contact": "李海燕", "findings": ""}
    for code in CHECKLIST_CODES:
        data[f"item-{code}"] = "ok"
    data.update({"item-meter_present_sealed": "problem", "note-meter_present_sealed": "水表铅封缺失",
                 "deadline-meter_present_sealed": (TODAY + timedelta(days=30)).isoformat()})
    if meter is not None:
        data.update({"reading-meter_id": str(meter.id), "reading-period": LAST_MONTH, "reading-volume_m3": "321"})
    data.update(over)
    return data


def _count(model):
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_inspector_sees_my_visits_in_the_nav_and_overdue_files_first(client, auth, site):
    wu, _meter = site
    calm = f.WaterUserFactory(name="义乌市安静纺织有限公司", division_code="001", file_no="YW-A0000", industry_code="1810")
    f.RectificationFactory(inspection=f.InspectionFactory(water_user=wu, inspected_on=TODAY - timedelta(days=50)),
                           water_user_id=wu.id, deadline=TODAY - timedelta(days=3))
    far = f.WaterUserFactory(name="义乌市远方化工有限公司", division_code="100")
    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    auth.login("insp")
    body = client.get("/visits?lang=en").get_data(as_text=True)
    assert 'href="/visits"' in client.get("/?lang=en").get_data(as_text=True)
    assert body.index(wu.name) < body.index(calm.name) and far.name not in body
    assert "Rectification deadline" in body and "Start the inspection" in body
    assert calm.name not in client.get("/visits?due=1").get_data(as_text=True)


def test_enterprise_and_other_divisions_cannot_open_the_tablet_pages(client, auth, site):
    wu, _meter = site
    auth.login("ent")
    assert client.get("/visits").status_code == 403  # forbidden to the role
    assert client.get(f"/visits/{wu.id}/inspect").status_code == 403  # its own file, but inspecting is staff's
    auth.logout()
    auth.login("far")
    assert client.get(f"/visits/{wu.id}/inspect").status_code == 404
    assert client.post(f"/visits/{wu.id}/inspect", data=form_data()).status_code == 404
    assert _count(Inspection) == 0


def test_the_form_has_large_toggles_camera_inputs_and_a_signature_pad(client, auth, site):
    wu, meter = site
    auth.login("insp")
    body = client.get(f"/visits/{wu.id}/inspect?lang=en").get_data(as_text=True)
    for code in CHECKLIST_CODES:
        assert f'name="item-{code}" id="item-{code}-problem"' in body
        assert re.search(rf'type="file" id="photo-{code}"[^>]*accept="image/\*" capture="environment"', body)
    assert "EM-TAB-1" in body and 'id="signature-canvas"' in body and "Send the inspection" in body
    assert "tablet.css" in body and "inspection-draft.js" in body and "<script>" not in body
    assert re.search(r'name="idempotency_key" type="hidden" value="[0-9a-f]{32}"', body)


def test_sending_the_form_records_the_inspection_and_shows_its_record(client, auth, site):
    wu, meter = site
    auth.login("insp")
    data = form_data(meter, **{"photo-meter_present_sealed": (io.BytesIO(jpeg(2400, 1800)), "IMG_0042.JPG"),
                               "signature": signature_url()})
    response = client.post(f"/visits/{wu.id}/inspect?lang=en", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    insp = db.session.execute(select(Inspection)).scalar_one()
    assert response.headers["Location"] == f"/visits/{wu.id}/inspections/{insp.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "水表铅封缺失" in page and "Print the inspection record (PDF)" in page
    assert page.count("/documents/") == 2  # the photo and the signature
    assert db.session.execute(select(Reading.volume_m3, Reading.status)).one() == (321, "accepted")
    file_page = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert "水表铅封缺失" in file_page and "Inspection photo" in file_page and "321" in file_page


def test_the_same_draft_sent_twice_makes_one_inspection(client, auth, site):
    wu, meter = site
    auth.login("insp")
    for _ in range(2):
        response = client.post(f"/visits/{wu.id}/inspect", data=form_data(meter), headers={"Accept": "application/json"})
        assert response.status_code == 200 and response.json["ok"] is True
    assert (_count(Inspection), _count(Rectification), _count(Reading)) == (1, 1, 1)


def test_a_file_that_is_not_a_photo_is_refused_and_what_was_typed_stays(client, auth, site):
    wu, meter = site
    auth.login("insp")
    data = form_data(meter, findings="进水口有渗漏",
                     **{"photo-meter_present_sealed": (io.BytesIO(b"%PDF-1.4 not a photo"), "seal.jpg")})
    response = client.post(f"/visits/{wu.id}/inspect?lang=en", data=data, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Meter present and sealed · Photos: “seal.jpg” is not a photo" in body
    assert "进水口有渗漏" in body and "水表铅封缺失" in body and 'value="321"' in body
    assert 'id="item-meter_present_sealed-problem" value="problem" checked' in body
    assert (_count(Inspection), _count(Document), _count(Reading)) == (0, 0, 0)


def test_a_photo_over_the_limit_is_refused_with_the_limit_in_json(app, client, auth, site):
    wu, _meter = site
    app.config["PHOTO_MAX_BYTES"] = 100 * 1024  # the test client spools bodies over 500 KB to a file it never closes
    auth.login("insp")
    big = io.BytesIO(b"\xff\xd8\xff" + b"0" * (100 * 1024 + 10))
    response = client.post(f"/visits/{wu.id}/inspect?lang=en", headers={"Accept": "application/json"},
                           data=form_data(**{"photo-records_kept": (big, "huge.jpg")}), content_type="multipart/form-data")
    assert response.status_code == 400
    errors = {e["field"]: e for e in response.json["errors"]}
    assert errors["photo-records_kept"]["message"].startswith("“huge.jpg” is larger than 0.1 MB")
    assert errors["photo-records_kept"]["label"] == "Water-use records kept · Photos"


def test_a_problem_without_deadline_names_the_item_and_the_rule(client, auth, site):
    wu, _meter = site
    auth.login("insp")
    response = client.post(f"/visits/{wu.id}/inspect?lang=en", data=form_data(**{"deadline-meter_present_sealed": ""}))
    assert response.status_code == 400
    assert "Meter present and sealed · Rectification deadline: This field is required." in response.get_data(as_text=True)


def test_the_inspection_record_prints_as_a_pdf_with_places_to_sign(client, auth, site):
    wu, meter = site
    auth.login("insp")
    client.post(f"/visits/{wu.id}/inspect", data=form_data(meter, **{
        "photo-meter_present_sealed": (io.BytesIO(jpeg(1200, 900)), "a.jpg")}), content_type="multipart/form-data")
    insp = db.session.execute(select(Inspection)).scalar_one()
    response = client.get(f"/visits/{wu.id}/inspections/{insp.id}.pdf?lang=en")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    for words in ("Site inspection record", wu.name, wu.file_no, "水表铅封缺失", "Meter present and sealed",
                  "Site contact (signature)", "Inspector (signature)", (TODAY + timedelta(days=30)).isoformat()):
        assert words in text, words
    chinese = client.get(f"/visits/{wu.id}/inspections/{insp.id}.pdf?lang=zh_CN")
    assert wu.name in PdfReader(io.BytesIO(chinese.data)).pages[0].extract_text()


def test_inspector_verifies_an_answered_order_from_my_visits(client, auth, site):
    wu, _meter = site
    order = f.RectificationFactory(inspection=f.InspectionFactory(water_user=wu), water_user_id=wu.id,
                                   status="answered", response="已加装铅封", responded_on=TODAY,
                                   deadline=TODAY + timedelta(days=5))
    auth.login("insp")
    listing = client.get("/visits?lang=en").get_data(as_text=True)
    assert "Answers to verify" in listing and "已加装铅封" not in listing and order.requirement in listing
    page = client.get(f"/visits/{wu.id}/rectifications/{order.id}?lang=en").get_data(as_text=True)
    assert "已加装铅封" in page and "Verify the rectification" in page and "Reopen the order" in page
    refused = client.post(f"/visits/{wu.id}/rectifications/{order.id}?lang=en", data={"decision": "reopen", "reason": ""})
    assert refused.status_code == 400 and "This field is required." in refused.get_data(as_text=True)
    assert client.post(f"/visits/{wu.id}/rectifications/{order.id}", data={"decision": "verify"}).status_code == 302
    db.session.refresh(order)
    assert order.status == "verified"
    assert "Answers to verify" not in client.get("/visits?lang=en").get_data(as_text=True)


def test_service_worker_is_served_for_the_visit_pages_only_to_staff(client, auth, site):
    auth.login("insp")
    response = client.get("/visits/sw.js")
    response.close()
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/visits"
    auth.logout()
    auth.login("ent")
    assert client.get("/visits/sw.js").status_code == 403  # forbidden to the role


def test_one_inspection_workflow_from_the_file_page_the_work_queue_and_my_visits(client, auth, site):
    """Issue 18: the plain form is gone; every way in leads to the offline-safe visit form."""
    wu, meter = site
    f.RectificationFactory(inspection=f.InspectionFactory(water_user=wu, inspected_on=TODAY - timedelta(days=50)),
                           water_user_id=wu.id, deadline=TODAY - timedelta(days=3))
    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    auth.login("insp")
    visit = f'href="/visits/{wu.id}/inspect"'
    old = client.get(f"/water-users/{wu.id}/inspections/new")
    assert old.status_code == 302 and old.headers["Location"] == f"/visits/{wu.id}/inspect"
    posted = client.post(f"/water-users/{wu.id}/inspections/new", data=form_data(meter))
    assert posted.status_code == 303 and _count(Inspection) == 1  # the plain form records nothing
    assert visit in client.get(f"/water-users/{wu.id}").get_data(as_text=True)
    assert "/inspections/new" not in client.get(f"/water-users/{wu.id}").get_data(as_text=True)
    assert visit in client.get("/work-queue").get_data(as_text=True)
    assert visit in client.get("/visits").get_data(as_text=True)
