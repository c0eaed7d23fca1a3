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


class WaitingQueue:
    """The app's task queue as a real (in-memory) Huey with no worker yet: what the web process
    enqueues waits there, and :meth:`work` runs it as a worker does once a message's delay passed."""

    def __init__(self, huey):
        self.huey = huey

    @property
    def messages(self) -> int:
        return self.huey.pending_count() + self.huey.scheduled_count()

    def work(self) -> int:
        """Run every waiting message (each after its delay, as a worker would); how many ran."""
        db.session.remove()  # the test's transaction must not hold SQLite's lock while the job writes
        ran = 0
        while (task := self.huey.dequeue()) is not None:
            self.huey.execute(task, timestamp=task.eta)
            ran += 1
        return ran

    def lose_messages(self) -> None:
        """What a restart of the embedded queue without its file does: every message is gone."""
        self.huey.flush()


@pytest.fixture
def waiting_queue(app):
    from huey import MemoryHuey

    from registry import queue

    before = app.extensions["queue"], app.extensions["queue_tasks"]
    app.extensions["queue"] = queue._bind(app, MemoryHuey("registry", immediate=False))
    app.config["EVALUATE_PENDING"] = "queue"
    yield WaitingQueue(app.extensions["queue"])
    app.extensions["queue"], app.extensions["queue_tasks"] = before
