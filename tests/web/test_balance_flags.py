"""Issue 16 item 1: every part of the one-file page, the enterprise's view of it and the dossier
render with each water-balance flag raised (GB/T 12452-2022), in both languages.

The flag once crashed the page for everyone: its text carried a bare "%", which Jinja's
gettext %-formats (``ValueError: incomplete format``)."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from registry.clock import today as bureau_today
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.services import evaluations
from tests import factories as f

# Each flag of registry.domain.balance.indicators: the balance error of 10 % (above the
# 5 % limit), and water leaving a system that took none in (Vf = 0).
FLAGS = {
    "balance_error_above_limit": dict(vf=100, vr=10, vco=5, vd=80, vl=5),
    "outflow_without_intake": dict(vf=0, vr=0, vco=5, vd=1, vl=0),
}
PARTS = ("profile", "intake-points", "permits", "plans", "meters", "readings", "balance-tests",
         "inspections", "documents", "evaluation", "certificates", "communications", "timeline")


def _whole_file_with(volumes: dict):
    """A printing & dyeing file (balance test required) with a record in every part."""
    today = bureau_today()
    wu = f.WaterUserFactory(industry_code="1713", name="义乌市平衡标记测试有限公司")
    point = f.IntakePointFactory(water_user=wu)
    permit = f.PermitFactory(water_user=wu)
    permit.intake_points = [point]
    meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=today - timedelta(days=300))
    f.CalibrationFactory(meter=meter, calibrated_on=today - timedelta(days=100), next_due_on=today + timedelta(days=600))
    f.ReadingFactory(meter=meter, water_user_id=wu.id, period=today.replace(day=1) - timedelta(days=20))
    inspection = f.InspectionFactory(water_user=wu, inspected_on=today - timedelta(days=30))
    f.RectificationFactory(inspection=inspection, water_user_id=wu.id, deadline=today + timedelta(days=10))
    f.BalanceTestFactory(water_user=wu, tested_on=today - timedelta(days=60), **volumes)
    db.session.commit()
    evaluations.refresh(db.session, load_rules(), today, [wu.id])
    db.session.commit()
    return wu


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_item1_every_part_of_the_file_renders_with_the_balance_flag(client, auth, flag):
    wu = _whole_file_with(FLAGS[flag])
    f.admin(username="boss")
    f.inspector(username="insp", city_wide=True)
    f.enterprise(wu, username="ent")
    for username in ("boss", "insp", "ent"):
        auth.login(username)
        for lang, flag_text in (("zh", "⚠ 超过 5 % 的限值"), ("en", "⚠ above the 5 % limit")):
            response = client.get(f"/water-users/{wu.id}?lang={lang}")
            page = response.get_data(as_text=True)
            assert response.status_code == 200, (username, lang, page[-2000:])
            for part in PARTS:
                assert f'id="{part}"' in page, (username, lang, part)
            assert flag_text in page, (username, lang)
        auth.logout()


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_item1_the_dossier_prints_the_balance_flag(client, auth, flag):
    wu = _whole_file_with(FLAGS[flag])
    f.admin(username="boss")
    auth.login("boss")
    for lang, flag_text in (("zh", "超过 5 % 的限值"), ("en", "above the 5 % limit")):
        response = client.get(f"/water-users/{wu.id}/dossier.pdf?lang={lang}")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
        flat = "".join(text.split())  # table cells wrap anywhere
        assert "义乌市平衡标记测试有限公司" in flat and "".join(flag_text.split()) in flat, lang
