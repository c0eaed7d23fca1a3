"""The endpoints of /api/v1 (spec.md, "JSON API")."""
from __future__ import annotations

import json

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from sqlalchemy import select

from registry import access, rescoring
from registry.api import schemas
from registry.api.problems import Problem
from registry.extensions import db
from registry.models import Reading, WaterUser
from registry.services import (Conflict, Forbidden, NotFound, StaleEdit, ValidationError, evaluations, records, readings_bulk,
                               tokens, water_users)
from registry.services.file_view import ListFilters, load_file, water_user_list
from registry.web import paging
from registry.web.explain import sentence

class _JsonParser(FlaskParser):
    """JSON bodies Python's json module cannot hold are invalid JSON (400), not a 500: an integer
    of over 4,300 digits (``ValueError: Exceeds the limit … for integer string conversion``,
    issue 16 item 2) or nesting deeper than the interpreter's recursion limit."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            raise json.JSONDecodeError(str(exc), "<request body>", 0) from None


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = _JsonParser()


water_users_bp = Blueprint("api_water_users", __name__, url_prefix="/api/v1/water-users",
                           description="Water users and their whole file")
readings_bp = Blueprint("api_readings", __name__, url_prefix="/api/v1/readings", description="Readings in bulk")
BLUEPRINTS = (water_users_bp, readings_bp)
SLUGS = ('any("intake-points", "permits", "plans", "meters", "calibrations", "balance-tests", "inspections", '
         '"rectifications")')


def _authenticate():
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    account = tokens.account_for(db.session, token)
    if account is None:
        raise Problem(401, "Send a valid token: Authorization: Bearer <token>.", headers={"WWW-Authenticate": "Bearer"})
    g.api_account = account


for _bp in BLUEPRINTS:
    _bp.before_request(_authenticate)


def _errors(err: ValidationError) -> dict:
    return {k: str(v) for k, v in err.errors.items()}


def _call(fn, *args, **kwargs):
    """Run a service; domain errors become problem+json."""
    try:
        return fn(*args, **kwargs)
    except ValidationError as err:
        raise Problem(422, "The data breaks a rule of the registry.", _errors(err)) from None
    except Conflict:
        raise Problem(409, "Another request changed the same records at this moment: send this one again.") from None
    except StaleEdit:
        raise Problem(412, "The record changed since you read it: GET it again and resend with the new ETag.") from None
    except Forbidden:
        raise Problem(403, "Your account may not do this.") from None
    except NotFound:
        raise Problem(404, "Not found.") from None


def _file(water_user_id: int) -> WaterUser:
    return _call(access.get_water_user, g.api_account, water_user_id)


def _etag(kind: str, obj) -> str:
    return f'"{kind}-{obj.id}-v{obj.version}"'


def _require_match(kind: str, obj) -> int:
    """If-Match is required on every change (428 without it, 412 when stale)."""
    sent = request.headers.get("If-Match")
    if not sent:
        raise Problem(428, "Send If-Match with the ETag of the record you read.")
    if sent.strip() not in (_etag(kind, obj), "W/" + _etag(kind, obj)):
        raise Problem(412, "The record changed since you read it: GET it again and resend with the new ETag.")
    return obj.version


def _user_dict(wu: WaterUser) -> dict:
    data = {c.key: getattr(wu, c.key) for c in WaterUser.__table__.columns}
    data.update(division=wu.division_code, division_name=wu.division.name_zh if wu.division else None,
                industry=wu.industry_code)
    return data


def _service_data(body: dict) -> dict:
    data = dict(body)
    if "division" in data:
        data["division_code"] = data.pop("division")
    if "industry" in data:
        data["industry_code"] = data.pop("industry")
    return data


@water_users_bp.route("/")
class WaterUsers(MethodView):
    @water_users_bp.arguments(schemas.ListArgs, location="query")
    @water_users_bp.response(200, schemas.WaterUserPage)
    def get(self, args):
        """Water users in the token's scope, searchable and filterable."""
        stmt = water_user_list(db.session, g.api_account, ListFilters(q=args["q"], division=args["division"]))
        if args["grade"]:
            stmt = stmt.where(WaterUser.grade == args["grade"])
        page = paging.paginate(db.session, stmt, page=args["page"], per_page=args["per_page"])
        return {"items": [_user_dict(wu) for wu, _ in page.items], "page": page.page, "per_page": page.per_page,
                "total": page.total}

    @water_users_bp.arguments(schemas.WaterUserIn)
    @water_users_bp.response(201, schemas.WaterUserOut)
    def post(self, body):
        """Open a new file (bureau administrators)."""
        key = request.headers.get("Idempotency-Key")
        wu = _call(water_users.create, db.session, g.api_account, _service_data(body), idempotency_key=key)
        return _user_dict(wu), 201, {"ETag": _etag("wu", wu)}


@water_users_bp.route("/<int:water_user_id>")
class OneFile(MethodView):
    @water_users_bp.response(200, schemas.WaterUserFileOut)
    def get(self, water_user_id):
        """The whole file of one water user; the ETag guards PATCH."""
        view = _call(load_file, db.session, g.api_account, water_user_id)
        wu = view.water_user
        data = _user_dict(wu)
        data.update(
            intake_points=[_record(p) for p in wu.intake_points],
            permits=[{**_record(p), "intake_point_ids": [i.id for i in p.intake_points]} for p in wu.permits],
            plans=[_record(p) for p in wu.plans],
            meters=[{**_record(m), "calibrations": [_record(c) for c in m.calibrations]} for m in wu.meters],
            balance_tests=[_record(t) for t in wu.balance_tests],
            inspections=[{**_record(i), "items": [_record(x) for x in i.items],
                          "rectifications": [_record(r) for r in i.rectifications]} for i in wu.inspections],
            documents=[{"id": d.id, "title": d.title, "kind": d.kind, "content_type": d.content_type,
                        "size_bytes": d.size_bytes, "sha256": d.sha256, "status": d.status} for d in wu.documents],
            evaluation=_compliance(wu.evaluations[0]) if wu.evaluations else None,
            certificates=[{"number": c.number, "grade": c.grade, "status": c.status, "issued_on": c.issued_on.isoformat(),
                           "valid_until": c.valid_until.isoformat()} for c in wu.certificates])
        return data, 200, {"ETag": _etag("wu", wu)}

    @water_users_bp.arguments(schemas.WaterUserIn)
    @water_users_bp.response(200, schemas.WaterUserOut)
    def patch(self, body, water_user_id):
        """Change the profile; requires If-Match."""
        wu = _file(water_user_id)
        version = _require_match("wu", wu)
        data = {**_service_data(_user_dict(wu)), **_service_data(body)}
        wu = _call(water_users.update, db.session, g.api_account, wu, data, expected_version=version)
        return _user_dict(wu), 200, {"ETag": _etag("wu", wu)}


def _record(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def _compliance(ev) -> dict:
    rows = []
    for row in ev.rows:
        findings = [{**f, "reason": sentence(f["code"], f["params"])} for f in row["findings"]]
        rows.append({"rule": row["rule"], "points": row["points"], "maximum": row["maximum"],
                     "reason": "; ".join(f["reason"] for f in findings), "findings": findings})
    return {"total": ev.total, "grade": ev.grade, "veto": ev.veto, "rules_version": ev.rules_version,
            "evaluated_on": ev.evaluated_on, "rows": rows}


@water_users_bp.route("/<int:water_user_id>/compliance")
@water_users_bp.response(200, schemas.ComplianceOut)
def compliance(water_user_id):
    """The latest evaluation: total, grade, veto, rules version and one row per rule with its reason."""
    wu = _file(water_user_id)
    return _compliance(wu.evaluations[0]) if wu.evaluations else {"total": None, "grade": None, "veto": False,
                                                                   "rules_version": None, "evaluated_on": None,
                                                                   "rows": []}


@water_users_bp.route("/<int:water_user_id>/readings")
@water_users_bp.arguments(schemas.ReadingsArgs, location="query")
@water_users_bp.response(200, schemas.ReadingOut(many=True))
def readings(args, water_user_id):
    """Monthly readings of a file between two months (YYYY-MM), inclusive."""
    wu = _file(water_user_id)
    stmt = select(Reading).where(Reading.water_user_id == wu.id, Reading.read_on.is_(None)).order_by(Reading.period)
    for name, compare in (("from", Reading.period.__ge__), ("to", Reading.period.__le__)):
        if args.get(name):
            month = readings_bulk.parse_month(args[name])
            if month is None:
                raise Problem(422, "Months are YYYY-MM.", {name: "Enter a month as YYYY-MM."})
            stmt = stmt.where(compare(month))
    return [_record(r) for r in db.session.scalars(stmt.limit(5000))]


def _kind(slug: str):
    return records.KINDS[slug[:-1].replace("-", "_")]


@water_users_bp.route(f"/<int:water_user_id>/<{SLUGS}:slug>")
class Records(MethodView):
    @water_users_bp.response(200)
    def get(self, water_user_id, slug):
        """The records of one kind in a file (closed ones included, with closed_at)."""
        wu = _file(water_user_id)
        kind = _kind(slug)
        if kind.name == "calibration":
            rows = [c for m in wu.meters for c in m.calibrations]
        elif kind.name == "rectification":
            rows = [r for i in wu.inspections for r in i.rectifications]
        else:
            rows = getattr(wu, {"intake_point": "intake_points", "permit": "permits", "plan": "plans",
                                "meter": "meters", "balance_test": "balance_tests",
                                "inspection": "inspections"}[kind.name])
        return [_record(r) for r in rows]

    @water_users_bp.response(201)
    def post(self, water_user_id, slug):
        """Add a record to the file (the body fields are those of the record; see the schemas)."""
        wu = _file(water_user_id)
        kind = _kind(slug)
        body = _body(schemas.RECORD_IN[kind.name])
        obj = _call(records.create, db.session, g.api_account, kind.name, wu, body,
                    idempotency_key=request.headers.get("Idempotency-Key"))
        return _record(obj), 201, {"ETag": _etag(kind.name, obj)}


@water_users_bp.route(f"/<int:water_user_id>/<{SLUGS}:slug>/<int:record_id>")
class OneRecord(MethodView):
    @water_users_bp.response(200)
    def get(self, water_user_id, slug, record_id):
        wu = _file(water_user_id)
        kind = _kind(slug)
        obj = _call(records.get, db.session, kind.name, record_id, wu)
        return _record(obj), 200, {"ETag": _etag(kind.name, obj)}

    @water_users_bp.response(200)
    def patch(self, water_user_id, slug, record_id):
        """Change a record; requires If-Match with its ETag."""
        wu = _file(water_user_id)
        kind = _kind(slug)
        obj = _call(records.get, db.session, kind.name, record_id, wu)
        version = _require_match(kind.name, obj)
        body = _body(schemas.RECORD_IN[kind.name])
        current = {k: v for k, v in _record(obj).items() if k not in ("id", "version", "water_user_id")}
        if kind.name == "permit":
            current["intake_point_ids"] = [p.id for p in obj.intake_points]
        obj = _call(records.update, db.session, g.api_account, kind.name, obj, {**current, **body},
                    expected_version=version)
        return _record(obj), 200, {"ETag": _etag(kind.name, obj)}


def _body(schema) -> dict:
    import marshmallow as ma

    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # silent covers ValueError (a 5,000-digit integer), not this
        payload = None
    if not isinstance(payload, dict):
        raise Problem(422, "Send a JSON object.")
    try:
        return schema().load(payload)
    except ma.ValidationError as err:
        raise Problem(422, "The data does not match the schema.", err.messages) from None


@readings_bp.route("", methods=["POST"])
# The cyclic collector paused for the whole request: parsing a batch's JSON and checking it
# against the schema make some 50,000 small acyclic objects before the service runs, and the
# collections they woke walked the heap again and again.
@evaluations.collector_paused()
@readings_bp.arguments(schemas.ReadingBatchIn)
@readings_bp.response(200, schemas.ReadingBatchOut)
def post_readings(body):
    """Up to 10,000 monthly readings, all or nothing; resending the same batch creates nothing."""
    with rescoring.receiving(current_app._get_current_object()):
        outcome = _call(readings_bulk.ingest, db.session, g.api_account, body["readings"])
    if outcome.queued:
        rescoring.notify(current_app._get_current_object())
    return {"created": outcome.created, "unchanged": outcome.unchanged, "rescoring_files": outcome.queued}

