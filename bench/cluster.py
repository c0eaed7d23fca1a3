"""Two gunicorn instances and two queue workers on one Redis and one PostgreSQL (issue 14): on
instance A a bureau officer uploads and imports a spreadsheet of 5,000 readings and starts a
certificate batch for every file that earns one; both run in the workers while instance B serves
list, search and one-file pages to staff. Prints how long each job took, which worker host ran
it, and the page traffic B served meanwhile (requests, p95, errors). Figures, never asserted.

`python -m bench cluster --db postgresql --users 3000`
"""
from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import database_url, make_app
from bench.recompute import _fill
from bench.web import PASSWORD, SEARCHES, _free_port, _wait_healthy, percentile

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REGISTRY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
ROWS = 5_000
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def run(kind: str, users: int, **_) -> None:
    if kind != "postgresql":
        print("  (the cluster bench runs on PostgreSQL and Redis only)", flush=True)
        return
    import redis
    from flask_migrate import upgrade

    from bench.imports import _registry, _workbook
    from registry import clock
    from registry.extensions import db

    redis.Redis.from_url(REDIS_URL).flushdb()
    url = database_url(kind)
    _fill(url, users, clock.today())
    shared = Path(tempfile.mkdtemp(prefix="registry-cluster-"))
    sheet = shared / "readings.xlsx"
    app = make_app(url)
    with app.app_context():
        from sqlalchemy import select

        from registry.demo import seed_accounts
        from registry.models import WaterUser

        from registry.services import evaluations, rules_versions

        upgrade()
        evaluations.recompute(db.session, rules_versions.current(db.session), clock.today())  # grades: who earns one
        seed_accounts(db.session, PASSWORD, list(db.session.scalars(select(WaterUser.file_no).order_by(WaterUser.id).limit(2))))
        db.session.commit()
        _workbook(sheet, _registry(db, 500, seed=14), ROWS)  # another seed than the demo data: other USCCs
        from openpyxl import load_workbook

        book = load_workbook(sheet)  # saved again in normal mode: the sheets then state their size, as
        book.save(sheet)             # spreadsheets from Excel or WPS do (write-only mode leaves it out)
        db.session.remove()
        db.engine.dispose()
    env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_SECRET_KEY": "bench", "REGISTRY_REDIS_URL": REDIS_URL,
           "REGISTRY_UPLOAD_DIR": str(shared / "uploads"), "REGISTRY_BATCH_DIR": str(shared / "batches"),
           "GUNICORN_WORKERS": "2"}
    ports = [_free_port(), _free_port()]
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    procs = [subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "registry.wsgi:app"], cwd=ROOT,
                              env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for port in ports]
    logs = [shared / f"worker-{n}.log" for n in (1, 2)]
    for log in logs:
        with log.open("wb") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "registry", "worker",
                                           "--workers", "2"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    try:
        for port in ports:
            _wait_healthy(port)
        _scenario(ports, sheet, users)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def _scenario(ports: list[int], sheet: Path, users: int) -> None:
    import requests

    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    officer = _session(requests, a, "demo-admin")
    served, errors, stop = [], [], threading.Event()
    readers = [threading.Thread(target=_browse, args=(requests, b, served, errors, stop, n, users)) for n in range(4)]
    for reader in readers:
        reader.start()
    started = time.perf_counter()
    try:
        upload = officer.post(f"{a}/exchange/import", data={"csrf_token": _token(officer, f"{a}/exchange/import")},
                              files={"file": (sheet.name, sheet.read_bytes())}, allow_redirects=False)
        if upload.status_code != 302:
            raise SystemExit(f"the upload answered {upload.status_code}")
        review = upload.headers["Location"]
        review = review if review.startswith("http") else a + review
        officer.get(review)  # the progress page (the upload started the check job)
        _until_done(officer, review + "?format=json", "import check")
        page = officer.get(review).text
        officer.post(review.rstrip("/") + "/apply", data={"csrf_token": _CSRF.search(page).group(1)})
        imported = _until_done(officer, review + "?format=json", "import")
        print(f"  import of {ROWS:,} rows (check, then import) in the workers: "
              f"{time.perf_counter() - started:.1f} s, {imported.get('message', '')}", flush=True)
        began = time.perf_counter()
        for which in ("missing", "valid"):  # issue for the files that earn one; if none is left, print the valid ones
            batch = officer.post(f"{a}/certificates/batch", allow_redirects=False, data={
                "csrf_token": _token(officer, f"{a}/certificates/batch"), "which": which, "output": "pdf",
                "division": "", "grade": ""})
            if batch.status_code != 302:
                raise SystemExit(f"the batch form answered {batch.status_code}")
            if not batch.headers["Location"].rstrip("/").endswith("/certificates/batch"):
                break
            print(f"  (no file for a '{which}' batch)", flush=True)
        job_url = a + batch.headers["Location"].replace(a, "")
        done = _until_done(officer, job_url + "?format=json", "certificate batch")
        print(f"  certificate batch ({which}) in the workers: {time.perf_counter() - began:.1f} s, {done.get('message', '')}",
              flush=True)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    elapsed = time.perf_counter() - started
    served.sort()
    print(f"  instance B meanwhile: {len(served):,} pages in {elapsed:.0f} s = {len(served) / elapsed:.1f} pages/s, "
          f"p50 {percentile(served, 50) * 1000:.0f} ms, p95 {percentile(served, 95) * 1000:.0f} ms, "
          f"errors {len(errors)}; load {os.getloadavg()[0]:.1f}", flush=True)
    for error in errors[:10]:
        print(f"    error: {error}", flush=True)


def _session(requests, base: str, username: str):
    s = requests.Session()
    r = s.post(f"{base}/login", data={"csrf_token": _token(s, f"{base}/login"), "username": username,
                                      "password": PASSWORD}, allow_redirects=False)
    if r.status_code != 302:
        raise SystemExit(f"sign-in of {username} answered {r.status_code}")
    return s


def _token(s, url: str) -> str:
    return _CSRF.search(s.get(url).text).group(1)


def _until_done(s, url: str, what: str, seconds: float = 900) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = s.get(url, headers={"Accept": "application/json"}, allow_redirects=False)
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("application/json"):
            raise SystemExit(f"{what}: {url} answered {response.status_code} {response.headers.get('Location', '')}")
        state = response.json()
        if state.get("state") in ("done", "failed"):
            if state["state"] == "failed":
                print(f"  {what} FAILED: {state.get('message')}", flush=True)
            return state
        time.sleep(0.5)
    raise SystemExit(f"{what} did not finish in {seconds:.0f} s")


def _browse(requests, base: str, served: list, errors: list, stop: threading.Event, n: int, users: int) -> None:
    rng, s = random.Random(n), _session(requests, base, "demo-inspector" if n % 2 else "demo-admin")
    while not stop.is_set():
        roll = rng.random()
        path = ("/water-users/?page=%d" % rng.randint(1, 20) if roll < 0.4 else
                f"/water-users/?q={rng.choice(SEARCHES)}" if roll < 0.6 else f"/water-users/{rng.randint(1, users)}")
        began = time.perf_counter()
        try:
            status = s.get(base + path, allow_redirects=False).status_code
        except Exception as exc:  # counted, and the run goes on
            errors.append(f"{path}: {exc}")
            continue
        served.append(time.perf_counter() - began)
        if status >= 500 or status not in (200, 404):
            errors.append(f"{path}: {status}")
