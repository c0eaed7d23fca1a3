"""An inspector on an iPad-sized touch screen: opens a due visit, fills the checklist with one
problem and a photo, loses the connection, reloads, finds the draft, sends it once the connection
is back — exactly once; the file, its timeline and the enterprise's portal show the result."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import Document, Inspection, Reading, Rectification
from registry.services.validators import CHECKLIST_CODES
from tests import factories as f
from tests.e2e.conftest import ARTIFACTS, shoot
from tests.e2e.test_enterprise_reading import _sign_in, _sign_out

pytestmark = pytest.mark.e2e
TODAY = bureau_today()
REQUIREMENT = "水表铅封缺失，限期加封"


def _photo(width=1600, height=1200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 110, 190)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _site():
    point = f.IntakePointFactory(water_user=f.WaterUserFactory(
        name="义乌市青岩印染有限公司", division_code="001", opened_on=TODAY - timedelta(days=700),
        address="浙江省义乌市稠城街道青岩路88号，靠近义乌江取水泵站东侧的厂区内"))
    wu = point.water_user
    f.PermitFactory(water_user=wu).intake_points = [point]
    f.MeterFactory(intake_point=point, water_user=wu, installed_on=TODAY - timedelta(days=600), serial="EM-TAB-1")
    db.session.commit()
    f.inspector(divisions=("001",), username="zhang", display_name="张检查员")
    f.enterprise(wu, username="qingyan")
    from registry.domain.rules import load_rules
    from registry.services import evaluations

    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    return wu


def _shoot_screen(page, name: str) -> None:
    """What the inspector sees (not the whole page): the sticky bar at the bottom of the screen."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _no_horizontal_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def _count(model):
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _open_form(page, base, wu):
    page.goto(f"{base}/visits/{wu.id}/inspect?lang=en")
    page.wait_for_selector("#inspection-form.is-ready")


def _wait_offline_copy(page):
    """The service worker has kept this page (the form is offline-ready)."""
    page.wait_for_function("caches.match(location.pathname).then(function (hit) { return !!hit; })")


def _wait_draft_holds(page, text: str) -> None:
    """The draft kept in localStorage holds ``text`` (saved a quarter second after the last keystroke)."""
    for _ in range(100):
        if page.evaluate("(t) => Object.keys(localStorage).some((k) => (localStorage.getItem(k) || '').indexOf(t) >= 0)", text):
            return
        page.wait_for_timeout(50)
    raise AssertionError("the draft was not saved on the device")


def _sign(page):
    """Draw a signature with a finger: touch events through the DevTools protocol."""
    canvas = page.locator("#signature-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cdp = page.context.new_cdp_session(page)
    x0, y = box["x"] + 40, box["y"] + box["height"] / 2
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]})
    for i in range(1, 30):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
            {"x": x0 + i * 12, "y": y + (25 if i % 2 else -25)}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_function("document.getElementById('signature-data').value.indexOf('data:image/png') === 0")


def _fill_checklist(page, problem="meter_present_sealed"):
    for code in CHECKLIST_CODES:
        page.locator(f"label[for=item-{code}-{'problem' if code == problem else 'ok'}]").tap()
    page.fill(f"#note-{problem}", REQUIREMENT)
    assert page.locator(f"#rectify-{problem}").is_visible()  # a problem opens its rectification order


def test_inspection_survives_offline_reload_and_is_sent_exactly_once(live_server, tablet):
    wu = _site()
    page = tablet.new_page()
    _sign_in(page, live_server, "zhang")
    page.goto(f"{live_server}/visits?lang=en")
    assert wu.name in page.inner_text("#visits") and "Overdue" in page.inner_text("#visits")
    shoot(page, "visits-768x1024")
    _no_horizontal_scroll(page)

    page.locator(f"a[href='/visits/{wu.id}/inspect']").tap()
    page.wait_for_selector("#inspection-form.is-ready")
    _wait_offline_copy(page)
    key = page.input_value("input[name=idempotency_key]")
    _fill_checklist(page)
    page.set_input_files("#photo-meter_present_sealed",
                         files=[{"name": "IMG_0042.JPG", "mimeType": "image/jpeg", "buffer": _photo()}])
    page.wait_for_selector("[data-thumbs-for=meter_present_sealed] img")
    page.select_option("#reading-meter_id", label="EM-TAB-1 · Electromagnetic DN100")
    page.fill("#reading-volume_m3", "321")
    page.fill("#findings", "取水口周边整洁")
    _sign(page)
    page.wait_for_function("document.getElementById('draft-status').textContent.indexOf('Draft saved on this device') === 0")
    shoot(page, "inspection-form-768x1024")
    page.locator("#item-meter_present_sealed").scroll_into_view_if_needed()
    _shoot_screen(page, "inspection-form-screen-768x1024")
    _no_horizontal_scroll(page)

    tablet.set_offline(True)
    page.wait_for_selector("#offline-banner", state="visible")
    page.reload()
    page.wait_for_selector("#inspection-form.is-ready")
    assert "Draft from this device restored" in page.inner_text("#draft-status")
    assert page.input_value("input[name=idempotency_key]") == key
    assert page.input_value("#note-meter_present_sealed") == REQUIREMENT
    assert page.is_checked("#item-meter_present_sealed-problem") and page.is_checked("#item-records_kept-ok")
    assert page.locator("[data-thumbs-for=meter_present_sealed] img").count() == 1
    assert page.input_value("#reading-volume_m3") == "321"
    page.wait_for_selector("#offline-banner", state="visible")  # served by the service worker's copy
    page.evaluate("window.scrollTo(0, 0)")
    _shoot_screen(page, "inspection-offline-restored-768x1024")

    tablet.set_offline(False)
    page.wait_for_selector("#offline-banner", state="hidden")
    page.locator("#send-inspection").tap()
    page.wait_for_url(f"{live_server}/visits/{wu.id}/inspections/*")
    assert REQUIREMENT in page.inner_text("#record-orders")
    assert page.locator("#record-photos img").count() == 1
    assert (_count(Inspection), _count(Rectification), _count(Reading), _count(Document)) == (1, 1, 1, 2)

    # The same draft arriving again (an answer lost on the way) is the same inspection, not a second.
    again = page.request.post(f"{live_server}/visits/{wu.id}/inspect", headers={"Accept": "application/json"},
                              multipart={"idempotency_key": key, "inspected_on": TODAY.isoformat(), "site_contact": "李海燕"})
    assert page.locator("#sent-confirmation").is_visible()  # 已提交
    assert again.ok and again.json()["redirect"] == page.url.replace(live_server, "").split("?")[0]
    assert _count(Inspection) == 1
    assert page.evaluate("localStorage.length") == 0  # the sent draft is gone from the device

    page.goto(f"{live_server}/water-users/{wu.id}?lang=en")
    assert REQUIREMENT in page.inner_text("#inspections")
    assert "Inspection photo" in page.inner_text("#documents") and "321" in page.inner_text("#readings")
    timeline = page.inner_text("#timeline")
    assert "created inspection" in timeline and "created rectification order" in timeline
    shoot(page, "file-768x1024")
    _no_horizontal_scroll(page)

    page.set_viewport_size({"width": 1024, "height": 768})
    _no_horizontal_scroll(page)
    shoot(page, "file-1024x768")
    page.goto(f"{live_server}/visits?lang=en")
    _no_horizontal_scroll(page)
    shoot(page, "visits-1024x768")
    _open_form(page, live_server, wu)
    _fill_checklist(page, problem="records_kept")
    _no_horizontal_scroll(page)
    shoot(page, "inspection-form-1024x768")
    _shoot_screen(page, "inspection-form-screen-1024x768")
    page.evaluate("localStorage.clear()")
    page.goto(f"{live_server}/?lang=en")
    page.wait_for_load_state("networkidle")  # no request of the visit page still in flight to re-set the session
    _sign_out(page)

    _sign_in(page, live_server, "qingyan")
    page.wait_for_url(f"{live_server}/portal")
    assert REQUIREMENT in page.inner_text("main")


def test_send_while_offline_waits_for_the_connection_and_sends_once(live_server, tablet):
    wu = _site()
    page = tablet.new_page()
    _sign_in(page, live_server, "zhang")
    _open_form(page, live_server, wu)
    _fill_checklist(page)
    tablet.set_offline(True)
    page.wait_for_selector("#offline-banner", state="visible")
    page.locator("#send-inspection").tap()
    page.locator("#send-inspection").tap()  # impatient: a second tap changes nothing
    assert "will be sent as soon as the connection returns" in page.inner_text("#draft-status")
    assert _count(Inspection) == 0
    # "Waiting to send" stays on screen while the inspector goes on typing (the draft's status changes).
    page.fill("#findings", "补充说明")
    expect(page.locator("#draft-status")).to_contain_text("Draft saved")
    assert page.locator("#send-queued").is_visible() and "Waiting to send" in page.inner_text("#send-queued")
    _shoot_screen(page, "inspection-waiting-to-send-768x1024")
    tablet.set_offline(False)
    # Sent once the connection returns: "Submitted" with the link to the saved inspection, on this page.
    page.wait_for_selector("#send-done", state="visible")
    assert page.locator("#send-queued").is_hidden() and "Submitted" in page.inner_text("#send-done")
    link = page.locator("#send-done a").get_attribute("href")
    assert link.startswith(f"/visits/{wu.id}/inspections/")
    assert (_count(Inspection), _count(Rectification)) == (1, 1)
    _shoot_screen(page, "inspection-submitted-768x1024")
    page.locator("#send-done a").tap()
    page.wait_for_url(f"{live_server}{link}")
    assert "补充说明" in page.inner_text("main")


def test_a_day_prepared_in_advance_opens_offline_with_a_ready_mark_per_visit(live_server, tablet):
    wu = _site()
    other = f.WaterUserFactory(name="义乌市稠江纺织有限公司", division_code="001")
    db.session.commit()
    page = tablet.new_page()
    _sign_in(page, live_server, "zhang")
    page.goto(f"{live_server}/visits?lang=zh_CN")
    button = page.locator("#prepare-offline")
    button.wait_for(state="visible")
    cards = page.locator("#visits [data-offline-url]")
    assert cards.count() == 2 and page.locator(".offline-mark:visible").count() == 0
    button.tap()
    expect(page.locator("#visits .offline-mark:not([hidden])")).to_have_count(2)
    assert "2 / 2" in page.inner_text("#prepare-status")  # 本设备上已有 2 / 2 项检查可离线使用
    shoot(page, "visits-ready-offline-768x1024")

    tablet.set_offline(True)
    page.goto(f"{live_server}/visits/{other.id}/inspect")  # never opened before: kept by the preparation
    page.wait_for_selector("#inspection-form.is-ready")
    assert other.name in page.inner_text("main")
    page.wait_for_selector("#offline-banner", state="visible")
    _fill_checklist(page)
    _wait_draft_holds(page, REQUIREMENT)
    page.reload()
    page.wait_for_selector("#inspection-form.is-ready")
    assert page.input_value("#note-meter_present_sealed") == REQUIREMENT

    # A page that is not kept: the offline page, in Chinese, says what is on the device.
    response = page.goto(f"{live_server}/visits/999999/inspect")
    assert response.status == 503
    text = page.inner_text("body")
    assert "当前没有网络连接" in text and "本设备上已保存" in text and other.name in text and wu.name in text
    shoot(page, "visits-offline-page-768x1024")
    tablet.set_offline(False)


def test_a_photo_that_is_not_an_image_or_too_large_is_refused_and_the_draft_kept(app, live_server, tablet):
    app.config["PHOTO_MAX_BYTES"] = 200 * 1024
    wu = _site()
    page = tablet.new_page()
    _sign_in(page, live_server, "zhang")
    _open_form(page, live_server, wu)
    page.fill("#note-permit_displayed", "许可证未上墙")
    page.set_input_files("#photo-permit_displayed",
                         files=[{"name": "seal.jpg", "mimeType": "image/jpeg", "buffer": b"this is no photo"}])
    error = page.locator("#err-photo-permit_displayed")
    error.wait_for(state="visible")
    assert "“seal.jpg” is not a photo" in error.inner_text()
    page.set_input_files("#photo-permit_displayed", files=[{"name": "huge.jpg", "mimeType": "image/jpeg",
                                                            "buffer": _photo(3000, 3000) + b"\0" * 300_000}])
    page.wait_for_function("document.getElementById('err-photo-permit_displayed').textContent.indexOf('huge.jpg') > 0")
    assert "larger than 0.2 MB" in error.inner_text()
    assert page.locator("[data-thumbs-for=permit_displayed] img").count() == 0
    page.evaluate("window.scrollTo(0, document.getElementById('item-permit_displayed').offsetTop - 80)")
    _shoot_screen(page, "inspection-photo-refused-768x1024")

    # The server refuses what slips past the tablet (here: sent without the page's checks), nothing is written.
    answer = page.request.post(f"{live_server}/visits/{wu.id}/inspect?lang=en", headers={"Accept": "application/json"},
                               multipart={"idempotency_key": "x", "photo-permit_displayed": {
                                   "name": "seal.jpg", "mimeType": "image/jpeg", "buffer": b"no photo"}})
    assert answer.status == 400
    assert any("seal.jpg" in e["message"] for e in answer.json()["errors"])
    assert _count(Inspection) == 0

    page.reload()
    page.wait_for_selector("#inspection-form.is-ready")
    assert page.input_value("#note-permit_displayed") == "许可证未上墙"
