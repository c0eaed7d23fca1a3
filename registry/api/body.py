"""The JSON body of an API request, parsed once and strictly, before any view sees it.

The standard library accepts more than JSON (``NaN``, ``Infinity``, numbers that overflow to
``inf``) and fails on a deep nesting with ``RecursionError`` rather than ``ValueError``, so a
body such as ``[[[[…`` 100,000 deep used to reach the error handler as a 500. Here every body is
either JSON as RFC 8259 defines it, or a 400 (415 when it is not labelled JSON at all) in
problem+json; webargs then reads the parsed value instead of parsing the bytes again.
"""
from __future__ import annotations

import json
import math
import re

from flask import g, request
from webargs import core
from webargs.flaskparser import FlaskParser

from registry.presentation.problems import Problem

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_UNSET = object()
# A \uD800-\uDFFF escape: json.loads joins a proper pair into one character but leaves a lone
# half as a surrogate, which no UTF-8 database (nor PostgreSQL) can store.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class NotJson(ValueError):
    """The bytes are not one JSON text."""


def _constant(name: str):
    raise NotJson(f"{name} is not a JSON number.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"The number {text[:20]} is too large.")
    return value


def loads(data: bytes | str):
    """One JSON text (UTF-8), or NotJson saying why not."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NotJson("The body is not valid UTF-8.") from None
    try:
        # int() refuses more than sys.get_int_max_str_digits() digits with a ValueError.
        value = json.loads(data, parse_constant=_constant, parse_float=_finite)
        if _SURROGATE_ESCAPE.search(data):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeEncodeError:
        raise NotJson("The body contains half of a UTF-16 surrogate pair, which is no character.") from None
    except RecursionError:
        raise NotJson("The body is nested too deeply.") from None
    except NotJson:
        raise
    except ValueError as err:
        raise NotJson(f"The body is not valid JSON: {str(err)[:200]}") from None


def check_request_body() -> None:
    """before_request of the API blueprints: a body sent with POST/PUT/PATCH is JSON or refused."""
    g.pop("api_json", None)  # an app context may outlive a request (tests, CLI): never reuse a body
    if request.method not in BODY_METHODS:
        return
    data = request.get_data(cache=True)
    if not data:
        return
    if not request.is_json:
        raise Problem(415, "Send the body as application/json.",
                      {"Content-Type": "Expected application/json."})
    try:
        g.api_json = loads(data)
    except NotJson as err:
        raise Problem(400, str(err), {"json": str(err)}) from None


def parsed_body():
    """The body check_request_body parsed, or webargs' ``missing`` when none was sent."""
    value = g.get("api_json", _UNSET)
    return core.missing if value is _UNSET else value


class StrictParser(FlaskParser):
    """webargs reading the body check_request_body parsed (never ``json.loads`` a second time)."""

    def _raw_load_json(self, req):
        return parsed_body()
