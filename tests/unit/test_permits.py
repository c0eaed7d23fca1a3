"""取水许可证: number format, term (≤ 10 years) and status (renewal window 45 days)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.domain.permits import (
    PERMIT_NUMBER_RE,
    PERMIT_STATUSES,
    PermitError,
    days_to_expiry,
    is_yiwu,
    parse_permit_number,
    permit_status,
    reminder_step,
    validate_permit_number,
    validate_term,
)
from registry.domain.rules import load_rules

RULES = load_rules("YW-2026.1")
FROM, TO = date(2021, 7, 1), date(2026, 6, 30)


def status(today, **kwargs):
    return permit_status(FROM, TO, today, rules=RULES, **kwargs)


def test_yiwu_surface_water_permit_number():
    assert PERMIT_NUMBER_RE.fullmatch("D330782S2021-0120")
    assert validate_permit_number("D330782S2021-0120") == "D330782S2021-0120"
    number = parse_permit_number("D330782S2021-0120")
    assert (number.county, number.source, number.year, number.serial) == (
        "330782",
        "surface",
        2021,
        "0120",
    )
    assert number.is_yiwu


def test_ground_water_permit_from_another_county_is_valid_but_not_yiwu():
    assert parse_permit_number("D330783G2019-0007").source == "ground"
    assert not is_yiwu("D330783G2019-0007")
    assert is_yiwu("D330782G2019-0007")


def test_permit_number_is_normalised():
    assert validate_permit_number(" d330782s2021-0120 ") == "D330782S2021-0120"
    assert validate_permit_number("Ｄ３３０７８２Ｓ２０２１－０１２０") == "D330782S2021-0120"


@pytest.mark.parametrize(
    "number",
    [
        "",
        "330782S2021-0120",  # no D
        "D330782X2021-0120",  # source neither S nor G
        "D33078S2021-0120",  # 5-digit county
        "D330782S21-0120",  # 2-digit year
        "D330782S2021-120",  # 3-digit serial
        "D330782S2021_0120",
        "D330782S2021-01200",
    ],
)
def test_malformed_permit_numbers_are_rejected(number):
    with pytest.raises(PermitError) as caught:
        validate_permit_number(number)
    assert (caught.value.field, caught.value.rule) == ("number", "format")


@pytest.mark.parametrize(
    "valid_to",
    [date(2026, 6, 30), date(2031, 6, 30), date(2031, 7, 1), date(2021, 7, 1)],
)
def test_term_up_to_10_years_is_accepted(valid_to):
    validate_term(FROM, valid_to, RULES)


def test_term_over_10_years_is_rejected():
    with pytest.raises(PermitError) as caught:
        validate_term(FROM, date(2031, 7, 2), RULES)
    assert (caught.value.field, caught.value.rule) == ("valid_to", "over_max_term")


def test_term_ending_before_it_starts_is_rejected():
    with pytest.raises(PermitError) as caught:
        validate_term(FROM, date(2021, 6, 30), RULES)
    assert (caught.value.field, caught.value.rule) == ("valid_to", "before_start")


def test_permit_renewal_due_45_days_before_expiry():
    assert TO - date(2026, 5, 16) == timedelta(days=45)
    assert status(date(2026, 5, 15)) == "valid"  # 46 days before
    assert status(date(2026, 5, 16)) == "renewal_due"  # 45 days before
    assert status(TO) == "renewal_due"  # last valid day


def test_permit_expired_the_day_after_valid_to():
    assert status(date(2026, 7, 1)) == "expired"


def test_permit_not_yet_valid_before_valid_from():
    assert status(date(2021, 6, 30)) == "not_yet_valid"
    assert status(FROM) == "valid"


def test_revoked_permit_from_the_revocation_date():
    assert status(date(2023, 1, 9), revoked_on=date(2023, 1, 10)) == "valid"
    assert status(date(2023, 1, 10), revoked_on=date(2023, 1, 10)) == "revoked"
    assert status(date(2023, 1, 10), revoked_on=date(2023, 1, 10), superseded=True) == "revoked"


def test_superseded_permit_stays_superseded_after_expiry():
    assert status(date(2026, 6, 1), superseded=True) == "superseded"
    assert status(date(2027, 1, 1), superseded=True) == "superseded"


def test_days_to_expiry():
    assert days_to_expiry(TO, TO) == 0
    assert days_to_expiry(TO, date(2026, 6, 1)) == 29
    assert days_to_expiry(TO, date(2026, 7, 2)) == -2


@pytest.mark.parametrize(
    ("days_left", "step"),
    [(91, None), (90, 90), (46, 90), (45, 45), (16, 45), (15, 15), (0, 15), (-1, None)],
)
def test_reminders_at_90_45_and_15_days(days_left, step):
    assert reminder_step(TO, TO - timedelta(days=days_left), RULES) == step


@given(st.dates(min_value=date(2015, 1, 1), max_value=date(2040, 12, 31)))
def test_status_follows_the_calendar(today):
    result = status(today)
    assert result in PERMIT_STATUSES
    if today < FROM:
        assert result == "not_yet_valid"
    elif today > TO:
        assert result == "expired"
    else:
        assert result == ("renewal_due" if (TO - today).days <= 45 else "valid")
