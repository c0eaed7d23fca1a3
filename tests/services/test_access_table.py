"""registry/access.py: the one table of who may do what, and the order scope (404) → role (403)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry import access
from registry.models import Calibration, Meter
from registry.services import Forbidden, NotFound, records
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]
# access.require(x, "a.b"), access.can(x, "a.b"), @access.allows("a.b"), WRITE_GUARDS values, can('a.b') in templates
ASKED = re.compile(r"""(?:access\.(?:require|can)\([^()"']*?,\s*|access\.allows\(|\bcan\(|:\s*)["']([a-z_]+\.[a-z_]+)["']""")


def _asked_for() -> set[str]:
    names = set()
    for path in [*(ROOT / "registry").rglob("*.py"), *(ROOT / "templates").rglob("*.html")]:
        if path.name == "access.py":
            continue
        names |= {name for name in ASKED.findall(path.read_text(encoding="utf-8"))
                  if name.split(".")[1] in {verb.split(".")[1] for verb in access.ACTIONS}}
    return names


def test_every_action_the_code_asks_for_is_in_the_table():
    """A misspelt action would be a KeyError (a 500) on the page that asks: none is."""
    asked = _asked_for()
    assert len(asked) > 25  # the scan finds the calls (the decorators, the services, the templates)
    assert asked - set(access.ACTIONS) == set()
    # the record kinds ask "<kind>.edit"; the review of a submission "<reading|document>.review"
    assert {f"{kind}.edit" for kind in records.KINDS} <= set(access.ACTIONS)
    assert {"reading.review", "document.review"} <= set(access.ACTIONS)


def test_an_action_missing_from_the_table_is_never_allowed(app):
    with pytest.raises(KeyError):
        access.can(f.admin(), "permit.delete")


@pytest.mark.parametrize("action, roles", [
    # spec.md / the README: the bureau issues certificates, publishes rules, keeps permits and plans;
    # inspectors work on meters, readings, inspections; enterprises use the portal only.
    ("certificate.issue", {"bureau_admin"}),
    ("rules.publish", {"bureau_admin"}),
    ("permit.edit", {"bureau_admin"}),
    ("plan.edit", {"bureau_admin"}),
    ("meter.edit", {"bureau_admin", "inspector"}),
    ("reading.review", {"bureau_admin", "inspector"}),
    ("portal.use", {"enterprise"}),
    ("account.manage", {"bureau_admin"}),
    ("jobs.view", {"bureau_admin"}),
    ("water_user.read", {"bureau_admin", "inspector", "enterprise"}),
])
def test_the_table_gives_each_role_what_the_bureau_decided(app, action, roles):
    wu = f.WaterUserFactory(division_code="001")
    accounts = {"bureau_admin": f.admin(), "inspector": f.inspector(divisions=("001",)),
                "enterprise": f.enterprise(wu)}
    assert {role for role, account in accounts.items() if access.can(account, action)} == roles


def test_nobody_signed_out_may_do_anything(app):
    assert not any(access.can(None, action) for action in access.ACTIONS)


def test_out_of_scope_is_404_before_the_role_is_asked(app):
    mine, theirs = f.WaterUserFactory(division_code="001"), f.WaterUserFactory(division_code="100")
    inspector = f.inspector(divisions=("001",))
    access.require(inspector, "meter.edit", within=mine)           # in scope, allowed
    with pytest.raises(Forbidden):
        access.require(inspector, "permit.edit", within=mine)      # in scope, the bureau's: 403
    with pytest.raises(NotFound):
        access.require(inspector, "permit.edit", within=theirs)    # out of scope: 404, not 403
    with pytest.raises(NotFound):
        access.require(inspector, "meter.edit", within=theirs.id)
    access.require(f.admin(), "permit.edit", within=theirs)        # the bureau sees every file


def test_a_record_is_found_only_in_its_own_file_and_scope(app):
    mine, theirs = f.WaterUserFactory(division_code="001"), f.WaterUserFactory(division_code="100")
    my_meter, their_meter = f.MeterFactory(water_user=mine), f.MeterFactory(water_user=theirs)
    calibration = f.CalibrationFactory(meter=my_meter)
    admin, inspector = f.admin(), f.inspector(divisions=("001",))
    assert access.get_record(inspector, Meter, my_meter.id, within=mine) is my_meter
    assert access.get_record(inspector, Calibration, calibration.id, within=mine) is calibration  # through its meter
    assert access.get_record(inspector, Meter, my_meter.id) is my_meter  # no file named: the record's own, in scope
    for account, record_id, within in [
        (admin, their_meter.id, mine),        # a record of another file, even for the bureau
        (inspector, their_meter.id, None),    # out of the inspector's divisions
        (inspector, their_meter.id, theirs),  # the file itself out of scope
        (admin, 10**9, mine),                 # missing
        (admin, 2**63, mine),                 # beyond any database integer: missing, not an error
        (admin, "x", mine),
    ]:
        with pytest.raises(NotFound):
            access.get_record(account, Meter, record_id, within=within)
