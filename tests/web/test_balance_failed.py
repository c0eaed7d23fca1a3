"""A water-balance test whose balance error is beyond the rules' limit (issue 15 item 9): it is
recorded, shown as failed with the reason, sets no next due date and does not count."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from registry.extensions import db
from registry.models import BalanceTest, DueItem
from tests import factories as f


def test_a_test_out_of_balance_is_recorded_as_failed_and_does_not_count(client, auth):
    f.admin(username="admin")
    wu = f.WaterUserFactory(industry_code="1713", opened_on=date(2020, 3, 1))
    db.session.commit()
    auth.login("admin")
    # |100,000 − (20,000 + 67,000 + 3,000)| ÷ 100,000 = 10 % > 5 %.
    response = client.post(f"/water-users/{wu.id}/balance-tests/new", data={
        "tested_on": "2025-06-01", "agency": "浙江节水技术服务中心", "vf": "100000", "vr": "150000",
        "vco": "20000", "vd": "67000", "vl": "3000"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    test = db.session.execute(select(BalanceTest)).scalar_one()
    assert test.next_due_on is None  # a failed test sets no next date
    page = client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True)
    assert "above the 5 % limit" in page and "Failed: does not count as a water-balance test" in page
    # Never tested in effect: due 12 months after the opening (1 Mar 2020), overdue.
    item = db.session.scalars(select(DueItem).where(DueItem.water_user_id == wu.id,
                                                    DueItem.kind == "balance_test")).one()
    assert (item.status, item.due_on.isoformat()) == ("overdue", "2021-03-01")
