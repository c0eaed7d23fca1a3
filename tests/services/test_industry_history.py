"""The industry history (issue 15 item 9): a change of industry into one that must test its water
balance (GB/T 12452-2022) is kept, and the first test falls due 12 months after the change."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.domain import due
from registry.domain.dates import add_months
from registry.models import DueItem, IndustryPeriod
from registry.services import audit, evaluations, rules_versions, water_users
from tests import factories as f


def test_a_change_into_a_required_industry_starts_the_first_test_clock(db_session):
    admin = f.admin()
    wu = f.WaterUserFactory(industry_code="3311", opened_on=date(2020, 3, 1))  # needs no test
    db_session.commit()
    data = dict(audit.snapshot(wu))
    data.update(industry_code="1713", opened_on=wu.opened_on)  # into printing & dyeing
    water_users.update(db_session, admin, wu, data, expected_version=None)
    today = bureau_today()
    history = db_session.scalars(select(IndustryPeriod).where(IndustryPeriod.water_user_id == wu.id)
                                 .order_by(IndustryPeriod.since, IndustryPeriod.id)).all()
    assert [(p.since, p.industry_code) for p in history] == [(date(2020, 3, 1), "3311"), (today, "1713")]
    evaluations.refresh_one(db_session, wu.id)
    db_session.commit()
    (facts,) = evaluations.iter_facts(db_session, today, [wu.id])
    item = next(i for i in due.due_items(facts, today, rules_versions.current(db_session)) if i.kind == "balance_test")
    assert item.due_on == add_months(today, 12)  # not 1 Mar 2021 (the opening + 12 months)
    assert not db_session.scalars(select(DueItem).where(DueItem.water_user_id == wu.id,
                                                        DueItem.kind == "balance_test")).all()  # not due soon


def test_any_write_of_the_industry_keeps_the_history(db_session):
    # The form, the API and an import all write WaterUser.industry_code: the flush keeps it.
    wu = f.WaterUserFactory(industry_code="1713", opened_on=date(2021, 5, 1))
    db_session.commit()
    wu.industry_code = "2221"
    db_session.commit()
    wu.industry_code = "2221"  # the same again: no change, no row
    db_session.commit()
    rows = [(p.since, p.industry_code) for p in wu.industry_history]
    assert rows == [(date(2021, 5, 1), "1713"), (bureau_today(), "2221")]
