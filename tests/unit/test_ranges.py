"""Issue 16 item 2: every numeric input has a domain range, and every number formatter copes
with any stored value."""
from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest

from registry import i18n
from registry.domain import ranges

ROOT = Path(__file__).resolve().parents[2]


def _number_fields() -> set[str]:
    """Every field a service reads with ``Checker.number("field")`` (the balance volumes in a loop)."""
    found = set()
    for path in [*(ROOT / "registry/services").rglob("*.py"), *(ROOT / "registry/web").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "number"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
    return found


def test_item2_every_numeric_input_has_a_domain_range():
    fields = _number_fields()
    fields |= {"vf", "vr", "vco", "vd", "vl"}  # validators.balance_test: c.number(field) for each
    assert {"volume_m3", "q3", "annual_volume_m3", "dn"} <= fields
    assert fields <= set(ranges.RANGES), sorted(fields - set(ranges.RANGES))


@pytest.mark.parametrize("field, value, rule", [
    ("volume_m3", 1.7e308, "above"), ("volume_m3", 10 ** 400, "above"), ("volume_m3", Decimal("9" * 400), "above"),
    ("volume_m3", float("inf"), "above"), ("volume_m3", float("-inf"), "below"), ("volume_m3", float("nan"), "finite"), ("volume_m3", Decimal("NaN"), "finite"), ("volume_m3", Decimal("sNaN"), "finite"),
    ("volume_m3", Decimal("-Infinity"), "below"),
    ("volume_m3", -1, "below"), ("volume_m3", "12", "type"), ("volume_m3", True, "type"), ("volume_m3", 1e8, None),
    ("q3", 0, "below"), ("q3", 0.1, None), ("dn", 50.5, "whole"), ("dn", Decimal("1e999999999"), "above"),
    ("error_pct", -100, None), ("longitude", 181, "above"),
], ids=lambda v: repr(v)[:20] if not isinstance(v, int) or abs(v) < 10 ** 20 else "huge int")
def test_item2_range_rules(field, value, rule):
    assert ranges.check(field, value) == rule


@pytest.mark.parametrize("value, shown", [
    (1.7e308, "1.70E+308"), (float("inf"), "∞"), (float("-inf"), "−∞"), (float("nan"), "NaN"),
    (Decimal("9" * 400), "1.00E+400"), (10 ** 5000, "1.00E+5000"), (Decimal("sNaN"), "NaN"),
    (12345.6, "12,346"), (None, "—"),
], ids=lambda v: repr(v)[:20] if not isinstance(v, int) or abs(v) < 10 ** 20 else "huge int")
def test_item2_number_formatter_copes_with_any_stored_value(value, shown):
    with mock.patch.object(i18n, "get_locale", lambda: "zh_CN"):
        assert i18n.number(value) == shown
        i18n.number(value, 2)
