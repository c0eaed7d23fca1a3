"""Issue 16 item 11: the README's production start, with rate limits kept in Redis
(REGISTRY_RATELIMIT_STORAGE_URI=redis://…, shared by every gunicorn worker), starts and limits."""
from __future__ import annotations

import socket
import uuid

import pytest

REDIS = ("127.0.0.1", 6379)


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.mark.skipif(not _redis_answers(), reason="no Redis answers at 127.0.0.1:6379")
def test_item11_app_starts_with_redis_rate_limits_and_limits_sign_in(_schema, tmp_path, monkeypatch):
    import redis

    from registry import create_app
    from registry.extensions import db
    from tests.conftest import _config

    prefix = f"test-item11-{uuid.uuid4().hex}"  # the Redis is shared: keep to our own keys
    monkeypatch.setenv("REGISTRY_RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379")
    config = {**_config(_schema, tmp_path / "uploads"), "RATELIMIT_ENABLED": True,
              "RATELIMIT_KEY_PREFIX": prefix, "LOGIN_RATELIMIT": "2 per minute"}
    app = create_app(config)
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379"
    store = redis.Redis(*REDIS)
    try:
        with app.app_context():
            client = app.test_client()
            answers = [client.post("/login", data={"username": "nobody", "password": "wrong-password-1"}).status_code
                       for _ in range(3)]
            db.session.remove()
            db.engine.dispose()
        assert answers[:2] == [400, 400] and answers[2] == 429, answers
        assert list(store.scan_iter(f"*{prefix}*")), "the limit was not counted in Redis"
    finally:
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)
        store.close()
