"""Certificates follow the regulation: issued for grade A/B by the bureau, numbered without gaps,
frozen when issued, revoked with a reason, revoked automatically when the file lapses."""
from __future__ import annotations

import hashlib
import threading
from datetime import date, timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from registry.domain.dates import add_months
from registry.extensions import db
from registry.models import AuditEvent, Certificate, CertificateCounter
from registry.services import Forbidden, ValidationError, certificates, documents, records
from registry.services.certificates import BatchFilters, CertificateRefused
from tests import factories as f
from tests.conftest import english
from tests.factories.certificates import TODAY, graded_file


def _issue(wu, actor=None, **kw):
    return certificates.issue(db.session, actor or f.admin(), wu, **kw)


def test_grade_a_gets_a_numbered_certificate_valid_for_twelve_months(app):
    wu = graded_file("A", name="义乌市稠城精细化工有限公司")
    admin = f.admin(display_name="王科长")
    cert = _issue(wu, admin)
    assert cert.number == f"YWZS-{TODAY.year}-000001"
    assert (cert.grade, cert.score, cert.status) == ("A", 100.0, "valid")
    assert (cert.issued_on, cert.valid_until) == (TODAY, add_months(TODAY, 12) - timedelta(days=1))
    assert cert.issued_by_id == admin.id and cert.snapshot["issued_by"]["name"] == "王科长"
    assert cert.snapshot["water_user"]["name"] == "义乌市稠城精细化工有限公司"
    assert cert.snapshot["evaluation"]["grade"] == "A" and cert.snapshot["evaluation"]["rows"]
    assert cert.snapshot["verify_url"] == f"http://127.0.0.1:5000/verify/{cert.number}?k={cert.verify_key}"
    assert len(cert.verify_key) >= 43  # 256 random bits
    stored = documents.path_for(current_app.config["UPLOAD_DIR"], cert.pdf_sha256).read_bytes()
    assert stored.startswith(b"%PDF") and hashlib.sha256(stored).hexdigest() == cert.pdf_sha256
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "Certificate")).one()
    assert (event.action, event.actor_id, event.water_user_id) == ("issue", admin.id, wu.id)


def test_grade_b_earns_one_too(app):
    assert _issue(graded_file("B")).grade == "B"


@pytest.mark.parametrize("grade", ["C", "D"])
def test_grades_c_and_d_are_refused_naming_the_grade(app, grade):
    wu = graded_file(grade)
    with pytest.raises(CertificateRefused) as refused:
        _issue(wu)
    assert f"graded {grade}" in english(refused.value.errors["_"])
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


@pytest.mark.parametrize("role", ["inspector", "enterprise"])
def test_only_the_bureau_issues(app, role):
    wu = graded_file("A")
    actor = f.inspector(divisions=("001",)) if role == "inspector" else f.enterprise(wu)
    with pytest.raises(Forbidden):
        _issue(wu, actor)


def test_numbers_run_on_within_a_year_and_restart_with_the_next(app):
    files = [graded_file("A") for _ in range(3)]
    new_year = date(TODAY.year + 1, 1, 1)
    issued = [_issue(files[0]), _issue(files[1]), _issue(files[2], today=new_year)]
    y = TODAY.year
    assert [c.number for c in issued] == [f"YWZS-{y}-000001", f"YWZS-{y}-000002", f"YWZS-{y + 1}-000001"]


def test_a_refused_issue_uses_no_number(app):
    with pytest.raises(CertificateRefused):
        _issue(graded_file("D"))
    assert _issue(graded_file("A")).number == f"YWZS-{TODAY.year}-000001"


def test_no_second_certificate_while_one_is_valid(app):
    wu = graded_file("A")
    first = _issue(wu)
    with pytest.raises(CertificateRefused) as refused:
        _issue(wu)
    assert first.number in english(refused.value.errors["_"])


def test_the_same_form_sent_twice_issues_once(app):
    wu, admin = graded_file("A"), f.admin()
    first = _issue(wu, admin, idempotency_key="k-1")
    again = _issue(wu, admin, idempotency_key="k-1")
    assert again.id == first.id and db.session.scalar(select(func.count(Certificate.id))) == 1


def test_the_snapshot_does_not_follow_later_changes(app):
    wu = graded_file("A", name="义乌市旧名称有限公司")
    cert = _issue(wu)
    wu.name = "义乌市新名称有限公司"
    db.session.commit()
    assert certificates.data_of(cert).name == "义乌市旧名称有限公司"
    assert hashlib.sha256(certificates.pdf_bytes(cert)).hexdigest() == cert.pdf_sha256


def test_a_lost_pdf_is_rendered_again_identically(app):
    cert = _issue(graded_file("A"))
    path = documents.path_for(current_app.config["UPLOAD_DIR"], cert.pdf_sha256)
    path.unlink()
    assert hashlib.sha256(certificates.pdf_bytes(cert)).hexdigest() == cert.pdf_sha256
    assert path.exists()


def test_revoking_needs_a_reason_and_is_audited(app):
    cert, admin = _issue(graded_file("A")), f.admin()
    with pytest.raises(ValidationError):
        certificates.revoke(db.session, admin, cert, "  ")
    with pytest.raises(Forbidden):
        certificates.revoke(db.session, f.inspector(city_wide=True), cert, "整改未完成")
    certificates.revoke(db.session, admin, cert, "整改未完成")
    assert (cert.status, cert.revoked_on, cert.revoked_reason) == ("revoked", TODAY, "整改未完成")
    assert certificates.status_of(cert) == "revoked"
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "Certificate")).all()
    assert sorted(events) == ["issue", "revoke"]
    with pytest.raises(ValidationError):
        certificates.revoke(db.session, admin, cert, "again")


def test_expiry_is_read_from_the_date(app):
    cert = _issue(graded_file("A"))
    assert certificates.status_of(cert, cert.valid_until) == "valid"
    assert cert.status == "valid" and certificates.status_of(cert, cert.valid_until + timedelta(days=1)) == "expired"


def test_losing_the_permit_revokes_the_certificate_at_once(app):
    wu = graded_file("A")
    cert = _issue(wu)
    records.close(db.session, f.admin(), "permit", wu.permits[0], "许可证被注销")
    db.session.refresh(cert)
    assert cert.status == "revoked" and cert.revoked_reason == certificates.AUTO_PERMIT
    assert "no water-withdrawal permit" in english(certificates.reason_text(cert))
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "revoke")).one().actor_id is None


def test_falling_to_grade_c_revokes_when_the_rule_option_is_on(app):
    from registry.domain.rules import load_rules
    from registry.services import evaluations

    wu = graded_file("A")
    cert = _issue(wu)
    inspection = f.InspectionFactory(water_user=wu, inspected_on=TODAY - timedelta(days=30))
    for _ in range(3):  # -15
        f.RectificationFactory(inspection=inspection, water_user_id=wu.id, deadline=TODAY - timedelta(days=5))
    f.IntakePointFactory(water_user=wu)  # no meter, no permit: -5 metering, -10 permit
    evaluations.refresh(db.session, load_rules(), TODAY)  # the nightly run
    db.session.commit()
    db.session.refresh(cert)
    assert wu.grade == "C" and cert.status == "revoked"
    assert english(certificates.reason_text(cert)).startswith("Revoked automatically")


def test_automatic_revocation_can_be_switched_off(app):
    app.config["CERTIFICATE_AUTO_REVOKE"] = False
    wu = graded_file("A")
    cert = _issue(wu)
    records.close(db.session, f.admin(), "permit", wu.permits[0], "许可证被注销")
    db.session.refresh(cert)
    assert cert.status == "valid"


def test_revoke_lapsed_on_its_own_reads_the_cached_grades(app):
    from registry.domain.rules import load_rules

    good, bad = graded_file("A"), graded_file("A")
    keep, lose = _issue(good), _issue(bad)
    bad.grade = "D"
    db.session.commit()
    assert certificates.revoke_lapsed(db.session, TODAY, load_rules()) == 1
    db.session.commit()
    assert (keep.status, lose.status) == ("valid", "revoked")


def test_issue_many_skips_files_that_do_not_qualify(app):
    a, c, b = graded_file("A"), graded_file("C"), graded_file("B")
    seen = []
    ids = certificates.issue_many(db.session, f.admin(), [a.id, c.id, b.id], progress=seen.append)
    certs = [db.session.get(Certificate, i) for i in ids]
    assert [c.number for c in certs] == [f"YWZS-{TODAY.year}-000001", f"YWZS-{TODAY.year}-000002"]
    assert [c.water_user_id for c in certs] == [a.id, b.id] and sum(seen) == 3


def test_batch_selection_is_scoped_and_filtered(app):
    mine, theirs = graded_file("A", division_code="001"), graded_file("B", division_code="100")
    waiting = graded_file("A", division_code="001")
    graded_file("C", division_code="001")
    certs = [_issue(mine), _issue(theirs)]
    from registry.services import evaluations
    from registry.domain.rules import load_rules

    evaluations.refresh(db.session, load_rules(), TODAY)
    db.session.commit()
    admin, inspector = f.admin(), f.inspector(divisions=("001",))
    assert certificates.batch_selection(db.session, admin, BatchFilters("valid")) == [c.id for c in certs]
    assert certificates.batch_selection(db.session, inspector, BatchFilters("valid")) == [certs[0].id]
    assert certificates.batch_selection(db.session, admin, BatchFilters("valid", grade="B")) == [certs[1].id]
    assert certificates.batch_selection(db.session, admin, BatchFilters("valid", division="100")) == [certs[1].id]
    assert certificates.batch_selection(db.session, admin, BatchFilters("missing")) == [waiting.id]


def test_concurrent_issues_take_numbers_one_to_n_without_gaps(app):
    """Eight officers at once: PostgreSQL queues them on the counter's row lock, SQLite on its
    single writer; either way the numbers are 1..8, none twice, none skipped."""
    files = [graded_file("A") for _ in range(8)]
    admin_id, ids = f.admin().id, [wu.id for wu in files]
    db.session.commit()
    barrier, errors = threading.Barrier(len(ids)), []

    def issue(wu_id):
        with app.app_context():
            try:
                from registry.models import Account, WaterUser

                actor, wu = db.session.get(Account, admin_id), db.session.get(WaterUser, wu_id)
                barrier.wait()
                certificates.issue(db.session, actor, wu)
            except Exception as err:  # noqa: BLE001 - reported below
                errors.append(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=issue, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    numbers = sorted(db.session.scalars(select(Certificate.number)))
    assert numbers == [f"YWZS-{TODAY.year}-{n:06d}" for n in range(1, len(ids) + 1)]
    assert db.session.get(CertificateCounter, TODAY.year).last_number == len(ids)
