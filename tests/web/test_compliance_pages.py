"""What staff and enterprises see of the evaluation: breakdown, what to do, queue, rules."""
from __future__ import annotations

import json
from datetime import timedelta

from registry.clock import today as bureau_today
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.services import evaluations
from tests import factories as f

TODAY = bureau_today()


def _file_without_permit(division="001"):
    wu = f.WaterUserFactory(division_code=division, opened_on=TODAY - timedelta(days=900))
    point = f.IntakePointFactory(water_user=wu)
    meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=TODAY - timedelta(days=1000))
    f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=900), next_due_on=TODAY - timedelta(days=170))
    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    return wu, meter


def test_file_page_explains_every_lost_point_in_both_languages(client, auth):
    wu, meter = _file_without_permit()
    f.admin(username="admin")
    auth.login("admin")
    page = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert "No water-withdrawal permit is on file." in page
    due = (TODAY - timedelta(days=170)).isoformat()  # the certificate's date, earlier than the rules'
    assert f"are not verified (JJG 162-2019): {meter.serial} was due for verification on {due}" in page
    assert "What to do" in page and "Apply for a water-withdrawal permit" in page
    assert "Veto" in page and 'class="grade grade-D"' in page
    chinese = client.get(f"/water-users/{wu.id}?lang=zh_CN").get_data(as_text=True)
    assert "规范评价" in chinese and "No water-withdrawal permit" not in chinese
    assert f"未经有效检定（JJG 162-2019）：{meter.serial} 应于 {due} 前检定" in chinese


def test_enterprise_sees_its_score_and_what_to_do_but_no_edit_buttons(client, auth):
    wu, _ = _file_without_permit()
    f.enterprise(wu, username="ent")
    auth.login("ent")
    page = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert "What to do" in page and "Apply for a water-withdrawal permit" in page
    assert "/permits/new" not in page and "Edit profile" not in page


def test_work_queue_lists_overdue_items_most_urgent_first_and_filters(client, auth):
    mine, _ = _file_without_permit("001")
    theirs, _ = _file_without_permit("100")
    f.admin(username="admin")
    f.inspector(divisions=("001",), username="insp")
    auth.login("admin")
    page = client.get("/work-queue?lang=en").get_data(as_text=True)
    assert mine.name in page and theirs.name in page and "Meter verification" in page
    assert page.index("Overdue") < page.index("match-count") or "Overdue" in page
    only = client.get("/work-queue?division=100&kind=calibration").get_data(as_text=True)
    assert theirs.name in only and mine.name not in only
    insp = next(a for a in db.session.scalars(db.select(f.m.Account).where(f.m.Account.username == "insp")))
    by_inspector = client.get(f"/work-queue?inspector={insp.id}").get_data(as_text=True)
    assert mine.name in by_inspector and theirs.name not in by_inspector
    assert f'/water-users/{mine.id}#meters' in page
    auth.logout()
    auth.login("insp")
    scoped = client.get("/work-queue").get_data(as_text=True)
    assert mine.name in scoped and theirs.name not in scoped


def test_work_queue_is_for_staff_only(client, auth):
    wu, _ = _file_without_permit()
    f.enterprise(wu, username="ent")
    auth.login("ent")
    assert client.get("/work-queue").status_code == 403  # forbidden to the role


def test_admin_publishes_a_rules_version_through_the_page(client, auth):
    f.admin(username="admin")
    auth.login("admin")
    form = client.get("/admin/rules/new").get_data(as_text=True)
    assert "YW-2026.1" in form
    bad = client.post("/admin/rules/new?lang=en", data={"document": '{"version": "YW-2026.2"}'})
    assert bad.status_code == 400 and "is invalid" in bad.get_data(as_text=True)
    assert '{&#34;version&#34;: &#34;YW-2026.2&#34;}' in bad.get_data(as_text=True)  # what was typed is kept
    doc = load_rules().to_dict()
    doc["version"] = "YW-2026.2"
    ok = client.post("/admin/rules/new", data={"document": json.dumps(doc), "note": "调整"})
    assert ok.status_code == 302
    listing = client.get("/admin/rules").get_data(as_text=True)
    assert "YW-2026.2" in listing and "YW-2026.1" in listing
    assert client.get("/admin/rules/YW-2026.2").status_code == 200


def test_rules_pages_are_for_the_bureau_only(client, auth):
    f.inspector(username="insp", city_wide=True)
    auth.login("insp")
    assert client.get("/admin/rules").status_code == 403  # forbidden to the role
    assert client.post("/admin/rules/new", data={"document": "{}"}).status_code == 403


def test_recompute_command_prints_count_and_rate(app):
    _file_without_permit()
    result = app.test_cli_runner().invoke(args=["registry", "recompute", "--all"])
    assert result.exit_code == 0, result.output
    assert "evaluated 1 water users" in result.output and "users/s" in result.output
    assert app.test_cli_runner().invoke(args=["registry", "recompute"]).exit_code == 2
    refused = app.test_cli_runner().invoke(args=["registry", "recompute", "--all", "--workers", "0"])
    assert refused.exit_code == 2 and "--workers" in refused.output
    again = app.test_cli_runner().invoke(args=["registry", "recompute", "--all", "--workers", "2"])
    assert "evaluated 1 water users" in again.output and "0 results changed" in again.output


def test_work_queue_shows_the_inspectors_and_the_bureaus_waits(client, auth):
    # An order answered 3 days before its deadline (passed yesterday) and a permit that ended
    # 10 days ago whose renewal was applied for 60 days before its end (art. 25: in time).
    wu = f.WaterUserFactory(opened_on=TODAY - timedelta(days=900))
    point = f.IntakePointFactory(water_user=wu)
    permit = f.PermitFactory(water_user=wu, valid_from=TODAY - timedelta(days=1800), valid_to=TODAY - timedelta(days=10),
                             issued_on=TODAY - timedelta(days=1810), renewal_applied_on=TODAY - timedelta(days=70))
    permit.intake_points = [point]
    f.RectificationFactory(inspection=f.InspectionFactory(water_user=wu, inspected_on=TODAY - timedelta(days=30)),
                           water_user_id=wu.id, deadline=TODAY - timedelta(days=1), status="answered",
                           response="已加装铅封", responded_on=TODAY - timedelta(days=4))
    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    f.admin(username="admin")
    auth.login("admin")
    page = client.get("/work-queue?lang=en").get_data(as_text=True)
    assert "awaiting the inspector&#39;s verification" in page or "awaiting the inspector's verification" in page
    assert "the bureau&#39;s decision is due" in page or "the bureau's decision is due" in page
    chinese = client.get(f"/water-users/{wu.id}?lang=zh_CN").get_data(as_text=True)
    assert "延续待审批" in chinese and "无有效取水许可证" not in chinese
