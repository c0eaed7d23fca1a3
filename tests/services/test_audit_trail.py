"""The audit trail is complete and append-only (issue 10).

Every public service function that takes an ``actor`` is a mutation of the registry; each must
leave an audit event saying who, when, what, and the values before and after. The list of
such functions is read from the modules, so a new mutation without a driver here fails the test.
"""
from __future__ import annotations

import importlib
import random
import inspect
import json
import pkgutil
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select, update

import registry.services as services_pkg
from registry.clock import today as bureau_today
from registry.domain.rules import load_rules
from registry.domain.uscc import make_uscc
from registry.extensions import db
from registry.models import AnnualPlan, AuditEvent, Communication, Reading
from registry.models.audit import AuditTrailIsAppendOnly
from registry.services import (accounts, audit, certificates, communications, documents, exchange, inspections,
                               messages, portal, readings_bulk, records, reminders, rules_versions, tokens,
                               water_users)
from registry.services.validators import CHECKLIST_CODES
from tests import factories as f
from tests.services.test_hostile_input import _valid

# Functions that take an actor but only read (scoped look-ups), or that are the trail itself.
READERS = {"audit.record", "tokens.get_for", "tokens.visible_to",
           # issue 19: reads in the actor's scope (statements, statistics, totals)
           "tax.city_statements", "tax.get", "tax.statistics", "tax.statistics_xlsx", "tax.year_totals",
           "monitoring.online_meters"}
PDF = b"%PDF-1.4\n% audit\n"
# One field of each kind changed by the update driver, and its new value.
EDITS = {"intake_point": ("name", "3号取水口"), "permit": ("purpose", "生活用水"), "plan": ("notes", "调整"),
         "meter": ("manufacturer", "杭州竞达"), "calibration": ("agency", "义乌市计量所"),
         "reading": ("volume_m3", 1300.0), "balance_test": ("agency", "义乌市节水中心"),
         "inspection": ("findings", "铅封缺失"), "rectification": ("requirement", "加装铅封")}


def mutating_functions() -> set[str]:
    found = set()
    for module in pkgutil.iter_modules(services_pkg.__path__):
        mod = importlib.import_module(f"registry.services.{module.name}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ == mod.__name__ and not name.startswith("_") \
                    and "actor" in list(inspect.signature(fn).parameters)[:3]:
                found.add(f"{module.name}.{name}")
    return found - READERS


@pytest.fixture
def ctx(app, tmp_path):
    wu = f.WaterUserFactory()
    point = f.IntakePointFactory(water_user=wu)
    meter = f.MeterFactory(intake_point=point, water_user=wu)
    insp = f.InspectionFactory(water_user=wu, inspected_on=date(2024, 5, 1))
    c = {"wu": wu, "point": point, "meter": meter, "inspection": insp, "admin": f.admin(username="admin"),
         "inspector": f.inspector(username="insp"), "upload_dir": str(tmp_path), "tmp": tmp_path}
    c["enterprise"] = f.enterprise(wu, username="ent")
    c["rect"] = f.RectificationFactory(inspection=insp, water_user_id=wu.id)
    return c


def _comm(ctx, channel: str, status: str) -> Communication:
    row = Communication(water_user_id=ctx["wu"].id, kind="reminder", topic="permit_renewal",
                        item_key=f"audit:{channel}:{status}", channel=channel, recipient="water@example.cn",
                        subject="取水许可证延续提醒", body="请及时延续。", status=status)
    db.session.add(row)
    db.session.commit()
    return row


def _any_grade():
    rules = load_rules()
    return replace(rules, certificate=replace(rules.certificate, grades=("A", "B", "C", "D")))


def _record_kinds(ctx):
    """create, update and close of every record kind (records.KINDS)."""
    for kind in records.KINDS:
        data = _valid(kind, ctx)
        obj = records.create(db.session, ctx["admin"], kind, ctx["wu"], data)
        yield "records.create", obj
        field, value = EDITS[kind]
        records.update(db.session, ctx["admin"], kind, obj, {**data, field: value}, expected_version=obj.version)
        yield "records.update", obj
        records.close(db.session, ctx["admin"], kind, obj, "entered in error")
        yield "records.close", obj


def _drive(ctx):
    """Each mutation once, in an order where each finds what it needs. Yields (name, object)."""
    s, admin, ent, wu = db.session, ctx["admin"], ctx["enterprise"], ctx["wu"]
    yield from _record_kinds(ctx)
    old = f.PermitFactory(water_user=wu)
    data = {**_valid("permit", ctx), "number": "D330782S2025-0777"}
    yield "records.renew_permit", records.renew_permit(s, admin, old, data)
    made = water_users.create(s, admin, {"file_no": "YW-A-1", "name": "义乌市审计测试有限公司", "uscc": make_uscc(random.Random(99)),
                                          "division_code": "001", "industry_code": "1713", "opened_on": "2020-03-01"})
    yield "water_users.create", made
    yield "water_users.update", water_users.update(s, admin, made, {**water_users_data(made), "address": "义乌市北苑街道"},
                                                   expected_version=made.version)
    yield "water_users.set_status", water_users.set_status(s, admin, made, "suspended", "停产整顿")
    doc = documents.attach(s, admin, wu, {"title": "许可证扫描件", "kind": "permit_scan"}, filename="a.pdf", content=PDF,
                           upload_dir=ctx["upload_dir"], max_bytes=10**6)
    yield "documents.attach", doc
    yield "documents.close", documents.close(s, admin, doc, "重复上传")
    account = accounts.create_account(s, admin, username="clerk", role="inspector", password="a-long-enough-passphrase",
                                      division_codes=["001"])
    yield "accounts.create_account", account
    yield "accounts.update_account", accounts.update_account(s, admin, account, display_name="赵六", division_codes=["001"])
    yield "accounts.set_active", accounts.set_active(s, admin, account, False, "离职")
    accounts.reset_password(s, admin, account)
    yield "accounts.reset_password", account
    request = accounts.request_registration(s, {"username": "newcomer", "display_name": "王五", "email": "w@example.cn",
                                                "phone": "0579-1234567", "uscc": wu.uscc,
                                                "password": "a-long-enough-passphrase", "repeat": "a-long-enough-passphrase"})
    accounts.decide_registration(s, admin, request, False, "材料不全")
    yield "accounts.decide_registration", request
    plain = tokens.create_token(s, admin, admin, "ci")
    row = tokens.account_for(s, plain) and s.scalars(select(tokens.ApiToken).order_by(tokens.ApiToken.id.desc())).first()
    yield "tokens.create_token", row
    yield "tokens.revoke", tokens.revoke(s, admin, row, "不再使用")
    cert = certificates.issue(s, admin, wu, rules=_any_grade())
    yield "certificates.issue", cert
    yield "certificates.revoke", certificates.revoke(s, admin, cert, "数据有误")
    certificates.issue_many(s, admin, [wu.id], rules=_any_grade())
    yield "certificates.issue_many", wu
    yield "communications.acknowledge", communications.acknowledge(s, ent, _comm(ctx, "in_app", "sent"))
    bounced = _comm(ctx, "email", "sent")
    communications.mark_bounced(s, admin, bounced, "邮箱不存在")
    yield "communications.mark_bounced", bounced
    letter = _comm(ctx, "letter", "queued")
    communications.mark_posted(s, admin, [letter.id])
    yield "communications.mark_posted", letter
    failed = Communication(water_user_id=wu.id, kind="reminder", topic="calibration", item_key="audit:fail",
                           channel="email", recipient="x@example.cn", subject="检定提醒", body="请检定。", status="queued")
    s.add(failed)
    s.flush()
    reminders.mark_failed(s, admin, failed, "550 no such user")
    s.commit()
    yield "reminders.mark_failed", failed
    wording = messages.current(s)[("permit_renewal", "zh_CN")]
    yield "messages.save", messages.save(s, admin, "permit_renewal", "zh_CN",
                                         {"subject": wording.subject + "(修订)", "body": wording.body})
    document = load_rules().to_dict()
    document["version"] = "YW-2099.1"
    yield "rules_versions.publish", rules_versions.publish(s, admin, json.dumps(document), "测试")
    reading = portal.submit_reading(s, ent, wu, {"meter_id": ctx["meter"].id, "period": "2024-04", "volume_m3": "90"})
    yield "portal.submit_reading", reading
    yield "portal.review", portal.review(s, admin, reading, "reject", "表底数不符")
    yield "portal.submit_document", portal.submit_document(s, ent, wu, {"title": "检定证书", "kind": "calibration_certificate"},
                                                           filename="c.pdf", content=PDF + b"2",
                                                           upload_dir=ctx["upload_dir"], max_bytes=10**6)
    rect = ctx["rect"]
    yield "portal.answer_rectification", portal.answer_rectification(s, ent, wu, rect, {"response": "已加装铅封"})
    yield "inspections.verify", inspections.verify(s, ctx["inspector"], rect)
    yield "inspections.reopen", inspections.reopen(s, ctx["inspector"], rect, {
        "reason": "复查未整改", "deadline": (bureau_today() + timedelta(days=30)).isoformat()})
    yield "inspections.record", inspections.record(s, ctx["inspector"], wu, inspections.Submission(
        inspected_on=bureau_today().isoformat(), findings="正常", site_contact="李海燕",
        answers={code: {"result": "ok"} for code in CHECKLIST_CODES}), upload_dir=ctx["upload_dir"])
    outcome = readings_bulk.ingest(s, admin, [{"meter_id": ctx["meter"].id, "period": "2024-06", "volume_m3": 70,
                                               "source": "online"}])
    yield "readings_bulk.ingest", s.scalars(select(Reading).where(Reading.period == date(2024, 6, 1))).one()
    path = ctx["tmp"] / "readings.csv"
    path.write_text("档案号,表号,月份,取水量(m³),表底数,来源\n"
                    f"{wu.file_no},{ctx['meter'].serial},2024-07,65,,人工抄表\n", encoding="utf-8")
    report = exchange.run(s, admin, path, "csv", apply=True)
    assert report.applied, report.errors
    yield "exchange.run", s.scalars(select(Reading).where(Reading.period == date(2024, 7, 1))).one()
    del outcome
    # The plan year and the tax hand-over (issue 19).
    from registry.services import plans, tax

    f.PermitFactory(water_user=wu, annual_volume_m3=50_000.0)
    year = bureau_today().year + 1
    proposal = plans.propose(s, ent, wu, {"year": str(year), "planned_volume_m3": "30000", "past_year_use_m3": "28000"})
    yield "plans.propose", proposal
    yield "plans.decide", plans.decide(s, admin, proposal, {"decision": "approve"})
    plan = s.get(AnnualPlan, proposal.plan_id)
    yield "plans.adjust", plans.adjust(s, admin, plan, {"planned_volume_m3": "32000",
                                                        "effective_from": f"{year}-07-01", "reason": "扩产"})
    tax.compute(s, admin, 2024, 2, [wu.id])
    st = tax.latest(s, wu.id, 2024, 2)
    yield "tax.compute", st
    yield "tax.sign", tax.sign(s, admin, st)
    ctx["point"].design_capacity_m3h = 60.0  # a capacity corrected: the estimated months change
    s.commit()
    yield "tax.correct", tax.correct(s, admin, st, {"reason": "补录"})
    tax.compute(s, admin, 2024, 3, [wu.id])
    yield "tax.sign_all", (tax.sign_all(s, admin, 2024, 3), tax.latest(s, wu.id, 2024, 3))[1]

    from registry.models import TelemetryPoint
    from registry.services import telemetry, telemetry_csv

    ctx["meter"].telemetry_id = "AUDIT-T1"
    s.commit()
    day = bureau_today() - timedelta(days=2)
    got = telemetry.ingest(s, admin, [{"telemetry_id": "AUDIT-T1", "at": f"{day.isoformat()}T08:00:00+08:00",
                                       "totalizer_m3": 100.0}])
    assert got.created == 1, got.rejected
    yield "telemetry.ingest", s.scalars(select(TelemetryPoint)).first()
    got = telemetry_csv.run(s, admin, f"在线监测编号,时间,累计读数(m³)\nAUDIT-T1,{day.isoformat()}T09:00:00+08:00,110\n"
                            .encode(), max_rows=10)
    assert got.created == 1, got.rejected
    yield "telemetry_csv.run", s.scalars(select(TelemetryPoint)).first()

    # Warnings 预警 (issue 17): made by the detection (no actor), assigned and closed by staff.
    from registry.models import UseWarning
    from registry.services import warnings

    warning = UseWarning(water_user_id=wu.id, meter_id=ctx["meter"].id, kind="zero_use", period=date(2024, 5, 1),
                         dedupe_key=f"{wu.id}:{ctx['meter'].id}:zero_use:2024-05", evidence={"value": 0.0})
    s.add(warning)
    s.commit()
    yield "warnings.assign", warnings.assign(s, admin, warning, {"assignee_id": str(ctx["inspector"].id)})
    yield "warnings.close", warnings.close(s, admin, warning, {"outcome": "explained", "note": "停产检修"})


def water_users_data(wu) -> dict:
    return {k: getattr(wu, k) for k in ("file_no", "name", "uscc", "division_code", "industry_code", "opened_on")}


def _entity_of(obj) -> str:
    return type(obj).__name__


def test_every_service_mutation_writes_who_when_what_and_before_after(ctx):
    seen: set[str] = set()
    last_id = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0
    earlier = {e.id: (e.action, e.changes, e.at) for e in db.session.scalars(select(AuditEvent))}
    for name, obj in _drive(ctx):
        new = db.session.scalars(select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)).all()
        assert new, f"{name} wrote no audit event"
        assert all(e.at is not None and e.action and e.entity_type for e in new), name
        mine = [e for e in new if e.entity_type == _entity_of(obj) and e.entity_id == getattr(obj, "id", None)] or new
        assert any(e.changes or e.reason for e in mine), f"{name}: the event says nothing about what changed"
        assert all(isinstance(v, list) and len(v) == 2 for e in mine for v in (e.changes or {}).values()), \
            f"{name}: changes are not [before, after] pairs"
        assert {e.actor_id for e in new} - {None}, f"{name}: the event names no actor"
        seen.add(name)
        last_id = new[-1].id
    assert mutating_functions() <= seen, f"mutations with no audit check: {sorted(mutating_functions() - seen)}"
    # Nothing written earlier was changed by what followed.
    for e in db.session.scalars(select(AuditEvent).where(AuditEvent.id.in_(earlier))):
        assert (e.action, e.changes, e.at) == earlier[e.id]


def test_an_update_records_the_value_before_and_after(ctx):
    meter = ctx["meter"]
    data = {"serial": meter.serial, "intake_point_id": meter.intake_point_id, "meter_type": meter.meter_type,
            "installed_on": meter.installed_on, "manufacturer": "杭州竞达"}
    records.update(db.session, ctx["admin"], "meter", meter, data, expected_version=meter.version)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
    assert event.changes["manufacturer"] == [None, "杭州竞达"] and event.actor_id == ctx["admin"].id
    assert (event.entity_type, event.entity_id, event.water_user_id) == ("Meter", meter.id, meter.water_user_id)


def _event(ctx) -> AuditEvent:
    event = audit.record(db.session, ctx["admin"], "update", ctx["meter"], water_user_id=ctx["wu"].id,
                         changes={"dn": [100, 80]}, summary="meter")
    db.session.commit()
    return event


def test_an_audit_event_cannot_be_changed_through_the_orm(ctx):
    event = _event(ctx)
    event.changes = {"dn": [100, 100]}
    with pytest.raises(AuditTrailIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEvent, event.id).changes == {"dn": [100, 80]}


def test_an_audit_event_cannot_be_deleted_through_the_orm(ctx):
    event = _event(ctx)
    db.session.delete(event)
    with pytest.raises(AuditTrailIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEvent, event.id) is not None


@pytest.mark.parametrize("statement", [update(AuditEvent).values(reason="tampered"), delete(AuditEvent)])
def test_bulk_updates_and_deletes_of_the_trail_are_refused(ctx, statement):
    _event(ctx)
    with pytest.raises(AuditTrailIsAppendOnly):
        db.session.execute(statement)
    db.session.rollback()
    assert db.session.scalars(select(AuditEvent.reason)).all() == [None]


def test_no_route_offers_to_change_the_trail(app):
    """No endpoint is named after editing or deleting audit events."""
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule or "timeline" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule


def test_the_file_timeline_is_read_from_the_audit_events(ctx, client, auth):
    meter = ctx["meter"]
    data = {"serial": meter.serial, "intake_point_id": meter.intake_point_id, "meter_type": meter.meter_type,
            "installed_on": meter.installed_on, "manufacturer": "杭州竞达"}
    records.update(db.session, ctx["admin"], "meter", meter, data, expected_version=meter.version)
    # An event written straight into the trail (no record behind it) shows too: the timeline reads the trail.
    audit.record(db.session, ctx["admin"], "note", None, entity="WaterUser", entity_id=ctx["wu"].id,
                 water_user_id=ctx["wu"].id, summary="只在审计记录里的一条", changes={"x": [1, 2]})
    db.session.commit()
    auth.login("admin")
    body = client.get(f"/water-users/{ctx['wu'].id}?lang=en").get_data(as_text=True)
    assert "只在审计记录里的一条" in body and "杭州竞达" in body


def test_password_changes_are_in_the_trail_without_the_password(ctx):
    temporary = accounts.reset_password(db.session, ctx["admin"], ctx["inspector"])
    accounts.change_password(db.session, ctx["inspector"], temporary, "another-long-passphrase", "another-long-passphrase")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "Account",
                                                         AuditEvent.action.in_(("reset_password", "change_password")))).all()
    assert [e.action for e in events] == ["reset_password", "change_password"]
    assert all("password" in e.changes for e in events)
    text = json.dumps([e.changes for e in events])
    assert temporary not in text and "another-long-passphrase" not in text and "pbkdf2" not in text
