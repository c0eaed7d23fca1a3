"""Issue 16 item 7: uploaded photos and scans are resized and re-encoded in the job queue, not in
the request. The request checks the header (bytes, format, pixels under the limit) and keeps the
upload as received outside the served store; pages show a placeholder until the queue's copy
exists; a job that cannot decode an image marks it failed with the reason, and the upload as
received is never served. Here the queue is held (its "run job" message kept instead of run at
once, as a busy worker would), then run through the queue's own task, as a worker runs it."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import AuditEvent, Document, Job
from registry.services import documents, images, inspections
from registry.storage import original_path, path_for
from tests import factories as f
from tests.services.test_inspections import jpeg, submission

TODAY = bureau_today()


@pytest.fixture
def held(app, monkeypatch):
    """The queue's messages, kept; ``held.run()`` hands each to the queue's real task."""
    tasks = app.extensions["queue_tasks"]
    real = tasks["run_job"]

    class Held(list):
        def run(self):
            while self:
                real(self.pop(0))
            db.session.expire_all()

    queue = Held()
    monkeypatch.setitem(tasks, "run_job", queue.append)
    return queue


@pytest.fixture
def site(app):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=400))
    wu = meter.water_user
    account = f.inspector(divisions=(wu.division_code,), username="insp")
    return wu, account


def _inspect(app, wu, account, *photos):
    sub = submission(photos=[inspections.Photo("meter_present_sealed", name, content) for name, content in photos])
    return inspections.record(db.session, account, wu, sub, upload_dir=app.config["UPLOAD_DIR"])


def _broken_jpeg() -> bytes:
    """A JPEG whose header is whole (3000 x 2000, it opens) but whose picture stops after 2 KB
    and goes on as HTML: only decoding every pixel finds it out."""
    return jpeg(3000, 2000)[:2048] + b"<html><script>alert(1)</script></html>"


def test_item7_the_request_only_reads_the_header_and_keeps_the_upload_outside_the_served_store(app, site, held, monkeypatch):
    wu, account = site
    content = jpeg(3000, 2000)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size))  # a decode would be seen
    insp = _inspect(app, wu, account, ("IMG_0001.JPG", content))
    monkeypatch.undo()
    assert decoded == []  # not one pixel decoded inside the request
    doc = db.session.scalars(select(Document).where(Document.kind == "inspection_photo")).one()
    assert (doc.image_state, doc.record_id, doc.content_type, doc.filename) == ("pending", insp.id, "image/jpeg", "IMG_0001.jpg")
    upload = app.config["UPLOAD_DIR"]
    assert original_path(upload, doc.original_sha256).read_bytes() == content
    assert not path_for(upload, doc.sha256).exists()  # nothing in the served store until the queue's copy
    (job,) = db.session.scalars(select(Job).where(Job.kind == images.KIND)).all()
    assert (job.state, job.params, job.total) == ("queued", {"ids": [doc.id]}, 1)
    assert held == [job.id]


def test_item7_the_queue_makes_the_upright_resized_copy_without_exif_and_drops_the_original(app, site, held):
    wu, account = site
    _inspect(app, wu, account, ("IMG.jpg", jpeg(3000, 2000, orientation=6)))
    doc = db.session.scalars(select(Document).where(Document.kind == "inspection_photo")).one()
    original = original_path(app.config["UPLOAD_DIR"], doc.original_sha256)
    held.run()
    doc = db.session.get(Document, doc.id)
    assert (doc.image_state, doc.image_error) == ("ready", None)
    stored = path_for(app.config["UPLOAD_DIR"], doc.sha256).read_bytes()
    assert doc.sha256 != doc.original_sha256 and doc.size_bytes == len(stored)
    with Image.open(io.BytesIO(stored)) as copy:
        assert copy.format == "JPEG" and copy.size == (1067, 1600)  # orientation 6 turned upright, 1600 px
        assert not copy.getexif() and "exif" not in copy.info  # no GPS, no device
    assert not original.exists()
    job = db.session.scalars(select(Job).where(Job.kind == images.KIND)).one()
    assert (job.state, job.result["ready"], job.result["failed"], job.done) == ("done", 1, 0, 1)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "Document",
                                                        AuditEvent.action == "update")).one()
    assert event.actor_id is None and event.changes["image_state"] == ["pending", "ready"]
    assert event.changes["sha256"] == [doc.original_sha256, doc.sha256]


def test_item7_pages_show_a_placeholder_until_the_copy_exists_then_the_photo(app, client, auth, site, held):
    wu, account = site
    insp = _inspect(app, wu, account, ("IMG.jpg", jpeg(800, 600)))
    doc = db.session.scalars(select(Document).where(Document.kind == "inspection_photo")).one()
    auth.login("insp")
    record = f"/visits/{wu.id}/inspections/{insp.id}?lang=en"
    body = client.get(record).get_data(as_text=True)
    assert 'data-image-state="pending"' in body and "Preparing the photo" in body
    assert f"/documents/{doc.id}\"" not in body  # no <img> of the upload as received
    download = client.get(f"/water-users/{wu.id}/documents/{doc.id}?lang=en")
    assert download.status_code == 409 and b"being prepared" in download.data
    assert jpeg(800, 600)[:64] not in download.data
    pdf = client.get(f"/visits/{wu.id}/inspections/{insp.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")  # prints a note in the photo's place

    held.run()
    body = client.get(record).get_data(as_text=True)
    assert 'data-image-state' not in body and f"/documents/{doc.id}\"" in body
    photo = client.get(f"/water-users/{wu.id}/documents/{doc.id}")
    data = photo.data
    photo.close()  # send_file's file handle
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(data)) as copy:
        assert copy.size == (800, 600)


def test_item7_a_photo_the_job_cannot_decode_is_marked_failed_with_the_reason_and_never_served(app, client, auth, site, held):
    wu, account = site
    insp = _inspect(app, wu, account, ("good.jpg", jpeg(800, 600)), ("IMG_0002.jpg", _broken_jpeg()))
    good, bad = db.session.scalars(select(Document).where(Document.kind == "inspection_photo")
                                   .order_by(Document.id)).all()
    held.run()
    good, bad = db.session.get(Document, good.id), db.session.get(Document, bad.id)
    assert good.image_state == "ready"  # one bad photo fails alone
    assert (bad.image_state, bad.image_error) == ("failed", "not_image")
    assert not path_for(app.config["UPLOAD_DIR"], bad.sha256).exists()
    assert original_path(app.config["UPLOAD_DIR"], bad.original_sha256).exists()  # kept aside, never served
    job = db.session.scalars(select(Job).where(Job.kind == images.KIND)).one()
    assert (job.state, job.result["ready"], job.result["failed"]) == ("done", 1, 1)

    auth.login("insp")
    for lang, words in (("en", "This photo could not be kept: the file is not a readable JPEG"),
                        ("zh_CN", "照片未能保存")):
        body = client.get(f"/visits/{wu.id}/inspections/{insp.id}?lang={lang}").get_data(as_text=True)
        assert 'data-image-state="failed"' in body and words in body
    download = client.get(f"/water-users/{wu.id}/documents/{bad.id}?lang=en")
    assert download.status_code == 409 and b"<script>" not in download.data and b"could not be kept" in download.data
    files = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert "Not kept: the file is not a readable JPEG" in files
    pdf = client.get(f"/visits/{wu.id}/inspections/{insp.id}.pdf?lang=en")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "photo not kept: the file is not a readable JPEG" in " ".join(text.split())


def test_item7_a_job_that_fails_as_a_whole_marks_its_photos_failed(app, site, held, monkeypatch):
    """Not one pending photo forever: a job that raises (or whose worker died on every run) fails,
    and so do the photos it left pending."""
    wu, account = site
    _inspect(app, wu, account, ("IMG.jpg", jpeg(800, 600)))

    def crash(*args, **kwargs):
        raise MemoryError("the decoder ran out of memory")

    monkeypatch.setattr(images, "prepare", crash)
    held.run()
    doc = db.session.scalars(select(Document).where(Document.kind == "inspection_photo")).one()
    job = db.session.scalars(select(Job).where(Job.kind == images.KIND)).one()
    assert job.state == "failed" and "out of memory" in job.error
    assert (doc.image_state, doc.image_error) == ("failed", images.FAILED_JOB)


def test_item7_a_scanned_document_is_re_encoded_by_the_queue_in_its_own_format(app, site, held):
    wu, _account = site
    image = Image.new("RGB", (1200, 900), (250, 250, 250))
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=None)
    content = out.getvalue() + b"<svg onload=alert(1)>"  # anything after the picture goes
    doc = documents.attach(db.session, f.admin(), wu, {"title": "许可证扫描件", "kind": "permit_scan"},
                           filename="scan.png.html", content=content, upload_dir=app.config["UPLOAD_DIR"],
                           max_bytes=10 * 1024 * 1024)
    assert (doc.image_state, doc.content_type, doc.filename) == ("pending", "image/png", "scan.png")
    held.run()
    doc = db.session.get(Document, doc.id)
    stored = path_for(app.config["UPLOAD_DIR"], doc.sha256).read_bytes()
    assert doc.image_state == "ready" and stored.startswith(b"\x89PNG") and b"<svg" not in stored
    with Image.open(io.BytesIO(stored)) as copy:
        assert (copy.format, copy.size) == ("PNG", (1200, 900))


def test_item7_the_header_limits_still_refuse_in_the_request(app, site, held):
    """What the header tells is refused at once, with the field's message: nothing is kept or queued."""
    from registry.services import ValidationError

    wu, account = site
    image = Image.new("RGB", (5000, 4000), (0, 0, 0))  # 20 MP > 16 MP (REGISTRY_IMAGE_MAX_PIXELS)
    out = io.BytesIO()
    image.save(out, "PNG")
    with pytest.raises(ValidationError) as refused:
        _inspect(app, wu, account, ("huge.png", out.getvalue()))
    assert "photo-meter_present_sealed" in refused.value.errors
    assert held == [] and db.session.scalars(select(Document)).all() == []


def test_item7_a_job_whose_worker_died_on_every_run_marks_its_photos_failed(app, site, held):
    from registry.models import utcnow
    from registry.services import jobs

    wu, account = site
    _inspect(app, wu, account, ("IMG.jpg", jpeg(800, 600)))
    job = db.session.scalars(select(Job).where(Job.kind == images.KIND)).one()
    job.state, job.attempts, job.heartbeat_at = "running", jobs.MAX_ATTEMPTS, utcnow() - timedelta(minutes=10)
    db.session.commit()
    assert jobs.recover(db.session, stale_seconds=60) == []  # no run left: failed, not queued again
    db.session.expire_all()
    doc = db.session.scalars(select(Document).where(Document.kind == "inspection_photo")).one()
    assert db.session.get(Job, job.id).state == "failed"
    assert (doc.image_state, doc.image_error) == ("failed", images.FAILED_JOB)
