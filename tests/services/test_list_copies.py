"""The list's copies follow their sources in the same transaction, whoever wrote them: each
file's latest live permit end (water_users.permit_valid_to) and the pairs of characters of its
name (water_user_name_bigrams) that a two-character search reads."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.demo import generate
from registry.models import NameBigram, WaterUser
from registry.models.cached import latest_permit_end, name_bigrams
from registry.services import records, water_users
from tests import factories as f

TODAY = bureau_today()


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


def _bigrams_of(session, wu):
    return set(session.scalars(select(NameBigram.bigram).where(NameBigram.water_user_id == wu.id)))


def test_name_pairs_are_the_chinese_ones_a_search_can_be():
    assert name_bigrams("义乌市ABC饰品 厂") == {"义乌", "乌市", "饰品"}  # not "市A", "C饰", "品 ", " 厂"
    assert name_bigrams("") == set() and name_bigrams("厂") == set()


def test_name_pairs_follow_a_new_file_and_a_new_name(db_session):
    wu = f.WaterUserFactory(name="义乌市青岩饰品有限公司")
    db_session.commit()
    assert _bigrams_of(db_session, wu) == name_bigrams("义乌市青岩饰品有限公司")
    water_users.update(db_session, f.admin(), wu, {**_form(wu), "name": "义乌市青岩服饰有限公司"},
                       expected_version=wu.version)
    assert "服饰" in _bigrams_of(db_session, wu) and "饰品" not in _bigrams_of(db_session, wu)


def _form(wu):
    return {"file_no": wu.file_no, "name": wu.name, "uscc": wu.uscc, "division_code": wu.division_code,
            "industry_code": wu.industry_code, "opened_on": wu.opened_on}


def test_demo_data_has_every_name_pair(db_session):
    generate(db_session, users=12, seed=5, today=TODAY, chunk=5)
    for wu in db_session.scalars(select(WaterUser)):
        assert _bigrams_of(db_session, wu) == name_bigrams(wu.name)
