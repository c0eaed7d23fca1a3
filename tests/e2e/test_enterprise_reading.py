"""An enterprise submits a reading, staff accept it, the enterprise sees it accepted and its
score recomputed — in a real browser."""
from __future__ import annotations

import sys
import traceback
from datetime import timedelta

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import WaterUser
from tests import factories as f
from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e
TODAY = bureau_today()


def _sign_in(page, base, username):
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("main form button[type=submit]")


def _sign_out(page):
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():  # below 1200 px the menu is folded
        toggler.click()
        page.locator("#nav.show").wait_for()  # unfolded to the end, not mid-animation
    try:
        with page.expect_navigation(url="**/login"):
            page.locator("nav form button[type=submit]").click()
    except PlaywrightTimeoutError:
        _dump_threads(page)
        raise


def _dump_threads(page):
    """What the server's threads were doing when the sign-out got no answer (for the CI log)."""
    print(f"sign-out got no answer; the page is at {page.url}", file=sys.stderr)
    for ident, frame in sys._current_frames().items():
        print(f"--- thread {ident}", file=sys.stderr)
        traceback.print_stack(frame, file=sys.stderr)


def test_enterprise_reading_is_accepted_and_the_score_follows(live_server, tablet):
    # 200 m³/h × 720 h × 1.2 = 172,800 m³ a month at most: 90,000 m³ is possible, but above the
    # permitted 50,000 ÷ 12 × 3 = 12,500 m³ (issue 17), so it waits flagged with the reason.
    point = f.IntakePointFactory(water_user=f.WaterUserFactory(name="义乌市青岩印染有限公司",
                                                               opened_on=TODAY - timedelta(days=700)),
                                 design_capacity_m3h=200.0)
    wu = point.water_user
    permit = f.PermitFactory(water_user=wu, annual_volume_m3=50000)
    permit.intake_points = [point]
    meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=TODAY - timedelta(days=600), serial="EM-E2E-1")
    f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=30), next_due_on=TODAY + timedelta(days=700))
    db.session.commit()
    f.enterprise(wu, username="qingyan")
    f.admin(username="officer")
    from registry.domain.rules import load_rules
    from registry.services import evaluations

    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    score_before = db.session.get(WaterUser, wu.id).score

    page = tablet.new_page()
    _sign_in(page, live_server, "qingyan")
    page.wait_for_url(f"{live_server}/portal")
    page.click("text=Submit a monthly reading")
    last_month = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    page.select_option("select[name=meter_id]", label="EM-E2E-1")
    page.fill("input[name=period]", last_month)
    page.fill("input[name=volume_m3]", "90000")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server}/portal")
    assert "Flagged (implausible)" in page.inner_text("#submissions")
    shoot(page, "portal-pending-768x1024")
    _sign_out(page)

    _sign_in(page, live_server, "officer")
    page.goto(f"{live_server}/review?lang=en")
    assert "90,000.0 m³" in page.inner_text("main")
    assert "12,500.0 m³" in page.inner_text("main")  # the reason, with the limit worked out
    page.click("button:has-text('Accept')")
    page.wait_for_load_state()
    assert "Accepted." in page.inner_text("main")
    _sign_out(page)

    _sign_in(page, live_server, "qingyan")
    page.wait_for_url(f"{live_server}/portal")
    assert "Accepted" in page.inner_text("#submissions")
    db.session.expire_all()
    stored = db.session.get(WaterUser, wu.id)
    if TODAY.month > 1:  # the month counts towards this year's use only after January
        assert stored.score != score_before  # 90,000 m³ is far over the permitted 50,000 m³
        assert stored.grade == "C" or stored.grade == "D"
    assert f"{stored.score:.1f}" in page.inner_text("main")
    shoot(page, "portal-accepted-768x1024")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
