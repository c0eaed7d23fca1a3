"""An enterprise proposes next year's plan by quarter; the bureau approves it changed with a reason;
the enterprise sees the reason and the file shows the plan (issue 19) — in a real browser."""
from __future__ import annotations

import pytest

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import AnnualPlan
from tests import factories as f
from tests.e2e.test_enterprise_reading import _sign_in, _sign_out

pytestmark = pytest.mark.e2e


def test_enterprise_plan_proposal_to_the_bureaus_approval(live_server, tablet):
    wu = f.WaterUserFactory(name="义乌市青口纺织有限公司")
    f.PermitFactory(water_user=wu, annual_volume_m3=50_000.0)
    f.enterprise(wu, username="qingkou")
    f.admin(username="planner")
    year = bureau_today().year + 1

    page = tablet.new_page()
    _sign_in(page, live_server, "qingkou")
    page.wait_for_url(f"{live_server}/portal")
    page.click("text=Propose a water-use plan")
    assert page.input_value("input[name=year]") == str(year)
    page.fill("input[name=planned_volume_m3]", "36000")
    page.fill("input[name=past_year_use_m3]", "31250")
    page.fill("textarea[name=past_year_report]", "去年两条产线运行，用水平稳。")
    page.select_option("select[name=breakdown]", "quarter")
    assert page.is_visible("input[name=share_4]") and not page.is_visible("input[name=share_5]")
    for i, share in enumerate(("8000", "9000", "10000", "9000"), 1):
        page.fill(f"input[name=share_{i}]", share)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server}/portal#plans")
    assert "waiting for the bureau" in page.inner_text("main")
    _sign_out(page)

    _sign_in(page, live_server, "planner")
    page.goto(f"{live_server}/plan-proposals?lang=en")
    page.click("text=Open")
    assert "31,250" in page.inner_text("main")
    page.select_option("select[name=decision]", "change")
    page.fill("input[name=planned_volume_m3]", "32000")
    page.select_option("select[name=breakdown]", "none")
    page.fill("textarea[name=decision_reason]", "按节水目标核减。")
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/water-users/{wu.id}#plans")
    assert "32,000" in page.inner_text("#plans")
    _sign_out(page)

    _sign_in(page, live_server, "qingkou")
    page.wait_for_url(f"{live_server}/portal")
    assert "按节水目标核减。" in page.inner_text("#plans ~ div")
    db.session.expire_all()
    plan = db.session.scalars(db.select(AnnualPlan).where(AnnualPlan.water_user_id == wu.id)).one()
    assert (plan.year, plan.planned_volume_m3) == (year, 32_000)
