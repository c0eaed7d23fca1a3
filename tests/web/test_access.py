"""Role × route: every registered route, for every role, with objects in and out of scope.

A route that answers 200 for an object outside the account's scope, or shows another file's
name, USCC or file number, fails here. New routes are picked up from ``app.url_map``.
"""
from __future__ import annotations

import re


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
          "certificates.verify")


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
            "communication": _communication(wu)}


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


@pytest.mark.parametrize("role", ["inspector", "enterprise"])
def test_objects_outside_the_scope_answer_404(app, client, auth, world, role):
    _login(client, auth, world, role)
    checked = 0
    for endpoint, method, url in _urls(app, world["theirs"]):
        rule = app.url_map._rules_by_endpoint[endpoint][0]
        if not rule.arguments or "version" in rule.arguments or url.startswith("/verify/"):
            continue  # nothing of theirs in the address, or public by design (certificate verification)
        response = _call(client, method, url)
        body = response.get_data(as_text=True)
        assert response.status_code in (404, 405), (role, method, url, response.status_code)
        assert not _leaks(body, world["theirs"]), (role, method, url)
        checked += 1
    assert checked > 30


@pytest.mark.parametrize("role", ["admin", "inspector", "enterprise"])
def test_records_of_another_file_cannot_be_reached_through_mine(app, client, auth, world, role):
    """/water-users/<mine>/meters/<their meter>/edit must not open their meter."""
    _login(client, auth, world, role)
    mixed = {"wu": world["mine"]["wu"], "records": world["theirs"]["records"], "document": world["theirs"]["document"],
             "evaluation": world["theirs"]["evaluation"], "certificate": world["theirs"]["certificate"],
             "communication": world["theirs"]["communication"]}
    checked = []
    for endpoint, method, url in _urls(app, mixed):
        if not re.search(r"^/water-users/\d+/[a-z-]+/\d+(/|$)", url):
            continue  # only addresses that name a record of the file
        checked.append(url)
        response = _call(client, method, url)
        assert response.status_code in (403, 404, 405), (role, method, url, response.status_code)
        assert not _leaks(response.get_data(as_text=True), world["theirs"]), (role, method, url)
    assert len(checked) > 20


def test_every_page_of_a_file_opens_for_the_bureau(app, client, auth, world):
    _login(client, auth, world, "admin")
    for endpoint, method, url in _urls(app, world["mine"]):
        if method != "GET" or endpoint.startswith("portal."):  # the portal is the enterprise's own
            continue
        if endpoint in OWN_JOBS:  # an id of the account's own job, not of the file: see below
            continue
        response = _call(client, "GET", url)
        assert response.status_code in (200, 302), (url, response.status_code)


# Pages of one account's own background job: its owner sees it, anyone else finds nothing.
OWN_JOBS = ("monitoring.job",)


@pytest.mark.parametrize(("role", "own", "other"), [("admin", 200, 404), ("inspector", 200, 404),
                                                    ("enterprise", 404, 404)])
def test_a_telemetry_upload_job_answers_its_owner_only(app, client, auth, world, role, own, other):
    from registry.services import jobs

    account = world["accounts"][role]
    mine = jobs.create(db.session, "telemetry_csv", account, {"path": "/nonexistent.csv"})
    theirs = jobs.create(db.session, "telemetry_csv", world["theirs"]["account"], {"path": "/nonexistent.csv"})
    db.session.commit()
    _login(client, auth, world, role)
    assert _call(client, "GET", f"/monitoring/telemetry/jobs/{mine.id}").status_code == own
    assert _call(client, "GET", f"/monitoring/telemetry/jobs/{theirs.id}").status_code == other
    upload = _call(client, "GET", "/monitoring/telemetry/upload").status_code
    assert upload == {"admin": 200, "inspector": 200, "enterprise": 404}[role]
    assert _call(client, "GET", "/monitoring/").status_code == {"admin": 200, "inspector": 200, "enterprise": 404}[role]


def test_enterprise_reads_its_file_but_no_staff_page(app, client, auth, world):
    _login(client, auth, world, "enterprise")
    mine = world["mine"]["wu"].id
    assert client.get(f"/water-users/{mine}").status_code == 200
    for endpoint, method, url in _urls(app, world["mine"]):
        if endpoint in ("water_users.detail", "water_users.evaluation", "main.index", "auth.login", "auth.logout",
                        "records.download_document", "auth.change_password", "auth.register",
                        "certificates.download", "tokens.index", "tokens.revoke", *PUBLIC) \
                or endpoint.startswith(("portal.", "api_")):  # the API's own scoping: tests/api
            continue
        response = _call(client, method, url)
        assert response.status_code in (403, 404, 405), (method, url, response.status_code)


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
