"""到期事项: what falls due and when, rules YW-2026.1, on TODAY (15 July 2026)."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from registry.domain.due import DueItem, due_items, worst_status
from registry.domain.facts import (
    BalanceTestFact,
    FileFacts,
    IntakePointFact,
    MeterFact,
    MonthlyReadingFact,
    PermitFact,
    PlanFact,
    RectificationFact,
)
from registry.domain.rules import load_rules

RULES = load_rules("YW-2026.1")
TODAY = date(2026, 7, 15)


def permit(id=1, *, valid_to=date(2028, 12, 31), volume=73_000.0, points=(1,), **kw):
    return PermitFact(id=id, number=f"D330782G2024-{id:04d}",
                      valid_from=kw.pop("valid_from", date(2024, 1, 1)), valid_to=valid_to,
                      annual_volume_m3=volume, intake_point_ids=frozenset(points), **kw)


def meter(id=1, **kw):
    kw = {"meter_type": "electromagnetic", "dn": 100, "q3": None,
          "installed_on": date(2022, 1, 1), "last_calibrated_on": date(2025, 3, 1),
          "last_passed": True, **kw}
    return MeterFact(id=id, serial=f"M{id}", intake_point_id=1, **kw)


JUNE = MonthlyReadingFact(date(2026, 6, 1), 200.0, date(2026, 7, 5))

# A file with nothing due soon: permit to 2028, meter due March 2027, plan filed, June read,
# not an industry that must run water-balance tests.
BASE = FileFacts(
    water_user_id=1,
    opened_on=date(2020, 1, 1),
    industry_code="1711",
    intake_points=(IntakePointFact(1, "1号井"),),
    permits=(permit(),),
    plans=(PlanFact(1, 2026, 36_500.0),),
    meters=(meter(),),
    monthly_readings=(JUNE,),
)


def file(**changes) -> FileFacts:
    return replace(BASE, **changes)


def items(facts=BASE, today=TODAY, **kw) -> list[DueItem]:
    return due_items(facts, today, RULES, **kw)


def only(kind, facts=BASE, today=TODAY, **kw) -> DueItem:
    (item,) = [i for i in items(facts, today, **kw) if i.kind == kind]
    return item


def kinds(facts=BASE, today=TODAY) -> list[str]:
    return [i.kind for i in items(facts, today)]


def test_baseline_file_has_nothing_due_soon():
    assert worst_status(items()) == "ok"
    assert sorted(kinds()) == ["annual_plan", "calibration", "monthly_readings",
                               "permit_renewal"]


# --- permit renewal -------------------------------------------------------------------


@pytest.mark.parametrize(("days_left", "status"), [(46, "ok"), (45, "due_soon"), (0, "due_soon")])
def test_permit_renewal_due_soon_within_45_days(days_left, status):
    item = only("permit_renewal", file(permits=(permit(valid_to=TODAY + timedelta(days_left)),)))
    assert (item.status, item.due_on, item.record) == (status, TODAY + timedelta(days_left),
                                                       ("permit", 1))
    assert item.params["days_left"] == days_left


def test_permit_renewal_applied_for_in_time_is_ok():
    # Ends 25 Jul 2026; art. 25: apply by 25 Jul − 45 days = 10 Jun 2026 (that day included).
    applied = permit(valid_to=TODAY + timedelta(10), renewal_applied_on=date(2026, 6, 10))
    item = only("permit_renewal", file(permits=(applied,)))
    assert item.status == "ok"
    assert item.params["renewal_applied_on"] == "2026-06-10"
    late = permit(valid_to=TODAY + timedelta(10), renewal_applied_on=date(2026, 6, 11))
    assert only("permit_renewal", file(permits=(late,))).status == "due_soon"


def test_renewal_applied_in_time_and_undecided_at_expiry_is_pending_not_expired():
    # Ended 30 Jun 2026, applied 16 May (= 30 Jun − 45 days): the bureau's decision is due.
    pending = permit(valid_to=date(2026, 6, 30), renewal_applied_on=date(2026, 5, 16))
    item = only("permit_renewal", file(permits=(pending,)))
    assert (item.status, item.due_on, item.params["pending_decision"]) == ("due_soon", None, True)
    late = permit(valid_to=date(2026, 6, 30), renewal_applied_on=date(2026, 5, 17))
    assert only("permit_renewal", file(permits=(late,))).status == "overdue"


def test_renewal_entered_early_does_not_end_the_old_permit():
    # Renewal entered now, starting 1 Jan 2027: the old permit (to 31 Dec 2026) is still
    # in force on 15 Jul 2026, and with a renewal granted nothing is left to apply for.
    old = permit(valid_to=date(2026, 12, 31), renewal_starts_on=date(2027, 1, 1))
    assert only("permit_renewal", file(permits=(old,))).status == "ok"
    started = permit(valid_to=date(2026, 12, 31), renewal_starts_on=date(2026, 7, 15))
    assert "permit_renewal" not in kinds(file(permits=(started,)))  # superseded from its start


def test_expired_permit_not_renewed_is_overdue():
    item = only("permit_renewal", file(permits=(permit(valid_to=date(2026, 7, 14)),)))
    assert (item.status, item.due_on) == ("overdue", date(2026, 7, 14))


def test_expired_permit_replaced_by_its_renewal_is_history():
    old = permit(1, valid_to=date(2026, 6, 30), superseded=True)
    new = permit(2, valid_from=date(2026, 7, 1), valid_to=date(2031, 6, 30))
    (item,) = [i for i in items(file(permits=(old, new))) if i.kind == "permit_renewal"]
    assert item.record == ("permit", 2) and item.status == "ok"


def test_expired_permit_whose_points_another_permit_covers_is_not_due():
    old = permit(1, valid_to=date(2025, 12, 31))
    assert [i.record for i in items(file(permits=(old, permit(2)))) if
            i.kind == "permit_renewal"] == [("permit", 2)]


def test_revoked_permit_is_not_a_renewal_duty():
    revoked = permit(revoked_on=date(2026, 1, 1))
    assert "permit_renewal" not in kinds(file(permits=(revoked,)))


def test_renewal_window_is_a_parameter():
    facts = file(permits=(permit(valid_to=TODAY + timedelta(60)),))
    assert only("permit_renewal", facts).status == "ok"
    assert only("permit_renewal", facts, soon_days={"permit_renewal": 90}).status == "due_soon"


# --- meters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calibrated_on", "status"),
    [
        (date(2024, 8, 15), "ok"),  # due 15 Aug 2026: 31 days left
        (date(2024, 8, 14), "due_soon"),  # 30 days left
        (date(2024, 7, 15), "due_soon"),  # due today
        (date(2024, 7, 14), "overdue"),  # due yesterday
    ],
)
def test_calibration_due_soon_within_30_days(calibrated_on, status):
    item = only("calibration", file(meters=(meter(last_calibrated_on=calibrated_on),)))
    assert item.status == status
    assert item.record == ("meter", 1)


def test_calibration_due_date_is_the_rules_not_a_later_certificate_date():
    # Verified 1 Jun 2024 + 24 months (rules in force) = 1 Jun 2026; the certificate's
    # 1 Dec 2026 is later and cannot stretch it; an earlier one (1 Mar 2026) holds.
    cert = meter(last_calibrated_on=date(2024, 6, 1), last_next_due_on=date(2026, 12, 1))
    assert only("calibration", file(meters=(cert,))).due_on == date(2026, 6, 1)
    earlier = meter(last_calibrated_on=date(2024, 6, 1), last_next_due_on=date(2026, 3, 1))
    assert only("calibration", file(meters=(earlier,))).due_on == date(2026, 3, 1)


def test_failed_calibration_is_overdue_at_once():
    failed = meter(last_calibrated_on=date(2026, 7, 1), last_passed=False, last_calibration_id=4)
    item = only("calibration", file(meters=(failed,)))
    assert (item.status, item.due_on) == ("overdue", date(2026, 7, 1))
    assert item.params["failed"] and item.params["calibration_id"] == 4


def test_small_mechanical_meter_has_a_service_life_not_a_calibration():
    # First verified 10 Aug 2020 (installed 1 Sep 2020): 6 years from the verification
    # = 10 Aug 2026, 26 days after 15 Jul 2026: due soon (30-day window).
    small = meter(meter_type="mechanical", dn=20, q3=4.0, installed_on=date(2020, 9, 1),
                  last_calibrated_on=date(2020, 8, 10), last_kind="initial",
                  first_verified_on=date(2020, 8, 10))
    facts = file(meters=(small,))
    assert "calibration" not in kinds(facts)
    item = only("service_life", facts)
    assert (item.status, item.due_on) == ("due_soon", date(2026, 8, 10))


def test_meter_never_verified_is_overdue_from_installation():
    # No verification on record: unverified (corrections of 2026-12), dated installation;
    # its service life counts from installation: 2020-08-10 + 6 years.
    small = meter(meter_type="mechanical", dn=20, q3=4.0, installed_on=date(2020, 8, 10),
                  last_calibrated_on=None, last_passed=None)
    facts = file(meters=(small,))
    item = only("calibration", facts)
    assert (item.status, item.due_on, item.params["fault"]) == (
        "overdue", date(2020, 8, 10), "never_verified")
    assert only("service_life", facts).due_on == date(2026, 8, 10)


def test_removed_meter_has_nothing_due():
    gone = meter(removed_on=date(2026, 1, 1), last_calibrated_on=date(2020, 1, 1))
    assert "calibration" not in kinds(file(meters=(gone,)))


# --- water-balance test, plan, readings, rectifications ---------------------------------


def test_balance_test_due_5_years_after_the_last():
    facts = file(industry_code="2614", balance_tests=(BalanceTestFact(3, date(2021, 7, 14)),))
    item = only("balance_test", facts)
    assert (item.status, item.due_on, item.record) == ("overdue", date(2026, 7, 14),
                                                       ("balance_test", 3))


def test_balance_test_due_soon_within_90_days_by_default():
    facts = file(industry_code="2614", balance_tests=(BalanceTestFact(3, date(2021, 10, 13)),))
    assert only("balance_test", facts).status == "due_soon"  # due 13 Oct: 90 days


def test_never_tested_balance_is_due_12_months_after_opening():
    facts = file(industry_code="2614", opened_on=date(2026, 1, 20))
    item = only("balance_test", facts)
    assert (item.status, item.due_on, item.record) == ("ok", date(2027, 1, 20), None)


def test_balance_test_not_listed_outside_the_required_industries():
    assert "balance_test" not in kinds()


def test_missing_plan_of_this_year_is_overdue_when_required():
    item = only("annual_plan", file(plans=(PlanFact(1, 2025, 36_500.0),)))
    assert (item.status, item.params["year"]) == ("overdue", 2026)


def test_plan_not_listed_below_3000_m3():
    assert "annual_plan" not in kinds(file(permits=(permit(volume=2_999.0),), plans=()))


@pytest.mark.parametrize(("today", "status"), [(date(2026, 7, 10), "due_soon"),
                                                (date(2026, 7, 11), "overdue")])
def test_last_months_reading_overdue_after_the_10th(today, status):
    item = only("monthly_readings", file(monthly_readings=()), today=today)
    assert (item.status, item.due_on, item.record) == (status, date(2026, 7, 10),
                                                       ("reading_month", 202606))


def test_last_months_reading_accepted_is_ok():
    assert only("monthly_readings").status == "ok"


def test_no_readings_due_without_a_meter_in_service_or_before_the_file_opened():
    assert "monthly_readings" not in kinds(file(meters=(), monthly_readings=()))
    assert "monthly_readings" not in kinds(file(opened_on=date(2026, 7, 2), monthly_readings=()))


@pytest.mark.parametrize(
    ("deadline", "status"),
    [(date(2026, 7, 14), "overdue"), (date(2026, 7, 22), "due_soon"), (date(2026, 7, 23), "ok")],
)
def test_rectification_due_by_its_deadline(deadline, status):
    facts = file(rectifications=(RectificationFact(5, 50, deadline, "answered"),))
    item = only("rectification", facts)
    assert (item.status, item.record) == (status, ("rectification", 5))


def test_verified_rectification_is_done():
    done = RectificationFact(5, 50, date(2026, 1, 1), "verified")
    assert "rectification" not in kinds(file(rectifications=(done,)))


# --- order and summary --------------------------------------------------------------------


def test_most_urgent_first():
    facts = file(
        monthly_readings=(),
        permits=(permit(valid_to=TODAY + timedelta(20)),),
        rectifications=(RectificationFact(1, 9, date(2026, 7, 1), "open"),
                        RectificationFact(2, 9, date(2026, 6, 1), "open")),
    )
    order = [(i.status, i.kind, i.due_on) for i in items(facts)]
    assert order == [
        ("overdue", "rectification", date(2026, 6, 1)),
        ("overdue", "rectification", date(2026, 7, 1)),
        ("overdue", "monthly_readings", date(2026, 7, 10)),
        ("due_soon", "permit_renewal", date(2026, 8, 4)),
        ("ok", "annual_plan", date(2026, 1, 1)),
        ("ok", "calibration", date(2027, 3, 1)),
    ]
    assert worst_status(items(facts)) == "overdue"


def test_worst_status():
    item = DueItem("calibration", "due_soon", TODAY, None, {})
    assert worst_status([]) == "ok"
    assert worst_status([replace(item, status="ok"), item]) == "due_soon"


def test_one_soon_window_for_every_kind():
    facts = file(meters=(meter(last_calibrated_on=date(2024, 9, 1)),))  # due in 48 days
    assert only("calibration", facts).status == "ok"
    assert only("calibration", facts, soon_days=60).status == "due_soon"


def test_unknown_kind_in_soon_days_is_an_error():
    with pytest.raises(KeyError):
        items(soon_days={"calibrations": 10})


def test_rectification_answered_in_time_is_the_inspectors_wait_not_overdue():
    # Deadline 1 Jul 2026, answered 28 Jun, judged 15 Jul: due soon for the inspector,
    # undated; answered 2 Jul (late): overdue, dated the deadline.
    on_time = RectificationFact(id=1, inspection_id=9, deadline=date(2026, 7, 1), status="answered",
                                responded_on=date(2026, 6, 28))
    item = only("rectification", file(rectifications=(on_time,)))
    assert (item.status, item.due_on) == ("due_soon", None)
    assert item.params["awaiting_verification"] and item.params["responded_on"] == "2026-06-28"
    late = replace(on_time, responded_on=date(2026, 7, 2))
    item = only("rectification", file(rectifications=(late,)))
    assert (item.status, item.due_on) == ("overdue", date(2026, 7, 1))


def test_the_permitted_volume_is_the_sum_over_sources():
    from registry.domain.due import max_permitted_volume, permitted_volume_among

    s = permit(1, volume=6_000.0)  # D330782G2024-0001 (the builder's numbers are G)
    g = PermitFact(id=2, number="D330782S2024-0002", valid_from=date(2026, 4, 1), valid_to=date(2030, 3, 31),
                   annual_volume_m3=5_000.0, intake_point_ids=frozenset())
    assert permitted_volume_among([s, g]) == 11_000.0  # 6,000 + 5,000
    twin = permit(3, volume=4_000.0)  # a second G permit: of one source, the larger counts
    assert permitted_volume_among([s, twin, g]) == 11_000.0
    # 2026: G 6,000 all year, S 5,000 from April: the most on any day is 11,000.
    assert max_permitted_volume([s, g], date(2026, 1, 1), date(2026, 3, 31)) == 6_000.0
    assert max_permitted_volume([s, g], date(2026, 1, 1), date(2026, 12, 31)) == 11_000.0
    assert max_permitted_volume([g], date(2025, 1, 1), date(2025, 12, 31)) is None
