"""The services themselves under hostile input (the API and imports call them too, not only forms).

Each record kind starts from valid data; hypothesis replaces one field with hostile text. The
service must either save a record that reads back exactly as stored, or refuse with a message
on a field of that kind: never another exception, never a database error (PostgreSQL refuses
NUL in text and enforces lengths; SQLite does neither, so run this on both).
"""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.services import ValidationError, accounts, records, tokens, water_users
from registry.services.checks import database_id, idempotency_key
from tests import factories as f
from tests.fuzz_values import hostile_text

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _valid(kind: str, file: dict) -> dict:
    year = bureau_today().year
    return {
        "intake_point": {"name": "2号取水口", "source": "surface", "water_body": "义乌江", "longitude": "120.07",
                         "latitude": "29.31", "intake_method": "泵站", "design_capacity_m3h": "50"},
        "permit": {"number": "D330782S2024-0999", "issuing_authority": "义乌市水务局", "issued_on": f"{year - 1}-01-05",
                   "valid_from": f"{year - 1}-01-10", "valid_to": f"{year + 3}-01-09", "annual_volume_m3": "80000",
                   "purpose": "工业生产", "intake_point_ids": [str(file["point"].id)]},
        "plan": {"year": str(year - 1), "planned_volume_m3": "1000", "notes": "按许可量的八成"},
        "meter": {"serial": "SN-FUZZ-1", "intake_point_id": str(file["point"].id), "meter_type": "electromagnetic",
                  "manufacturer": "宁波水表", "dn": "100", "q3": "63", "installed_on": "2022-01-10"},
        "calibration": {"meter_id": str(file["meter"].id), "calibrated_on": "2024-01-10", "kind": "subsequent",
                        "agency": "金华市计量质量科学研究院", "certificate_no": "JL-1", "error_pct": "0.5", "passed": "1"},
        "reading": {"meter_id": str(file["meter"].id), "period": "2024-03", "volume_m3": "1200", "source": "manual"},
        "balance_test": {"tested_on": "2023-05-01", "agency": "浙江省水利河口研究院", "vf": "100", "vr": "50", "vco": "20",
                         "vd": "70", "vl": "10"},
        "inspection": {"inspected_on": "2024-05-01", "findings": "计量设施正常", "site_contact": "李海燕"},
        "rectification": {"inspection_id": str(file["inspection"].id), "requirement": "更换水表铅封",
                          "deadline": "2024-06-01"},
    }[kind]


@pytest.fixture
def file(app):
    wu = f.WaterUserFactory()
    point = f.IntakePointFactory(water_user=wu)
    return {"wu": wu, "point": point, "meter": f.MeterFactory(intake_point=point, water_user=wu),
            "inspection": f.InspectionFactory(water_user=wu, inspected_on=date(2024, 5, 1)), "admin": f.admin()}


def _reads_back(obj, sent: dict) -> None:
    """What was saved is what the database gives back (no truncation, no mangled characters)."""
    stored = {k: getattr(obj, k) for k in sent if isinstance(getattr(obj, k, None), str)}
    db.session.expire_all()
    fresh = db.session.get(type(obj), obj.id)
    assert {k: getattr(fresh, k) for k in stored} == stored


@pytest.mark.parametrize("kind", list(records.KINDS))
def test_each_record_kind_refuses_hostile_values_by_field_or_saves_them_intact(file, kind):
    base = _valid(kind, file)
    fields = sorted(base) + ["unknown_field"]

    @FUZZ
    @given(st.sampled_from(fields), hostile_text)
    def run(field, value):
        data = {**base, field: [value] if isinstance(base.get(field), list) else value}
        try:
            obj = records.create(db.session, file["admin"], kind, file["wu"], data)
        except ValidationError as err:
            assert err.errors and set(err.errors) <= set(base) | {f"note-{c}" for c in ()} | {"items"}, err.errors
            assert all(str(message) for message in err.errors.values())
            return
        _reads_back(obj, data)
        records.close(db.session, file["admin"], kind, obj, "fuzz")  # frees the serial, number, month, year

    run()


@FUZZ
@given(st.sampled_from(["file_no", "name", "uscc", "legal_representative", "contact_name", "contact_phone", "email",
                        "address", "division_code", "industry_code", "opened_on", "notes"]), hostile_text)
def test_water_user_refuses_hostile_values_by_field(app, field, value):
    from registry.domain.uscc import make_uscc
    import random

    admin = db.session.scalar(db.select(f.m.Account).limit(1)) or f.admin()
    data = {"file_no": f"YW-F{random.randrange(10**6):06d}", "name": "义乌市某某纺织有限公司",
            "uscc": make_uscc(random.Random()), "division_code": "001", "industry_code": "1713",
            "opened_on": "2020-03-01", field: value}
    try:
        wu = water_users.create(db.session, admin, data)
    except ValidationError as err:
        assert set(err.errors) <= set(data), err.errors
        return
    _reads_back(wu, data)


@pytest.mark.parametrize("reason", ["\x00", "原因\x00", "\x1b[2J", "a\x7fb"])
def test_close_reason_with_control_characters_is_refused_naming_the_field(file, reason):
    """NUL in a reason used to reach PostgreSQL (503): now a message on the reason field."""
    with pytest.raises(ValidationError) as err:
        records.close(db.session, file["admin"], "meter", file["meter"], reason)
    assert "reason" in err.value.errors and file["meter"].closed_at is None


def test_a_tampered_idempotency_key_is_ignored_not_sent_to_the_database(file):
    data = _valid("intake_point", file)
    first = records.create(db.session, file["admin"], "intake_point", file["wu"], data, idempotency_key="a\x00b")
    second = records.create(db.session, file["admin"], "intake_point", file["wu"], data, idempotency_key="a\x00b")
    assert first.id != second.id  # the key could not be stored, so it cannot match either
    assert idempotency_key("k" * 100) == "k" * 64 and idempotency_key("\x00") is None


@pytest.mark.parametrize("value", ["99999999999999999999", "2147483648", "²", "-1", "0", "1.5", "", None, True])
def test_ids_that_cannot_name_a_row_are_refused_as_a_choice(file, value):
    """A huge meter id overflowed the driver (500): now "choose a meter of this water user"."""
    data = {**_valid("reading", file), "meter_id": value}
    with pytest.raises(ValidationError) as err:
        records.create(db.session, file["admin"], "reading", file["wu"], data)
    assert "meter_id" in err.value.errors
    assert database_id(value) is None


def test_sign_in_with_a_nul_in_the_username_is_a_wrong_password(app):
    f.admin(username="admin")
    with pytest.raises(ValidationError) as err:
        accounts.authenticate(db.session, "ad\x00min", "x")
    assert "_" in err.value.errors


def test_account_profile_with_control_characters_or_a_bad_email_is_refused(app):
    admin = f.admin(username="admin")
    other = f.inspector(username="insp")
    with pytest.raises(ValidationError) as err:
        accounts.update_account(db.session, admin, other, display_name="王\x00五", email="x" * 300,
                                division_codes=["\x00"], city_wide=False)
    assert {"display_name", "email", "divisions"} <= set(err.value.errors)


def test_token_name_with_control_characters_is_refused(app):
    admin = f.admin(username="admin")
    with pytest.raises(ValidationError) as err:
        tokens.create_token(db.session, admin, admin, "ci\x00bot")
    assert "name" in err.value.errors


def test_a_second_plan_in_force_for_a_year_is_refused_on_the_year(file):
    """One plan in force per year (a voided one may be replaced: test_records); the flush of a
    duplicate used to fail (500) before the form could say so."""
    data = _valid("plan", file)
    records.create(db.session, file["admin"], "plan", file["wu"], data)
    with pytest.raises(ValidationError) as err:
        records.create(db.session, file["admin"], "plan", file["wu"], data)
    assert "year" in err.value.errors


def test_a_document_form_sent_twice_with_its_key_attaches_one_document(file, tmp_path):
    """The key of a document upload named a model the look-up did not know (KeyError: 500)."""
    from registry.services import documents

    def send():
        return documents.attach(db.session, file["admin"], file["wu"], {"title": "扫描件", "kind": "permit_scan"},
                                filename="a.pdf", content=b"%PDF-1.4\n% twice\n", upload_dir=str(tmp_path),
                                max_bytes=10**6, idempotency_key="k-doc-1")

    assert send().id == send().id
