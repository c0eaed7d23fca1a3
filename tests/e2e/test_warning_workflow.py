"""A warning (预警, issue 17) from detection to closure on a tablet (768 × 1024): the nightly
detection finds a month above the permit's share, the bureau sees it on the file and in the city's
list, assigns it to the division's inspector, who closes it with an outcome."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry import clock
from registry.domain.dates import add_months
from registry.extensions import db
from registry.services import rules_versions, warnings
from tests import factories as f
from tests.e2e.conftest import shoot
from tests.e2e.test_enterprise_reading import _sign_in, _sign_out

pytestmark = pytest.mark.e2e
TODAY = clock.today()
LAST = add_months(date(TODAY.year, TODAY.month, 1), -1)


def _tall_enough(locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["height"] >= 44, box


def test_a_warning_from_detection_to_closure(live_server, tablet):
    # permitted 12,000 m³/yr → 12,000 ÷ 12 × 3 = 3,000 m³ a month (monitoring.permit_share_factor);
    # last month 5,000 m³
    wu = f.WaterUserFactory(name="义乌市青岩印染有限公司", division_code="001", opened_on=TODAY - timedelta(days=700))
    f.PermitFactory(water_user=wu, annual_volume_m3=12_000.0)
    meter = f.MeterFactory(intake_point=f.IntakePointFactory(water_user=wu, design_capacity_m3h=None),
                           serial="EM-WARN-1")
    f.ReadingFactory(meter=meter, period=LAST, volume_m3=5000.0, status="flagged")
    f.admin(username="officer")
    f.inspector(divisions=("001",), username="inspector1", display_name="王检查")
    outcome = warnings.detect(db.session, today=TODAY, now=clock.now(), rules=rules_versions.current(db.session))
    assert outcome.created == 1

    page = tablet.new_page()
    _sign_in(page, live_server, "officer")
    page.goto(f"{live_server}/water-users/{wu.id}?lang=en")
    section = page.locator("#file-warnings")
    assert "Above the permit's monthly share" in section.inner_text()
    assert "3,000.0 m³" in section.inner_text()
    page.goto(f"{live_server}/warnings?lang=en")
    assert "1 warnings." in page.inner_text("#match-count")
    assert "义乌市青岩印染有限公司" in page.inner_text("#warnings")
    opened = page.locator("#warnings a:has-text('Open the warning')")
    _tall_enough(opened)
    opened.click()
    page.wait_for_url(f"{live_server}/warnings/*")
    page.wait_for_load_state()
    assert "5,000.0 m³ is more than the permitted 12,000 m³ a year ÷ 12 × 3 = 3,000.0 m³." in page.inner_text(
        "#warning-reason")
    assert page.locator("#warning-chart svg rect").count() > 0  # the series and the band, drawn
    shoot(page, "warning-open-768x1024")
    page.select_option("select[name=assignee_id]", label="王检查")
    button = page.locator("#assign-form button[type=submit]")
    _tall_enough(button)
    with page.expect_navigation():
        button.click()
    page.wait_for_load_state()
    assert "The warning is assigned." in page.inner_text("main")
    assert "王检查" in page.inner_text("#warning-assignee")
    _sign_out(page)

    _sign_in(page, live_server, "inspector1")
    page.goto(f"{live_server}/warnings?status=assigned&lang=en")
    page.click("#warnings a:has-text('Open the warning')")
    page.wait_for_url(f"{live_server}/warnings/*")
    page.click("label:has-text('Visit ordered')")
    page.fill("textarea[name=note]", "现场核查：新增一条生产线，已要求补报用水计划")
    close = page.locator("#close-form button[type=submit]")
    _tall_enough(close)
    with page.expect_navigation():
        close.click()
    page.wait_for_load_state()
    assert "The warning is closed." in page.inner_text("main")
    assert "Closed" in page.inner_text("#warning-status")
    assert "Visit ordered: 现场核查：新增一条生产线" in page.inner_text("#warning-outcome")
    assert page.locator("#close-form").count() == 0
    shoot(page, "warning-closed-768x1024")
    page.goto(f"{live_server}/water-users/{wu.id}?lang=en")
    assert "Visit ordered" in page.inner_text("#file-warnings")
