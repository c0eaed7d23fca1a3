"""Demo data is deterministic, realistic (valid codes, every situation the bureau meets) and
creates the demo accounts of spec.md."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from registry.demo import generate, seed_accounts
from registry.domain.permits import validate_permit_number
from registry.domain.uscc import validate_uscc
from registry.extensions import db
from registry.models import Account, Meter, Permit, WaterUser
from registry.services.file_view import load_file

TODAY = date(2026, 11, 25)


def _fingerprint():
    return [(w.file_no, w.name, w.uscc, w.division_code) for w in db.session.scalars(select(WaterUser).order_by(WaterUser.id))]


def test_same_seed_same_registry(app):
    generate(db.session, users=30, seed=7, today=TODAY)
    first = _fingerprint()
    for table in ("audit_events", "checklist_items", "rectifications", "inspections", "readings", "calibrations", "meters",
                  "permit_intake_points", "annual_plans", "balance_tests"):
        db.session.execute(db.text(f"DELETE FROM {table}"))
    db.session.execute(db.text("UPDATE permits SET renews_id = NULL"))
    for table in ("permits", "intake_points", "water_user_name_bigrams", "water_users"):
        db.session.execute(db.text(f"DELETE FROM {table}"))
    db.session.commit()
    generate(db.session, users=30, seed=7, today=TODAY)
    assert _fingerprint() == first


def test_demo_files_are_valid_and_varied(app):
    counts = generate(db.session, users=120, seed=2026, today=TODAY, chunk=50)
    assert counts.water_users == 120
    for wu in db.session.scalars(select(WaterUser)):
        validate_uscc(wu.uscc)
    numbers = list(db.session.scalars(select(Permit.number)))
    assert len(numbers) == len(set(numbers))
    for number in numbers:
        validate_permit_number(number)
    divisions = db.session.execute(select(func.count(func.distinct(WaterUser.division_code)))).scalar_one()
    assert divisions == 14
    statuses = set()
    admin = seed_accounts(db.session, "demo", ["YW-000001", "YW-000002"]) and db.session.execute(
        select(Account).where(Account.username == "demo-admin")).scalar_one()
    for wu_id in db.session.scalars(select(WaterUser.id).limit(120)):
        view = load_file(db.session, admin, wu_id, today=TODAY)
        statuses |= {(c.kind, c.status) for c in view.chips}
    assert ("permit", "due_soon") in statuses and ("permit", "overdue") in statuses
    assert ("calibration", "overdue") in statuses and ("readings", "overdue") in statuses
    assert ("balance", "overdue") in statuses
    assert db.session.execute(select(func.count()).select_from(Meter)).scalar_one() > 100


def test_more_demo_data_with_the_same_seed_adds_files_with_their_own_codes(app):
    # The same seed draws the same codes again; the unique code (统一社会信用代码) must not stop the run.
    generate(db.session, users=20, seed=7, today=TODAY)
    generate(db.session, users=20, seed=7, today=TODAY)
    codes = list(db.session.scalars(select(WaterUser.uscc)))
    assert len(codes) == len(set(codes)) == 40
    for code in codes:
        validate_uscc(code)


def test_demo_accounts_follow_the_spec(app):
    result = app.test_cli_runner().invoke(args=["registry", "demo-data", "--users", "5", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "demo login: demo-admin / demo" in result.output and "users/s" in result.output
    accounts = {a.username: a for a in db.session.scalars(select(Account))}
    assert accounts["demo-inspector"].city_wide and not accounts["demo-admin"].must_change_password
    assert [w.file_no for w in accounts["demo-enterprise"].water_users] == ["YW-000001"]
    assert [w.file_no for w in accounts["demo-enterprise2"].water_users] == ["YW-000002"]
    again = app.test_cli_runner().invoke(args=["registry", "demo-data", "--users", "5", "--if-empty"])
    assert "no demo data added" in again.output
