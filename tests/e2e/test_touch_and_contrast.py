"""Touch and contrast (issue 18), in Debian's chromium at tablet sizes with touch:

- axe-core (vendored in tests/e2e/vendor/axe.min.js, never a CDN: bureau networks are closed) finds no
  serious or critical violation on the ten pages the issue lists;
- every interactive element of the file page, the list, the work queue and the review queue is at
  least 44×44 CSS px at 768 and 1024 widths (its own box, measured in the browser);
- no button, chip or badge breaks over two lines at 768 px (table headers may wrap between words).
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from registry.clock import today as bureau_today
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.services import certificates, evaluations
from tests import factories as f
from tests.e2e.test_enterprise_reading import _sign_in
from tests.factories.certificates import graded_file

pytestmark = pytest.mark.e2e
TODAY = bureau_today()
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
TOUCH = 44

SERIOUS = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 8).map((n) => n.target.join(" ")), count: v.nodes.length }));
}"""

# Every element a finger can act on, with its box; hidden ones (and the skip link, off-screen until
# focused) are not on the screen to touch.
SMALL_TARGETS = """(minimum) => {
  const picked = document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], label.btn");
  const small = [];
  for (const el of picked) {
    if (el.closest(".visually-hidden-focusable") || el.matches(".btn-check")) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.width < minimum - 0.5 || box.height < minimum - 0.5) {
      small.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${(el.className || "").toString().split(" ").join(".")} "${(el.innerText || el.value || "").trim().slice(0, 30)}" ${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return small;
}"""

SPLIT_WORDS = """() => {
  const split = [];
  for (const el of document.querySelectorAll(".btn, .chip, .badge")) {
    const box = el.getBoundingClientRect();
    if (!box.width || getComputedStyle(el).display === "none") continue;
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 1 && r.height > 1).map((r) => Math.round(r.top)));
    if (lines.size > 1) split.push(`${el.tagName.toLowerCase()} "${el.innerText.trim().slice(0, 30)}"`);
  }
  return split;
}"""


@pytest.fixture
def world(app):
    point = f.IntakePointFactory(water_user=f.WaterUserFactory(name="义乌市青岩印染有限公司", division_code="001",
                                                               opened_on=TODAY - timedelta(days=700)))
    wu = point.water_user
    f.PermitFactory(water_user=wu).intake_points = [point]
    meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=TODAY - timedelta(days=600), serial="EM-A11Y-1")
    insp = f.InspectionFactory(water_user=wu, inspected_on=TODAY - timedelta(days=40))
    f.RectificationFactory(inspection=insp, water_user_id=wu.id, deadline=TODAY - timedelta(days=3))
    f.ReadingFactory(meter=meter, water_user_id=wu.id, status="pending", source="enterprise")
    for i in range(3):
        f.WaterUserFactory(name=f"义乌市测试{i}纺织有限公司", division_code="001")
    graded = graded_file("A", division_code="001")
    admin = f.admin(username="boss", display_name="王科长")
    cert = certificates.issue(db.session, admin, graded)
    f.inspector(divisions=("001",), username="zhang", display_name="张检查员")
    f.enterprise(wu, username="qingyan")
    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    from registry.models import UseWarning

    warning = UseWarning(water_user_id=wu.id, meter_id=meter.id, kind="zero_use", period=TODAY.replace(day=1),
                         dedupe_key=f"{wu.id}:{meter.id}:zero_use", evidence={
                             "value": 0.0, "low": None, "high": None, "unit": "m³",
                             "figures": {"months": 2, "limit_months": 2}})
    db.session.add(warning)
    db.session.commit()
    return {"wu": wu, "cert": cert, "warning": warning}


def _pages(world) -> dict[str, list[tuple[str, str]]]:
    wu, cert = world["wu"], world["cert"]
    return {
        None: [("login", "/login")],
        "boss": [("dashboard", "/"), ("list", "/water-users/"), ("file", f"/water-users/{wu.id}"),
                 ("work-queue", "/work-queue"), ("review", "/review"), ("batch", "/certificates/batch"),
                 ("verify", f"/verify/{cert.number}?k={cert.verify_key}"),
                 ("warnings", "/warnings"), ("warning", f"/warnings/{world['warning'].id}"),
                 ("analysis", "/analysis/"), ("file-analysis", f"/water-users/{wu.id}/analysis")],
        "zhang": [("visit-form", f"/visits/{wu.id}/inspect")],
        "qingyan": [("portal", "/portal")],
    }


@pytest.fixture
def touch_context(browser):
    """A touch tablet that lets the test inject axe-core despite the app's Content-Security-Policy."""
    contexts = []

    def make(width: int, height: int, locale: str = "zh-CN"):
        context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, locale=locale,
                                      bypass_csp=True)
        contexts.append(context)
        return context
    yield make
    for context in contexts:
        context.close()


def test_axe_finds_no_serious_or_critical_violation_on_the_ten_pages(live_server, touch_context, world):
    found = {}
    for user, pages in _pages(world).items():
        page = touch_context(768, 1024).new_page()
        if user:
            _sign_in(page, live_server, user)
            page.wait_for_load_state("load")
        for lang in ("zh_CN", "en"):
            for name, path in pages:
                page.goto(f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}")
                page.wait_for_load_state("load")
                page.add_script_tag(path=str(AXE))
                violations = page.evaluate(SERIOUS)
                if violations:
                    found[f"{name}-{lang}"] = violations
    assert found == {}


def test_every_interactive_element_is_a_44_px_target_and_no_word_is_split(live_server, touch_context, world):
    page = touch_context(768, 1024).new_page()
    _sign_in(page, live_server, "boss")
    page.wait_for_load_state("load")
    small, split = {}, {}
    for width, height in ((768, 1024), (1024, 768)):
        page.set_viewport_size({"width": width, "height": height})
        for lang in ("zh_CN", "en"):
            for name, path in [p for p in _pages(world)["boss"] if p[0] in ("file", "list", "work-queue", "review", "warnings")]:
                page.goto(f"{live_server}{path}?lang={lang}")
                page.wait_for_load_state("load")
                found = page.evaluate(SMALL_TARGETS, TOUCH)
                if found:
                    small[f"{name}-{width}-{lang}"] = found
                if width == 768:
                    words = page.evaluate(SPLIT_WORDS)
                    if words:
                        split[f"{name}-{lang}"] = words
    assert small == {}
    assert split == {}
