"""The endpoints of /api/v1 (spec.md, "JSON API")."""
from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy import select

from registry import access, rescoring
from registry.api import body as json_body, contract, schemas
from registry.presentation.problems import Problem
from registry.extensions import db
from registry.models import Reading, WaterUser
from registry.services import (Conflict, Forbidden, NotFound, StaleEdit, ValidationError, certificates, evaluations, records,
                               readings_bulk, telemetry, tokens, water_users)
from registry.services.certificates import CertificateRefused
from registry.services.file_view import ListFilters, load_file, water_user_list
from registry.presentation import paging
from registry.presentation.explain import sentence


class Blueprint(SmorestBlueprint):
    """Bodies are parsed once, strictly (registry.api.body), before webargs reads them."""

    ARGUMENTS_PARSER = json_body.StrictParser()


water_users_bp = Blueprint("api_water_users", __name__, url_prefix="/api/v1/water-users",
                           description="Water users and their whole file")
readings_bp = Blueprint("api_readings", __name__, url_prefix="/api/v1/readings", description="Readings in bulk")
telemetry_bp = Blueprint("api_telemetry", __name__, url_prefix="/api/v1/telemetry",
                         description="Online meters' totalizer points (在线监测)")
certificates_bp = Blueprint("api_certificates", __name__, url_prefix="/api/v1/certificates",
                            description="Compliance certificates (合规证书)")
tax_bp = Blueprint("api_tax", __name__, url_prefix="/api/v1/tax-statements",
                   description="Water-resource tax hand-over statements (水资源税涉税信息)")
BLUEPRINTS = (water_users_bp, readings_bp, telemetry_bp, certificates_bp, tax_bp)
# The record kinds of a file, each on its own typed path (spec.md: "Record kinds in the API").
RECORD_PATHS = {"intake-points": "intake_point", "permits": "permit", "plans": "plan", "meters": "meter",
                "calibrations": "calibration", "balance-tests": "balance_test", "inspections": "inspection",
                "rectifications": "rectification"}
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string"},
                   "description": "Resending a request with the same key creates nothing twice."}
IF_MATCH = {"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
            "description": "The ETag of the record as you read it (412 when stale, 428 when absent)."}


def _authenticate():
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    account = tokens.account_for(db.session, token)
    if account is None:
        raise Problem(401, "Send a valid token: Authorization: Bearer <token>.", headers={"WWW-Authenticate": "Bearer"})
    g.api_account = account


# Who may write through an endpoint, checked (like scope) before its body is read, as the pages
# check before their form: endpoint -> the action of registry.access.ACTIONS.
WRITE_GUARDS: dict[str, str] = {}
# The endpoints that name one record of a file (record_id): endpoint -> its records.KINDS name.
RECORD_ENDPOINTS: dict[str, str] = {}


def _guard():
    """Scope first (404: out of scope is unknown, and so is a record of another file), then the
    role (403), then the body (400/422)."""
    for name in ("api_file", "api_record", "api_certificate"):
        g.pop(name, None)  # an app context may outlive a request (tests, CLI): nothing carries over
    args = request.view_args or {}
    if "water_user_id" in args:
        g.api_file = _file(args["water_user_id"])
    if request.endpoint in RECORD_ENDPOINTS and "record_id" in args:
        model = records.KINDS[RECORD_ENDPOINTS[request.endpoint]].model
        g.api_record = _call(access.get_record, g.api_account, model, args["record_id"], within=g.api_file)
    if "number" in args:
        g.api_certificate = _call(certificates.get, db.session, g.api_account, args["number"])
    action = WRITE_GUARDS.get(request.endpoint) if request.method in json_body.BODY_METHODS else None
    if action is not None:
        _call(access.require, g.api_account, action)


for _bp in BLUEPRINTS:
    _bp.before_request(_authenticate)
    _bp.before_request(_guard)
    _bp.before_request(json_body.check_request_body)
    _bp.before_request(contract.check_request)  # the document's query parameters and types, nothing else


def _errors(err: ValidationError) -> dict:
    return {k: str(v) for k, v in err.errors.items()}


def _call(fn, *args, **kwargs):
    """Run a service; domain errors become problem+json."""
    try:
        return fn(*args, **kwargs)
    except CertificateRefused as err:
        raise Problem(409, "; ".join(_errors(err).values()), _errors(err)) from None
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
    found = g.get("api_file")
    if found is not None and found.id == water_user_id:
        return found
    return _call(access.get_water_user, g.api_account, water_user_id)


def _etag(kind: str, obj) -> str:
    return f'"{kind}-{obj.id}-v{obj.version}"'


def _require_match(kind: str, obj) -> int:
    """If-Match is required on every change (428 without it, 412 when stale)."""
    sent = request.headers.get("If-Match")
    if not sent:
        raise Problem(428, "Send If-Match with the ETag of the record you read.")
    if sent.strip() == "*":  # matches any version: no protection against a lost update (RFC 9110 §13.1.1)
        raise Problem(428, "If-Match: * does not say which version you read: send the record's ETag.")
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
            certificates=[_certificate(c) for c in wu.certificates])
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


def _rows(wu: WaterUser, kind: str) -> list:
    if kind == "calibration":
        return [c for m in wu.meters for c in m.calibrations]
    if kind == "rectification":
        return [r for i in wu.inspections for r in i.rectifications]
    return getattr(wu, {"intake_point": "intake_points", "permit": "permits", "plan": "plans", "meter": "meters",
                        "balance_test": "balance_tests", "inspection": "inspections"}[kind])


def _one(kind: str, obj) -> dict:
    data = _record(obj)
    if kind == "permit":
        data["intake_point_ids"] = [p.id for p in obj.intake_points]
    elif kind == "inspection":
        data["items"] = [_record(x) for x in obj.items]
    return data


def _record_views(slug: str, kind: str) -> None:
    """GET|POST /<id>/<slug> and GET|PATCH /<id>/<slug>/<record_id> of one record kind, typed."""
    label = kind.replace("_", " ")
    record_in, record_out = schemas.RECORD_IN[kind], schemas.RECORD_OUT[kind]

    class Records(MethodView):
        @water_users_bp.response(200, record_out(many=True))
        def get(self, water_user_id):
            return [_one(kind, r) for r in _rows(_file(water_user_id), kind)]

        @water_users_bp.arguments(record_in)
        @water_users_bp.response(201, record_out)
        @water_users_bp.doc(parameters=[IDEMPOTENCY_KEY])
        def post(self, data, water_user_id):
            wu = _file(water_user_id)
            obj = _call(records.create, db.session, g.api_account, kind, wu, data,
                        idempotency_key=request.headers.get("Idempotency-Key"))
            return _one(kind, obj), 201, {"ETag": _etag(kind, obj)}

    class OneRecord(MethodView):
        @water_users_bp.response(200, record_out)
        def get(self, water_user_id, record_id):
            obj = g.api_record  # resolved in the file, in scope, by _guard
            return _one(kind, obj), 200, {"ETag": _etag(kind, obj)}

        @water_users_bp.arguments(record_in)
        @water_users_bp.response(200, record_out)
        @water_users_bp.doc(parameters=[IF_MATCH])
        def patch(self, data, water_user_id, record_id):
            obj = g.api_record  # resolved in the file, in scope, by _guard
            version = _require_match(kind, obj)
            current = {k: v for k, v in _one(kind, obj).items() if k not in ("id", "version", "water_user_id", "items")}
            obj = _call(records.update, db.session, g.api_account, kind, obj, {**current, **data},
                        expected_version=version)
            return _one(kind, obj), 200, {"ETag": _etag(kind, obj)}

    Records.get.__doc__ = f"The {label} records of a file (closed ones included, with closed_at)."
    Records.post.__doc__ = f"Add a {label} record to the file."
    OneRecord.get.__doc__ = f"One {label} record; its ETag guards PATCH."
    OneRecord.patch.__doc__ = f"Change a {label} record; requires If-Match with its ETag."
    name = kind.title().replace("_", "")
    Records.__name__, OneRecord.__name__ = f"{name}Records", f"One{name}"
    water_users_bp.add_url_rule(f"/<int:water_user_id>/{slug}", Records.__name__, Records)
    water_users_bp.add_url_rule(f"/<int:water_user_id>/{slug}/<int:record_id>", OneRecord.__name__, OneRecord)
    for view in (Records, OneRecord):
        WRITE_GUARDS[f"{water_users_bp.name}.{view.__name__}"] = f"{kind}.edit"
    RECORD_ENDPOINTS[f"{water_users_bp.name}.{OneRecord.__name__}"] = kind


for _slug, _kind in RECORD_PATHS.items():
    _record_views(_slug, _kind)


def _certificate(cert) -> dict:
    return {"number": cert.number, "water_user_id": cert.water_user_id, "grade": cert.grade, "score": cert.score,
            "status": certificates.status_of(cert), "issued_on": cert.issued_on, "valid_until": cert.valid_until,
            "revoked_on": cert.revoked_on, "revoked_reason": str(certificates.reason_text(cert)) or None,
            "pdf_sha256": cert.pdf_sha256}


@water_users_bp.route("/<int:water_user_id>/certificates")
class FileCertificates(MethodView):
    @water_users_bp.response(200, schemas.CertificateOut(many=True))
    def get(self, water_user_id):
        """The certificates of a file, newest first (status valid, expired or revoked)."""
        wu = _file(water_user_id)
        return [_certificate(c) for c in sorted(wu.certificates, key=lambda c: c.id, reverse=True)]

    @water_users_bp.response(201, schemas.CertificateOut)
    @water_users_bp.alt_response(409, description="The file does not earn a certificate now; the detail says why.")
    @water_users_bp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, water_user_id):
        """Issue a certificate from the file's latest evaluation (bureau administrators)."""
        wu = _file(water_user_id)
        cert = _call(certificates.issue, db.session, g.api_account, wu,
                     idempotency_key=request.headers.get("Idempotency-Key"))
        return _certificate(cert), 201


@certificates_bp.route("/<number>")
@certificates_bp.response(200, schemas.CertificateOut)
def certificate(number):
    """One certificate in the token's scope, by number (YWZS-YYYY-NNNNNN)."""
    return _certificate(g.api_certificate)


@certificates_bp.route("/<number>/revoke", methods=["POST"])
@certificates_bp.arguments(schemas.RevokeIn)
@certificates_bp.response(200, schemas.CertificateOut)
@certificates_bp.alt_response(409, description="The certificate is already revoked.")
def revoke_certificate(data, number):
    """Revoke a certificate with a reason, shown on the public verification page (bureau administrators)."""
    return _certificate(_call(certificates.revoke, db.session, g.api_account, g.api_certificate, data["reason"]))


WRITE_GUARDS.update({f"{water_users_bp.name}.WaterUsers": "water_user.create",
                     f"{water_users_bp.name}.OneFile": "water_user.edit",
                     f"{water_users_bp.name}.FileCertificates": "certificate.issue",
                     f"{certificates_bp.name}.revoke_certificate": "certificate.issue",
                     f"{readings_bp.name}.post_readings": "reading.submit"})


@readings_bp.route("", methods=["POST"])
# The cyclic collector paused for the whole request: parsing a batch's JSON and checking it
# against the schema make some 50,000 small acyclic objects before the service runs, and the
# collections they woke walked the heap again and again.
@evaluations.collector_paused()
@readings_bp.arguments(schemas.ReadingBatchIn)
@readings_bp.response(200, schemas.ReadingBatchOut)
def post_readings(body):
    """Up to 10,000 monthly readings, all or nothing; resending the same batch creates nothing."""
    outcome = _call(readings_bulk.ingest, db.session, g.api_account, body["readings"])
    if outcome.queued:
        rescoring.notify(current_app._get_current_object())
    return {"created": outcome.created, "unchanged": outcome.unchanged, "rescoring_files": outcome.queued}



def _tax_period(args) -> tuple[int, int]:
    """The period asked for; either part left out: the last ended quarter's."""
    from registry import clock

    today = clock.today()
    last = (today.month - 1) // 3
    year, quarter = (today.year, last) if last else (today.year - 1, 4)
    return args.get("year", year), args.get("quarter", quarter)


def _tax_visible(statements):
    """An enterprise sees what the bureau signed; staff see drafts too."""
    if g.api_account.role == "enterprise":
        return [st for st in statements if st.status == "signed"]
    return statements


@water_users_bp.route("/<int:water_user_id>/tax-statements")
@water_users_bp.arguments(schemas.TaxPeriodArgs, location="query")
@water_users_bp.response(200, schemas.TaxStatementOut)
def tax_statement(args, water_user_id):
    """The quarter's hand-over statement of one user: its latest version (an enterprise: the latest
    signed one); 404 when none has been computed yet."""
    from registry.models import TaxStatement
    from registry.services import tax

    wu = _file(water_user_id)
    year, quarter = _tax_period(args)
    versions = _tax_visible(list(db.session.scalars(select(TaxStatement).where(
        TaxStatement.water_user_id == wu.id, TaxStatement.year == year,
        TaxStatement.quarter == quarter).order_by(TaxStatement.version.desc()))))
    if not versions:
        raise Problem(404, "No statement for that quarter yet.")
    return tax.document(versions[0])


@tax_bp.route("")
@tax_bp.arguments(schemas.TaxPeriodArgs, location="query")
@tax_bp.response(200, schemas.TaxBatchOut)
def tax_batch(args):
    """The city's batch for the quarter: the latest version of each statement in the account's scope."""
    from registry.services import tax

    year, quarter = _tax_period(args)
    statements = _tax_visible(_call(tax.city_statements, db.session, g.api_account, year, quarter))
    return {"year": year, "quarter": quarter, "statements": [tax.document(st) for st in statements]}
@telemetry_bp.route("", methods=["POST"])
@evaluations.collector_paused()
@telemetry_bp.arguments(schemas.TelemetryBatchIn)
@telemetry_bp.response(200, schemas.TelemetryBatchOut)
def post_telemetry(body):
    """Up to 50,000 totalizer points of online meters, any order, late data welcome; idempotent on
    (meter, at). Each refused point is listed with its field and reason; the others are stored
    and turned into the meters' daily and monthly volumes."""
    outcome = _call(telemetry.ingest, db.session, g.api_account, body["points"])
    if outcome.queued:
        rescoring.notify(current_app._get_current_object())
    return {"created": outcome.created, "unchanged": outcome.unchanged, "rejected": outcome.rejected,
            "readings": outcome.readings, "rescoring_files": outcome.queued}
