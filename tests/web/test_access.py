"""Role × route: every registered route, for every role, with objects in and out of scope.

A route that answers 200 for an object outside the account's scope, or shows another file's
name, USCC or file number, fails here. New routes are picked up from ``app.url_map``.
"""
from __future__ import annotations

import re
from datetime import date


import pytest
from werkzeug.routing import Rule

from registry.clock import today as bureau_today
from registry.extensions import db
from registry.services import documents
from tests import factories as f

PDF = b"%PDF-1.4\n% test\n"
# Open to anyone by design: sign-in, registration, health check, the API's documentation, and the
# verification page (it shows anyone whether the number is valid, and what the certificate states
# only with the key its QR code carries).
PUBLIC = ("auth.login", "auth.register", "health.healthz", "api-docs.openapi_json", "api_docs_page.docs",
          "certificates.verify", "main.favicon")


def _file(division: str, tag: str):
    wu = f.WaterUserFactory(division_code=division, name=f"义乌市{tag}纺织有限公司")
    point = f.IntakePointFactory(water_user=wu)
    meter = f.MeterFactory(intake_point=point, water_user=wu)
    insp = f.InspectionFactory(water_user=wu)
    records = {
        "intake-points": point, "permits": f.PermitFactory(water_user=wu), "meters": meter,
        "calibrations": f.CalibrationFactory(meter=meter), "readings": f.ReadingFactory(meter=meter, water_user_id=wu.id),
        "balance-tests": f.BalanceTestFactory(water_user=wu), "inspections": insp,
        "rectifications": f.RectificationFactory(inspection=insp, water_user_id=wu.id),
        "plans": _plan(wu),
    }
    from flask import current_app

    doc = documents.attach(db.session, f.admin(), wu, {"title": "扫描件", "kind": "permit_scan"}, filename="a.pdf",
                           content=PDF + tag.encode(), upload_dir=current_app.config["UPLOAD_DIR"], max_bytes=10**6)
    from registry.domain.rules import load_rules
    from registry.models import Evaluation
    from registry.services import evaluations

    evaluations.refresh(db.session, load_rules(), bureau_today(), [wu.id])
    db.session.commit()
    evaluation = db.session.scalars(db.select(Evaluation).where(Evaluation.water_user_id == wu.id)).one()
    return {"wu": wu, "records": records, "document": doc, "evaluation": evaluation, "certificate": _certificate(wu),
            "communication": _communication(wu), "proposal": _proposal(wu), "statement": _statement(wu),
            "warning": _warning(wu, meter)}


def _warning(wu, meter):
    """An open warning of the file (warning routes name it by id)."""
    from registry.models import UseWarning

    warning = UseWarning(water_user_id=wu.id, meter_id=meter.id, kind="above_permit_share", period=date(2026, 10, 1),
                         dedupe_key=f"{wu.id}:{meter.id}:above_permit_share:2026-10",
                         evidence={"value": 9000.0, "low": 0.0, "high": 6000.0, "unit": "m³", "threshold": "",
                                   "figures": {"volume_m3": 9000.0, "permitted_m3": 24000.0, "factor": 3.0,
                                               "limit_m3": 6000.0}})
    db.session.add(warning)
    db.session.commit()
    return warning


def _proposal(wu):
    """A plan proposal waiting for the bureau (plan routes name it by id)."""
    from registry.models import PlanProposal

    proposal = PlanProposal(water_user_id=wu.id, year=bureau_today().year + 1, planned_volume_m3=1000.0,
                            past_year_use_m3=900.0, status="pending", submitted_on=bureau_today())
    db.session.add(proposal)
    db.session.commit()
    return proposal


def _statement(wu):
    """A signed hand-over statement of the file (tax routes name it by id)."""
    from registry.domain.rules import load_rules
    from registry.services import tax

    officer = f.admin(username=f"tax-{wu.id}")
    today = bureau_today()  # the last ended quarter: the pages' and the API's default period
    year, quarter = (today.year, (today.month - 1) // 3) if today.month > 3 else (today.year - 1, 4)
    tax.compute(db.session, officer, year, quarter, [wu.id])
    st = tax.latest(db.session, wu.id, year, quarter)
    tax.sign(db.session, officer, st)
    del load_rules
    return st


def _communication(wu):
    """An e-mail reminder sent to the file (communication routes name it by id)."""
    from registry.models import Communication

    sent = Communication(water_user_id=wu.id, kind="reminder", topic="permit_renewal", item_key=f"test:{wu.id}",
                         channel="email", recipient="water@example.cn", subject="取水许可证延续提醒", body="请及时延续。",
                         status="sent")
    db.session.add(sent)
    db.session.commit()
    return sent


def _certificate(wu):
    """A certificate of the file, whatever its grade (rules that certify every grade)."""
    from dataclasses import replace

    from registry.domain.rules import load_rules
    from registry.services import certificates

    rules = load_rules()
    rules = replace(rules, certificate=replace(rules.certificate, grades=("A", "B", "C", "D")))
    return certificates.issue(db.session, f.admin(), wu, rules=rules)


def _plan(wu):
    from registry.models import AnnualPlan

    plan = AnnualPlan(water_user_id=wu.id, year=bureau_today().year, planned_volume_m3=1000)
    db.session.add(plan)
    db.session.commit()
    return plan


@pytest.fixture
def world(app):
    mine, theirs = _file("001", "甲"), _file("100", "乙")
    accounts = {
        "admin": f.admin(username="admin"),
        "inspector": f.inspector(divisions=("001",), username="insp"),
        "enterprise": f.enterprise(mine["wu"], username="ent"),
    }
    from registry.services.tokens import create_token

    tokens = {role: create_token(db.session, None, account, "crawler") for role, account in accounts.items()}
    mine["account"] = accounts["enterprise"]
    theirs["account"] = f.enterprise(theirs["wu"], username="ent2")
    from registry.models import ApiToken

    for side in (mine, theirs):  # each enterprise's own token, named by id in /account/tokens/<token_id>/…
        create_token(db.session, None, side["account"], "gateway")
        side["token"] = db.session.scalars(db.select(ApiToken).where(ApiToken.account_id == side["account"].id)
                                           .order_by(ApiToken.id.desc())).first()
    return {"mine": mine, "theirs": theirs, "accounts": accounts, "tokens": tokens}


def _login(client, auth, world, role):
    auth.login(world["accounts"][role].username)
    client.api_token = world["tokens"][role]


def _urls(app, target: dict, slug_of_record=True) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule, its parameters filled from ``target``'s file."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        typed = re.search(r"/([a-z-]+)/<int:record_id>", rule.rule)  # a kind's own path (the API's)
        if "slug" in rule.arguments:
            kinds = target["records"].items()
        elif typed and typed.group(1) in target["records"]:
            kinds = [(typed.group(1), target["records"][typed.group(1)])]
        else:
            kinds = [(None, None)]
        for slug, record in kinds:
            values = {}
            for arg in rule.arguments:
                if arg == "water_user_id":
                    values[arg] = target["wu"].id
                elif arg == "slug":
                    values[arg] = slug
                elif arg == "record_id":
                    values[arg] = (record or target["records"]["permits"]).id
                elif arg == "document_id":
                    values[arg] = target["document"].id
                elif arg == "evaluation_id":
                    values[arg] = target["evaluation"].id
                elif arg == "kind":
                    values[arg] = "readings"
                elif arg == "item_id":
                    values[arg] = target["records"]["readings"].id
                elif arg == "account_id":
                    values[arg] = target["account"].id if "account" in target else 1
                elif arg in ("request_id", "rectification_id"):
                    values[arg] = target["records"]["rectifications"].id if arg == "rectification_id" else 1
                elif arg == "inspection_id":
                    values[arg] = target["records"]["inspections"].id
                elif arg == "version":
                    values[arg] = "YW-2026.1"
                elif arg == "number":
                    values[arg] = target["certificate"].number
                elif arg == "job_id":
                    values[arg] = "0" * 32
                elif arg == "communication_id":
                    values[arg] = target["communication"].id
                elif arg == "topic":
                    values[arg] = "permit_renewal"
                elif arg == "language":
                    values[arg] = "zh_CN"
                elif arg == "meter_id":
                    values[arg] = target["records"]["meters"].id
                elif arg == "proposal_id":
                    values[arg] = target["proposal"].id if "proposal" in target else 1
                elif arg == "plan_id":
                    values[arg] = target["records"]["plans"].id
                elif arg == "statement_id":
                    values[arg] = target["statement"].id if "statement" in target else 1
                elif arg == "warning_id":
                    values[arg] = target["warning"].id if "warning" in target else 1
                elif arg == "fmt":
                    values[arg] = "csv"
                elif arg == "token_id":
                    values[arg] = target["token"].id if "token" in target else 1
            url = _build(rule, values)
            if not _routes_to(app, url, rule.endpoint, methods[0]):
                continue  # e.g. a record kind the API does not serve under that name
            out += [(rule.endpoint, m, url) for m in methods]
    return out


def _routes_to(app, url: str, endpoint: str, method: str) -> bool:
    from werkzeug.exceptions import HTTPException

    try:
        return app.url_map.bind("localhost").match(url, method=method)[0] == endpoint
    except HTTPException:
        return False


def _build(rule: Rule, values: dict) -> str:
    path = rule.rule
    for key, value in values.items():
        path = re.sub(rf"<(?:[^<>]*:)?{key}>", str(value), path)
    return path


def _call(client, method, url):
    """Pages with the signed-in session; /api/v1 with the same person's Bearer token."""
    headers = {}
    if url.startswith("/api/") and getattr(client, "api_token", None):
        headers["Authorization"] = f"Bearer {client.api_token}"
    response = client.open(url, method=method, data={}, headers=headers)
    response.get_data()
    response.close()  # downloads stream a file
    return response


def _leaks(body: str, other) -> bool:
    wu = other["wu"]
    return any(secret in body for secret in (wu.name, wu.uscc, wu.file_no))


ROLES = ("admin", "inspector", "enterprise")
# Signing in or out changes the session the crawl runs in: tested on their own (tests/web/test_auth*.py).
SESSION_ROUTES = ("auth.login", "auth.logout")

# What each role gets, on its own file (in its scope), from every route of the app, called with an
# empty form or body: one status per role, no "403 or 404". Columns: bureau_admin, inspector (its
# division), enterprise (its own file). The rules behind the figures (registry/access.py):
# - a role that may not use a page in its scope answers 403 (registry.access.ACTIONS decides);
# - a role that may answers what the page answers an empty form: 200 to show it, 400/422 for the
#   missing fields, 302 where the page sends one on (a batch without choices, a notice already read);
# - 404 for the bureau where the address names nothing that exists in the test world
#   (registration request 1, an import upload token that was never made).
# A new route without a line here fails test_the_table_holds_every_route.
EXPECTED: dict[str, tuple[int, int, int]] = {
    "POST /admin/accounts/N/active": (302, 403, 403),
    "GET /admin/accounts/N": (200, 403, 403),
    "POST /admin/accounts/N": (400, 403, 403),
    "GET /admin/accounts/new": (200, 403, 403),
    "POST /admin/accounts/new": (400, 403, 403),
    "POST /admin/accounts/N/reset-password": (200, 403, 403),
    "GET /admin/accounts": (200, 403, 403),
    "GET /admin/jobs": (200, 403, 403),
    "GET /admin/rules/new": (200, 403, 403),
    "POST /admin/rules/new": (400, 403, 403),
    "POST /admin/registrations/N": (404, 403, 403),
    "GET /admin/rules": (200, 403, 403),
    "GET /admin/rules/YW-2026.1": (200, 403, 403),
    "GET /api/v1/openapi.json": (200, 200, 200),
    "GET /api/v1/certificates/<number>": (200, 200, 200),
    "POST /api/v1/certificates/<number>/revoke": (422, 403, 403),
    "GET /api/v1/docs": (200, 200, 200),
    "POST /api/v1/readings": (422, 422, 422),
    "GET /api/v1/water-users/N/balance-tests": (200, 200, 200),
    "POST /api/v1/water-users/N/balance-tests": (422, 422, 403),
    "GET /api/v1/water-users/N/calibrations": (200, 200, 200),
    "POST /api/v1/water-users/N/calibrations": (422, 422, 403),
    "GET /api/v1/water-users/N/certificates": (200, 200, 200),
    "POST /api/v1/water-users/N/certificates": (409, 403, 403),
    "GET /api/v1/water-users/N/inspections": (200, 200, 200),
    "POST /api/v1/water-users/N/inspections": (422, 422, 403),
    "GET /api/v1/water-users/N/intake-points": (200, 200, 200),
    "POST /api/v1/water-users/N/intake-points": (422, 422, 403),
    "GET /api/v1/water-users/N/meters": (200, 200, 200),
    "POST /api/v1/water-users/N/meters": (422, 422, 403),
    "GET /api/v1/water-users/N/balance-tests/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N/balance-tests/N": (428, 428, 403),
    "GET /api/v1/water-users/N/calibrations/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N/calibrations/N": (428, 428, 403),
    "GET /api/v1/water-users/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N": (428, 428, 403),
    "GET /api/v1/water-users/N/inspections/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N/inspections/N": (428, 428, 403),
    "GET /api/v1/water-users/N/intake-points/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N/intake-points/N": (428, 428, 403),
    "GET /api/v1/water-users/N/meters/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N/meters/N": (428, 428, 403),
    "GET /api/v1/water-users/N/permits/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N/permits/N": (428, 403, 403),
    "GET /api/v1/water-users/N/plans/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N/plans/N": (428, 403, 403),
    "GET /api/v1/water-users/N/rectifications/N": (200, 200, 200),
    "PATCH /api/v1/water-users/N/rectifications/N": (428, 428, 403),
    "GET /api/v1/water-users/N/permits": (200, 200, 200),
    "POST /api/v1/water-users/N/permits": (422, 403, 403),
    "GET /api/v1/water-users/N/plans": (200, 200, 200),
    "POST /api/v1/water-users/N/plans": (422, 403, 403),
    "GET /api/v1/water-users/N/rectifications": (200, 200, 200),
    "POST /api/v1/water-users/N/rectifications": (422, 422, 403),
    "GET /api/v1/water-users/": (200, 200, 200),
    "POST /api/v1/water-users/": (422, 403, 403),
    "GET /api/v1/water-users/N/compliance": (200, 200, 200),
    "GET /api/v1/water-users/N/readings": (200, 200, 200),
    "GET /account/password": (200, 200, 200),
    "POST /account/password": (400, 400, 400),
    "GET /register": (200, 200, 200),
    "POST /register": (400, 400, 400),
    "GET /certificates/batch": (200, 403, 403),
    "POST /certificates/batch": (200, 403, 403),  # the confirmation: how many, for which files
    "GET /certificates/batch/N/file": (302, 403, 403),
    "GET /certificates/batch/N": (302, 403, 403),
    "GET /water-users/N/dossier.pdf": (200, 200, 403),
    "GET /certificates/<number>.pdf": (200, 200, 200),
    "GET /water-users/N/certificates/new": (200, 403, 403),
    "POST /water-users/N/certificates/new": (409, 403, 403),
    "GET /water-users/N/certificates/<number>/revoke": (200, 403, 403),
    "POST /water-users/N/certificates/<number>/revoke": (400, 403, 403),
    "GET /verify/<number>": (200, 200, 200),
    "GET /water-users/N/communications/N/bounced": (200, 403, 403),
    "POST /water-users/N/communications/N/bounced": (302, 403, 403),
    "GET /communications/templates/permit_renewal/zh_CN": (200, 403, 403),
    "POST /communications/templates/permit_renewal/zh_CN": (400, 403, 403),
    "GET /communications/letters.pdf": (302, 403, 403),
    "POST /communications/letters/posted": (302, 403, 403),
    "GET /communications/": (200, 200, 403),
    "GET /communications/templates": (200, 403, 403),
    "POST /exchange/import/<token>/apply": (404, 403, 403),
    "GET /exchange/export": (200, 200, 403),
    "GET /exchange/import/<token>": (302, 403, 403),
    "GET /exchange/template.xlsx": (200, 200, 403),
    "GET /exchange/import": (200, 403, 403),
    "POST /exchange/import": (400, 403, 403),
    "GET /healthz": (200, 200, 200),
    "GET /favicon.ico": (200, 200, 200),
    "GET /": (200, 200, 302),
    "POST /portal/water-users/N/notices/N/acknowledge": (403, 403, 302),
    "GET /portal/water-users/N/rectifications/N/answer": (403, 403, 200),
    "POST /portal/water-users/N/rectifications/N/answer": (403, 403, 400),
    "GET /portal": (403, 403, 200),
    "GET /portal/water-users/N/documents/new": (403, 403, 200),
    "POST /portal/water-users/N/documents/new": (403, 403, 400),
    "GET /portal/water-users/N/readings/new": (403, 403, 200),
    "POST /portal/water-users/N/readings/new": (403, 403, 400),
    "GET /work-queue": (200, 200, 403),
    "GET /water-users/N/balance-tests/N/close": (200, 200, 403),
    "POST /water-users/N/balance-tests/N/close": (400, 400, 403),
    "GET /water-users/N/calibrations/N/close": (200, 200, 403),
    "POST /water-users/N/calibrations/N/close": (400, 400, 403),
    "GET /water-users/N/inspections/N/close": (200, 200, 403),
    "POST /water-users/N/inspections/N/close": (400, 400, 403),
    "GET /water-users/N/intake-points/N/close": (200, 200, 403),
    "POST /water-users/N/intake-points/N/close": (400, 400, 403),
    "GET /water-users/N/meters/N/close": (200, 200, 403),
    "POST /water-users/N/meters/N/close": (400, 400, 403),
    "GET /water-users/N/permits/N/close": (200, 403, 403),
    "POST /water-users/N/permits/N/close": (400, 403, 403),
    "GET /water-users/N/plans/N/close": (200, 403, 403),
    "POST /water-users/N/plans/N/close": (400, 403, 403),
    "GET /water-users/N/readings/N/close": (200, 200, 403),
    "POST /water-users/N/readings/N/close": (400, 400, 403),
    "GET /water-users/N/rectifications/N/close": (200, 200, 403),
    "POST /water-users/N/rectifications/N/close": (400, 400, 403),
    "GET /water-users/N/documents/N/close": (200, 200, 403),
    "POST /water-users/N/documents/N/close": (400, 400, 403),
    "GET /water-users/N/documents/N": (200, 200, 200),
    "GET /water-users/N/balance-tests/N/edit": (200, 200, 403),
    "POST /water-users/N/balance-tests/N/edit": (400, 400, 403),
    "GET /water-users/N/calibrations/N/edit": (200, 200, 403),
    "POST /water-users/N/calibrations/N/edit": (400, 400, 403),
    "GET /water-users/N/inspections/N/edit": (200, 200, 403),
    "POST /water-users/N/inspections/N/edit": (400, 400, 403),
    "GET /water-users/N/intake-points/N/edit": (200, 200, 403),
    "POST /water-users/N/intake-points/N/edit": (400, 400, 403),
    "GET /water-users/N/meters/N/edit": (200, 200, 403),
    "POST /water-users/N/meters/N/edit": (400, 400, 403),
    "GET /water-users/N/permits/N/edit": (200, 403, 403),
    "POST /water-users/N/permits/N/edit": (400, 403, 403),
    "GET /water-users/N/plans/N/edit": (200, 403, 403),
    "POST /water-users/N/plans/N/edit": (400, 403, 403),
    "GET /water-users/N/readings/N/edit": (200, 200, 403),
    "POST /water-users/N/readings/N/edit": (400, 400, 403),
    "GET /water-users/N/rectifications/N/edit": (200, 200, 403),
    "POST /water-users/N/rectifications/N/edit": (400, 400, 403),
    "GET /water-users/N/balance-tests/new": (200, 200, 403),
    "POST /water-users/N/balance-tests/new": (400, 400, 403),
    "GET /water-users/N/calibrations/new": (200, 200, 403),
    "POST /water-users/N/calibrations/new": (400, 400, 403),
    # one inspection workflow (issue 18): the plain form sends staff on to the visit form
    "GET /water-users/N/inspections/new": (302, 302, 403),
    "POST /water-users/N/inspections/new": (303, 303, 403),
    "GET /water-users/N/intake-points/new": (200, 200, 403),
    "POST /water-users/N/intake-points/new": (400, 400, 403),
    "GET /water-users/N/meters/new": (200, 200, 403),
    "POST /water-users/N/meters/new": (400, 400, 403),
    "GET /water-users/N/permits/new": (200, 403, 403),
    "POST /water-users/N/permits/new": (400, 403, 403),
    "GET /water-users/N/plans/new": (200, 403, 403),
    "POST /water-users/N/plans/new": (400, 403, 403),
    "GET /water-users/N/readings/new": (200, 200, 403),
    "POST /water-users/N/readings/new": (400, 400, 403),
    "GET /water-users/N/rectifications/new": (200, 200, 403),
    "POST /water-users/N/rectifications/new": (400, 400, 403),
    "GET /water-users/N/documents/new": (200, 200, 403),
    "POST /water-users/N/documents/new": (400, 400, 403),
    "GET /water-users/N/permits/N/renew": (200, 403, 403),
    "POST /water-users/N/permits/N/renew": (400, 403, 403),
    "POST /review/readings/N": (302, 302, 403),
    "GET /review": (200, 200, 403),
    "GET /admin/tokens": (200, 403, 403),
    "GET /account/tokens": (200, 200, 200),
    "POST /account/tokens": (400, 400, 400),
    "POST /account/tokens/N/revoke": (400, 404, 400),
    "GET /visits": (200, 200, 403),
    "GET /visits/N/inspect": (200, 200, 403),
    "POST /visits/N/inspect": (400, 400, 403),
    "GET /visits/N/inspections/N": (200, 200, 403),
    "GET /visits/N/inspections/N.pdf": (200, 200, 403),
    "GET /visits/N/rectifications/N": (200, 200, 403),
    "POST /visits/N/rectifications/N": (400, 400, 403),
    "GET /visits/sw.js": (200, 200, 403),
    "GET /water-users/N": (200, 200, 200),
    "GET /water-users/N/edit": (200, 200, 403),
    "POST /water-users/N/edit": (400, 400, 403),
    "GET /water-users/N/evaluations/N": (200, 200, 200),
    "GET /water-users/": (200, 200, 403),
    "GET /water-users/new": (200, 403, 403),
    "POST /water-users/new": (400, 403, 403),
    "GET /water-users/N/status": (200, 403, 403),
    "POST /water-users/N/status": (400, 403, 403),
    # the plan year and the tax hand-over (issue 19): statements are read by staff and by the
    # enterprise (its own, signed), computed, signed and corrected by the bureau
    "GET /api/v1/water-users/N/tax-statements": (200, 200, 200),
    "GET /api/v1/tax-statements": (200, 200, 200),
    "GET /portal/water-users/N/plans/propose": (403, 403, 200),
    "POST /portal/water-users/N/plans/propose": (403, 403, 400),
    "GET /portal/water-users/N/tax-statements": (403, 403, 200),
    "GET /plan-proposals": (200, 200, 403),
    "GET /water-users/N/plan-proposals/N": (200, 403, 403),
    "POST /water-users/N/plan-proposals/N": (400, 403, 403),
    "GET /water-users/N/plans/N/adjust": (200, 403, 403),
    "POST /water-users/N/plans/N/adjust": (400, 403, 403),
    "GET /tax-statements": (200, 200, 403),
    "POST /tax-statements/compute": (302, 403, 403),
    "GET /tax-statements/jobs/N": (302, 403, 403),
    "POST /tax-statements/sign": (302, 403, 403),
    "GET /tax-statements/export.csv": (200, 200, 403),
    "GET /water-users/N/tax-statements/N": (200, 200, 200),
    "POST /water-users/N/tax-statements/N/sign": (302, 403, 403),
    "GET /water-users/N/tax-statements/N/correct": (200, 403, 403),
    "POST /water-users/N/tax-statements/N/correct": (400, 403, 403),
    "GET /water-users/N/tax-statements/N/export.csv": (200, 200, 200),
    "GET /statistics": (200, 200, 403),
    "GET /statistics/export.xlsx": (200, 200, 403),
    # online monitoring (issue 17): staff see the meters and upload telemetry; gateways post points
    "POST /api/v1/telemetry": (422, 422, 422),
    "GET /monitoring/telemetry/upload": (200, 200, 403),
    "POST /monitoring/telemetry/upload": (400, 400, 403),
    "GET /monitoring/telemetry/jobs/N": (404, 404, 403),  # no such job of the account's own
    "GET /monitoring/": (200, 200, 403),
    "GET /monitoring/meters/N": (200, 200, 403),
    # warnings 预警 (issue 17): staff read, assign and close; the enterprise sees its own on the file page
    "GET /warnings": (200, 200, 403),
    "GET /warnings/N": (200, 200, 403),
    "POST /warnings/N/assign": (400, 400, 403),
    "POST /warnings/N/close": (400, 400, 403),
    # dynamic analysis (issue 17): staff
    "GET /water-users/N/analysis": (200, 200, 403),
    "GET /analysis/": (200, 200, 403),
}


def _key(method: str, url: str) -> str:
    """'GET /water-users/N/meters/N/edit': ids and certificate numbers stand as N and <number>."""
    url = re.sub(r"YWZS-\d{4}-\d{6}", "<number>", url)
    url = re.sub(r"/\d+", "/N", url)
    return f"{method} {url}"


def _expected(method: str, url: str, role: str) -> int:
    return EXPECTED[_key(method, url)][ROLES.index(role)]


def _crawl(app, target):
    return [(endpoint, method, url) for endpoint, method, url in _urls(app, target) if endpoint not in SESSION_ROUTES]


def test_the_table_holds_every_route(app, world):
    """Every rule of app.url_map is crawled and has its line; no line is left for a route gone."""
    crawled = {_key(method, url) for _endpoint, method, url in _crawl(app, world["mine"])}
    endpoints = {endpoint for endpoint, _method, _url in _crawl(app, world["mine"])}
    rules = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static", *SESSION_ROUTES}
    assert rules - endpoints == set()
    assert crawled - set(EXPECTED) == set(), "routes without an expected status per role"
    assert set(EXPECTED) - crawled == set(), "expected statuses of routes that are gone"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_its_status_for_each_role_in_scope(app, client, auth, world, role):
    _login(client, auth, world, role)
    wrong = []
    for _endpoint, method, url in _crawl(app, world["mine"]):
        response = _call(client, method, url)
        if response.status_code != _expected(method, url, role):
            wrong.append((method, url, response.status_code, _expected(method, url, role)))
        if role != "admin":  # the bureau sees every file
            assert not _leaks(response.get_data().decode("utf-8", "replace"), world["theirs"]), (role, method, url)
    assert wrong == []


def _names_their_object(url: str) -> bool:
    """The address names something of the other file (the file, a record, a certificate, a
    reading to review) or another account's token; pages that name nothing scoped answer as in
    scope (the table). /verify/ is public by design; /admin/ names accounts and rules versions,
    which no file owns; a batch job (certificates, tax statements, telemetry files) is the officer's own."""
    if url.startswith(("/verify/", "/admin/", "/certificates/batch", "/tax-statements/jobs",
                           "/monitoring/telemetry/jobs")):
        return False
    return bool(re.search(r"/\d+(/|\.|$)|YWZS-", url))


@pytest.mark.parametrize("role", ["inspector", "enterprise"])
def test_objects_outside_the_scope_answer_404(app, client, auth, world, role):
    """Out of scope beats the role: their file's pages are 404 even where the role is refused (403)
    on its own file, so a 403 never confirms that a file exists."""
    _login(client, auth, world, role)
    checked, wrong = 0, []
    for _endpoint, method, url in _crawl(app, world["theirs"]):
        response = _call(client, method, url)
        expected = 404 if _names_their_object(url) else _expected(method, url, role)
        if response.status_code != expected:
            wrong.append((method, url, response.status_code, expected))
        assert not _leaks(response.get_data().decode("utf-8", "replace"), world["theirs"]), (role, method, url)
        checked += _names_their_object(url)
    assert wrong == []
    assert checked > 100


NESTED = re.compile(r"^(/api/v1)?/(water-users|visits|portal/water-users)/\d+/.*(/\d+|YWZS-)")


@pytest.mark.parametrize("role", ROLES)
def test_records_of_another_file_cannot_be_reached_through_mine(app, client, auth, world, role):
    """/water-users/<mine>/meters/<their meter>/edit does not open their meter: 404 for every role,
    the bureau included (no such record in this file), and before the role is asked (an
    enterprise, refused 403 on its own meter, gets 404 for theirs)."""
    _login(client, auth, world, role)
    mixed = {"wu": world["mine"]["wu"], "records": world["theirs"]["records"], "document": world["theirs"]["document"],
             "evaluation": world["theirs"]["evaluation"], "certificate": world["theirs"]["certificate"],
             "communication": world["theirs"]["communication"], "proposal": world["theirs"]["proposal"],
             "statement": world["theirs"]["statement"]}
    checked, wrong = [], []
    for _endpoint, method, url in _crawl(app, mixed):
        if not NESTED.search(url):
            continue  # only addresses that name a record of the file
        checked.append(url)
        response = _call(client, method, url)
        if response.status_code != 404:
            wrong.append((method, url, response.status_code))
        assert not _leaks(response.get_data().decode("utf-8", "replace"), world["theirs"]), (role, method, url)
    assert wrong == []
    assert len(checked) > 60


@pytest.mark.parametrize("role, method, path, in_scope", [
    # role-forbidden in scope: 403; the same address on a file out of scope: 404
    ("inspector", "GET", "/water-users/{wu}/permits/new", 403),              # permits: the bureau's (permit.edit)
    ("inspector", "GET", "/water-users/{wu}/certificates/new", 403),         # certificate.issue
    ("inspector", "GET", "/water-users/{wu}/status", 403),                   # water_user.close
    ("enterprise", "GET", "/water-users/{wu}/meters/{meter}/edit", 403),     # meter.edit
    ("enterprise", "GET", "/visits/{wu}/inspect", 403),                      # inspection.edit
    ("enterprise", "GET", "/water-users/{wu}/dossier.pdf", 403),             # dossier.read
    ("admin", "GET", "/portal/water-users/{wu}/readings/new", 403),          # portal.use: the enterprise's
    ("enterprise", "PATCH", "/api/v1/water-users/{wu}/meters/{meter}", 403),
    ("inspector", "POST", "/api/v1/water-users/{wu}/plans", 403),
    # allowed in scope
    ("enterprise", "GET", "/water-users/{wu}", 200),
    ("inspector", "GET", "/water-users/{wu}/meters/{meter}/edit", 200),
    ("enterprise", "GET", "/portal/water-users/{wu}/readings/new", 200),
])
def test_forbidden_in_scope_is_403_and_out_of_scope_is_404(app, client, auth, world, role, method, path, in_scope):
    _login(client, auth, world, role)
    for side, expected in (("mine", in_scope), ("theirs", 404 if role != "admin" else in_scope)):
        target = world[side]
        url = path.format(wu=target["wu"].id, meter=target["records"]["meters"].id)
        assert _call(client, method, url).status_code == expected, (side, method, url)


def test_anonymous_visitors_are_sent_to_sign_in(app, client, world):
    for endpoint, method, url in _urls(app, world["mine"]):
        if endpoint in ("auth.login", "auth.logout", "auth.register", *PUBLIC):
            continue
        response = _call(client, method, url)
        assert response.status_code in (302, 401, 405), (method, url, response.status_code)
        assert response.status_code != 401 or url.startswith("/api/")
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("ending", ["sign_out", "password_change", "disabled"])
def test_item4_a_session_that_ended_opens_no_route(app, client, auth, world, ending):
    """The session-ending paths (issue 16 item 4): a copy of the cookie taken before the session
    ended is, on every route, what no cookie is."""
    account = world["accounts"]["admin"]
    auth.login(account.username)
    copied = client.get_cookie("session").value
    if ending == "sign_out":
        auth.logout()
    elif ending == "password_change":
        other = app.test_client()
        other.post("/login", data={"username": account.username, "password": f.PASSWORD})
        other.post("/account/password", data={"current": f.PASSWORD, "new": "Choujiang-river-77",
                                               "repeat": "Choujiang-river-77"})
    else:
        _disable(account)
    replay = app.test_client()
    replay.set_cookie("session", copied)
    for endpoint, method, url in _urls(app, world["mine"]):
        if endpoint in ("auth.login", "auth.logout", "auth.register", *PUBLIC):
            continue
        response = _call(replay, method, url)
        assert response.status_code in (302, 401, 405), (ending, method, url, response.status_code)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), (ending, url)


def _disable(account):
    from registry.services import accounts

    accounts.set_active(db.session, f.admin(username="second-admin"), account, False, "离职")


def test_inspector_list_shows_only_the_divisions_of_the_inspector(client, auth, world):
    auth.login("insp")
    body = client.get("/water-users/").get_data(as_text=True)
    assert world["mine"]["wu"].name in body and not _leaks(body, world["theirs"])
    body = client.get("/").get_data(as_text=True)
    assert not _leaks(body, world["theirs"])


def test_a_route_without_scoping_is_caught(app, client, auth, world):
    """The crawler fails on a leak: a route that skips access.scoped is detected."""
    from registry.models import WaterUser

    @app.route("/leaky/water-users/<int:water_user_id>")
    def leaky(water_user_id):
        return db.session.get(WaterUser, water_user_id).name

    auth.login("ent")
    leaked = [url for endpoint, method, url in _urls(app, world["theirs"])
              if method == "GET" and endpoint not in PUBLIC and _call(client, method, url).status_code == 200
              and _leaks(_call(client, method, url).get_data(as_text=True), world["theirs"])]
    assert leaked == [f"/leaky/water-users/{world['theirs']['wu'].id}"]


def test_enterprise_portal_pages_open_for_its_own_file(app, client, auth, world):
    auth.login("ent")
    for endpoint, method, url in _urls(app, world["mine"]):
        if endpoint.startswith("portal.") and method == "GET":
            assert _call(client, method, url).status_code == 200, url
