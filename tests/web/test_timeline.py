"""The timeline people can read (issue 18): each kind of change is shown by the field's label in the
page's language and its values as the page formats them, never column names, raw ids or 1e+14."""
from __future__ import annotations

import html
import io
import re

import pytest
from pypdf import PdfReader

from registry.extensions import db
from registry.services import audit
from tests import factories as f


@pytest.fixture
def file_with_history(app):
    meter = f.MeterFactory(serial="SB000002", water_user=f.WaterUserFactory(division_code="001", industry_code="1713"))
    wu = meter.water_user
    meter.intake_point.water_user = wu
    meter.intake_point.name = "1号取水口"
    other = f.MeterFactory(serial="SB000001", water_user=wu, intake_point=meter.intake_point)
    calibration = f.CalibrationFactory(meter=other)
    reading = f.ReadingFactory(meter=meter, water_user_id=wu.id)
    permit = f.PermitFactory(water_user=wu)
    insp = f.InspectionFactory(water_user=wu)
    rect = f.RectificationFactory(inspection=insp, water_user_id=wu.id)
    staff = f.admin(username="admin")
    db.session.commit()
    # What the services store (services.audit.snapshot / diff: plain JSON values), one event per kind of change.
    events = [
        (calibration, {"meter_id": [None, meter.id], "passed": [True, False], "error_pct": [0.6, 2.5],
                       "kind": ["initial", "subsequent"]}),
        (reading, {"volume_m3": [5400.0, 1e14], "period": ["2026-09-01", "2026-10-01"], "status": ["pending", "accepted"]}),
        (meter, {"dn": [100, 150], "meter_type": ["mechanical", "electromagnetic"], "interval_months": [None, 24],
                 "intake_point_id": [None, meter.intake_point.id], "q3": [25.0, 63.0]}),
        (permit, {"annual_volume_m3": [80000.0, 120000.0], "intake_point_ids": [[], [meter.intake_point.id]],
                  "valid_to": ["2029-04-14", "2030-04-14"]}),
        (wu, {"division_code": ["001", "002"], "status": ["active", "suspended"], "industry_code": ["1713", "1810"]}),
        (rect, {"status": ["open", "verified"], "verified_on": [None, "2026-11-20"], "inspection_id": [None, insp.id]}),
        (insp, {"items": [[], [["meter_present_sealed", "problem", "铅封缺失"]]], "inspector_id": [None, staff.id]}),
        (meter, {"closed_reason": [None, "更换"], "some_future_column": [None, "x"]}),
    ]
    for obj, changes in events:
        audit.record(db.session, staff, "update", obj, water_user_id=wu.id, changes=changes)
    db.session.commit()
    return wu, insp


def _timeline(client, wu, lang):
    page = client.get(f"/water-users/{wu.id}?lang={lang}").get_data(as_text=True)
    part = page[page.index('id="timeline"'):]
    return html.unescape(re.sub(r"<[^>]+>", " ", part[:part.index("</section>")]))


CHINESE = [
    "计量设施：— → SB000002",  # an id as the record it points to, by the field's label
    "结论：合格 → 不合格", "示值误差（%）：0.6 % → 2.5 %", "类别：首次检定 → 后续检定",
    "取水量（m³）：5,400 m³ → 100,000,000,000,000 m³", "月份：2026-09 → 2026-10", "状态：待审核 → 已通过",
    "公称口径 DN（mm）：DN100 → DN150", "：— → 24 个月", "常用流量 Q3（m³/h）：25 m³/h → 63 m³/h",
    "取水口：— → 1号取水口", "年许可取水量（m³）：80,000 m³ → 120,000 m³", "有效期至：2029-04-14 → 2030-04-14",
    "镇街：001 稠城 → 002 北苑", "状态：正常 → 已暂停", "状态：待整改 → 已核实", "检查员：— → admin",
    "检查项目：— → 水表在位且铅封完好：问题 (铅封缺失)", "关闭原因：— → 更换", "其他信息：— → x",
]
ENGLISH = [
    "Meter: — → SB000002", "Result: Pass → Fail", "Measured error (%): 0.6 % → 2.5 %",
    "Kind: Initial verification → Subsequent verification",
    "Volume (m³): 5,400 m³ → 100,000,000,000,000 m³", "Month: 2026-09 → 2026-10", "Status: Pending → Accepted",
    "Nominal diameter DN (mm): DN100 → DN150", "Verification interval override (months): — → 24 months",
    "Annual permitted volume (m³): 80,000 m³ → 120,000 m³",
    "Valid to: 2029-04-14 → 2030-04-14", "Status: Active → Suspended", "Status: Open → Verified",
    "Division: 001 Choucheng → 002 Beiyuan", "Inspection: — → inspection of 2026-06-01", "Inspector: — → admin",
    "Intake points covered: — → 1号取水口", "Permanent flow Q3 (m³/h): 25 m³/h → 63 m³/h",
    "Checklist: — → Meter present and sealed: Problem (铅封缺失)", "Reason for closing: — → 更换", "Other detail: — → x",
]


def test_every_kind_of_change_reads_in_chinese_and_english(client, auth, file_with_history):
    wu, _insp = file_with_history
    auth.login("admin")
    zh, en = _timeline(client, wu, "zh_CN"), _timeline(client, wu, "en")
    for text in CHINESE:
        assert text in zh, (text, zh)
    for text in ENGLISH:
        assert text in en, (text, en)
    for timeline in (zh, en):
        for raw in ("meter_id", "volume_m3", "1e+14", "closed_reason", "intake_point_ids", "some_future_column",
                    "division_code", "→ 2\n"):
            assert raw not in timeline, raw
    assert "1713 Cotton printing, dyeing and finishing → 1810" in en  # an industry by its code and name


def test_the_dossier_pdf_prints_the_same_readable_timeline(client, auth, file_with_history):
    wu, _insp = file_with_history
    auth.login("admin")
    response = client.get(f"/water-users/{wu.id}/dossier.pdf?lang=en")
    assert response.status_code == 200
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    text = re.sub(r"\s+", " ", text)
    assert "Meter: — → SB000002" in text
    assert re.search("100,000,000,000,000 m[³3]", text) and "1e+14" not in text and "meter_id" not in text


def test_the_enterprise_reads_the_same_timeline_on_its_file(client, auth, file_with_history):
    wu, _insp = file_with_history
    f.enterprise(wu, username="ent")
    db.session.commit()
    auth.login("ent")
    zh = _timeline(client, wu, "zh_CN")
    assert "计量设施：— → SB000002" in zh and "meter_id" not in zh
