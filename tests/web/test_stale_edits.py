"""Two officers open the same form; the second to save holds an old version: refused (409) with
the saved values shown and the typed ones kept, nothing overwritten (optimistic locking)."""
from __future__ import annotations

import pytest

from registry.extensions import db
from registry.models import Permit, WaterUser
from tests import factories as f
from tests.web.test_fuzz_forms import _baseline, _Forms


def _form_values(client, url: str) -> dict:
    """The edit form as the browser holds it after opening the page (with its hidden version)."""
    parser = _Forms(url)
    parser.feed(client.get(url).get_data(as_text=True))
    form = next(form for form in parser.forms if form.action == url)
    return {name: _baseline(field) for name, field in form.fields.items()}


@pytest.fixture
def two_officers(app):
    f.admin(username="wang")
    f.admin(username="li")
    first, second = app.test_client(), app.test_client()
    for client, name in ((first, "wang"), (second, "li")):
        client.post("/login", data={"username": name, "password": f.PASSWORD})
    return first, second


@pytest.mark.parametrize("kind", ["water_user", "permit"])
def test_a_stale_edit_is_refused_with_the_current_values_and_nothing_is_overwritten(two_officers, kind):
    first, second = two_officers
    if kind == "water_user":
        wu = f.WaterUserFactory(address="义乌市稠城街道旧址1号")
        model, ident, field, url = WaterUser, wu.id, "address", f"/water-users/{wu.id}/edit"
    else:
        permit = f.PermitFactory(purpose="工业生产")
        model, ident, field = Permit, permit.id, "purpose"
        url = f"/water-users/{permit.water_user_id}/permits/{permit.id}/edit"
    opened_by_first, opened_by_second = _form_values(first, url), _form_values(second, url)
    assert opened_by_first["version"] == opened_by_second["version"]

    saved = first.post(url, data={**opened_by_first, field: "王先生填写的新值"})
    assert saved.status_code == 302
    stale = second.post(url + "?lang=en", data={**opened_by_second, field: "李女士填写的另一个值"})

    assert stale.status_code == 409
    body = stale.get_data(as_text=True)
    assert "Someone else saved this record" in body
    assert "王先生填写的新值" in body  # what is saved now, shown to the second officer
    assert 'value="李女士填写的另一个值"' in body or ">李女士填写的另一个值<" in body  # what they typed is not lost
    db.session.expire_all()
    assert getattr(db.session.get(model, ident), field) == "王先生填写的新值"

    # Saving again from the refreshed form (the current version) goes through.
    again = _form_values(second, url)
    assert second.post(url, data={**again, field: "李女士填写的另一个值"}).status_code == 302
    db.session.expire_all()
    assert getattr(db.session.get(model, ident), field) == "李女士填写的另一个值"


def test_a_tampered_version_counts_as_stale(two_officers):
    first, _second = two_officers
    wu = f.WaterUserFactory(address="义乌市稠城街道旧址1号")
    url = f"/water-users/{wu.id}/edit"
    values = _form_values(first, url)
    for version in ("abc", "-5", "99999999999999999999", "\x00"):
        response = first.post(url, data={**values, "version": version, "address": "篡改"})
        assert response.status_code in (400, 409), version
    db.session.expire_all()
    assert db.session.get(WaterUser, wu.id).address == "义乌市稠城街道旧址1号"
