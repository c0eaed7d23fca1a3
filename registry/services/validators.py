"""What makes each record of a file valid, beyond its types: the regulation's rules (USCC,
permit term, coordinates inside Yiwu) and the file's own consistency (a meter's intake point
belongs to the same water user, one plan a year, serials unique).

Each validator takes the session, the submitted data, the water user and the record being
edited (None when creating) and returns the cleaned values, or raises ValidationError.
"""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.domain import balance as balance_rules
from registry.domain import calibration as calib
from registry.domain.dates import add_years
from registry.domain.geo import GeoError, check_in_yiwu
from registry.domain.permits import PermitError, validate_permit_number, validate_term
from registry.domain.uscc import UsccError, normalise_uscc, validate_uscc
from registry.models import (CALIBRATION_KINDS, CHECK_RESULTS, METER_TYPES, READING_SOURCES, SOURCES, AnnualPlan,
                             Division, Inspection, IntakePoint, Meter, Permit, Reading, WaterUser)
from registry.services import rules_in_force, plausibility_context
from registry.services.checks import CONTROL_CHARS, Checker, database_id

USCC_MESSAGES = {
    "length": _l("A USCC has exactly 18 characters (GB 32100)."),
    "alphabet": _l("A USCC uses only digits and the letters ABCDEFGHJKLMNPQRTUWXY (no I, O, S, V, Z)."),
    "check": _l("The 18th character (check character) is wrong: the code is mistyped (GB 32100)."),
    "degenerate": _l("This is not a real USCC (all zeros, or a division or organisation code of zeros): "
                     "copy it from the business licence (GB 32100)."),
}
USCC_WARNINGS = {
    "org_code": _l("The organisation code inside the USCC (positions 9–17) fails its own check (GB 11714): "
                   "the code was accepted, but compare it with the business licence."),
}
PERMIT_MESSAGES = {
    "format": _l("A permit number looks like D330782S2021-0120 (D, county code, S or G, year, serial)."),
    "before_start": _l("The end of validity must be after its start."),
    "over_max_term": _l("A permit is valid for at most 10 years."),
}
GEO_MESSAGES = {
    "longitude": _l("Longitude must lie inside Yiwu (119.8–120.4° E, CGCS2000)."),
    "latitude": _l("Latitude must lie inside Yiwu (29.0–29.6° N, CGCS2000)."),
}


def _rules_in_force(session: Session):
    return rules_in_force.current(session)


def _taken(session: Session, column, value, current) -> bool:
    stmt = select(func.count()).where(column == value)
    if current is not None:
        stmt = stmt.where(column.class_.id != current.id)
    return session.execute(stmt).scalar_one() > 0


def water_user(session: Session, data: dict, wu: WaterUser | None, current: WaterUser | None) -> dict:
    c = Checker(data)
    c.pattern("file_no", r"[A-Za-z0-9\-]{3,30}", _l("A file number is 3–30 letters, digits or hyphens."), max_len=30)
    c.text("name", max_len=200)
    # Normalised once (half-width, no spaces or dashes, upper case): validated, stored and
    # checked for uniqueness in that one form.
    raw = normalise_uscc(data["uscc"]) if isinstance(data.get("uscc"), str) else data.get("uscc")
    if raw in ("", None):
        c.fail("uscc", _l("This field is required."))
    else:
        try:
            warnings = validate_uscc(str(raw))
            c.out["uscc"] = str(raw)
            # GB 11714 mismatch of the embedded organisation code: a warning, kept on the record.
            c.out["uscc_warning"] = "org_code" if "org_code" in warnings else None
        except UsccError as err:
            c.fail("uscc", USCC_MESSAGES.get(err.rule, USCC_MESSAGES["check"]))
    c.text("legal_representative", required=False, max_len=100)
    c.text("contact_name", required=False, max_len=100)
    c.pattern("contact_phone", r"[0-9+\-() ]{5,40}", _l("Enter a phone number of digits, spaces, + - ( )."),
              required=False, max_len=40)
    c.pattern("email", r"[^@\s]+@[^@\s]+\.[^@\s]+", _l("Enter an e-mail address like name@example.com."),
              required=False, max_len=200)
    c.text("address", required=False, max_len=300)
    division = c.text("division_code", max_len=3)
    if division is not None and session.get(Division, division) is None:
        c.fail("division_code", _l("Choose one of Yiwu's 14 divisions."))
    c.pattern("industry_code", r"\d{4}", _l("Enter a 4-digit GB/T 4754-2017 industry code."), max_len=4)
    c.date("opened_on", not_future=True)
    c.text("notes", required=False, max_len=2000, multiline=True)
    if c.ok("file_no") and _taken(session, WaterUser.file_no, c.out["file_no"], current):
        c.fail("file_no", _l("Another water user already has this file number."))
    if c.ok("uscc") and _taken(session, WaterUser.uscc, c.out["uscc"], current):
        c.fail("uscc", _l("Another water user already has this USCC."))
    return c.done()


def intake_point(session: Session, data: dict, wu: WaterUser, current) -> dict:
    c = Checker(data)
    c.text("name", max_len=200)
    c.choice("source", SOURCES)
    c.text("water_body", required=False, max_len=200)
    lon = c.number("longitude")
    lat = c.number("latitude")
    if lon is not None and lat is not None:
        try:
            check_in_yiwu(lon, lat)
        except GeoError as err:
            c.fail(err.field, GEO_MESSAGES.get(err.field, GEO_MESSAGES["longitude"]))
    c.text("intake_method", required=False, max_len=100)
    c.number("design_capacity_m3h", required=False)
    return c.done()


def _own(session: Session, model, ident, wu: WaterUser):
    """A record of this water user by id, or None (ids of other files are not accepted)."""
    ident = database_id(ident)
    if ident is None:
        return None
    found = session.get(model, ident)
    return found if found is not None and found.water_user_id == wu.id and found.closed_at is None else None


def permit(session: Session, data: dict, wu: WaterUser, current: Permit | None) -> dict:
    rules = _rules_in_force(session)
    c = Checker(data)
    number = c.text("number", max_len=30)
    if number is not None:
        try:
            c.out["number"] = validate_permit_number(number)
        except PermitError:
            c.fail("number", PERMIT_MESSAGES["format"])
    c.text("issuing_authority", max_len=100)
    c.date("issued_on", not_future=True)
    c.date("valid_from")
    c.date("valid_to")
    c.number("annual_volume_m3")
    c.text("purpose", required=False, max_len=200)
    c.date("renewal_applied_on", required=False, not_future=True)
    if c.ok("valid_from") and c.ok("valid_to") and c.out["valid_to"] <= c.out["valid_from"]:
        c.fail("valid_to", PERMIT_MESSAGES["before_start"])
    elif c.ok("valid_from") and c.ok("valid_to"):
        try:
            validate_term(c.out["valid_from"], c.out["valid_to"], rules)
        except PermitError as err:
            c.fail(err.field, PERMIT_MESSAGES.get(err.rule, PERMIT_MESSAGES["over_max_term"]))
    if c.ok("issued_on") and c.ok("valid_to") and c.out["issued_on"] > c.out["valid_to"]:
        c.fail("issued_on", _l("The issue date must be before the end of validity."))
    ids = data.get("intake_point_ids") or []
    points = [_own(session, IntakePoint, i, wu) for i in ids]
    if any(p is None for p in points):
        c.fail("intake_point_ids", _l("Choose intake points of this water user."))
    c.out["intake_points"] = [p for p in points if p is not None]
    if c.ok("number") and _taken(session, Permit.number, c.out["number"], current):
        c.fail("number", _l("Another permit already has this number."))
    if c.ok("number") and c.ok("valid_from") and c.ok("valid_to"):
        _one_per_source(session, c, wu, current, data.get(RENEWS_KEY))
    return c.done()


RENEWS_KEY = "__renews_id"  # set by records.renew_permit only: the permit a renewal replaces


def _one_per_source(session: Session, c: Checker, wu: WaterUser, current: Permit | None, renews_id) -> None:
    """One permit per source (S surface, G ground) in force at a time (corrections of 2026-12):
    another live permit of the same source whose validity overlaps is refused, except the one
    this permit renews or is renewed by (a renewal supersedes it from its own start)."""
    from registry.domain.due import permit_source

    source = permit_source(c.out["number"])
    stmt = select(Permit).where(Permit.water_user_id == wu.id, Permit.closed_at.is_(None),
                                Permit.revoked_on.is_(None), Permit.valid_from <= c.out["valid_to"],
                                Permit.valid_to >= c.out["valid_from"])
    if current is not None:
        stmt = stmt.where(Permit.id != current.id)
    for other in session.scalars(stmt):
        related = other.id == renews_id or (current is not None and (
            other.renews_id == current.id or current.renews_id == other.id))
        if related or permit_source(other.number) != source:
            continue
        c.fail("number", _l("This water user already holds the %(s)s permit %(n)s, valid %(a)s to %(b)s: one "
                            "permit per source; record a renewal of it instead.",
                            s=_l("surface-water") if source == "S" else _l("groundwater"), n=other.number,
                            a=other.valid_from.isoformat(), b=other.valid_to.isoformat()))
        return


def plan(session: Session, data: dict, wu: WaterUser, current: AnnualPlan | None) -> dict:
    c = Checker(data)
    year = c.number("year")
    volume = c.number("planned_volume_m3")
    c.date("approved_on", required=False, not_future=True)
    c.text("notes", required=False, max_len=2000, multiline=True)
    if year is not None:
        # A voided (closed) plan does not count: its replacement may be entered.
        stmt = select(func.count()).where(AnnualPlan.water_user_id == wu.id, AnnualPlan.year == year,
                                          AnnualPlan.closed_at.is_(None))
        if current is not None:
            stmt = stmt.where(AnnualPlan.id != current.id)
        if session.execute(stmt).scalar_one():
            c.fail("year", _l("This water user already has a plan for that year."))
    if (current is not None and volume is not None and current.breakdown
            and float(volume) != float(current.planned_volume_m3)):
        c.fail("planned_volume_m3", _l("This plan is broken down by %(b)s: change its volume with an adjustment "
                                       "(a new version with its shares and reason).",
                                       b=_l("month") if current.breakdown == "month" else _l("quarter")))
    if year is not None and volume is not None:
        permitted = _permitted_in_year(session, wu, int(year))
        if permitted is not None and volume > permitted:
            c.fail("planned_volume_m3", _l("The plan cannot exceed the permitted %(v)s m³ a year.", v=f"{permitted:,.0f}"))
    return c.done()


def _permitted_in_year(session: Session, wu: WaterUser, year: int) -> float | None:
    """The largest permitted volume on any day of the year: the sum of the permits in force
    that day, one per source (corrections of 2026-12); None with no permit in the year."""
    from registry.domain.due import max_permitted_volume
    from registry.domain.facts import PermitFact

    rows = session.execute(select(Permit.id, Permit.number, Permit.valid_from, Permit.valid_to,
                                  Permit.annual_volume_m3).where(
        Permit.water_user_id == wu.id, Permit.closed_at.is_(None), Permit.revoked_on.is_(None),
        Permit.valid_from <= date(year, 12, 31), Permit.valid_to >= date(year, 1, 1))).all()
    facts = [PermitFact(id=r[0], number=r[1], valid_from=r[2], valid_to=r[3], annual_volume_m3=r[4],
                        intake_point_ids=frozenset()) for r in rows]
    return max_permitted_volume(facts, date(year, 1, 1), date(year, 12, 31))


def meter(session: Session, data: dict, wu: WaterUser, current: Meter | None) -> dict:
    c = Checker(data)
    c.pattern("serial", r"[A-Za-z0-9\-_/.]{3,60}", _l("A serial is 3–60 letters, digits or - _ / ."), max_len=60)
    point = _own(session, IntakePoint, data.get("intake_point_id"), wu)
    if point is None:
        c.fail("intake_point_id", _l("Choose an intake point of this water user."))
    else:
        c.out["intake_point_id"] = point.id
    c.choice("meter_type", METER_TYPES)
    c.text("manufacturer", required=False, max_len=100)
    c.number("dn", required=False)
    c.number("q3", required=False)
    c.text("accuracy_class", required=False, max_len=10)
    c.date("installed_on", not_future=True)
    c.date("removed_on", required=False, not_future=True)
    c.text("telemetry_id", required=False, max_len=60)
    c.number("register_capacity_m3", required=False)
    c.number("interval_months", required=False)
    c.number("service_life_years", required=False)
    if c.ok("removed_on") and c.ok("installed_on") and c.out["removed_on"] < c.out["installed_on"]:
        c.fail("removed_on", _l("A meter cannot be removed before it was installed."))
    if c.ok("serial") and _taken(session, Meter.serial, c.out["serial"], current):
        c.fail("serial", _l("Another meter already has this serial number."))
    return c.done()


def calibration(session: Session, data: dict, wu: WaterUser, current) -> dict:
    rules = _rules_in_force(session)
    c = Checker(data)
    meter = _own(session, Meter, data.get("meter_id"), wu)
    if meter is None:
        c.fail("meter_id", _l("Choose a meter of this water user."))
        meter_ok = False
    else:
        c.out["meter_id"] = meter.id
        meter_ok = True
    on = c.date("calibrated_on", not_future=True)
    c.choice("kind", CALIBRATION_KINDS)
    c.text("agency", max_len=200)
    c.text("certificate_no", required=False, max_len=60)
    c.number("error_pct", required=False)
    c.boolean("passed")
    c.date("next_due_on", required=False)
    # A record marked passed whose measured error is beyond the rules' tolerance cannot count
    # as a verification (corrections of 2026-12): refused, so the record says what it is.
    tolerance = rules.calibration.in_place_tolerance_percent
    if (c.ok("error_pct") and c.ok("passed") and c.out.get("passed") and c.out.get("error_pct") is not None
            and abs(c.out["error_pct"]) > tolerance):
        c.fail("passed", _l("The measured error %(e)s %% is beyond the tolerance ±%(t)s %% of rules %(v)s "
                            "(JJG 162-2019, CJ/T 364): the meter did not pass; record it as failed.",
                            e=f"{c.out['error_pct']:+g}", t=f"{tolerance:g}", v=rules.version))
    if not meter_ok:
        return c.done()
    # An initial verification (首次检定) is done before installation; later ones cannot predate it.
    if on is not None and on < meter.installed_on and c.out.get("kind") != "initial":
        c.fail("calibrated_on", _l("The calibration cannot be before the meter was installed (%(d)s).",
                                   d=meter.installed_on.isoformat()))
    if c.ok("calibrated_on") and c.ok("next_due_on") and c.out["next_due_on"] is not None:
        typed = c.out["next_due_on"]
        if typed <= on:
            c.fail("next_due_on", _l("The next due date must be after the calibration date."))
        elif c.ok("kind") and c.out.get("kind") in calib.VERIFICATION_KINDS:
            # JJG 162-2019: the rules in force set the interval; a certificate may say earlier, never later.
            allowed = calib.verification_due_on(meter.meter_type, meter.dn, meter.q3, on, rules,
                                                interval_months_override=meter.interval_months)
            if allowed is not None and typed > allowed:
                months = meter.interval_months or rules.calibration.interval_months.of(meter.meter_type)
                c.fail("next_due_on", _l("The next due date can be at most %(d)s: rules %(v)s verify this meter "
                                         "every %(m)d months (JJG 162-2019). Leave it empty to have it computed.",
                                         d=allowed.isoformat(), v=rules.version, m=months))
    # Left empty, the due date is not stored: it is computed from the rules in force, so a new
    # rules version moves it (domain.calibration.verification_due_on).
    return c.done()


def reading(session: Session, data: dict, wu: WaterUser, current: Reading | None) -> dict:
    c = Checker(data)
    found = _own(session, Meter, data.get("meter_id"), wu)
    if found is None:
        c.fail("meter_id", _l("Choose a meter of this water user."))
    else:
        c.out["meter_id"] = found.id
    period = c.month("period")
    c.number("volume_m3")
    c.number("meter_index", required=False)
    c.choice("source", READING_SOURCES)
    if found is not None and period is not None:
        if period < found.installed_on.replace(day=1):
            c.fail("period", _l("The meter was not installed yet in that month."))
        elif found.removed_on is not None and period > found.removed_on:
            c.fail("meter_id", _l("The meter had been removed by then."))
        else:
            stmt = select(func.count()).where(
                Reading.meter_id == found.id, Reading.period == period, Reading.read_on.is_(None),
                Reading.status.not_in(("rejected", "check")), Reading.closed_at.is_(None))
            if current is not None:
                stmt = stmt.where(Reading.id != current.id)
            if session.execute(stmt).scalar_one():
                c.fail("period", _l("This meter already has a reading for that month."))
    if found is not None and period is not None and c.ok("volume_m3") and not c.errors:
        _plausible(session, c, found, period)
    return c.done()


def _plausible(session: Session, c: Checker, meter: Meter, period: date) -> None:
    """Plausibility (registry.domain.plausibility): a hard finding refuses the field with the
    reason; soft ones go with the reading as its flags (it is stored flagged)."""

    judged = plausibility_context.judge(session, [(0, meter.id, period, c.out["volume_m3"], c.out.get("meter_index"))],
                                        rules=_rules_in_force(session))
    hard, flags = judged[0]
    for finding in hard:
        name = "meter_index" if finding.code == "index_backwards" else "volume_m3"
        c.fail(name, plausibility_context.message(finding))
    c.out["flags"] = flags


def balance_test(session: Session, data: dict, wu: WaterUser, current) -> dict:
    rules = _rules_in_force(session)
    c = Checker(data)
    on = c.date("tested_on", not_future=True)
    c.text("agency", max_len=200)
    c.text("report_no", required=False, max_len=60)
    for field in ("vf", "vr", "vco", "vd", "vl"):
        c.number(field)
    c.date("next_due_on", required=False)
    if c.ok("tested_on") and c.ok("next_due_on") and c.out["next_due_on"] <= on:
        c.fail("next_due_on", _l("The next test must be due after this one."))
    volumes = [c.out.get(v) for v in ("vf", "vr", "vco", "vd", "vl")]
    # A test whose balance error is beyond the rules' limit is recorded as failed (shown on the
    # file, domain.balance.test_failed) and does not count: it sets no next due date.
    failed = None not in volumes and balance_rules.test_failed(*volumes, rules)
    if c.ok("tested_on") and c.out.get("next_due_on") is None and "next_due_on" not in c.errors and not failed:
        c.out["next_due_on"] = add_years(on, rules.water_balance.interval_years)  # GB/T 12452: every 5 years
    return c.done()


def inspection(session: Session, data: dict, wu: WaterUser, current: Inspection | None) -> dict:
    c = Checker(data)
    c.date("inspected_on", not_future=True)
    c.text("findings", required=False, max_len=4000, multiline=True)
    c.text("site_contact", required=False, max_len=100)
    items = []
    seen = set()
    for i, item in enumerate(data.get("items") or []):
        code = item.get("code") if isinstance(item, dict) else None
        if code not in CHECKLIST_CODES or code in seen:
            c.fail("items", _l("Unknown or repeated checklist item."))
            continue
        seen.add(code)
        if item.get("result") not in CHECK_RESULTS:
            c.fail(f"item-{code}", _l("Choose OK, problem or N/A."))
            continue
        note = str(item.get("note") or "").strip()
        if len(note) > 1000:
            c.fail(f"note-{code}", _l("At most %(n)d characters.", n=1000))
            continue
        if CONTROL_CHARS.search(note):
            c.fail(f"note-{code}", _l("Contains control characters."))
            continue
        if item["result"] == "problem" and not note:
            c.fail(f"note-{code}", _l("Describe the problem."))
            continue
        items.append({"code": code, "result": item["result"], "note": note or None, "position": i})
    c.out["items"] = items
    return c.done()


def rectification(session: Session, data: dict, wu: WaterUser, current) -> dict:
    c = Checker(data)
    inspection = _own(session, Inspection, data.get("inspection_id"), wu)
    if inspection is None:
        c.fail("inspection_id", _l("Choose an inspection of this water user."))
    else:
        c.out["inspection_id"] = inspection.id
    c.text("requirement", max_len=2000, multiline=True)
    deadline = c.date("deadline")
    if inspection is not None and deadline is not None and deadline < inspection.inspected_on:
        c.fail("deadline", _l("The deadline cannot be before the inspection (%(d)s).",
                              d=inspection.inspected_on.isoformat()))
    c.text("response", required=False, max_len=4000, multiline=True)
    c.date("responded_on", required=False, not_future=True)
    c.choice("status", ("open", "answered", "verified"), required=False)
    if c.out.get("status") is None:
        c.out.pop("status", None)  # absent, or refused by choice() (its error is kept)
    if c.out.get("status") == "verified":
        c.out["verified_on"] = c.today
    return c.done()


# The site checklist (ux.md / issue 7): codes are stable, labels translated in the UI.
CHECKLIST_CODES = ("permit_displayed", "meter_present_sealed", "meter_reading", "calibration_label",
                   "intake_matches_permit", "online_device_working", "records_kept")
