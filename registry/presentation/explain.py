"""Evaluation findings in words a non-expert understands, in the reader's language.

``domain.scoring`` stores codes and numbers only, so an evaluation computed years ago still
reads correctly today, in Chinese or English. Each finding code has a sentence; each restore
code has an action and the place on the one-file page where it is done.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from registry.i18n import number

RULE_NAMES = {
    "permit": _l("Water-withdrawal permit"), "metering": _l("Metering"), "online_monitoring": _l("Online monitoring"),
    "planned_use": _l("Planned water use"), "water_balance": _l("Water-balance test"),
    "records": _l("Monthly records"), "inspections": _l("Inspections and rectification"),
}

# restore code -> (action, anchor on the one-file page, kind of record whose "add" page fixes it, or None)
ACTIONS = {
    "apply_permit": (_l("Apply for a water-withdrawal permit"), "permits", "permit"),
    "extend_permit_coverage": (_l("Have a permit cover every intake point"), "permits", None),
    "apply_permit_renewal": (_l("Apply for the renewal of the permit"), "permits", None),
    "register_intake_point": (_l("Record the intake points"), "intake-points", "intake_point"),
    "add_meter": (_l("Install and record a meter at every intake point"), "meters", "meter"),
    "calibrate_meter": (_l("Have the meter verified and record the certificate"), "meters", "calibration"),
    "replace_meter": (_l("Replace the meter at the end of its service life"), "meters", "meter"),
    "connect_online_monitoring": (_l("Restore the online monitoring data feed"), "readings", None),
    "submit_plan": (_l("Submit this year's water-use plan"), "plans", "plan"),
    "reduce_intake": (_l("Keep water use within the plan"), "readings", None),
    "apply_permit_change": (_l("Apply for a change of the permitted volume"), "permits", None),
    "book_balance_test": (_l("Have a water-balance test done"), "balance-tests", "balance_test"),
    "submit_readings": (_l("Submit the monthly readings by the due day"), "readings", "reading"),
    "rectify": (_l("Complete the rectification and have it verified"), "inspections", None),
    "await_renewal_decision": (_l("Nothing to do: the bureau decides on the renewal"), "permits", None),
}


def _n(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) < 1e15:
        return number(value)  # an absurd stored volume: 1.80E+308, not 309 digits
    return f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)


def _meter_reason(serial: str, reason: str, due: str | None, tolerance) -> str:
    if reason == "never_verified":
        return _("%(s)s has no verification (首次检定 / 后续检定) on record", s=serial)
    if reason == "failed":
        return _("%(s)s failed its latest verification", s=serial)
    if reason == "out_of_tolerance":
        return _("%(s)s: the latest verification's error is beyond the tolerance ±%(t)s %%", s=serial,
                 t=tolerance if tolerance is not None else "—")
    return _("%(s)s was due for verification on %(d)s", s=serial, d=due or "—")


def sentence(code: str, p: dict) -> str:
    """The reason points were lost, with its figures."""
    if code == "permit.none_valid":
        if p.get("latest_number"):
            return _("No permit is in force: the last one, %(n)s, ended on %(d)s.", n=p["latest_number"],
                     d=p.get("latest_valid_to"))
        return _("No water-withdrawal permit is on file.")
    if code == "permit.uncovered_intake":
        return _("%(k)d of %(n)d intake points are not covered by a valid permit: %(names)s.",
                 k=p.get("uncovered", 0), n=p.get("intake_points", 0), names="、".join(p.get("names", [])))
    if code == "permit.renewal_not_applied" and p.get("applied_on"):
        return _("The permit %(n)s ends on %(d)s (%(k)d days left); the renewal was applied for on %(a)s, later than "
                 "%(b)s, 45 days before expiry (取水许可和水资源费征收管理条例 第二十五条).",
                 n="、".join(p.get("numbers", [])), d=p.get("valid_to"), k=p.get("days_left", 0),
                 a=p.get("applied_on"), b=p.get("apply_by"))
    if code == "permit.renewal_not_applied" and p.get("apply_by"):
        return _("The permit %(n)s ends on %(d)s (%(k)d days left) and no renewal was applied for by %(b)s, 45 days "
                 "before expiry (取水许可和水资源费征收管理条例 第二十五条).",
                 n="、".join(p.get("numbers", [])), d=p.get("valid_to"), k=p.get("days_left", 0), b=p.get("apply_by"))
    if code == "permit.renewal_pending":
        return _("Renewal pending decision: the permit %(n)s ended on %(d)s; its renewal was applied for in time, on "
                 "%(a)s (取水许可和水资源费征收管理条例 第二十五条), and the bureau has not decided yet. No points are lost.",
                 n=p.get("number"), d=p.get("valid_to"), a=p.get("applied_on"))
    if code == "permit.renewal_not_applied":
        return _("The permit %(n)s ends on %(d)s (%(k)d days left) and no renewal has been applied for.",
                 n="、".join(p.get("numbers", [])), d=p.get("valid_to"), k=p.get("days_left", 0))
    if code == "metering.no_intake_points":
        return _("No intake point is on file, so nothing shows what is metered.")
    if code == "metering.intake_without_meter":
        return _("%(k)d of %(n)d intake points have no meter in service: %(names)s.",
                 k=p.get("without_meter", 0), n=p.get("intake_points", 0), names="、".join(p.get("names", [])))
    if code == "metering.no_meter_in_service":
        return _("No meter is in service.")
    if code == "metering.meter_unverified":
        if "reasons" not in p:  # stored before the corrections of 2026-12
            return _("%(k)d of %(n)d meters in service are past their verification date or failed it: %(s)s.",
                     k=p.get("count", 0), n=p.get("in_service", 0), s="、".join(p.get("serials", [])))
        details = [_meter_reason(serial, reason, due, p.get("tolerance_percent"))
                   for serial, reason, due in zip(p.get("serials", []), p.get("reasons", []),
                                                  p.get("due_dates", []))]
        return _("%(k)d of %(n)d meters in service are not verified (JJG 162-2019): %(d)s.",
                 k=p.get("count", 0), n=p.get("in_service", 0), d="; ".join(details))
    if code == "metering.meter_past_service_life":
        if "life_ends_on" in p:
            ends = [f"{serial} ({day})" for serial, day in zip(p.get("serials", []), p.get("life_ends_on", []))]
            return _("%(k)d of %(n)d meters in service are past their service life (JJG 162-2019, counted from "
                     "the first verification, else installation): %(s)s.",
                     k=p.get("count", 0), n=p.get("in_service", 0), s="、".join(ends))
        return _("%(k)d of %(n)d meters in service are past their service life (JJG 162): %(s)s.",
                 k=p.get("count", 0), n=p.get("in_service", 0), s="、".join(p.get("serials", [])))
    if code == "online.coverage" and "threshold_m3" in p:
        return _("Online readings arrived on %(k)d of the last %(n)d days (%(a)s to %(b)s); %(t)d %% is required: "
                 "online monitoring is required from %(h)s m³ a year and %(v)s m³ is permitted (tasks 46–47).",
                 k=p.get("days_with_data", 0), n=p.get("window_days", 0), a=p.get("from"), b=p.get("to"),
                 t=round(float(p.get("target_ratio", 0)) * 100), v=_n(p.get("permitted_m3")),
                 h=_n(p.get("threshold_m3")))
    if code == "online.coverage":
        return _("Online readings arrived on %(k)d of the last %(n)d days (%(a)s to %(b)s); %(t)d %% is required.",
                 k=p.get("days_with_data", 0), n=p.get("window_days", 0), a=p.get("from"), b=p.get("to"),
                 t=round(float(p.get("target_ratio", 0)) * 100))
    if code == "planned_use.no_plan":
        return _("No water-use plan for %(y)s, required from %(t)s m³ a year (permitted: %(v)s m³).",
                 y=p.get("year"), t=_n(p.get("threshold_m3")), v=_n(p.get("permitted_m3")))
    if code == "planned_use.over_plan" and "plan_year" in p:
        basis = _("the plan") if p.get("basis") == "plan" else _("the permitted volume")
        return _("Use in %(y)s up to %(d)s was %(u)s m³, %(o)s %% over %(b)s for the year (%(a)s m³); "
                 "over-plan tiers are on the year's totals, %(t)s %% of rounding is no tier (浙江省计划用水管理).",
                 y=p.get("plan_year"), d=p.get("through"), u=_n(p.get("use_m3")), o=p.get("over_percent") or "∞",
                 b=basis, a=_n(p.get("allowance_m3")), t=p.get("tolerance_percent", 0))
    if code == "planned_use.over_permit" and "plan_year" in p:
        return _("Use in %(y)s up to %(d)s (%(u)s m³) is above the whole permitted annual volume (%(v)s m³, "
                 "取水许可): the grade is capped at %(g)s.",
                 y=p.get("plan_year"), d=p.get("through"), u=_n(p.get("use_m3")), v=_n(p.get("permitted_m3")),
                 g=p.get("grade_cap"))
    if code == "planned_use.over_plan":
        basis = _("the plan") if p.get("basis") == "plan" else _("the permitted volume")
        return _("Use up to %(d)s was %(u)s m³, %(o)s %% over %(b)s pro rata (%(a)s m³).",
                 d=p.get("through"), u=_n(p.get("use_m3")), o=p.get("over_percent") or "∞", b=basis,
                 a=_n(p.get("allowance_m3")))
    if code == "planned_use.over_permit":
        return _("Use this year (%(u)s m³) is above the whole permitted annual volume (%(v)s m³): the grade is capped at %(g)s.",
                 u=_n(p.get("use_m3")), v=_n(p.get("permitted_m3")), g=p.get("grade_cap"))
    if code == "water_balance.overdue":
        return _("The last water-balance test was on %(t)s; the next was due on %(d)s (%(k)d days ago).",
                 t=p.get("last_tested_on"), d=p.get("due_on"), k=p.get("days_overdue", 0))
    if code == "water_balance.never_tested":
        return _("No water-balance test yet; the first was due on %(d)s (%(k)d days ago).",
                 d=p.get("due_on"), k=p.get("days_overdue", 0))
    if code == "records.late_or_missing":
        return _("Readings were on time for %(k)d of %(n)d months (due by day %(d)d of the next month).",
                 k=p.get("on_time", 0), n=p.get("months", 0), d=p.get("due_day", 10))
    if code == "inspections.overdue_rectification" and p.get("responded_on"):
        return _("A rectification order was due on %(d)s and was answered late, on %(r)s; it is not verified "
                 "(%(k)d days past the deadline).", d=p.get("deadline"), r=p.get("responded_on"),
                 k=p.get("days_overdue", 0))
    if code == "inspections.overdue_rectification":
        return _("A rectification order was due on %(d)s and is not verified (%(k)d days late).",
                 d=p.get("deadline"), k=p.get("days_overdue", 0))
    return code


def action(restore: str) -> tuple:
    """(action text, anchor, kind name or None, slug of its add page or None)."""
    text, anchor, kind = ACTIONS.get(restore, (restore, "", None))
    return text, anchor, kind, (kind.replace("_", "-") + "s") if kind else None


def todo(evaluation) -> list[dict]:
    """The findings of an evaluation as a to-do list: a veto first, then by points to regain."""
    if evaluation is None:
        return []
    findings = [f for row in evaluation.rows for f in row["findings"]]
    return sorted(findings, key=lambda f: (f["code"] != "permit.none_valid", -f["lost"]))
