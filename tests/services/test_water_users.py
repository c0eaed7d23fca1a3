"""Opening and changing a file: validation names the field and the rule, nothing half-written,
every change audited with before and after."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, WaterUser
from registry.services import Forbidden, StaleEdit, ValidationError, water_users
from tests import factories as f
from tests.conftest import english

VALID = {"file_no": "YW-2026-0001", "name": "义乌市华鑫印染有限公司", "uscc": "91330100716105852F",
         "division_code": "001", "industry_code": "1713", "opened_on": date(2025, 1, 2)}


def _count(session, model):
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_bureau_opens_a_file_and_the_trail_records_it(db_session):
    actor = f.admin()
    wu = water_users.create(db_session, actor, VALID)
    assert wu.id and wu.status == "active"
    event = db_session.execute(select(AuditEvent).where(AuditEvent.entity_type == "WaterUser")).scalar_one()
    assert event.actor_id == actor.id and event.action == "create"
    assert event.changes["uscc"] == [None, "91330100716105852F"]


@pytest.mark.parametrize("uscc, fragment", [
    ("91330100716105852", "18 characters"),
    ("91330100716105852O", "no I, O, S, V, Z"),
    ("91330100716105852G", "check character"),
])
def test_bad_uscc_is_refused_naming_the_rule(db_session, uscc, fragment):
    with pytest.raises(ValidationError) as err:
        water_users.create(db_session, f.admin(), {**VALID, "uscc": uscc})
    assert fragment in english(err.value.errors["uscc"])
    assert _count(db_session, WaterUser) == 0


def test_lower_case_uscc_with_spaces_is_normalised(db_session):
    wu = water_users.create(db_session, f.admin(), {**VALID, "uscc": " 91330100716105852f "})
    assert wu.uscc == "91330100716105852F"


def test_duplicate_file_number_and_uscc_are_refused(db_session):
    admin = f.admin()
    water_users.create(db_session, admin, VALID)
    with pytest.raises(ValidationError) as err:
        water_users.create(db_session, admin, {**VALID, "name": "另一家"})
    assert set(err.value.errors) >= {"file_no", "uscc"}


def test_file_opened_in_the_future_is_refused(db_session):
    with pytest.raises(ValidationError) as err:
        water_users.create(db_session, f.admin(), {**VALID, "opened_on": date(2100, 1, 1)})
    assert "future" in english(err.value.errors["opened_on"])


def test_every_missing_field_is_named_at_once(db_session):
    with pytest.raises(ValidationError) as err:
        water_users.create(db_session, f.admin(), {})
    assert {"file_no", "name", "uscc", "division_code", "industry_code", "opened_on"} <= set(err.value.errors)


def test_update_audits_before_and_after(db_session):
    admin = f.admin()
    wu = water_users.create(db_session, admin, VALID)
    water_users.update(db_session, admin, wu, {**VALID, "contact_phone": "0579-85551234"}, expected_version=wu.version)
    event = db_session.execute(select(AuditEvent).where(AuditEvent.action == "update")).scalar_one()
    assert event.changes == {"contact_phone": [None, "0579-85551234"]}


def test_stale_edit_is_refused_with_current_values(db_session):
    admin = f.admin()
    wu = water_users.create(db_session, admin, VALID)
    seen = wu.version
    water_users.update(db_session, admin, wu, {**VALID, "name": "新名称有限公司"}, expected_version=seen)
    with pytest.raises(StaleEdit) as err:
        water_users.update(db_session, admin, wu, {**VALID, "name": "覆盖"}, expected_version=seen)
    assert err.value.current["name"] == "新名称有限公司"
    assert db_session.get(WaterUser, wu.id).name == "新名称有限公司"


def test_closing_needs_a_reason_and_is_final(db_session):
    admin = f.admin()
    wu = water_users.create(db_session, admin, VALID)
    with pytest.raises(ValidationError):
        water_users.set_status(db_session, admin, wu, "closed", "  ")
    water_users.set_status(db_session, admin, wu, "closed", "企业已搬迁，取水口封停")
    assert wu.status == "closed" and wu.closed_reason == "企业已搬迁，取水口封停"
    with pytest.raises(ValidationError):
        water_users.update(db_session, admin, wu, {**VALID, "name": "x"}, expected_version=wu.version)
    assert _count(db_session, WaterUser) == 1  # closed, never deleted


def test_inspector_cannot_open_or_close_files(db_session):
    inspector = f.inspector()
    with pytest.raises(Forbidden):
        water_users.create(db_session, inspector, VALID)
    wu = f.WaterUserFactory()
    with pytest.raises(Forbidden):
        water_users.set_status(db_session, inspector, wu, "closed", "reason")


def test_idempotency_key_creates_one_file(db_session):
    admin = f.admin()
    first = water_users.create(db_session, admin, VALID, idempotency_key="k-1")
    again = water_users.create(db_session, admin, VALID, idempotency_key="k-1")
    assert again.id == first.id and _count(db_session, WaterUser) == 1


def test_uscc_is_stored_once_in_its_normalised_form_and_unique_in_it(db_session):
    # Full-width, dashes, spaces and lower case: one code, 91330100716105852F.
    wu = water_users.create(db_session, f.admin(), {**VALID, "uscc": "９１３３-０１００ 7161-0585-2f"})
    assert (wu.uscc, wu.uscc_warning) == ("91330100716105852F", None)
    with pytest.raises(ValidationError) as err:
        water_users.create(db_session, f.admin(), {**VALID, "file_no": "YW-2026-0002", "uscc": "9133 0100 7161 0585 2F"})
    assert "already has this USCC" in english(err.value.errors["uscc"])


def test_all_zero_uscc_is_refused(db_session):
    with pytest.raises(ValidationError) as err:
        water_users.create(db_session, f.admin(), {**VALID, "uscc": "000000000000000000"})
    assert "not a real USCC" in english(err.value.errors["uscc"])


def test_organisation_code_mismatch_is_accepted_with_the_warning_kept(db_session, client, auth):
    from registry.domain.uscc import check_character

    first17 = "91330100716105857"  # the embedded organisation check should be 2 (GB 11714)
    wu = water_users.create(db_session, f.admin(), {**VALID, "uscc": first17 + check_character(first17)})
    assert wu.uscc_warning == "org_code"
    f.admin(username="boss")
    auth.login("boss")
    page = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert "Organisation code check failed (GB 11714)" in page
    fixed = water_users.update(db_session, f.admin(), wu, {**VALID, "uscc": "91330100716105852F"},
                               expected_version=wu.version)
    assert fixed.uscc_warning is None
