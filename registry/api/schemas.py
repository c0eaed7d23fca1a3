"""Marshmallow schemas of the API, most of them derived from the models' columns so the
OpenAPI document cannot drift from the database."""
from __future__ import annotations

import marshmallow as ma
from sqlalchemy import inspect as sa_inspect

from registry.domain import ranges
from registry.models import (AnnualPlan, BalanceTest, Calibration, Inspection, IntakePoint, Meter, Permit, Reading,
                             Rectification, WaterUser)
from registry.models.reading import READING_SOURCES

_TECHNICAL = {"created_at", "updated_at", "closed_at", "closed_reason"}
_FIELD_FOR = {"Integer": ma.fields.Integer, "Float": ma.fields.Float, "String": ma.fields.String,
              "Text": ma.fields.String, "Date": ma.fields.Date, "Boolean": ma.fields.Boolean,
              "UTCDateTime": ma.fields.DateTime, "JSON": ma.fields.Raw}


def _columns(model):
    return [c for c in sa_inspect(model).columns if c.key not in _TECHNICAL]


def output_schema(model, name: str, extra: dict | None = None) -> type[ma.Schema]:
    fields = {c.key: _FIELD_FOR.get(type(c.type).__name__, ma.fields.Raw)(dump_only=True, allow_none=c.nullable)
              for c in _columns(model)}
    fields["closed_at"] = ma.fields.DateTime(dump_only=True, allow_none=True)
    fields["closed_reason"] = ma.fields.String(dump_only=True, allow_none=True)
    fields.update(extra or {})
    return ma.Schema.from_dict(fields, name=name)


def quantity(key: str) -> ma.fields.Field:
    """A numeric input with a domain range (registry.domain.ranges), passed to the service as
    sent: the service checks it, so the API's error names the field and the rule in the
    account's language as the forms' do (marshmallow's Float said "Number too large." in English
    for a 400-digit volume). The range is documented in the OpenAPI document."""
    bounds = ranges.RANGES[key]
    return ma.fields.Raw(allow_none=True, metadata={
        "type": "integer" if bounds.integer else "number", "minimum": bounds.low, "maximum": bounds.high,
        **({"exclusiveMinimum": True} if bounds.low_open else {})})


def _input_field(column) -> ma.fields.Field:
    if column.key in ranges.RANGES:
        return quantity(column.key)
    return _FIELD_FOR.get(type(column.type).__name__, ma.fields.Raw)(allow_none=True)


def input_schema(model, name: str, skip=(), extra: dict | None = None) -> type[ma.Schema]:
    """Every writable column, all optional here: the service says what is required and why."""
    fields = {c.key: _input_field(c)
              for c in _columns(model) if c.key not in {"id", "version", "water_user_id", *skip}}
    fields.update(extra or {})
    schema = ma.Schema.from_dict(fields, name=name)
    schema.Meta = type("Meta", (), {"unknown": ma.RAISE})
    return schema


CalibrationOut = output_schema(Calibration, "Calibration")
RectificationOut = output_schema(Rectification, "Rectification")
ChecklistOut = ma.Schema.from_dict({"code": ma.fields.String(), "result": ma.fields.String(),
                                    "note": ma.fields.String(allow_none=True)}, name="ChecklistItem")
RECORD_OUT = {
    "intake_point": output_schema(IntakePoint, "IntakePoint"),
    "permit": output_schema(Permit, "Permit", {"intake_point_ids": ma.fields.List(ma.fields.Integer(), dump_only=True)}),
    "plan": output_schema(AnnualPlan, "AnnualPlan"),
    "meter": output_schema(Meter, "Meter", {"calibrations": ma.fields.List(ma.fields.Nested(CalibrationOut))}),
    "calibration": CalibrationOut,
    "balance_test": output_schema(BalanceTest, "BalanceTest"),
    "inspection": output_schema(Inspection, "Inspection", {
        "items": ma.fields.List(ma.fields.Nested(ChecklistOut)),
        "rectifications": ma.fields.List(ma.fields.Nested(RectificationOut))}),
    "rectification": RectificationOut,
}
ChecklistIn = ma.Schema.from_dict({"code": ma.fields.String(required=True), "result": ma.fields.String(required=True),
                                   "note": ma.fields.String(allow_none=True)}, name="ChecklistItemInput")
RECORD_IN = {
    "intake_point": input_schema(IntakePoint, "IntakePointInput"),
    "permit": input_schema(Permit, "PermitInput", skip=("renews_id", "revoked_on", "revoked_reason"),
                           extra={"intake_point_ids": ma.fields.List(ma.fields.Integer())}),
    "plan": input_schema(AnnualPlan, "AnnualPlanInput", skip=("breakdown", "shares")),  # set by proposal/adjustment
    "meter": input_schema(Meter, "MeterInput"),
    "calibration": input_schema(Calibration, "CalibrationInput"),
    "balance_test": input_schema(BalanceTest, "BalanceTestInput"),
    "inspection": input_schema(Inspection, "InspectionInput", skip=("inspector_id", "signature_sha256"),
                               extra={"items": ma.fields.List(ma.fields.Nested(ChecklistIn))}),
    "rectification": input_schema(Rectification, "RectificationInput", skip=("verified_on",)),
}

WaterUserOut = output_schema(WaterUser, "WaterUser", {
    "division": ma.fields.String(dump_only=True), "division_name": ma.fields.String(dump_only=True),
    "industry": ma.fields.String(dump_only=True)})
WaterUserIn = ma.Schema.from_dict({
    "file_no": ma.fields.String(), "name": ma.fields.String(), "uscc": ma.fields.String(),
    "division": ma.fields.String(), "industry": ma.fields.String(), "opened_on": ma.fields.Date(),
    "legal_representative": ma.fields.String(allow_none=True), "contact_name": ma.fields.String(allow_none=True),
    "contact_phone": ma.fields.String(allow_none=True), "email": ma.fields.String(allow_none=True),
    "address": ma.fields.String(allow_none=True), "notes": ma.fields.String(allow_none=True)}, name="WaterUserInput")
WaterUserIn.Meta = type("Meta", (), {"unknown": ma.RAISE})

FindingOut = ma.Schema.from_dict({"code": ma.fields.String(), "lost": ma.fields.Float(), "reason": ma.fields.String(),
                                  "restore": ma.fields.String(), "params": ma.fields.Dict()}, name="Finding")
RuleRowOut = ma.Schema.from_dict({"rule": ma.fields.String(), "points": ma.fields.Float(),
                                  "maximum": ma.fields.Float(), "reason": ma.fields.String(),
                                  "findings": ma.fields.List(ma.fields.Nested(FindingOut))}, name="RuleRow")
ComplianceOut = ma.Schema.from_dict({
    "total": ma.fields.Float(allow_none=True), "grade": ma.fields.String(allow_none=True),
    "veto": ma.fields.Boolean(), "rules_version": ma.fields.String(allow_none=True),
    "evaluated_on": ma.fields.Date(allow_none=True), "rows": ma.fields.List(ma.fields.Nested(RuleRowOut))},
    name="Compliance")

CertificateOut = ma.Schema.from_dict({
    "number": ma.fields.String(dump_only=True), "water_user_id": ma.fields.Integer(dump_only=True),
    "grade": ma.fields.String(dump_only=True), "score": ma.fields.Float(dump_only=True),
    "status": ma.fields.String(dump_only=True, validate=ma.validate.OneOf(["valid", "expired", "revoked"])),
    "issued_on": ma.fields.Date(dump_only=True), "valid_until": ma.fields.Date(dump_only=True),
    "revoked_on": ma.fields.Date(dump_only=True, allow_none=True),
    "revoked_reason": ma.fields.String(dump_only=True, allow_none=True),
    "pdf_sha256": ma.fields.String(dump_only=True, allow_none=True)}, name="Certificate")
TaxPeriodArgs = ma.Schema.from_dict({
    "year": ma.fields.Integer(validate=ma.validate.Range(2000, 2100),
                              metadata={"description": "default: the year of the last ended quarter"}),
    "quarter": ma.fields.Integer(validate=ma.validate.Range(1, 4),
                                 metadata={"description": "default: the last ended quarter"})}, name="TaxPeriod")
TaxStatementOut = ma.Schema.from_dict({
    "id": ma.fields.Integer(), "water_user_id": ma.fields.Integer(), "year": ma.fields.Integer(),
    "quarter": ma.fields.Integer(), "version": ma.fields.Integer(),
    "status": ma.fields.String(validate=ma.validate.OneOf(["draft", "signed"])),
    "rules_version": ma.fields.String(), "computed_on": ma.fields.String(),
    "signed_at": ma.fields.String(allow_none=True), "correction_reason": ma.fields.String(allow_none=True),
    "previous_id": ma.fields.Integer(allow_none=True),
    "figures": ma.fields.Dict(metadata={"description": "volumes by source and tier, estimated parts and the "
                                                      "figures that produced them (domain.tax.statement)"})},
    name="TaxStatement")
TaxBatchOut = ma.Schema.from_dict({"year": ma.fields.Integer(), "quarter": ma.fields.Integer(),
                                   "statements": ma.fields.List(ma.fields.Nested(TaxStatementOut))}, name="TaxBatch")
RevokeIn = ma.Schema.from_dict({"reason": ma.fields.String(required=True, metadata={
    "description": "Why the certificate is revoked; the public verification page shows it."})}, name="Revocation")
RevokeIn.Meta = type("Meta", (), {"unknown": ma.RAISE})

WaterUserFileOut = output_schema(WaterUser, "WaterUserFile", {
    "division": ma.fields.String(dump_only=True), "division_name": ma.fields.String(dump_only=True),
    "industry": ma.fields.String(dump_only=True),
    "intake_points": ma.fields.List(ma.fields.Nested(RECORD_OUT["intake_point"])),
    "permits": ma.fields.List(ma.fields.Nested(RECORD_OUT["permit"])),
    "plans": ma.fields.List(ma.fields.Nested(RECORD_OUT["plan"])),
    "meters": ma.fields.List(ma.fields.Nested(RECORD_OUT["meter"])),
    "balance_tests": ma.fields.List(ma.fields.Nested(RECORD_OUT["balance_test"])),
    "inspections": ma.fields.List(ma.fields.Nested(RECORD_OUT["inspection"])),
    "documents": ma.fields.List(ma.fields.Dict()),
    "evaluation": ma.fields.Nested(ComplianceOut, allow_none=True),
    "certificates": ma.fields.List(ma.fields.Nested(CertificateOut)),
})


def page_schema(item, name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict({"items": ma.fields.List(ma.fields.Nested(item)), "page": ma.fields.Integer(),
                                "per_page": ma.fields.Integer(), "total": ma.fields.Integer()}, name=name)


# What registry.web.errors refuses in any query string (400), said in the document too.
NO_CONTROL = ma.validate.Regexp(r"^[^\x00-\x08\x0a-\x1f\x7f]*$", error="No control characters.")
WaterUserPage = page_schema(WaterUserOut, "WaterUserPage")
ListArgs = ma.Schema.from_dict({
    "q": ma.fields.String(load_default="", validate=[ma.validate.Length(max=100), NO_CONTROL]),
    "division": ma.fields.String(load_default="", validate=[ma.validate.Length(max=3), NO_CONTROL]),
    "grade": ma.fields.String(load_default="", validate=ma.validate.OneOf(["", "A", "B", "C", "D"])),
    "page": ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100000)),
    "per_page": ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))}, name="ListArgs")
ReadingOut = output_schema(Reading, "Reading")
ReadingsArgs = ma.Schema.from_dict({
    "from": ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^\d{4}-\d{2}$")),
    "to": ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^\d{4}-\d{2}$"))}, name="ReadingsArgs")
# What a reading of a batch is; the service checks each item itself (its errors are keyed
# "readings[3].volume_m3"), so these types document the contract and are not applied one by one.
ReadingItemIn = ma.Schema.from_dict({
    "meter_id": ma.fields.Integer(required=True, metadata={"description": "A meter of a file in the token's scope."}),
    "period": ma.fields.String(required=True, validate=ma.validate.Regexp(r"^\d{4}-\d{2}$"),
                               metadata={"description": "The month read, YYYY-MM."}),
    "volume_m3": ma.fields.Float(required=True, validate=ma.validate.Range(min=0),
                                 metadata={"description": "Volume withdrawn in the month, m³."}),
    "source": ma.fields.String(load_default="online",
                               validate=ma.validate.OneOf(READING_SOURCES))},
    name="ReadingItem")


class _Objects(ma.fields.List):
    """A list of JSON objects. When every item is one (a gateway's batch), the list is taken as
    it is: marshmallow copied the 10,000 dicts one field call at a time (~40 ms a batch). Any
    other item sends the list through the item field, with its per-item errors, as before."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list and all(type(item) is dict for item in value):
            return list(value)
        return super()._deserialize(value, attr, data, **kwargs)


ReadingBatchIn = ma.Schema.from_dict({"readings": _Objects(ma.fields.Nested(ReadingItemIn), required=True,
                                                           validate=ma.validate.Length(max=10000))},
                                     name="ReadingBatch")
ReadingBatchOut = ma.Schema.from_dict({
    "created": ma.fields.Integer(), "unchanged": ma.fields.Integer(),
    # Files whose score these readings can change: re-scored just after the answer.
    "rescoring_files": ma.fields.Integer()},
                                      name="ReadingBatchResult")


# A point's fields are judged by the service, point by point: a refused point is listed in the
# answer's "rejected" (200), never a refusal of the batch, so the document describes them without
# constraints a validator would enforce on the whole request.
TelemetryPointIn = ma.Schema.from_dict({
    "telemetry_id": ma.fields.Raw(metadata={"description": "The online meter's telemetry id (在线监测编号), "
                                                           "a string of 1–60 characters."}),
    "at": ma.fields.Raw(metadata={"description": "The instant read, ISO 8601 with its offset: "
                                                 "2026-12-01T08:00:00+08:00 (from 2000, at most 10 minutes ahead)."}),
    "totalizer_m3": ma.fields.Raw(metadata={"description": f"The totalizer's value (累计流量), m³, a number from 0 "
                                                           f"to {ranges.TOTALIZER_MAX:.0f}."}),
    "flow_m3h": ma.fields.Raw(metadata={"description": "Instantaneous flow, m³/h, a number from 0 (optional)."})},
    name="TelemetryPoint")
class _Points(ma.fields.List):
    """A list of telemetry points, taken as it is: the service judges each point and names the
    refused ones (a gateway's batch is not lost for one bad point); documented as the items."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list:
            return list(value)
        return super()._deserialize(value, attr, data, **kwargs)


# A point that is no object is refused in "rejected" like any other bad point (the batch goes on), so
# the document's items are "a TelemetryPoint, or anything else, refused by name": schemathesis'
# random draws sent a batch of nulls, answered 200 with every point rejected, against items typed
# as objects only.
TelemetryBatchIn = ma.Schema.from_dict({"points": _Points(ma.fields.Raw(metadata={"anyOf": [
    {"$ref": "#/components/schemas/TelemetryPoint"},
    {"description": "Any other value is refused in the answer's rejected; the other points are still stored."}]}),
    required=True, validate=ma.validate.Length(max=50000))}, name="TelemetryBatch")
TelemetryRejected = ma.Schema.from_dict({
    "index": ma.fields.Integer(), "field": ma.fields.String(), "message": ma.fields.String()},
    name="TelemetryRejectedPoint")
TelemetryBatchOut = ma.Schema.from_dict({
    "created": ma.fields.Integer(), "unchanged": ma.fields.Integer(),
    "rejected": ma.fields.List(ma.fields.Nested(TelemetryRejected)),
    "readings": ma.fields.Integer(metadata={"description": "Daily and monthly readings derived or re-derived."}),
    "rescoring_files": ma.fields.Integer()}, name="TelemetryBatchResult")
