"""Markup typed into a file is shown as text and never runs, on every page that shows it (issue 10)."""
from __future__ import annotations

import random
from dataclasses import replace

import pytest

from registry.domain.rules import load_rules
from registry.domain.uscc import make_uscc
from registry.extensions import db
from registry.services import certificates, water_users
from tests import factories as f
from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e
SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=\"window.__pwned=1\">"
NAME = f"义乌市{SCRIPT}印染{IMG}有限公司"


def _hostile_file():
    admin = f.admin(username="officer")
    wu = water_users.create(db.session, admin, {
        "file_no": "YW-XSS-1", "name": NAME, "uscc": make_uscc(random.Random(7)), "division_code": "001",
        "industry_code": "1713", "opened_on": "2020-03-01", "address": f"稠城街道{IMG}1号",
        "notes": f"备注{SCRIPT}"})
    rules = load_rules()
    cert = certificates.issue(db.session, admin, wu,
                              rules=replace(rules, certificate=replace(rules.certificate, grades=("A", "B", "C", "D"))))
    return wu, cert


def _sign_in(page, base, username):
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_a_script_stored_in_a_name_is_shown_literally_and_never_runs(live_server, browser):
    wu, cert = _hostile_file()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, live_server, "officer")
    pages = {"dashboard": "/", "list": "/water-users/?q=YW-XSS", "file": f"/water-users/{wu.id}",
             "verify": f"/verify/{cert.number}?k={cert.verify_key}"}  # the QR code's address: the details show
    for name, path in pages.items():
        page.goto(live_server + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__pwned") == "undefined", name
        text = page.locator("main").inner_text()
        assert SCRIPT in text and IMG in text, (name, text[:500])  # the name, shown as typed
        assert page.locator("main script").count() == 0 and page.locator("main img[src=x]").count() == 0, name
        if name == "file":  # the address sits in a folded section: text_content reads it too
            assert f"稠城街道{IMG}1号" in page.locator("main").text_content()
        shoot(page, f"stored-markup-{name}")
    page.goto(f"{live_server}/water-users/{wu.id}/edit")  # the notes are shown in the edit form
    assert page.input_value("textarea[name=notes]") == f"备注{SCRIPT}"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    context.close()
