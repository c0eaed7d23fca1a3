"""Issue 15's acceptance at the certificate: the corrected rules decide who gets one.

The files are the hand-computed rows of ``tests/services/test_rules_table.py`` (their working and
citations are there), issued for on their own evaluation day through ``certificates.issue``, which
re-scores the file under the rules in force before it checks the grade (YW-2026.1: a certificate
for grades A and B only, never for a file that is not active):

- ``renewal_pending_decision_is_no_veto``: the permit ended 30 Jun 2026, the renewal was applied for
  on 16 May 2026 = 30 Jun − 45 days, on time (取水许可和水资源费征收管理条例 第二十五条), and the
  bureau has not decided by 15 Jul 2026. The old engine read "no valid permit": the permit rule's
  veto, grade D, no certificate. Corrected: in force while undecided, 100 points, A, certified.
- ``over_the_permit_after_december_caps_in_january``: on 20 Jan 2027 the 2026 year's use is
  11 × 100 + 1,000 = 2,100 m³ against 2,000 m³ permitted, over the permit: grade capped at C.
  The old engine judged January 2027 alone (100 m³ within the pro rata share): 100 points, A,
  certified. Corrected: 95 points but capped at C, refused naming the grade.
- ``suspended_file_owes_nothing_meanwhile``: a suspended file keeps its points (its due items are
  paused) but is shown as suspended and cannot get a certificate.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import Certificate
from registry.services import certificates
from registry.services.certificates import CertificateRefused
from tests import factories as f
from tests.conftest import english
from tests.services.test_rules_table import CASES, _file

CASE = {c.id: c for c in CASES}


def _issue(case_id: str):
    case = CASE[case_id]
    wu = _file(case)
    return wu, certificates.issue(db.session, f.admin(), wu, today=case.today, rules=case.rules)


def test_a_file_the_old_engine_wrongly_graded_d_for_a_pending_renewal_is_certified(app, client):
    wu, cert = _issue("renewal_pending_decision_is_no_veto")
    assert (cert.grade, cert.score, cert.status) == ("A", 100.0, "valid")
    assert cert.issued_on == CASE["renewal_pending_decision_is_no_veto"].today
    assert cert.snapshot["evaluation"]["grade"] == "A"
    codes = {finding["code"] for row in cert.snapshot["evaluation"]["rows"] for finding in row["findings"]}
    assert "permit.renewal_pending" in codes and "permit.none_valid" not in codes
    page = client.get(f"/verify/{cert.number}?k={cert.verify_key}&lang=en")  # what the QR code opens
    assert page.status_code == 200 and 'data-state="valid"' in page.get_data(as_text=True)
    assert wu.name in page.get_data(as_text=True)


def test_a_file_the_old_engine_wrongly_graded_a_over_its_permit_after_december_is_refused(app):
    case = CASE["over_the_permit_after_december_caps_in_january"]
    wu = _file(case)
    with pytest.raises(CertificateRefused) as refused:
        certificates.issue(db.session, f.admin(), wu, today=case.today, rules=case.rules)
    message = english(refused.value.errors["_"])
    assert "graded C" in message and "95" in message  # 95 points, capped at C by the over-permit rule
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


def test_a_suspended_file_gets_no_certificate_whatever_its_points(app):
    case = CASE["suspended_file_owes_nothing_meanwhile"]
    wu = _file(case)
    with pytest.raises(CertificateRefused) as refused:
        certificates.issue(db.session, f.admin(), wu, today=case.today, rules=case.rules)
    assert "not active" in english(refused.value.errors["_"])
    assert db.session.scalar(select(func.count(Certificate.id))) == 0
