"""Hostile input in every form: each POST route's form, found by crawling the pages of a file.

For every form the crawler finds, hypothesis keeps the form's own values and replaces some of
them with hostile text (Unicode incl. astral and right-to-left, very long, NUL and other control
characters, SQL and HTML fragments, numbers and dates out of range). The answer must be a
validation error naming the field or a saved record: never a 500, never a database error (NUL is
refused by PostgreSQL text, lengths are enforced there), and stored markup is shown as text.
A new POST route is covered as soon as a page links a form to it; one with no form fails here.
"""
from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException

from tests.fuzz_values import SCRIPT as SCRIPT_MARK, has_raw_marker, hostile_text
from tests.web.test_access import _urls, world  # noqa: F401  (the fixture: two files, three roles)

PDF = b"%PDF-1.4\n% fuzz\n"
# POST routes with no HTML form: the API (fuzzed by tests/api/test_schemathesis.py) and sign-out.
NO_FORM = ("api_", "auth.logout")
FUZZ = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@dataclass
class Field:
    name: str
    kind: str  # input type, "select", "textarea"
    value: str | None = None
    options: list[str] = field(default_factory=list)
    multiple: bool = False


@dataclass
class Form:
    action: str
    fields: dict[str, Field] = field(default_factory=dict)


class _Forms(HTMLParser):
    """Every <form method=post> of a page with its fields and their current values."""

    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url, self.forms, self.form, self.select, self.textarea = page_url, [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.form = Form(urlsplit(a.get("action") or self.page_url).path)
            self.forms.append(self.form)
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            self.select.options.append(value)
            if "selected" in a:
                self.select.value = value
        elif self.form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "reset", "image"):
                return
            if kind in ("checkbox", "radio"):
                known = self.form.fields.setdefault(a["name"], Field(a["name"], kind))
                known.options.append(a.get("value") or "on")
                if "checked" in a:
                    known.value = a.get("value") or "on"
                return
            self.form.fields[a["name"]] = Field(a["name"], kind, a.get("value"))
        elif tag == "select":
            self.select = self.form.fields[a["name"]] = Field(a["name"], "select", multiple="multiple" in a)
        elif tag == "textarea":
            self.textarea = self.form.fields[a["name"]] = Field(a["name"], "textarea", "")

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


@pytest.fixture
def busy_world(world):
    """The crawler's world plus what makes the remaining forms appear: a reading waiting for review,
    an in-app notice and a letter to post, a registration request."""
    from registry.extensions import db
    from registry.models import Communication
    from registry.services import accounts, portal

    mine = world["mine"]["wu"]
    meter = world["mine"]["records"]["meters"]
    portal.submit_reading(db.session, world["accounts"]["enterprise"], mine,
                          {"meter_id": meter.id, "period": "2024-01", "volume_m3": "120"})
    for channel in ("in_app", "letter"):
        db.session.add(Communication(water_user_id=mine.id, kind="reminder", topic="permit_renewal",
                                     item_key=f"fuzz:{mine.id}", channel=channel, subject="取水许可证延续提醒",
                                     body="请及时延续。", status="queued" if channel == "letter" else "sent"))
    db.session.commit()
    accounts.request_registration(db.session, {
        "username": "newcomer", "display_name": "王五", "email": "w@example.cn", "phone": "0579-1234567",
        "uscc": mine.uscc, "password": "a-long-enough-passphrase", "repeat": "a-long-enough-passphrase"})
    return world


def _role_for(path: str) -> str:
    if path == "/portal" or path.startswith("/portal/"):
        return "enterprise"
    if path.startswith("/visits/"):
        return "inspector"
    return "admin"


def _endpoint(app, path: str) -> str | None:
    try:
        return app.url_map.bind("localhost").match(path, method="POST")[0]
    except HTTPException:
        return None


def _discover(app, client, auth, world) -> dict[tuple, tuple[str, Form]]:
    """One form per (endpoint, record kind): {(endpoint, slug): (role, form)}."""
    found: dict[tuple, tuple[str, Form]] = {}
    pages = [(role, url) for endpoint, method, url in _urls(app, world["mine"]) if method == "GET"
             for role in [_role_for(url)]]
    pages += [("anonymous", "/login"), ("anonymous", "/register"), ("admin", "/communications/?view=letters")]
    signed_in = None
    for role, url in sorted(set(pages)):
        if role != signed_in:
            auth.logout()
            if role != "anonymous":
                auth.login(world["accounts"][role].username)
            signed_in = role
        response = client.get(url)
        body = response.get_data(as_text=True) if "html" in response.content_type else ""
        response.close()  # downloads stream a file
        if response.status_code != 200:
            continue
        parser = _Forms(url)
        parser.feed(body)
        for form in parser.forms:
            endpoint = _endpoint(app, form.action)
            if endpoint is None or endpoint.startswith(NO_FORM):
                continue
            slug = re.sub(r"\d+", "N", form.action)
            found.setdefault((endpoint, slug), (role if endpoint not in ("auth.login", "auth.register") else "anonymous",
                                                 form))
    auth.logout()
    for endpoint, method, url in _urls(app, world["mine"]):
        # A page that answers its own POST but shows no form in this state (e.g. a certificate
        # refused): post to it anyway, with nothing but hostile extra fields.
        if method == "POST" and not any(e == endpoint for e, _slug in found) and not endpoint.startswith(NO_FORM):
            found[(endpoint, re.sub(r"\d+", "N", url))] = (_role_for(url), Form(url))
    return found


def _baseline(f: Field):
    if f.kind == "file":
        return (io.BytesIO(PDF), "scan.pdf")
    if f.kind == "select" and f.multiple:
        return [f.value] if f.value is not None else []
    if f.kind == "select":
        chosen = f.value if f.value is not None else next((o for o in f.options if o), "")
        return [chosen] if f.multiple else chosen
    return f.value or ""


def _post(client, form: Form, data: dict):
    files = {k: v for k, v in data.items() if isinstance(v, tuple)}
    plain = {k: v for k, v in data.items() if not isinstance(v, tuple)}
    return client.post(form.action, data={**plain, **files},
                        content_type="multipart/form-data" if files else None)


def _hostile_for(f: Field):
    if f.kind == "file":
        return st.tuples(st.binary(max_size=200).map(io.BytesIO), hostile_text.map(lambda s: s[:300]))
    return hostile_text


def _fuzz_one(app, client, auth, world, role: str, form: Form, caplog) -> None:
    names = sorted(form.fields)

    @FUZZ
    @given(st.data())
    def run(data):
        auth.logout()
        if role != "anonymous":
            auth.login(world["accounts"][role].username)
        values = {n: _baseline(form.fields[n]) for n in names}
        chosen = data.draw(st.sets(st.sampled_from(names), min_size=1, max_size=min(3, len(names))), "fields") \
            if names else set()
        for name in sorted(chosen):
            values[name] = data.draw(_hostile_for(form.fields[name]), name)
        if not names or data.draw(st.booleans(), "extra field"):
            values[data.draw(hostile_text.map(lambda s: s[:50] or "x"), "extra name")] = data.draw(hostile_text, "extra")
        caplog.clear()
        response = _post(client, form, values)
        body = response.get_data(as_text=True)
        errors = [r.getMessage() + ": " + " | ".join((r.exc_text or "").splitlines()[-3:])
                  for r in caplog.records if r.levelno >= logging.ERROR]
        assert response.status_code < 500, (form.action, response.status_code, errors)
        assert not has_raw_marker(body), form.action
        if response.status_code == 400 and "html" in response.content_type:
            assert "error-summary" in body or "field-error" in body or "alert-danger" in body, (form.action, body[:500])
        if response.status_code == 302:
            shown = client.get(response.headers["Location"])
            assert shown.status_code < 500 and not has_raw_marker(shown.get_data(as_text=True)), \
                response.headers["Location"]

    run()


def test_every_post_route_has_a_form_that_survives_hostile_input(app, client, auth, busy_world, caplog):
    world = busy_world
    forms = _discover(app, client, auth, world)
    covered = {endpoint for endpoint, _slug in forms}
    post_routes = {r.endpoint for r in app.url_map.iter_rules()
                   if "POST" in r.methods and not r.endpoint.startswith(NO_FORM)}
    assert post_routes - covered == set(), "POST routes no page offers a form for (add them to the crawl)"
    # The enterprise and the inspector first: the bureau's forms may deactivate their accounts.
    order = sorted(forms.items(), key=lambda kv: (kv[1][0] == "admin", kv[0][0].startswith("admin."), kv[0]))
    failures = []
    for (endpoint, slug), (role, form) in order:
        try:
            _fuzz_one(app, client, auth, world, role, form, caplog)
        except Exception as err:  # collect every defective form, not just the first
            inner = " / ".join(str(e)[:1500] for e in getattr(err, "exceptions", ()))
            failures.append(f"{endpoint} {slug} ({role}): {str(err)[:1500]} {inner}")
    assert not failures, "\n\n".join(failures)


QUERY_NAMES = ("q", "page", "division", "industry", "status", "due", "view", "kind", "inspector", "grade", "which",
               "opened", "year", "month", "format", "sort", "next", "lang")
QUERY_VALUES = ("\x00", "a\x00b", "9" * 40, "²", "-1", "2024-13", "x" * 3000, "\u202e😀", "' OR '1'='1", SCRIPT_MARK)


def test_every_page_survives_hostile_query_parameters(app, client, auth, world, caplog):
    """Search boxes and filters: NUL (PostgreSQL LIKE refuses it), huge page numbers, superscript digits."""
    failures = []
    for role in ("admin", "enterprise"):
        auth.logout()
        auth.login(world["accounts"][role].username)
        for endpoint, method, url in _urls(app, world["mine"]):
            if method != "GET" or endpoint.startswith("api") or (role == "enterprise") != endpoint.startswith("portal."):
                continue
            for value in QUERY_VALUES:
                caplog.clear()
                response = client.get(url, query_string={name: value for name in QUERY_NAMES})
                body = response.get_data(as_text=True) if "html" in response.content_type else ""
                response.close()
                if response.status_code >= 500 or has_raw_marker(body):
                    errors = [" | ".join((r.exc_text or r.getMessage()).splitlines()[-2:]) for r in caplog.records
                              if r.levelno >= logging.ERROR]
                    failures.append(f"{url} {value[:20]!r}: {response.status_code} {errors}")
    assert not failures, "\n".join(failures[:30])


def test_a_search_with_a_nul_is_refused_naming_the_parameter(client, auth):
    from tests import factories as f

    f.admin(username="admin")
    auth.login("admin")
    response = client.get("/water-users/", query_string={"q": "义乌\x00", "lang": "en"})
    assert response.status_code == 400
    assert "control characters (in “q”)" in response.get_data(as_text=True)
