"""Sign-in timing for a known and an unknown name, with the production hash (scrypt).

Issue 16 item 3 measured 57 ms for an unknown name against 757 ms for a known one: the answer's
time told which names exist. Both now do the same work (one look-up of the hash, one hash, the
same failure-counting UPDATE, one event in the trail, one commit that writes: tests/web/test_auth.py
checks the statements); this prints the medians side by side, and how long 18 parallel wrong
passwords take to be refused (none may answer 5xx)."""
from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import database_url

PASSWORD = "Choujiang-river-77"


def run(kind: str, _users: int, **_options) -> None:
    from flask_migrate import upgrade

    from registry import create_app
    from registry.extensions import db
    from registry.services.accounts import create_account

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(kind), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "EVALUATE_PENDING": "inline"})
    with app.app_context():
        upgrade()
        create_account(db.session, None, username="chen", role="bureau_admin", password=PASSWORD)
        db.session.remove()
    client = app.test_client()

    def timed(username: str, password: str) -> tuple[float, int]:
        started = time.perf_counter()
        status = client.post("/login", data={"username": username, "password": password}).status_code
        return time.perf_counter() - started, status

    timed("nobody-warm", "wrong-guess-2026")  # the first unknown name of a process makes the decoy hash
    names = (("known name, wrong password", "chen"), ("unknown name", "nobody-by-this-name"))
    samples: dict[str, list] = {name: [] for _label, name in names}
    for _round in range(15):  # interleaved: a busy neighbour on the machine slows both alike
        for _label, name in names:
            samples[name].append(timed(name, "wrong-guess-2026"))
    for label, name in names:
        print(f"  {label:28s} median {statistics.median(s for s, _ in samples[name]) * 1000:6.1f} ms "
              f"(answers {sorted({c for _, c in samples[name]})})", flush=True)

    def guess(i: int) -> int:
        return app.test_client().post("/login", data={"username": "chen", "password": f"wrong-{i}"}).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=18) as pool:
        codes = list(pool.map(guess, range(18)))
    print(f"  18 parallel wrong passwords: {time.perf_counter() - started:.2f} s, answers "
          f"{ {c: codes.count(c) for c in sorted(set(codes))} }", flush=True)
    with app.app_context():
        from registry.models import Account

        failed = db.session.execute(db.select(Account.failed_logins).where(Account.username == "chen")).scalar_one()
        print(f"  failures counted: {failed} (15 + 18 = 33 expected)", flush=True)
        db.engine.dispose()
