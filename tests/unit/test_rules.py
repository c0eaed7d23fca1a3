"""Rules YW-2026.1 as data: the figures of domain.md, and strict validation of new versions."""

import copy
import dataclasses
import json
from datetime import date
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.domain.rules import (
    DEFAULT_VERSION,
    RULE_IDS,
    Rules,
    RulesError,
    available_versions,
    load_rules,
)

RULES = load_rules()
PACKAGED = json.loads(
    resources.files("registry.domain.rules").joinpath("YW-2026.1.json").read_text("utf-8")
)


def edited(path, value=None, *, delete=False):
    """The packaged document with the value at a dotted path (``a.b[2].c``) changed."""
    data = copy.deepcopy(PACKAGED)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    node = data
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    key = int(last) if last.isdigit() else last
    if delete:
        del node[key]
    else:
        node[key] = value
    return data


def test_default_version_is_packaged_and_cached():
    assert DEFAULT_VERSION == "YW-2026.1"
    assert DEFAULT_VERSION in available_versions()
    assert load_rules() is load_rules("YW-2026.1")
    assert RULES.version == "YW-2026.1"
    assert RULES.effective_from == date(2026, 1, 1)


def test_rules_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES.permit.renewal_window_days = 90  # type: ignore[misc]


def test_round_trip_through_dict():
    assert RULES.to_dict() == PACKAGED
    assert Rules.from_dict(RULES.to_dict()) == RULES
    json.dumps(RULES.to_dict())  # JSON-ready


def test_permit_rules():
    assert RULES.permit.renewal_window_days == 45
    assert RULES.permit.reminder_days == (90, 45, 15)
    assert RULES.permit.max_term_years == 10


def test_calibration_rules_of_jjg_162():
    cal = RULES.calibration
    assert (cal.service_life_small.max_dn, cal.service_life_small.years) == (25, 6)
    assert (cal.service_life_medium.max_dn, cal.service_life_medium.years) == (50, 4)
    assert cal.periodic_above_q3 == 16
    assert {
        t: cal.interval_months.of(t)
        for t in ("mechanical", "electromagnetic", "ultrasonic", "other")
    } == dict.fromkeys(("mechanical", "electromagnetic", "ultrasonic", "other"), 24)
    assert cal.in_place_tolerance_percent == 5


def test_water_balance_and_thresholds():
    wb = RULES.water_balance
    assert (wb.interval_years, wb.first_test_due_months, wb.balance_error_limit_percent) == (
        5,
        12,
        5,
    )
    assert {i.category for i in wb.required_industries} == {
        "thermal_power",
        "chemicals",
        "printing_dyeing",
        "papermaking",
    }
    assert RULES.thresholds.plan_required_m3_per_year == 3000
    assert RULES.thresholds.online_monitoring_m3_per_year == 10000
    assert RULES.readings.due_day_of_next_month == 10


def test_evaluation_points_per_rule_add_up_to_100():
    ev = RULES.evaluation
    assert {r: ev.points_of(r) for r in RULE_IDS} == {
        "permit": 20,
        "metering": 20,
        "online_monitoring": 10,
        "planned_use": 15,
        "water_balance": 10,
        "records": 10,
        "inspections": 15,
    }
    assert ev.total_points == 100
    assert ev.points_decimals == 1


def test_evaluation_parameters_of_each_rule():
    ev = RULES.evaluation
    assert (ev.permit.uncovered_intake_deduction, ev.permit.renewal_not_applied_deduction) == (
        10,
        10,
    )
    assert ev.permit.veto_without_valid_permit
    assert (ev.metering.coverage_points, ev.metering.calibration_points) == (10, 10)
    assert (ev.online_monitoring.window_days, ev.online_monitoring.target_ratio) == (90, 0.95)
    assert ev.planned_use.plan_points == 5
    assert ev.planned_use.over_permit_grade_cap == "C"
    assert ev.records.window_months == 12
    assert ev.inspections.overdue_rectification_deduction == 5


@pytest.mark.parametrize(
    ("over_percent", "severity", "points"),
    [
        (-12.0, "within_plan", 10),
        (0.0, "within_plan", 10),
        (0.01, "minor", 5),
        (19.99, "minor", 5),
        (20.0, "major", 2),
        (40.0, "major", 2),
        (40.01, "severe", 0),
    ],
)
def test_over_plan_tiers_20_and_40_percent(over_percent, severity, points):
    tier = RULES.evaluation.planned_use.tier_for(over_percent)
    assert (tier.severity, tier.points) == (severity, points)


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100, "A"), (90, "A"), (89.9, "B"), (75, "B"), (74.9, "C"), (60, "C"), (59.9, "D"), (0, "D")],
)
def test_grade_edges_a90_b75_c60(score, grade):
    assert RULES.evaluation.grade_for(score) == grade


def test_veto_gives_d_and_over_permit_caps_at_c():
    ev = RULES.evaluation
    assert ev.grade_for(100, veto=True) == "D"
    assert ev.grade_for(95, cap="C") == "C"
    assert ev.grade_for(50, cap="C") == "D"


def test_certificate_for_grades_a_and_b_valid_12_months():
    assert RULES.certificate.grades == ("A", "B")
    assert RULES.certificate.validity_months == 12


@pytest.mark.parametrize(
    ("path", "value", "field", "rule"),
    [
        ("version", "2026.1", "version", "pattern"),
        ("title", "", "title", "pattern"),
        ("effective_from", "2026-02-30", "effective_from", "range"),
        ("permit.renewal_window_days", "45", "permit.renewal_window_days", "type"),
        ("permit.renewal_window_days", True, "permit.renewal_window_days", "type"),
        ("permit.renewal_window_days", 0, "permit.renewal_window_days", "range"),
        ("permit.max_term_years", 10.0, "permit.max_term_years", "type"),
        ("permit.reminder_days", [15, 45, 90], "permit.reminder_days", "order"),
        ("permit.reminder_days", [90, 90], "permit.reminder_days", "order"),
        ("permit.reminder_days", [], "permit.reminder_days", "range"),
        ("permit.reminder_days[1]", -45, "permit.reminder_days[1]", "range"),
        (
            "calibration.service_life_medium.max_dn",
            25,
            "calibration.service_life_medium.max_dn",
            "order",
        ),
        ("calibration.periodic_above_q3", 0, "calibration.periodic_above_q3", "range"),
        (
            "calibration.interval_months.ultrasonic",
            None,
            "calibration.interval_months.ultrasonic",
            "type",
        ),
        (
            "calibration.in_place_tolerance_percent",
            float("nan"),
            "calibration.in_place_tolerance_percent",
            "range",
        ),
        (
            "water_balance.required_industries[0].prefix",
            "44a1",
            "water_balance.required_industries[0].prefix",
            "pattern",
        ),
        (
            "water_balance.required_industries[1].prefix",
            "4411",
            "water_balance.required_industries",
            "unique",
        ),
        ("water_balance.required_industries", {}, "water_balance.required_industries", "type"),
        ("readings.due_day_of_next_month", 31, "readings.due_day_of_next_month", "range"),
        ("thresholds", [], "thresholds", "type"),
        ("evaluation.metering.coverage_points", 12, "evaluation.metering.points", "sum"),
        ("evaluation.inspections.points", 20, "evaluation.total_points", "sum"),
        (
            "evaluation.permit.uncovered_intake_deduction",
            25,
            "evaluation.permit.uncovered_intake_deduction",
            "range",
        ),
        (
            "evaluation.permit.veto_without_valid_permit",
            1,
            "evaluation.permit.veto_without_valid_permit",
            "type",
        ),
        (
            "evaluation.online_monitoring.target_ratio",
            1.5,
            "evaluation.online_monitoring.target_ratio",
            "range",
        ),
        (
            "evaluation.planned_use.over_plan_tiers[3].up_to_percent",
            60.0,
            "evaluation.planned_use.over_plan_tiers",
            "order",
        ),
        (
            "evaluation.planned_use.over_plan_tiers[2].up_to_percent",
            10.0,
            "evaluation.planned_use.over_plan_tiers",
            "order",
        ),
        (
            "evaluation.planned_use.over_plan_tiers[2].points",
            7,
            "evaluation.planned_use.over_plan_tiers",
            "order",
        ),
        (
            "evaluation.planned_use.over_plan_tiers[0].points",
            9,
            "evaluation.planned_use.points",
            "sum",
        ),
        (
            "evaluation.planned_use.over_permit_grade_cap",
            "E",
            "evaluation.planned_use.over_permit_grade_cap",
            "reference",
        ),
        ("evaluation.grades[1].min_score", 95, "evaluation.grades", "order"),
        ("evaluation.grades[3].min_score", 10, "evaluation.grades", "range"),
        ("evaluation.grades[1].grade", "A", "evaluation.grades", "unique"),
        ("evaluation.veto_grade", "F", "evaluation.veto_grade", "reference"),
        ("certificate.grades", ["A", "E"], "certificate.grades[1]", "reference"),
        ("certificate.grades", [], "certificate.grades", "range"),
        ("certificate.validity_months", 0, "certificate.validity_months", "range"),
    ],
)
def test_invalid_values_name_field_and_rule(path, value, field, rule):
    with pytest.raises(RulesError) as caught:
        Rules.from_dict(edited(path, value))
    assert (caught.value.field, caught.value.rule) == (field, rule)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "path", ["version", "permit", "calibration.interval_months.other", "evaluation.grades"]
)
def test_missing_keys_are_required(path):
    with pytest.raises(RulesError) as caught:
        Rules.from_dict(edited(path, delete=True))
    assert (caught.value.field, caught.value.rule) == (path, "required")


@pytest.mark.parametrize("path", ["colour", "permit.grace_days", "evaluation.permit.bonus"])
def test_unknown_keys_are_rejected(path):
    with pytest.raises(RulesError) as caught:
        Rules.from_dict(edited(path, 1))
    assert (caught.value.field, caught.value.rule) == (path, "unknown_key")


def test_document_must_be_an_object():
    with pytest.raises(RulesError) as caught:
        Rules.from_dict([])
    assert caught.value.rule == "type"


@pytest.mark.parametrize(
    ("version", "rule"), [("YW-1999.1", "not_found"), ("../../etc/passwd", "pattern")]
)
def test_unknown_or_unsafe_versions_are_refused(version, rule):
    with pytest.raises(RulesError) as caught:
        load_rules(version)
    assert (caught.value.field, caught.value.rule) == ("version", rule)


@settings(max_examples=30)
@given(
    window=st.integers(min_value=1, max_value=366),
    interval=st.integers(min_value=1, max_value=240),
    limit=st.floats(min_value=0.01, max_value=100),
)
def test_a_new_version_with_other_valid_figures_round_trips(window, interval, limit):
    data = edited("version", "YW-2027.1")
    data["permit"]["renewal_window_days"] = window
    data["calibration"]["interval_months"]["electromagnetic"] = interval
    data["water_balance"]["balance_error_limit_percent"] = limit
    rules = Rules.from_dict(data)
    assert rules.permit.renewal_window_days == window
    assert Rules.from_dict(rules.to_dict()) == rules
