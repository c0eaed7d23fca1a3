"""A site inspection is recorded whole or not at all: checklist, photos (made safe), the reading,
the signature and a rectification order for every problem; sent twice, it is recorded once."""
from __future__ import annotations

import base64
import io
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.models import AuditEvent, Document, IdempotencyKey, Inspection, Reading, Rectification, WaterUser
from registry.services import Forbidden, NotFound, ValidationError, documents, inspections, photos
from registry.services.validators import CHECKLIST_CODES
from tests import factories as f
from tests.conftest import english

TODAY = bureau_today()
LAST_MONTH = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def jpeg(width=3000, height=2000, exif: bool = True, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (40, 120, 200))
    data = Image.Exif()
    if exif:
        data[0x010F] = "TabletMaker"  # Make
        data[0x0131] = "Camera 1.0"  # Software
        data[0x8825] = {1: "N", 2: (29.0, 18.0, 0.0)}  # GPS: where the photo was taken
    if orientation:
        data[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=data.tobytes(), quality=80)
    return out.getvalue()


def signature_url() -> str:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    for x in range(50, 550):
        image.putpixel((x, 100 + (x % 20)), (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def answers(problem: str | None = "meter_present_sealed", **over) -> dict:
    out = {code: {"result": "ok", "note": ""} for code in CHECKLIST_CODES}
    if problem:
        out[problem] = {"result": "problem", "note": "水表铅封缺失", "requirement": "", "deadline": (TODAY + timedelta(days=30)).isoformat()}
    out.update(over)
    return out


def submission(**over) -> inspections.Submission:
    values = dict(inspected_on=TODAY.isoformat(), site_contact="李海燕", findings="现场整洁", answers=answers())
    values.update(over)
    return inspections.Submission(**values)


@pytest.fixture
def site(app):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=400))
    return meter.water_user, meter, f.inspector(divisions=(meter.water_user.division_code,))


def _count(session, model):
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _record(session, app, actor, wu, sub, key=None):
    return inspections.record(session, actor, wu, sub, upload_dir=app.config["UPLOAD_DIR"], idempotency_key=key)


def _nothing_written(session, before):
    assert {m: _count(session, m) for m in before} == before


def test_inspection_with_a_problem_writes_everything_in_one_unit(db_session, app, site):
    wu, meter, insp_account = site
    sub = submission(photos=[inspections.Photo("meter_present_sealed", "IMG_0001.JPG", jpeg())],
                     reading={"meter_id": str(meter.id), "period": LAST_MONTH, "volume_m3": "1234.5", "meter_index": "88000"},
                     signature=signature_url())
    insp = _record(db_session, app, insp_account, wu, sub, key="k1")

    assert insp.inspector_id == insp_account.id and insp.site_contact == "李海燕"
    assert [(i.code, i.result) for i in insp.items] == [(c, "problem" if c == "meter_present_sealed" else "ok")
                                                       for c in CHECKLIST_CODES]
    order = db_session.execute(select(Rectification)).scalar_one()
    assert (order.requirement, order.status, order.deadline) == ("水表铅封缺失", "open", TODAY + timedelta(days=30))
    reading = db_session.execute(select(Reading)).scalar_one()
    assert (reading.volume_m3, reading.meter_index, reading.status, reading.source) == (1234.5, 88000, "accepted", "manual")
    photo, sig = db_session.execute(select(Document).order_by(Document.id)).scalars().all()
    assert (photo.kind, photo.record_type, photo.record_id, photo.content_type) == ("inspection_photo", "inspection", insp.id, "image/jpeg")
    assert (sig.kind, sig.content_type, insp.signature_sha256) == ("signature", "image/png", sig.sha256)
    events = db_session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    kinds = [e.entity_type for e in events if e.actor_id == insp_account.id]
    assert sorted(kinds) == sorted(["Document", "Document", "Inspection", "Rectification", "Reading"])
    # then the queue's job (run at once in the tests) re-encoded the photo, as the system's change
    assert [(e.entity_type, e.entity_id, e.changes["image_state"]) for e in events if e.actor_id is None] \
        == [("Document", photo.id, ["pending", "ready"])]
    assert db_session.get(IdempotencyKey, "k1").entity_id == insp.id
    assert db_session.get(WaterUser, wu.id).grade is not None  # the evaluation was refreshed in the same commit


def test_the_same_draft_sent_twice_is_recorded_once(db_session, app, site):
    wu, meter, account = site
    sub = submission(photos=[inspections.Photo("permit_displayed", "a.jpg", jpeg(800, 600))],
                     reading={"meter_id": str(meter.id), "period": LAST_MONTH, "volume_m3": "10"})
    first = _record(db_session, app, account, wu, sub, key="draft-1")
    again = _record(db_session, app, account, wu, sub, key="draft-1")
    assert again.id == first.id
    assert [_count(db_session, m) for m in (Inspection, Rectification, Reading, Document)] == [1, 1, 1, 1]


def test_photo_is_resized_upright_and_stripped_of_exif(db_session, app, site):
    wu, _meter, account = site
    sub = submission(photos=[inspections.Photo("meter_present_sealed", "IMG.jpg", jpeg(3000, 2000, orientation=6))])
    _record(db_session, app, account, wu, sub)
    doc = db_session.execute(select(Document)).scalar_one()
    with Image.open(documents.path_for(app.config["UPLOAD_DIR"], doc.sha256)) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (1067, 1600)  # turned upright (orientation 6: rotate 90°), longer side 1600 px
        assert not stored.getexif() and "exif" not in stored.info


@pytest.mark.parametrize("content, words", [
    (b"%PDF-1.4 this is not a photo", "not a photo"),
    (b"\xff\xd8\xff\xe0 truncated jpeg", "not a photo"),
    (b"", "not a photo"),
])
def test_a_file_that_is_not_an_image_refuses_the_whole_inspection(db_session, app, site, content, words):
    wu, meter, account = site
    before = {m: _count(db_session, m) for m in (Inspection, Rectification, Reading, Document, AuditEvent)}
    sub = submission(photos=[inspections.Photo("meter_present_sealed", "seal.jpg", content)],
                     reading={"meter_id": str(meter.id), "period": LAST_MONTH, "volume_m3": "10"})
    with pytest.raises(ValidationError) as err:
        _record(db_session, app, account, wu, sub)
    message = english(err.value.errors["photo-meter_present_sealed"])
    assert "seal.jpg" in message and words in message
    _nothing_written(db_session, before)


def test_a_photo_over_the_size_limit_is_refused_naming_the_limit(db_session, app, site):
    wu, _meter, account = site
    sub = submission(photos=[inspections.Photo("meter_present_sealed", "big.jpg", jpeg(2000, 2000))])
    with pytest.raises(ValidationError) as err:
        inspections.record(db_session, account, wu, sub, upload_dir=app.config["UPLOAD_DIR"], photo_max_bytes=20_000)
    assert "big.jpg" in english(err.value.errors["photo-meter_present_sealed"])
    assert "larger than" in english(err.value.errors["photo-meter_present_sealed"])
    assert _count(db_session, Inspection) == 0


def test_every_problem_needs_a_note_and_a_deadline_after_the_inspection(db_session, app, site):
    wu, _meter, account = site
    problem = {"result": "problem", "note": "", "deadline": (TODAY - timedelta(days=1)).isoformat()}
    with pytest.raises(ValidationError) as err:
        _record(db_session, app, account, wu, submission(answers=answers(None, records_kept=problem)))
    assert set(err.value.errors) >= {"note-records_kept", "deadline-records_kept"}
    assert "after the inspection date" in english(err.value.errors["deadline-records_kept"])
    missing = {"result": "problem", "note": "台账缺失", "deadline": ""}
    with pytest.raises(ValidationError) as err:
        _record(db_session, app, account, wu, submission(answers=answers(None, records_kept=missing)))
    assert english(err.value.errors["deadline-records_kept"]) == "This field is required."


def test_every_checklist_item_must_be_answered_and_the_site_contact_named(db_session, app, site):
    wu, _meter, account = site
    partial = answers(None)
    partial.pop("online_device_working")
    with pytest.raises(ValidationError) as err:
        _record(db_session, app, account, wu, submission(answers=partial, site_contact=" "))
    assert "OK, problem or N/A" in english(err.value.errors["item-online_device_working"])
    assert "site_contact" in err.value.errors
    assert _count(db_session, Inspection) == 0


def test_a_second_reading_for_the_month_is_refused_on_the_reading_field(db_session, app, site):
    wu, meter, account = site
    f.ReadingFactory(meter=meter, water_user_id=wu.id, period=date.fromisoformat(LAST_MONTH + "-01"))
    with pytest.raises(ValidationError) as err:
        _record(db_session, app, account, wu, submission(
            reading={"meter_id": str(meter.id), "period": LAST_MONTH, "volume_m3": "5"}))
    assert "already has a reading" in english(err.value.errors["reading-period"])


def test_an_untouched_signature_pad_is_no_signature(db_session, app, site):
    wu, _meter, account = site
    blank = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(blank, "PNG")
    insp = _record(db_session, app, account, wu, submission(
        signature="data:image/png;base64," + base64.b64encode(blank.getvalue()).decode()))
    assert insp.signature_sha256 is None and _count(db_session, Document) == 0


def test_inspector_of_another_division_cannot_inspect_and_enterprise_may_not(db_session, app, site):
    wu, _meter, _account = site
    with pytest.raises(NotFound):
        _record(db_session, app, f.inspector(divisions=("100",)), wu, submission())
    with pytest.raises(Forbidden):
        _record(db_session, app, f.enterprise(wu), wu, submission())


def test_verified_rectification_stops_costing_points(db_session, app, site):
    wu, _meter, account = site
    order = f.RectificationFactory(inspection=f.InspectionFactory(water_user=wu, inspected_on=TODAY - timedelta(days=60)),
                                   water_user_id=wu.id, deadline=TODAY - timedelta(days=10), status="answered",
                                   response="已加装铅封", responded_on=TODAY - timedelta(days=8))  # 2 days late
    from registry.services import evaluations

    evaluations.refresh_one(db_session, wu.id)
    db_session.commit()
    before = db_session.get(WaterUser, wu.id).score
    inspections.verify(db_session, account, order)
    assert (order.status, order.verified_on) == ("verified", TODAY)
    assert db_session.get(WaterUser, wu.id).score == pytest.approx(before + 5)  # 15 − 5 per overdue order
    # (answered by its deadline it would have cost nothing while waiting: test_rules_table)
    event = db_session.execute(select(AuditEvent).where(AuditEvent.entity_type == "Rectification")).scalar_one()
    assert event.action == "accept" and event.changes["status"] == ["answered", "verified"]


def test_reopened_rectification_says_why_and_has_a_new_deadline(db_session, app, site):
    wu, _meter, account = site
    order = f.RectificationFactory(inspection=f.InspectionFactory(water_user=wu), water_user_id=wu.id,
                                   status="answered", response="已整改", deadline=TODAY + timedelta(days=3))
    with pytest.raises(ValidationError) as err:
        inspections.reopen(db_session, account, order, {"reason": "", "deadline": TODAY.isoformat()})
    assert set(err.value.errors) == {"reason", "deadline"}
    inspections.reopen(db_session, account, order, {"reason": "铅封仍未加装", "deadline": (TODAY + timedelta(days=14)).isoformat()})
    assert (order.status, order.deadline) == ("open", TODAY + timedelta(days=14))
    assert order.requirement.startswith("水表铅封缺失") and "铅封仍未加装" in order.requirement
    event = db_session.execute(select(AuditEvent).where(AuditEvent.action == "reopen")).scalar_one()
    assert event.reason == "铅封仍未加装"


def test_open_order_cannot_be_reopened(db_session, site):
    wu, _meter, account = site
    order = f.RectificationFactory(inspection=f.InspectionFactory(water_user=wu), water_user_id=wu.id, status="open")
    with pytest.raises(ValidationError):
        inspections.reopen(db_session, account, order, {"reason": "x", "deadline": (TODAY + timedelta(days=5)).isoformat()})


def test_my_visits_put_overdue_files_first_and_stay_in_scope(db_session, app):
    from registry.domain.rules import load_rules
    from registry.services import evaluations

    calm = f.WaterUserFactory(division_code="001", file_no="YW-A0001", opened_on=TODAY - timedelta(days=30))
    late = f.WaterUserFactory(division_code="001", file_no="YW-Z0001", opened_on=TODAY - timedelta(days=30))
    f.RectificationFactory(inspection=f.InspectionFactory(water_user=late, inspected_on=TODAY - timedelta(days=40)),
                           water_user_id=late.id, deadline=TODAY - timedelta(days=5))
    other = f.WaterUserFactory(division_code="100")
    evaluations.refresh(db_session, load_rules(), TODAY)
    db_session.commit()
    rows = db_session.execute(inspections.my_visits(db_session, f.inspector(divisions=("001",)), TODAY)).all()
    ids = [row[0].id for row in rows]
    assert ids[0] == late.id and calm.id in ids and other.id not in ids


class TestPhotos:
    def test_png_with_transparency_becomes_a_white_backed_jpeg(self):
        out = io.BytesIO()
        Image.new("RGBA", (40, 30), (255, 0, 0, 0)).save(out, "PNG")
        clean = photos.clean_photo(out.getvalue())
        with Image.open(io.BytesIO(clean.content)) as image:
            assert (image.format, image.size, image.getpixel((5, 5))[0] > 240) == ("JPEG", (40, 30), True)

    def test_an_image_of_too_many_pixels_is_refused_before_decoding(self):
        out = io.BytesIO()
        Image.new("1", (8000, 8000)).save(out, "PNG")  # tiny file, 64 million pixels
        with pytest.raises(photos.PhotoError) as err:
            photos.clean_photo(out.getvalue())
        assert err.value.rule == "too_many_pixels"

    def test_a_gif_is_not_accepted(self):
        out = io.BytesIO()
        Image.new("P", (10, 10)).save(out, "GIF")
        with pytest.raises(photos.PhotoError):
            photos.clean_photo(out.getvalue())


def test_the_month_alone_is_no_reading(db_session, app, site):
    wu, _meter, account = site
    _record(db_session, app, account, wu, submission(reading={"period": LAST_MONTH, "meter_id": "", "volume_m3": ""}))
    assert _count(db_session, Reading) == 0
