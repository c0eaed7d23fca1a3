"""Certificate pages: issuing by the bureau, downloads that never change, the public verification
page a phone reaches through the QR code, revocation, batch printing and the dossier."""
from __future__ import annotations

import hashlib
import io
import re
import time
import zipfile
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader

from registry.extensions import db
from registry.models import Certificate
from registry.services import certificates
from tests import factories as f
from tests.conftest import _config
from tests.factories.certificates import TODAY, graded_file
from tests.pdf.test_certificate_pdf import page_image, qr_texts


@pytest.fixture
def admin(app):
    return f.admin(username="boss", display_name="王科长")


def _get(client, url: str, **kw):
    """GET and close: downloads stream a file that must not stay open."""
    response = client.get(url, **kw)
    response.get_data()
    response.close()
    return response


def _graded(grade: str, **fields):
    """A file of ``grade`` whose cached grade is up to date, as after any change or the nightly run."""
    from registry.domain.rules import load_rules
    from registry.services import evaluations

    wu = graded_file(grade, **fields)
    evaluations.refresh(db.session, load_rules(), TODAY, [wu.id])
    db.session.commit()
    return wu


def _issue(wu):
    return certificates.issue(db.session, f.admin(display_name="王科长"), wu)


def test_the_bureau_issues_from_the_file_page(client, auth, admin):
    wu = _graded("A")
    auth.login("boss")
    page = client.get(f"/water-users/{wu.id}").get_data(as_text=True)
    assert f"/water-users/{wu.id}/certificates/new" in page
    form = client.get(f"/water-users/{wu.id}/certificates/new")
    assert form.status_code == 200
    key = form.get_data(as_text=True).split('name="idempotency_key" type="hidden" value="')[1].split('"')[0]
    response = client.post(f"/water-users/{wu.id}/certificates/new", data={"idempotency_key": key})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/water-users/{wu.id}#certificates")
    assert client.post(f"/water-users/{wu.id}/certificates/new", data={"idempotency_key": key}).status_code == 302
    cert = db.session.scalars(db.select(Certificate)).one()
    page = client.get(f"/water-users/{wu.id}").get_data(as_text=True)
    assert cert.number in page and f"/certificates/{cert.number}/revoke" in page


@pytest.mark.parametrize("grade", ["C", "D"])
def test_grade_c_or_d_is_refused_with_the_reason(client, auth, admin, grade):
    wu = _graded(grade)
    auth.login("boss")
    assert f"/water-users/{wu.id}/certificates/new" not in client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    page = client.get(f"/water-users/{wu.id}/certificates/new")
    assert page.status_code == 200 and f"graded {grade}" in page.get_data(as_text=True)
    response = client.post(f"/water-users/{wu.id}/certificates/new", data={"idempotency_key": "x"})
    assert response.status_code == 409 and f"graded {grade}" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Certificate.id))) == 0


def test_inspectors_and_enterprises_cannot_issue_and_outsiders_see_nothing(client, auth, app):
    wu, elsewhere = graded_file("A", division_code="001"), graded_file("A", division_code="100")
    f.inspector(divisions=("001",), username="insp")
    f.enterprise(wu, username="ent")
    for username, own, other in (("insp", 403, 404), ("ent", 403, 404)):
        auth.login(username)
        assert client.post(f"/water-users/{wu.id}/certificates/new").status_code == own
        assert client.get(f"/water-users/{elsewhere.id}/certificates/new").status_code == other
        auth.logout()
    assert db.session.scalar(db.select(db.func.count(Certificate.id))) == 0


def test_downloads_give_the_issued_bytes_every_time(client, auth, admin):
    wu, other = graded_file("A", division_code="001"), graded_file("A", division_code="100")
    cert, theirs = _issue(wu), _issue(other)
    f.enterprise(wu, username="ent")
    f.inspector(divisions=("001",), username="insp")
    auth.login("boss")
    first, second = _get(client, f"/certificates/{cert.number}.pdf"), _get(client, f"/certificates/{cert.number}.pdf")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert first.data == second.data and hashlib.sha256(first.data).hexdigest() == cert.pdf_sha256
    assert "义乌市测试" in PdfReader(io.BytesIO(first.data)).pages[0].extract_text()
    auth.logout()
    for username in ("ent", "insp"):
        auth.login(username)
        assert _get(client, f"/certificates/{cert.number}.pdf").data == first.data
        assert _get(client, f"/certificates/{theirs.number}.pdf").status_code == 404
        auth.logout()
    assert client.get(f"/certificates/{cert.number}.pdf").status_code == 302  # to sign in


def _verify_path(pdf: bytes) -> str:
    """Scan the printed QR code, as a phone would, and keep the path and query of the address it holds."""
    [url] = qr_texts(page_image(pdf, dpi=110))
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_qr_code_leads_to_a_page_that_says_valid_then_revoked(client, auth, admin):
    wu = graded_file("A", name="义乌市扫码核验印染有限公司")
    cert = _issue(wu)
    auth.login("boss")
    path = _verify_path(_get(client, f"/certificates/{cert.number}.pdf").data)
    auth.logout()
    assert path == f"/verify/{cert.number}?k={cert.verify_key}"
    page = client.get(path + "&lang=en")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-state="valid"' in body and "义乌市扫码核验印染有限公司" in body
    assert page.headers["Cache-Control"] == "no-store"
    assert "王科长" not in body and wu.contact_phone not in body  # only what the paper shows

    auth.login("boss")
    form = client.get(f"/water-users/{wu.id}/certificates/{cert.number}/revoke")
    assert form.status_code == 200
    assert client.post(f"/water-users/{wu.id}/certificates/{cert.number}/revoke", data={"reason": ""}).status_code == 400
    response = client.post(f"/water-users/{wu.id}/certificates/{cert.number}/revoke", data={"reason": "拒不整改"})
    assert response.status_code == 302
    auth.logout()
    body = client.get(path).get_data(as_text=True)
    assert 'data-state="revoked"' in body and "拒不整改" in body and TODAY.isoformat() in body


def test_expired_and_unknown_certificates_say_so(client, admin):
    cert = _issue(graded_file("A"))
    cert.issued_on, cert.valid_until = TODAY.replace(year=TODAY.year - 2), TODAY.replace(year=TODAY.year - 1)
    db.session.commit()
    assert 'data-state="expired"' in client.get(f"/verify/{cert.number}").get_data(as_text=True)
    unknown = client.get("/verify/YWZS-2026-999999?lang=en")
    assert unknown.status_code == 404 and 'data-state="unknown"' in unknown.get_data(as_text=True)
    assert "not genuine" in unknown.get_data(as_text=True)
    garbage = client.get("/verify/<script>alert(1)</script>")
    assert garbage.status_code == 404 and "<script>alert" not in garbage.get_data(as_text=True)


def test_item12_verify_without_the_key_says_only_whether_the_number_is_valid(client, auth, admin):
    """Numbers run in sequence: without the QR code's key the page names no company, USCC,
    address or score; a wrong key is no key."""
    wu = graded_file("A", name="义乌市枚举测试印染有限公司")
    cert = _issue(wu)
    for address in (f"/verify/{cert.number}", f"/verify/{cert.number}?k=guess", f"/verify/{cert.number}?k="):
        page = client.get(address)
        body = page.get_data(as_text=True)
        assert page.status_code == 200 and 'data-state="valid"' in body and 'id="verify-no-key"' in body
        for secret in (wu.name, wu.uscc, wu.file_no, f"{cert.score:.1f}", wu.address):
            assert not secret or secret not in body, (address, secret)
    full = client.get(f"/verify/{cert.number}?k={cert.verify_key}").get_data(as_text=True)
    assert wu.name in full and wu.uscc in full and f"{cert.score:.1f}" in full
    auth.login("boss")
    client.post(f"/water-users/{wu.id}/certificates/{cert.number}/revoke", data={"reason": "拒不整改"})
    auth.logout()
    revoked = client.get(f"/verify/{cert.number}").get_data(as_text=True)
    assert 'data-state="revoked"' in revoked and "拒不整改" not in revoked and wu.name not in revoked


def test_a_certificate_of_another_file_cannot_be_revoked_through_mine(client, auth, admin):
    mine, theirs = graded_file("A"), graded_file("A")
    cert = _issue(theirs)
    auth.login("boss")
    assert client.get(f"/water-users/{mine.id}/certificates/{cert.number}/revoke").status_code == 404
    assert client.post(f"/water-users/{mine.id}/certificates/{cert.number}/revoke",
                       data={"reason": "x"}).status_code == 404
    assert db.session.get(Certificate, cert.id).status == "valid"


def test_verification_is_rate_limited(_schema, tmp_path):
    from registry import create_app

    app = create_app({**_config(_schema, tmp_path / "uploads"), "RATELIMIT_ENABLED": True,
                      "VERIFY_RATELIMIT": "3 per minute"})
    client = app.test_client()
    codes = [client.get("/verify/YWZS-2026-000001").status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    with app.app_context():
        db.engine.dispose()


def _wait(client, job_url: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = client.get(job_url, headers={"Accept": "application/json"})
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        state = response.get_json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.05)
    raise AssertionError("the batch did not finish")


def _start_batch(client, data: dict, expected: int):
    """The batch page as the officer uses it: the selection, its confirmation (the count), then the job."""
    shown = client.post("/certificates/batch", data=data)
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200 and 'id="batch-count"' in page, page[:2000]
    assert f'name="confirmed" value="{expected}"' in page
    return client.post("/certificates/batch", data={**data, "confirmed": str(expected)})


def test_batch_printing_runs_in_the_background_with_progress(client, auth, admin, app):
    files = [graded_file("A", division_code="001") for _ in range(3)] + [graded_file("B", division_code="100")]
    issued = [_issue(wu) for wu in files]
    auth.login("boss")
    assert client.get("/certificates/batch").status_code == 200
    response = _start_batch(client, {"which": "valid", "division": "001", "grade": "", "output": "pdf"}, 3)
    assert response.status_code == 302
    job_url = urlsplit(response.headers["Location"]).path
    page = client.get(job_url).get_data(as_text=True)
    assert "batch-progress.js" in page and "<script>" not in page.replace('<script src=', '')
    state = _wait(client, job_url)
    assert state["state"] == "done" and state["done"] == state["total"] == 3
    download = _get(client, job_url + "/file")
    reader = PdfReader(io.BytesIO(download.data), strict=True)
    assert download.mimetype == "application/pdf" and len(reader.pages) == 3
    assert issued[1].number in reader.pages[1].extract_text()

    response = _start_batch(client, {"which": "valid", "grade": "B", "output": "zip"}, 1)
    job_url = urlsplit(response.headers["Location"]).path
    assert _wait(client, job_url)["state"] == "done"
    with zipfile.ZipFile(io.BytesIO(_get(client, job_url + "/file").data)) as archive:
        assert archive.namelist() == [f"{issued[3].number}.pdf"]


def test_batch_issues_for_files_without_a_certificate(client, auth, admin):
    waiting = [_graded("A"), _graded("B")]
    _graded("D")
    auth.login("boss")
    response = _start_batch(client, {"which": "missing", "output": "pdf"}, 2)
    state = _wait(client, urlsplit(response.headers["Location"]).path)
    assert state["state"] == "done" and state["total"] == 2
    owners = sorted(db.session.scalars(db.select(Certificate.water_user_id)))
    assert owners == sorted(wu.id for wu in waiting)


def test_a_batch_belongs_to_whoever_started_it(client, auth, admin):
    _issue(graded_file("A"))
    auth.login("boss")
    job_url = urlsplit(_start_batch(client, {"which": "valid", "output": "pdf"}, 1).headers["Location"]).path
    _wait(client, job_url)
    auth.logout()
    f.admin(username="other")
    auth.login("other")
    assert client.get(job_url).status_code == 302
    assert client.get(job_url, headers={"Accept": "application/json"}).status_code == 404
    assert client.get(job_url + "/file").status_code == 302


def test_the_dossier_prints_the_whole_file(client, auth, admin):
    wu = graded_file("B", name="义乌市档案打印测试有限公司")
    _issue(wu)
    f.enterprise(wu, username="ent")
    auth.login("boss")
    response = _get(client, f"/water-users/{wu.id}/dossier.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    for expected in ("义乌市档案打印测试有限公司", wu.uscc, wu.file_no, "D330782"):
        assert expected in text, expected
    english = _get(client, f"/water-users/{wu.id}/dossier.pdf?lang=en").data
    english_text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(english)).pages)
    assert "Permits" in english_text and "Timeline" in english_text and "rectification" in english_text.lower()
    auth.logout()
    auth.login("ent")
    assert client.get(f"/water-users/{wu.id}/dossier.pdf").status_code == 403


def test_issue_and_print_first_shows_the_count_per_division_and_grade_and_the_first_rows(client, auth, admin):
    """Issue 18: nothing is issued before the officer has seen how many, for which files, and confirmed."""
    waiting = [_graded("A", division_code="001") for _ in range(2)] + [_graded("B", division_code="100")]
    auth.login("boss")
    assert 'href="/certificates/batch"' in client.get("/").get_data(as_text=True)  # in the bureau's menu
    shown = client.post("/certificates/batch?lang=en", data={"which": "missing", "output": "pdf"})
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200 and db.session.scalar(db.select(db.func.count(Certificate.id))) == 0
    assert "3 certificates will be issued now and printed." in page and "Issue and print 3 certificates" in page
    split = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page[page.index('id="batch-split"'):page.index('id="batch-rows"')]))
    assert re.search(r"001 \S+ 2 0 2", split) and re.search(r"100 \S+ 0 1 1", split), split
    for wu in waiting:
        assert wu.file_no in page and wu.name in page
    # The selection changed between the look and the confirmation: shown again, nothing issued.
    _graded("A", division_code="001")
    again = client.post("/certificates/batch?lang=en", data={"which": "missing", "output": "pdf", "confirmed": "3"})
    body = again.get_data(as_text=True)
    assert again.status_code == 200 and "The selection changed" in body and 'name="confirmed" value="4"' in body
    assert db.session.scalar(db.select(db.func.count(Certificate.id))) == 0
    done = client.post("/certificates/batch", data={"which": "missing", "output": "pdf", "confirmed": "4"})
    assert _wait(client, urlsplit(done.headers["Location"]).path)["issued"] == 4


def test_a_revoked_certificate_downloads_stamped_revoked_with_the_date(client, auth, admin):
    wu = graded_file("A")
    cert = _issue(wu)
    auth.login("boss")
    clean = _get(client, f"/certificates/{cert.number}.pdf").data
    assert "REVOKED" not in PdfReader(io.BytesIO(clean)).pages[0].extract_text()
    client.post(f"/water-users/{wu.id}/certificates/{cert.number}/revoke", data={"reason": "拒不整改"})
    response = _get(client, f"/certificates/{cert.number}.pdf")
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert response.status_code == 200 and response.data != clean
    assert "已吊销" in text and "REVOKED" in text and TODAY.isoformat() in text and f"/verify/{cert.number}" in text
    assert "revoked" in response.headers["Content-Disposition"]
