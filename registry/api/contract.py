"""The OpenAPI document as the request's contract: what it does not name, or names with another
type, is refused before a view sees it.

Schemathesis' random draws found two ways the API took more than it documents: a query parameter
it does not know was ignored (``?per_pgae=10`` answered the default page as if it were right), and
a number sent as a string (``"volume_m3": "12"``) was read as the number, because the services
share their checks with the forms, where every value is text. Here every query parameter must be
one the operation documents (400 naming it), and every JSON value whose documented type is a
number, an integer or a boolean must be one (422, keyed as the service keys its errors, e.g.
``readings[3].volume_m3``). Both are read from the document the API serves, so the check and the
document cannot drift apart. ``lang`` (the language of the answer's messages, as on the pages) is
accepted everywhere.
"""
from __future__ import annotations

import re

from flask import current_app, g, request
from flask_babel import gettext as _, lazy_gettext as _l

from registry.presentation.problems import Problem

ALWAYS = frozenset({"lang"})
MAX_ERRORS = 100
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# The field's message in the caller's language, as the services word theirs.
_TYPE_MESSAGES = {"number": _l("Send a JSON number, not %(got)s."), "integer": _l("Send a JSON integer, not %(got)s."),
                  "boolean": _l("Send true or false, not %(got)s.")}


def _got(value) -> str:
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, str):
        return _("a string")
    if isinstance(value, (list, dict)):
        return _("an array") if isinstance(value, list) else _("an object")
    return _("a number")


class _Contract:
    """Per operation (OpenAPI path, method): the query parameters it takes and its body's schema."""

    def __init__(self, spec: dict):
        self.components = spec.get("components", {}).get("schemas", {})
        self.operations: dict[tuple[str, str], tuple[frozenset, dict | None]] = {}
        for path, item in spec.get("paths", {}).items():
            shared = [p for p in item.get("parameters", []) if p.get("in") == "query"]
            for method, operation in item.items():
                if method == "parameters" or not isinstance(operation, dict):
                    continue
                query = frozenset(p["name"] for p in [*shared, *operation.get("parameters", [])]
                                  if p.get("in") == "query")
                body = (operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                        .get("schema"))
                self.operations[(path, method)] = (query, body)
        self._typed: dict[int, bool] = {}

    def resolve(self, schema: dict | None) -> dict:
        while schema and "$ref" in schema:
            schema = self.components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return schema or {}

    def typed(self, schema: dict | None) -> bool:
        """Whether the schema holds a number, integer or boolean anywhere (else its values are not walked)."""
        schema = self.resolve(schema)
        key = id(schema)
        if key not in self._typed:
            self._typed[key] = False  # a recursive schema ends here
            kind = schema.get("type")
            self._typed[key] = (kind in _TYPE_MESSAGES
                                or any(self.typed(s) for s in schema.get("properties", {}).values())
                                or (kind == "array" and self.typed(schema.get("items"))))
        return self._typed[key]

    def mistyped(self, value, schema: dict | None, where: str, out: dict) -> None:
        if value is None or len(out) >= MAX_ERRORS or not self.typed(schema):
            return
        schema = self.resolve(schema)
        kind = schema.get("type")
        if kind in _TYPE_MESSAGES:
            wrong = (not isinstance(value, bool)) if kind == "boolean" else \
                (isinstance(value, bool) or not isinstance(value, (int, float)))
            if wrong:
                out[where or "body"] = str(_TYPE_MESSAGES[kind]) % {"got": _got(value)}
        elif isinstance(value, dict):
            for name, sub in schema.get("properties", {}).items():
                if name in value:
                    self.mistyped(value[name], sub, f"{where}.{name}" if where else name, out)
        elif isinstance(value, list) and kind == "array":
            items = schema.get("items")
            for index, item in enumerate(value):
                self.mistyped(item, items, f"{where}[{index}]", out)
                if len(out) >= MAX_ERRORS:
                    return


def _contract() -> _Contract:
    found = current_app.extensions.get("api_contract")
    if found is None:
        from registry.api import api

        found = current_app.extensions["api_contract"] = _Contract(api.spec.to_dict())
    return found


def openapi_path(rule: str) -> str:
    """``/api/v1/water-users/<int:water_user_id>`` as the document writes it: ``/api/v1/water-users/{water_user_id}``."""
    return _RULE_ARG.sub(r"{\1}", rule)


def check_request() -> None:
    """before_request of the API blueprints, after the body is parsed (``body.check_request_body``)."""
    if request.url_rule is None:
        return
    contract = _contract()
    method = "get" if request.method == "HEAD" else request.method.lower()
    found = contract.operations.get((openapi_path(request.url_rule.rule), method))
    if found is None:  # not an operation of the document (OPTIONS): nothing to hold it to
        return
    query, body = found
    unknown = [name for name in request.args if name not in query and name not in ALWAYS]
    if unknown:
        takes = ", ".join(sorted(query)) or _("none")
        raise Problem(400, f"Unknown query parameter: {unknown[0][:60]}.",
                      {name[:60]: _("Unknown parameter; this operation takes: %(takes)s.", takes=takes)
                       for name in unknown[:20]})
    value = g.get("api_json")
    if body is not None and value is not None:
        errors: dict = {}
        contract.mistyped(value, body, "", errors)
        if errors:
            raise Problem(422, "A value does not have the type the API documents.", errors)
