"""Issue 16, acceptance: a bounded load run on loopback against a real threaded server.

For ``SECONDS`` seconds, three crowds at once: guessers sending wrong passwords for one account
(with the sign-in limits on, as in production), officers editing one meter from the same stale
version, and gateways posting one identical reading batch. Every answer must be a deliberate one
(200, 302, 400, 409, 412, 429); not one 5xx. PostgreSQL only: it has concurrent writers (SQLite
serialises them, which is what the single-machine default is for).
"""
from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from registry.clock import today as bureau_today
from registry.domain.dates import add_months
from registry.extensions import db
from registry.services.tokens import create_token
from tests import factories as f

SECONDS = 8  # bounded: the whole test stays well under the 60 s
PER_CROWD = 4


@pytest.fixture
def server(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers: PostgreSQL; SQLite has one writer at a time")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, httpd.server_port
    httpd.shutdown()
    thread.join(timeout=10)


def test_parallel_wrong_logins_edits_of_one_record_and_identical_batches_give_no_5xx(server):
    app, port = server
    today = bureau_today()
    meter = f.MeterFactory(installed_on=today - timedelta(days=400), manufacturer="旧厂家")
    f.admin(username="target")
    token = create_token(db.session, None, f.admin(), "load")
    meters = [f.MeterFactory(installed_on=today - timedelta(days=400)) for _ in range(3)]
    period = f"{add_months(today.replace(day=1), -1):%Y-%m}"
    batch = json.dumps({"readings": [{"meter_id": m.id, "period": period, "volume_m3": 50.0 + i, "source": "online"}
                                     for i, m in enumerate(meters)]})
    meter_url = f"/api/v1/water-users/{meter.water_user_id}/meters/{meter.id}"
    db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}

    def request(conn, method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response

    etag = request(http.client.HTTPConnection("127.0.0.1", port, timeout=30), "GET", meter_url,
                   headers=auth).getheader("ETag")
    statuses: dict[str, Counter] = {"login": Counter(), "edit": Counter(), "batch": Counter()}
    lock, stop = threading.Lock(), time.monotonic() + SECONDS

    def crowd(kind, send):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            try:
                status = send(conn).status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = "connection"
            with lock:
                statuses[kind][status] += 1

    senders = {
        "login": lambda c: request(c, "POST", "/login", urlencode({"username": "target", "password": "wrong-guess-123"}),
                                   {"Content-Type": "application/x-www-form-urlencoded"}),
        "edit": lambda c: request(c, "PATCH", meter_url, json.dumps({"manufacturer": f"厂家{threading.get_ident()}"}),
                                  {**auth, "If-Match": etag, "Content-Type": "application/json"}),
        "batch": lambda c: request(c, "POST", "/api/v1/readings", batch, {**auth, "Content-Type": "application/json"}),
    }
    threads = [threading.Thread(target=crowd, args=(kind, send), daemon=True)
               for kind, send in senders.items() for _ in range(PER_CROWD)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 60)

    every = sum(statuses.values(), Counter())
    failures = {kind: {s: n for s, n in seen.items() if s == "connection" or s >= 500} for kind, seen in statuses.items()}
    assert failures == {"login": {}, "edit": {}, "batch": {}}, statuses
    assert sum(every.values()) > 30, statuses  # the crowds really ran
    assert statuses["edit"][200] == 1 and set(statuses["edit"]) <= {200, 412}, statuses  # one save, then "changed"
    assert set(statuses["batch"]) == {200}, statuses  # identical batches: created once, then unchanged
    assert set(statuses["login"]) <= {400, 429}, statuses  # refused, then slowed: never a lock-out or a 500
