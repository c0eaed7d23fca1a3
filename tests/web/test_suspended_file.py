"""A suspended file (issue 15 item 7): shown as suspended, its due items paused, no certificate."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.models import DueItem
from registry.services import certificates, evaluations, water_users
from tests import factories as f


def test_a_suspended_file_shows_it_pauses_its_due_items_and_gets_no_certificate(client, auth):
    admin = f.admin(username="admin")
    wu = f.WaterUserFactory(name="义乌市暂停取水纸业有限公司")
    point = f.IntakePointFactory(water_user=wu)
    permit = f.PermitFactory(water_user=wu, annual_volume_m3=5000.0)  # a plan is required: none on file
    permit.intake_points = [point]
    meter = f.MeterFactory(intake_point=point, water_user=wu)
    f.CalibrationFactory(meter=meter, calibrated_on=bureau_today() - timedelta(days=30 * 30), next_due_on=None)
    db.session.commit()
    evaluations.refresh_one(db.session, wu.id)
    db.session.commit()
    assert db.session.scalars(select(DueItem.kind).where(DueItem.water_user_id == wu.id)).all()  # plan, meter ...

    water_users.set_status(db.session, admin, wu, "suspended", "停产整顿")
    assert db.session.scalars(select(DueItem.kind).where(DueItem.water_user_id == wu.id)).all() == []
    auth.login("admin")
    page = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert "Suspended: due items paused, no certificate" in page
    assert "Next calibration due" not in page  # the chips of due items are paused with them
    assert "not active" in str(certificates.refusal_for(db.session, wu))
