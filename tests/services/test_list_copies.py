"""Each file keeps a copy of its latest live permit end (water_users.permit_valid_to) for the
list: it follows every change to the file's permits in the same transaction, whoever wrote it."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from registry.demo import generate
from registry.models import WaterUser
from registry.models.cached import latest_permit_end
from registry.services import records
from tests import factories as f

TODAY = date.today()


def _stored(session, wu):
    session.expire_all()
    return session.get(WaterUser, wu.id).permit_valid_to


def _permit_data(point, number, valid_from, valid_to):
    return {"number": number, "issuing_authority": "义乌市水务局", "issued_on": min(valid_from, TODAY) - timedelta(days=10),
            "valid_from": valid_from, "valid_to": valid_to, "annual_volume_m3": 60000, "intake_point_ids": [point.id]}


def test_new_file_has_no_permit_end(db_session):
    assert _stored(db_session, f.WaterUserFactory()) is None


def test_permit_end_follows_a_new_permit_its_renewal_an_edit_and_closing(db_session):
    admin = f.admin()
    point = f.IntakePointFactory()
    wu = point.water_user
    first = records.create(db_session, admin, "permit", wu, _permit_data(
        point, "D330782S2025-0042", TODAY - timedelta(days=300), TODAY + timedelta(days=20)))
    assert wu.permit_valid_to == TODAY + timedelta(days=20)  # the loaded file sees it at once
    assert _stored(db_session, wu) == TODAY + timedelta(days=20)

    data = _permit_data(point, "D330782S2026-0001", TODAY + timedelta(days=21), TODAY + timedelta(days=1800))
    renewal = records.renew_permit(db_session, admin, first, data)
    assert _stored(db_session, wu) == TODAY + timedelta(days=1800)

    renewal = db_session.get(type(renewal), renewal.id)
    records.update(db_session, admin, "permit", renewal, {**data, "valid_to": TODAY + timedelta(days=1700)},
                   expected_version=renewal.version)
    assert _stored(db_session, wu) == TODAY + timedelta(days=1700)

    records.close(db_session, admin, "permit", db_session.get(type(renewal), renewal.id), "录入错误")
    assert _stored(db_session, wu) == TODAY + timedelta(days=20)  # back to the permit it renewed
    records.close(db_session, admin, "permit", db_session.get(type(first), first.id), "录入错误")
    assert _stored(db_session, wu) is None


def test_a_revoked_permit_no_longer_counts(db_session):
    permit = f.PermitFactory(valid_to=TODAY + timedelta(days=400))
    wu = permit.water_user
    db_session.commit()
    assert _stored(db_session, wu) == TODAY + timedelta(days=400)
    permit = db_session.merge(permit)
    permit.revoked_on, permit.revoked_reason = TODAY, "违法取水"
    db_session.commit()
    assert _stored(db_session, wu) is None


def test_demo_data_inserted_in_bulk_has_the_copy_right(db_session):
    generate(db_session, users=40, seed=11, today=TODAY, chunk=15)
    rows = db_session.execute(select(WaterUser.permit_valid_to, latest_permit_end(WaterUser.id))).all()
    assert len(rows) == 40 and all(stored == computed for stored, computed in rows)
    assert any(stored is not None for stored, _ in rows)
