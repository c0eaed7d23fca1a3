"""A small, bounded load generator: a fixed number of signed-in users (threads), each on one
keep-alive HTTP connection to loopback, sending requests back to back for a fixed time."""
from __future__ import annotations

import http.client
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote, urlencode

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """One person's connection and session cookie."""

    def __init__(self, host: str, port: int):
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, quote(path, safe="/?=&%"), body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, text

    def login(self, username: str, password: str) -> None:
        status, page = self.request("GET", "/login")
        token = _CSRF.search(page)
        if status != 200 or token is None:
            raise RuntimeError(f"no sign-in form ({status})")
        status, _ = self.request("POST", "/login", urlencode(
            {"csrf_token": token.group(1), "username": username, "password": password}))
        if status != 302:
            raise RuntimeError(f"sign-in of {username} answered {status}")


@dataclass
class Result:
    samples: dict[str, list[float]] = field(default_factory=dict)  # kind → seconds
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.samples.setdefault(kind, []).append(seconds)
            if error:
                self.errors.append(error)


def run(host: str, port: int, users: list[tuple[str, str, Callable[[random.Random], tuple[str, str]]]],
        seconds: float) -> Result:
    """``users``: (username, password, next_request(rng) → (kind, path)) per simulated person.
    A request fails when it does not answer 200 (a redirect to sign-in is a failure too)."""
    result = Result()
    deadline = time.monotonic() + seconds

    def person(i: int, username: str, password: str, next_request) -> None:
        rng = random.Random(i)
        browser = Browser(host, port)
        try:
            browser.login(username, password)
        except Exception as exc:  # noqa: BLE001  (reported, counted as an error)
            result.add("login", 0.0, f"{username}: {exc}")
            return
        while time.monotonic() < deadline:
            kind, path = next_request(rng)
            started = time.perf_counter()
            try:
                status, _ = browser.request("GET", path)
                error = None if status == 200 else f"{status} {path}"
            except Exception as exc:  # noqa: BLE001
                error = f"{type(exc).__name__} {path}"
                browser = Browser(host, port)
                browser.login(username, password)
            result.add(kind, time.perf_counter() - started, error)

    threads = [threading.Thread(target=person, args=(i, *user), daemon=True) for i, user in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return result
