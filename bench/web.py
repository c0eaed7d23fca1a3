"""Web pages at province scale (issue 10): list and search p95, the one-file page p95 with its
query count (counted per request, the same for a small and a large file), the one-file page's
throughput against rendering its template from data already in memory, and a bounded load run
of mixed staff and enterprise traffic against gunicorn with 2 workers on loopback.

Goals (issue 10): list/search p95 ≤ 100 ms, one-file p95 ≤ 100 ms, zero errors under load,
page/template throughput ratio ≥ 0.3. Figures are printed, never asserted.
"""
from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.common import database_url, make_app, seeded_database_url, settle, timed
from bench.recompute import SEED, _fill

PASSWORD = "bench-password"
ROOT = Path(__file__).resolve().parent.parent
# What staff type: part of a company name (two characters are common in Chinese), a file number,
# a whole USCC, part of a permit number, and a name that is not there.
SEARCHES = ("饰品", "服饰", "稠江嘉禾", "YW-050012", "91330782399869874J", "G2019-00", "没有这家公司")
LISTS = ("", "?page=2", "?page=900", "?division=001", "?grade=A", "?status=suspended", "?due=permit_expiring",
         "?due=no_permit", "?division=101&grade=B&page=3")


def run(kind: str, users: int, reuse: bool = False, seconds: int = 60) -> None:
    from flask_migrate import upgrade

    from registry import clock
    from registry.extensions import db

    today = clock.today()
    if reuse:
        url = seeded_database_url(kind, f"{users}_{SEED}_{today:%Y%m%d}", lambda u: _fill(u, users, today))
    else:
        url = database_url(kind)
        _fill(url, users, today)
    app = make_app(url)
    with app.app_context():
        upgrade()
        files = _prepare(db.session)
        client = app.test_client()
        _login(client, "demo-admin")
        print("  (the machine is shared with other work: see the load figure beside each timing)", flush=True)
        for path in ("/water-users/", "/water-users/?q=纺织", f"/water-users/{files['small']}"):
            client.get(path)  # warm caches: templates, rules, the connection pool
        import gc

        gc.freeze()  # as gunicorn.conf.py does in each worker once the app is loaded
        lists = _p95(client, [f"/water-users/{q}" for q in LISTS], rounds=8, label="list (filters, pages)")
        search = _p95(client, [f"/water-users/?q={q}" for q in SEARCHES], rounds=8, label="search")
        with counting(db.engine) as counter:
            sizes = {}
            for name in ("small", "median", "large", "grown"):
                counter.clear()
                response = client.get(f"/water-users/{files[name]}")
                assert response.status_code == 200, response.status_code
                sizes[name] = len(counter)
            print(f"  one-file page, SQL queries per request: {sizes} "
                  f"({'fixed' if len(set(sizes.values())) == 1 else 'GROWS with the file'})", flush=True)
            counter.clear()
            client.get(f"/water-users/{files['grown']}")
            for statement in counter:
                print(f"    {statement}", flush=True)
        one_file = _p95(client, [f"/water-users/{files[n]}" for n in ("small", "median", "large", "grown")],
                        rounds=15, label="one-file page")
        _ratio(app, client, files["large"])
        print(f"  goals: list p95 {lists * 1000:.0f} ms, search p95 {search * 1000:.0f} ms, "
              f"one-file p95 {one_file * 1000:.0f} ms (each ≤ 100 ms)", flush=True)
        db.session.remove()
        db.engine.dispose()
    _load(url, files, seconds)


def _prepare(session) -> dict:
    """The demo accounts, and the ids of a small, a median and the largest file by readings, plus
    a file grown well past any demo file (many meters, calibrations, inspections, events)."""
    from sqlalchemy import func, select

    from registry.demo import seed_accounts
    from registry.models import Reading, WaterUser

    first = list(session.scalars(select(WaterUser.file_no).order_by(WaterUser.id).limit(2)))
    seed_accounts(session, PASSWORD, first)
    session.commit()
    from registry.extensions import db

    settle(db.engine)
    counts = session.execute(select(Reading.water_user_id, func.count()).group_by(Reading.water_user_id)
                             .order_by(func.count(), Reading.water_user_id)).all()
    files = {"small": counts[0][0], "median": counts[len(counts) // 2][0], "large": counts[-1][0],
             "grown": counts[len(counts) // 3][0], "max_id": session.scalar(select(func.max(WaterUser.id))),
             "enterprise": session.scalars(select(WaterUser.id).where(WaterUser.file_no.in_(first))
                                           .order_by(WaterUser.id)).all()}
    _grow(session, files["grown"])
    return files


def _grow(session, water_user_id: int, n: int = 25) -> None:
    from registry.models import AuditEvent, WaterUser
    from tests import factories as f

    wu = session.get(WaterUser, water_user_id)
    if len(wu.meters) >= n:
        return  # grown in an earlier run of a kept seed
    for i in range(n):
        point = f.IntakePointFactory(water_user=wu)
        meter = f.MeterFactory(water_user=wu, intake_point=point, serial=f"BENCH{wu.id}-{i}")
        for _ in range(3):
            f.CalibrationFactory(meter=meter)
        inspection = f.InspectionFactory(water_user=wu)
        f.RectificationFactory(inspection=inspection, water_user_id=wu.id)
        f.PermitFactory(water_user=wu, number=f"D330782B2099-{wu.id % 1000:03d}{i:02d}")
    session.add_all([AuditEvent(actor_id=None, action="update", entity_type="WaterUser", entity_id=wu.id,
                                water_user_id=wu.id, summary="bench", changes={}) for _ in range(300)])
    session.commit()


def _login(client, username: str) -> None:
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code


def _p95(client, paths: list[str], rounds: int, label: str) -> float:
    times: dict[str, list[float]] = {p: [] for p in paths}
    for _ in range(rounds):
        for path in paths:
            started = time.perf_counter()
            response = client.get(path)
            response.get_data()
            times[path].append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
    every = sorted(t for ts in times.values() for t in ts)
    p95 = percentile(every, 95)
    print(f"  {label}: p50 {percentile(every, 50) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms over {len(every)} requests; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    for path, ts in times.items():
        print(f"    {path}: p95 {percentile(sorted(ts), 95) * 1000:.0f} ms", flush=True)
    return p95


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


@contextmanager
def counting(engine):
    """Every SQL statement sent while inside, in order (before_cursor_execute)."""
    from sqlalchemy import event

    seen: list[str] = []  # each statement with its time, once it has run
    started: list[float] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split())[:110])
        started[:] = [time.perf_counter()]

    def done(conn, cursor, statement, parameters, context, executemany):
        if started and seen:
            seen[-1] = f"{(time.perf_counter() - started[0]) * 1000:6.1f} ms  {seen[-1]}"

    event.listen(engine, "before_cursor_execute", note)
    event.listen(engine, "after_cursor_execute", done)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)
        event.remove(engine, "after_cursor_execute", done)


def _ratio(app, client, water_user_id: int, n: int = 40) -> None:
    """The one-file page (queries + rendering) against its template rendered from a view loaded
    once: how much of a page is the database."""
    from flask import render_template
    from flask_login import login_user
    from sqlalchemy import select

    from registry import access
    from registry.extensions import db
    from registry.models import Account
    from registry.services.file_view import load_file
    from registry.web.records.routes import CHECKLIST_CODES

    with timed("one-file page through the app", n, "pages") as page:
        for _ in range(n):
            client.get(f"/water-users/{water_user_id}").get_data()
    admin = db.session.scalars(select(Account).where(Account.username == "demo-admin")).one()
    with app.test_request_context(f"/water-users/{water_user_id}"):
        login_user(admin)
        view = load_file(db.session, admin, water_user_id)

        def render():
            return render_template("water_users/detail.html", view=view, wu=view.water_user, checklist=CHECKLIST_CODES,
                                   can_edit=lambda kind: access.can(admin, f"{kind}.edit"))

        render()  # lazy attributes the template touches are loaded once, as in the page
        with timed("same template from in-memory data", n, "pages") as memory:
            for _ in range(n):
                render()
    print(f"  ratio page / in-memory render throughput: {memory['seconds'] / page['seconds']:.2f} (aim ≥ 0.3)",
          flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(url: str, files: dict, seconds: int) -> None:
    """gunicorn with 2 workers on loopback; 6 staff and 3 enterprise users for ``seconds``."""
    from bench import loadgen

    port = _free_port()
    env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_SECRET_KEY": "bench",
           "REGISTRY_UPLOAD_DIR": tempfile.mkdtemp(), "GUNICORN_BIND": f"127.0.0.1:{port}",
           "GUNICORN_WORKERS": "2"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py",
                               "registry.wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(port)
        max_id, mine = files["max_id"], files["enterprise"]

        def staff(rng: random.Random):
            roll = rng.random()
            if roll < 0.3:
                return "list", f"/water-users/?page={rng.randint(1, 40)}"
            if roll < 0.45:
                return "list", f"/water-users/?division={rng.choice(('001', '002', '003', '100', '104'))}"
            if roll < 0.65:
                return "search", f"/water-users/?q={rng.choice(SEARCHES)}"
            return "one-file", f"/water-users/{rng.randint(1, max_id)}"

        def enterprise(own: int):
            return lambda rng: ("portal", "/portal") if rng.random() < 0.5 else ("own file", f"/water-users/{own}")

        people = ([("demo-admin", PASSWORD, staff)] * 3 + [("demo-inspector", PASSWORD, staff)] * 3
                  + [(name, PASSWORD, enterprise(own)) for name, own in
                     (("demo-enterprise", mine[0]), ("demo-enterprise2", mine[-1]), ("demo-enterprise", mine[0]))])
        started = time.perf_counter()
        result = loadgen.run("127.0.0.1", port, people, seconds)
        elapsed = time.perf_counter() - started
        every = sorted(t for ts in result.samples.values() for t in ts)
        print(f"  load run, gunicorn 2 workers × 4 threads, {len(people)} users for {seconds} s: "
              f"{len(every):,} requests = {len(every) / elapsed:,.1f} requests/s, p50 {percentile(every, 50) * 1000:.0f} ms, "
              f"p95 {percentile(every, 95) * 1000:.0f} ms, errors {len(result.errors)}; load {os.getloadavg()[0]:.1f}",
              flush=True)
        for kind, ts in sorted(result.samples.items()):
            ts = sorted(ts)
            print(f"    {kind}: {len(ts):,} requests, p95 {percentile(ts, 95) * 1000:.0f} ms", flush=True)
        for error in result.errors[:10]:
            print(f"    error: {error}", flush=True)
    finally:
        server.terminate()
        server.wait(30)


def _wait_healthy(port: int) -> None:
    import http.client

    for _ in range(120):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("gunicorn did not become healthy")
