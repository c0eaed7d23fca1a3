"""到期事项 (what falls due, and when) for one file, and the due dates the score relies on.

``due_items(facts, today, rules)`` lists each dated duty of a water user with a status that
is computed on ``today``, never stored: ``overdue`` (the due date has passed), ``due_soon``
(within the kind's soon window, inclusive) or ``ok``. A due date is the last day on which the
duty is still met (a permit's last valid day, a meter's last verified day ...), so the day
after it is overdue. Items come most urgent first: overdue before due_soon before ok,
then the earlier due date first.

Kinds, and when an item exists:

================ ==================================================================
kind             item
================ ==================================================================
permit_renewal   one per valid permit (status valid / renewal_due), due on ``valid_to``:
                 ``ok`` once the renewal was applied for in time (``renewal_applied_on`` ≤
                 today and ≤ 45 days before expiry, art. 25; a late one does not count),
                 ``due_soon`` and undated while a renewal applied in time awaits the
                 bureau's decision past expiry (``renewal_pending``,
                 ``params["pending_decision"]``),
                 else ``due_soon`` within the soon window (default: the rules'
                 ``permit.renewal_window_days``, 45). One per expired permit, neither
                 revoked nor superseded, not replaced by a valid permit covering all of
                 its intake points still on file: ``overdue``.
calibration      one per in-service meter with a verification due date (computed from
                 the latest verification by the rules in force; the certificate's
                 ``last_next_due_on`` only when earlier), or with no verification on
                 record, or whose latest verification failed or was beyond the
                 tolerance (``overdue``, dated that verification, else installation;
                 ``params["fault"]`` says which).
service_life     one per in-service meter with a service life (JJG 162-2019 small and
                 medium water meters of the rules' types, or a per-meter override),
                 counted from the first verification where known, else installation.
balance_test     when the industry must test (GB/T 12452-2022, seed task 34), due on
                 :func:`balance_test_due_on`; record: the last test, if any.
annual_plan      when a plan is required (annual permitted volume ≥ the rules'
                 ``plan_required_m3_per_year``) and this year is after the opening year
                 (:func:`plan_required_in`): ``ok`` with this year's plan, else
                 ``overdue``, dated 1 January (the rules give no later deadline).
monthly_readings only for a file with a meter in service today whose history (opening, and
                 first meter installed, :func:`history_starts_on`) starts no later than
                 last month: due on the rules' due day of this month; ``ok`` once
                 last month has an accepted reading, else ``due_soon`` up to the due day
                 and ``overdue`` after it.
rectification    one per rectification not verified, due on its deadline; one answered
                 on or before its deadline (:func:`awaiting_verification`) is the
                 inspector's wait instead: ``due_soon``, undated,
                 ``params["awaiting_verification"]``.
================ ==================================================================

A suspended file has no item at all (:func:`is_paused`): its duties are paused.

Soon windows (days before the due date, inclusive): :data:`DEFAULT_SOON_DAYS`, the permit
renewal window and the readings due day from the rules. ``soon_days`` overrides them: an
int for every kind, or a mapping ``{kind: days}`` for some.

The helpers below (valid permits, the annual permitted volume, meter and balance-test due
dates) are shared with :mod:`registry.domain.scoring`, so a due list and a score never
disagree about a date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from registry.domain import balance, calibration, permits
from registry.domain.dates import add_months, month_start, months_between
from registry.domain.facts import (
    BalanceTestFact,
    FileFacts,
    MeterFact,
    PermitFact,
    PlanFact,
    RectificationFact,
)
from registry.domain.rules import Rules

DUE_KINDS = (
    "permit_renewal",
    "calibration",
    "service_life",
    "balance_test",
    "annual_plan",
    "monthly_readings",
    "rectification",
)
DUE_STATUSES = ("overdue", "due_soon", "ok")  # most urgent first
VALID_PERMIT_STATUSES = ("valid", "renewal_due", "renewal_pending")

# Our defaults (no rules key exists for them): a meter needs an agency visit booked a month
# ahead; a water-balance test (GB/T 12452-2022) needs an agency and a test period, so a
# quarter; a rectification deadline is usually weeks away, so a week's warning.
DEFAULT_SOON_DAYS: Mapping[str, int] = {
    "calibration": 30,
    "service_life": 30,
    "balance_test": 90,
    "rectification": 7,
}


@dataclass(frozen=True)
class DueItem:
    """One dated duty. ``record`` is ``(type, id)`` as in scoring findings, or None."""

    kind: str
    status: str
    due_on: date | None
    record: tuple[str, int] | None
    params: dict[str, object] = field(default_factory=dict)


# --- shared readings of the facts ------------------------------------------------------


def permit_status_of(permit: PermitFact, today: date, rules: Rules) -> str:
    """Its status on ``today``; superseded only once its renewal has started (a renewal
    entered early does not end the old permit: each is valid from its own start)."""
    starts = permit.renewal_starts_on
    return permits.permit_status(
        permit.valid_from,
        permit.valid_to,
        today,
        revoked_on=permit.revoked_on,
        superseded=permit.superseded or (starts is not None and starts <= today),
        rules=rules,
        renewal_applied_on=permit.renewal_applied_on,
    )


def valid_permits(facts: FileFacts, today: date, rules: Rules) -> tuple[PermitFact, ...]:
    """Permits in force on ``today``: status valid or renewal_due (not revoked, superseded,
    expired or not yet valid)."""
    return tuple(
        p for p in facts.permits if permit_status_of(p, today, rules) in VALID_PERMIT_STATUSES
    )


def reference_permit(facts: FileFacts, today: date, rules: Rules) -> PermitFact | None:
    """The permit a finding names first (the volume itself is :func:`permitted_volume`).

    Among valid permits the largest annual volume. With no valid permit, the permit that
    lapsed last among those already started (the scale the user was last permitted at, so
    a lapse waives no threshold); with none, None.
    """
    return reference_permit_among(valid_permits(facts, today, rules), facts.permits, today)


def reference_permit_among(
    valid: Sequence[PermitFact], all_permits: Iterable[PermitFact], today: date
) -> PermitFact | None:
    """:func:`reference_permit` given the valid permits already found (the score finds
    them once per file and reuses them)."""
    if len(valid) == 1:  # the usual case: no ranking to do
        return valid[0]
    if valid:
        return max(valid, key=lambda p: (p.annual_volume_m3, p.valid_to, p.id))
    started = [p for p in all_permits if p.valid_from <= today]
    return max(started, key=lambda p: (p.valid_to, p.annual_volume_m3, p.id), default=None)


def permit_source(number: str) -> str:
    """``S`` (surface) or ``G`` (ground) from the permit number; the number itself when it
    does not parse (then it is a source of its own)."""
    match = permits.PERMIT_NUMBER_RE.fullmatch(number)
    return match["source"] if match else number


def permitted_volume_among(valid: Sequence[PermitFact]) -> float:
    """The annual permitted volume of the permits in force on a day (corrections of 2026-12:
    one permit per source, S surface and G ground): the sum over the sources, each the
    largest volume of its permits in force (two of one source overlapping, as a renewal not
    linked to the permit it renews, are not counted twice)."""
    if len(valid) == 1:
        return valid[0].annual_volume_m3
    by_source: dict[str, float] = {}
    for p in valid:
        source = permit_source(p.number)
        by_source[source] = max(by_source.get(source, 0.0), p.annual_volume_m3)
    return float(sum(Fraction(repr(float(v))) for v in by_source.values()))


def permitted_volume(valid: Sequence[PermitFact], all_permits: Iterable[PermitFact],
                     today: date) -> float:
    """:func:`permitted_volume_among` the permits in force; with none, the volume of the one
    that lapsed last (a lapse waives no threshold); 0 with no permit at all."""
    if valid:
        return permitted_volume_among(valid)
    lapsed = reference_permit_among(valid, all_permits, today)
    return 0.0 if lapsed is None else lapsed.annual_volume_m3


def max_permitted_volume(permits_: Iterable[PermitFact], start: date, end: date) -> float | None:
    """The largest :func:`permitted_volume_among` over the days from ``start`` to ``end``
    (a plan may go up to it), None when no permit is in force on any of them. The sum changes
    only where a permit starts or ends, so those days are enough."""
    live = [p for p in permits_ if p.valid_from <= end and p.valid_to >= start]
    if not live:
        return None
    days = {start} | {p.valid_from for p in live if p.valid_from > start} | {
        p.valid_to + timedelta(days=1) for p in live if p.valid_to < end}
    best = 0.0
    for day in days:
        in_force = [p for p in live if p.valid_from <= day <= p.valid_to]
        if in_force:
            best = max(best, permitted_volume_among(in_force))
    return best


def annual_permitted_volume(facts: FileFacts, today: date, rules: Rules) -> float:
    """m³/yr permitted on ``today``: the sum of the permits in force (one per source); with
    none, the volume of the permit that lapsed last; 0 when the file has no permit at all."""
    return permitted_volume(valid_permits(facts, today, rules), facts.permits, today)


def plan_required(volume_m3: float, rules: Rules) -> bool:
    """计划用水 from the threshold on (task 33): 3,000 m³/yr is required, 2,999 is not."""
    return volume_m3 >= rules.thresholds.plan_required_m3_per_year


def online_monitoring_required(volume_m3: float, rules: Rules) -> bool:
    """在线监测 from the threshold on (tasks 46–47): 10,000 m³/yr is required."""
    return volume_m3 >= rules.thresholds.online_monitoring_m3_per_year


def plan_of_year(facts: FileFacts, year: int) -> PlanFact | None:
    """The plan of ``year`` (the latest record should the loader pass several)."""
    latest = None
    for plan in facts.plans:  # max() by id, keeping the first of equals, without a key call each
        if plan.year == year and (latest is None or plan.id > latest.id):
            latest = plan
    return latest


def renewal_applied(permit: PermitFact, today: date, rules: Rules) -> bool:
    """Applied for on or before ``today`` and in time: at least the rules' window (45 days,
    取水许可和水资源费征收管理条例 第二十五条) before expiry. A late application does not count."""
    applied_on = permit.renewal_applied_on
    return (applied_on is not None and applied_on <= today
            and permits.renewal_applied_in_time(permit.valid_to, applied_on, rules))


def history_starts_on(facts: FileFacts) -> date | None:
    """The first day the file has a history to judge (corrections of 2026-12, new files): the
    later of its opening and its first meter's installation; None while it has no meter (no
    reading can be due before one is installed)."""
    first_meter = min((m.installed_on for m in facts.meters), default=None)
    return None if first_meter is None else max(facts.opened_on, first_meter)


def is_paused(facts: FileFacts) -> bool:
    """A suspended file: its due items are paused, nothing it would owe is counted missing."""
    return facts.status == "suspended"


def plan_required_in(facts: FileFacts, year: int) -> bool:
    """A plan is required from the first plan year after the file's opening year (an annual
    plan is approved before its year; a file opened in the year has none to have)."""
    return year > facts.opened_on.year


def meters_in_service(facts: FileFacts, today: date) -> tuple[MeterFact, ...]:
    return tuple(m for m in facts.meters if m.in_service_on(today))


def meter_verification_fault(meter: MeterFact, rules: Rules) -> str | None:
    """Why the meter is not verified whatever the dates: ``never_verified`` (no verification
    on record), ``failed`` or ``out_of_tolerance`` (its latest verification does not count,
    :func:`calibration.verification_fault`); None when the latest verification counts."""
    if meter.last_calibrated_on is None:
        return calibration.NEVER_VERIFIED
    return calibration.verification_fault(meter.last_kind, meter.last_passed,
                                          meter.last_error_pct, rules)


def meter_calibration_due_on(meter: MeterFact, rules: Rules) -> date | None:
    """The last verified day after the latest verification, by the rules in force (the
    certificate's date only when earlier); None without periodic verification or without
    a verification on record (:func:`meter_verification_fault` says the latter)."""
    if meter.last_calibrated_on is None:
        return None
    return calibration.verification_due_on(
        meter.meter_type,
        meter.dn,
        meter.q3,
        meter.last_calibrated_on,
        rules,
        meter.interval_months,
        meter.last_next_due_on,
    )


def meter_service_life_ends_on(meter: MeterFact, rules: Rules) -> date | None:
    return calibration.service_life_ends_on(
        meter.meter_type, meter.dn, meter.q3, meter.installed_on, rules, meter.service_life_years,
        meter.first_verified_on,
    )


def balance_test_counts(test: BalanceTestFact, rules: Rules) -> bool:
    """False for a failed test (balance error beyond the rules' limit, :func:`balance.test_failed`)."""
    return test.volumes is None or not balance.test_failed(*test.volumes, rules)


def last_balance_test(facts: FileFacts, rules: Rules | None = None) -> BalanceTestFact | None:
    """The latest test; given ``rules``, the latest that counts (a failed one does not)."""
    tests = facts.balance_tests
    if rules is not None:
        tests = tuple(t for t in tests if balance_test_counts(t, rules))
    if len(tests) == 1:  # the usual case: nothing to compare
        return tests[0]
    return max(tests, key=lambda t: (t.tested_on, t.id), default=None)


def balance_test_due_on(facts: FileFacts, rules: Rules) -> date:
    """Next water-balance test due (GB/T 12452-2022): the interval after the last test, or
    ``first_test_due_months`` after the file opened. A report naming an earlier next date
    is held to it; a later one cannot stretch the rules' interval."""
    return balance_test_due_after(last_balance_test(facts, rules), facts, rules)


def balance_required_since(facts: FileFacts, rules: Rules) -> date:
    """The day the first-test clock starts (corrections of 2026-12): the day the file's industry
    last changed into one that must test, or its opening. A change between two industries that
    must test keeps the clock running."""
    start = facts.opened_on
    for since, code in reversed(facts.industry_history):
        if not balance.balance_test_required(code, rules):
            break
        start = since
    return max(start, facts.opened_on)


def balance_test_due_after(last: BalanceTestFact | None, facts: FileFacts, rules: Rules) -> date:
    """:func:`balance_test_due_on` given :func:`last_balance_test` already found; never tested,
    ``first_test_due_months`` after :func:`balance_required_since`."""
    start = facts.opened_on if last is not None else balance_required_since(facts, rules)
    due = balance.balance_test_due_on(None if last is None else last.tested_on, start, rules)
    if last is not None and last.next_due_on is not None:
        return min(due, last.next_due_on)
    return due


def awaiting_verification(rectification: RectificationFact) -> bool:
    """Answered by the enterprise on or before its deadline and waiting for the inspector's
    verification (corrections of 2026-12): not overdue for the enterprise, whatever the day.
    An answer after the deadline, or without a date, does not prove the deadline was kept."""
    responded_on = rectification.responded_on
    return (rectification.status == "answered" and responded_on is not None
            and responded_on <= rectification.deadline)


def reading_due_on(period: date, rules: Rules) -> date:
    """A month's reading is on time up to the rules' due day of the next month."""
    return add_months(month_start(period), 1).replace(day=rules.readings.due_day_of_next_month)


def reading_month_id(period: date) -> int:
    """``reading_month`` record id: yyyymm."""
    return period.year * 100 + period.month


# --- the due list ----------------------------------------------------------------------


def _soon_windows(rules: Rules, soon_days: int | Mapping[str, int] | None) -> dict[str, int]:
    windows = {
        "permit_renewal": rules.permit.renewal_window_days,
        "monthly_readings": rules.readings.due_day_of_next_month,
        "annual_plan": 0,
        **DEFAULT_SOON_DAYS,
    }
    if isinstance(soon_days, int):
        return dict.fromkeys(windows, soon_days)
    if soon_days is not None:
        unknown = set(soon_days) - set(DUE_KINDS)
        if unknown:
            raise KeyError(sorted(unknown)[0])
        windows.update(soon_days)
    return windows


def _status(due_on: date, today: date, soon: int) -> str:
    days_left = (due_on - today).days
    if days_left < 0:
        return "overdue"
    return "due_soon" if days_left <= soon else "ok"


def _permit_items(facts: FileFacts, today: date, rules: Rules, soon: int) -> Iterable[DueItem]:
    valid = valid_permits(facts, today, rules)
    covered = frozenset().union(*(p.intake_point_ids for p in valid))
    on_file = {point.id for point in facts.intake_points}
    for permit in facts.permits:
        status = permit_status_of(permit, today, rules)
        params: dict[str, object] = {
            "number": permit.number,
            "valid_to": permit.valid_to.isoformat(),
            "days_left": permits.days_to_expiry(permit.valid_to, today),
            "renewal_applied_on": _iso(permit.renewal_applied_on),
        }
        if status == "renewal_pending":
            # Applied in time, not yet decided at expiry: the bureau's decision is due.
            params["pending_decision"] = True
            yield DueItem("permit_renewal", "due_soon", None, ("permit", permit.id), params)
            continue
        if status in VALID_PERMIT_STATUSES:
            renewed = permit.renewal_starts_on is not None  # granted: nothing left to apply for
            due = ("ok" if renewed or renewal_applied(permit, today, rules)
                   else _status(permit.valid_to, today, soon))
        elif status == "expired":
            points = permit.intake_point_ids & on_file
            replaced = bool(valid) and points <= covered
            if replaced:
                continue
            due = "overdue"
        else:  # not yet valid, revoked, superseded: nothing to renew
            continue
        yield DueItem("permit_renewal", due, permit.valid_to, ("permit", permit.id), params)


def _meter_items(
    facts: FileFacts, today: date, rules: Rules, windows: Mapping[str, int]
) -> Iterable[DueItem]:
    for meter in meters_in_service(facts, today):
        record = ("meter", meter.id)
        fault = meter_verification_fault(meter, rules)
        if fault is not None:
            # Never verified, or the latest verification failed or was out of tolerance:
            # unverified at once (JJG 162-2019), dated the verification (or installation).
            params = {"serial": meter.serial, "failed": fault != calibration.NEVER_VERIFIED,
                      "fault": fault, "calibration_id": meter.last_calibration_id}
            yield DueItem("calibration", "overdue", meter.last_calibrated_on or meter.installed_on,
                          record, params)
        else:
            due_on = meter_calibration_due_on(meter, rules)
            if due_on is not None:
                status = _status(due_on, today, windows["calibration"])
                params = {"serial": meter.serial, "failed": False,
                          "calibration_id": meter.last_calibration_id}
                yield DueItem("calibration", status, due_on, record, params)
        life_ends_on = meter_service_life_ends_on(meter, rules)
        if life_ends_on is not None:
            status = _status(life_ends_on, today, windows["service_life"])
            params = {"serial": meter.serial, "installed_on": meter.installed_on.isoformat()}
            yield DueItem("service_life", status, life_ends_on, record, params)


def _balance_item(facts: FileFacts, today: date, rules: Rules, soon: int) -> Iterable[DueItem]:
    if not balance.balance_test_required(facts.industry_code, rules):
        return
    last = last_balance_test(facts, rules)
    due_on = balance_test_due_after(last, facts, rules)
    params = {"last_tested_on": None if last is None else last.tested_on.isoformat()}
    record = None if last is None else ("balance_test", last.id)
    yield DueItem("balance_test", _status(due_on, today, soon), due_on, record, params)


def _plan_item(facts: FileFacts, today: date, rules: Rules) -> Iterable[DueItem]:
    volume = annual_permitted_volume(facts, today, rules)
    if not plan_required(volume, rules) or not plan_required_in(facts, today.year):
        return
    plan = plan_of_year(facts, today.year)
    due_on = date(today.year, 1, 1)
    params = {"year": today.year, "permitted_m3": float(volume)}
    if plan is None:
        yield DueItem("annual_plan", "overdue", due_on, None, params)
    else:
        yield DueItem("annual_plan", "ok", due_on, ("plan", plan.id), params)


def _readings_item(facts: FileFacts, today: date, rules: Rules, soon: int) -> Iterable[DueItem]:
    last_month = add_months(month_start(today), -1)
    start = history_starts_on(facts)
    if not meters_in_service(facts, today) or start is None or months_between(start, last_month) < 0:
        return
    due_on = reading_due_on(last_month, rules)
    month_id = reading_month_id(last_month)
    params = {"month": month_id}
    accepted = any(r.period == last_month for r in facts.monthly_readings)
    status = "ok" if accepted else _status(due_on, today, soon)
    yield DueItem("monthly_readings", status, due_on, ("reading_month", month_id), params)


def _rectification_items(facts: FileFacts, today: date, soon: int) -> Iterable[DueItem]:
    for r in facts.rectifications:
        if r.status == "verified":
            continue
        params = {"inspection_id": r.inspection_id, "rectification_status": r.status}
        if awaiting_verification(r):
            # The enterprise kept its deadline: the wait is the inspector's, on the work queue,
            # undated (so it never turns overdue) and never the enterprise's overdue item.
            params |= {"awaiting_verification": True, "responded_on": r.responded_on.isoformat(),
                       "deadline": r.deadline.isoformat()}
            yield DueItem("rectification", "due_soon", None, ("rectification", r.id), params)
            continue
        yield DueItem(
            "rectification", _status(r.deadline, today, soon), r.deadline,
            ("rectification", r.id), params,
        )


def _urgency(item: DueItem) -> tuple[int, date, int, tuple[str, int]]:
    return (
        DUE_STATUSES.index(item.status),
        item.due_on or date.max,
        DUE_KINDS.index(item.kind),
        item.record or ("", 0),
    )


def due_items(
    facts: FileFacts,
    today: date,
    rules: Rules,
    *,
    soon_days: int | Mapping[str, int] | None = None,
) -> list[DueItem]:
    """Every dated duty of the file on ``today``, most urgent first (see the module doc); none
    for a suspended file (paused until it is active again)."""
    windows = _soon_windows(rules, soon_days)
    if is_paused(facts):
        return []
    items = [
        *_permit_items(facts, today, rules, windows["permit_renewal"]),
        *_meter_items(facts, today, rules, windows),
        *_balance_item(facts, today, rules, windows["balance_test"]),
        *_plan_item(facts, today, rules),
        *_readings_item(facts, today, rules, windows["monthly_readings"]),
        *_rectification_items(facts, today, windows["rectification"]),
    ]
    return sorted(items, key=_urgency)


def worst_status(items: Iterable[DueItem]) -> str:
    """``overdue`` if any item is, else ``due_soon`` if any is, else ``ok`` (also when empty)."""
    statuses = {item.status for item in items}
    return next((s for s in DUE_STATUSES if s in statuses), "ok")


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def meter_verified_on(meter: MeterFact, day: date, rules: Rules) -> bool:
    """Whether a reading of ``day`` comes from a verified meter: a verification that counts, not
    past its due date nor the meter's service life (domain.md: otherwise "unverified meter")."""
    if meter_verification_fault(meter, rules) is not None:
        return False
    return calibration.is_verified_on(day, meter_calibration_due_on(meter, rules),
                                      meter_service_life_ends_on(meter, rules))
