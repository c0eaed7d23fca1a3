from __future__ import annotations

import pytest

from registry.extensions import db
from registry.services.tokens import create_token


class ApiClient:
    def __init__(self, client, token):
        self.client, self.token = client, token

    def _headers(self, extra=None):
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, url, **kw):
        return self.client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, url, json=None, **kw):
        return self.client.patch(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def api_as(client):
    def make(account):
        return ApiClient(client, create_token(db.session, None, account, "test"))
    return make
