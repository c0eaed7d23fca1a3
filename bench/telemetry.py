"""`POST /api/v1/telemetry` in batches of 50,000 points (issue 17: ≥ 50,000 points/s on
PostgreSQL and ≥ 10× one ORM object per point), then the same count inserted the naive way
(``session.add`` + ``flush`` per point, no derivation), and a resend of the first batch
(idempotent: nothing created).

A throw-away registry of ``meters`` online meters (one file each), hourly points from a day
60 days back, meter by meter in each batch as a gateway concentrator sends them. The API
figure includes routing, the token, JSON parsing, per-point checks, the COPY of the points and
the derivation of every touched meter's daily and monthly readings with their plausibility.

Then the chart (issue 17: a meter's year of hourly points charts in ≤ 100 ms): one more online
meter gets a year of hourly points (8,760) through the same intake, and its analysis page
``/monitoring/meters/<id>`` is requested 20 times by a signed-in bureau administrator (Flask test
client): p50 and p95 beside the goal.
"""
from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, time as dtime, timedelta, timezone

from bench.common import database_url, make_app, settle, timed
from bench.web import percentile

BATCH = 50_000
CHART_HOURS = 8_760  # a year of hourly points
CHART_REQUESTS = 20
PASSWORD = "Yiwu-river-stones-2026"


def run(kind: str, users: int, points: int = 200_000, meters: int = 500) -> None:
    from flask_migrate import upgrade

    from registry import clock
    from registry.extensions import db

    app = make_app(database_url(kind))
    with app.app_context():
        upgrade()
        today = clock.today()
        token, ids = _registry(db.session, meters, today)
        settle(db.engine)
        per_meter = max(1, points // meters)
        start = datetime.combine(today - timedelta(days=60), dtime(0), tzinfo=clock.zone()).astimezone(timezone.utc)
        hours = [start + timedelta(hours=h) for h in range(per_meter)]
        flat = [{"telemetry_id": tid, "at": at.isoformat(), "totalizer_m3": 1000.0 + 3.5 * h}
                for tid in ids for h, at in enumerate(hours)]
        bodies = [json.dumps({"points": flat[i:i + BATCH]}).encode() for i in range(0, len(flat), BATCH)]
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        client.post("/api/v1/telemetry", data=b'{"points": []}', headers=headers)  # warm up
        with timed(f"POST /api/v1/telemetry, batches of {BATCH:,}", len(flat), "points") as t:
            for body in bodies:
                began = time.perf_counter()
                response = client.post("/api/v1/telemetry", data=body, headers=headers)
                assert response.status_code == 200 and not response.json["rejected"], response.get_data()[:300]
                print(f"    batch: {time.perf_counter() - began:.2f} s, {response.json['readings']:,} readings derived",
                      flush=True)
        with timed("resend the first batch (idempotent)", min(BATCH, len(flat)), "points"):
            again = client.post("/api/v1/telemetry", data=bodies[0], headers=headers).json
        assert again["created"] == 0, again
        naive_n = min(len(flat), 20_000)
        with timed("naive: one ORM object per point, add + flush each", naive_n, "points") as n:
            _naive(db.session, naive_n, start + timedelta(hours=per_meter + 1))
        api_rate, naive_rate = len(flat) / t["seconds"], naive_n / n["seconds"]
        print(f"  ratio API / naive: {api_rate / naive_rate:,.1f}x (goals: 10x and 50,000 points/s; "
              f"API {api_rate:,.0f} points/s)", flush=True)
        _chart(app, db.session, client, headers, today)
        db.session.remove()
        db.engine.dispose()


def _registry(session, meters: int, today):
    from registry.models import Account, IntakePoint, Meter, WaterUser
    from registry.services.tokens import create_token

    admin = Account(username="bench-admin", role="bureau_admin", password_hash="!", display_name="bench")
    session.add(admin)
    ids = []
    for n in range(meters):
        wu = WaterUser(file_no=f"TB{n:06d}", name=f"基准在线用户{n}", uscc=f"91330782{n:09d}X", division_code="001",
                       industry_code="1713", opened_on=today - timedelta(days=800), status="active")
        point = IntakePoint(water_user=wu, name="1#", source="ground", design_capacity_m3h=100.0,
                            longitude=120.07, latitude=29.3)
        tid = f"BT{n:06d}"
        session.add(Meter(water_user=wu, intake_point=point, serial=f"BTS{n:06d}", meter_type="electromagnetic",
                          dn=100, installed_on=today - timedelta(days=700), telemetry_id=tid))
        ids.append(tid)
    session.commit()
    return create_token(session, None, admin, "bench"), ids


def _naive(session, count: int, after: datetime) -> None:
    from sqlalchemy import select

    from registry.models import Meter, TelemetryPoint

    meter_ids = list(session.scalars(select(Meter.id).order_by(Meter.id)))
    for i in range(count):
        session.add(TelemetryPoint(meter_id=meter_ids[i % len(meter_ids)], at=after + timedelta(hours=i // len(meter_ids)),
                                   totalizer_m3=10_000.0 + i))
        session.flush()
    session.commit()


def _chart(app, session, api, headers, today) -> None:
    """A meter with a year of hourly points, sent through the intake; its analysis page timed."""
    from registry import clock
    from registry.models import IntakePoint, Meter, WaterUser
    from registry.services.accounts import create_account

    wu = WaterUser(file_no="TBYEAR", name="基准一年在线用户", uscc="913307829999999990", division_code="001",
                   industry_code="1713", opened_on=today - timedelta(days=800), status="active")
    point = IntakePoint(water_user=wu, name="1#", source="ground", design_capacity_m3h=100.0,
                        longitude=120.07, latitude=29.3)
    meter = Meter(water_user=wu, intake_point=point, serial="BTSYEAR", meter_type="electromagnetic", dn=100,
                  installed_on=today - timedelta(days=700), telemetry_id="BTYEAR")
    session.add(meter)
    create_account(session, None, username="bench-staff", role="bureau_admin", password=PASSWORD,
                   must_change_password=False)
    session.commit()
    meter_id = meter.id
    last = clock.now().astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    year = [{"telemetry_id": "BTYEAR", "at": (last - timedelta(hours=h)).isoformat(), "totalizer_m3": 5000.0 + 3.5 * (CHART_HOURS - h)}
            for h in range(CHART_HOURS - 1, -1, -1)]
    with timed("a year of hourly points of one meter through the intake", len(year), "points"):
        response = api.post("/api/v1/telemetry", data=json.dumps({"points": year}).encode(), headers=headers)
    assert response.status_code == 200 and response.json["created"] == CHART_HOURS, response.get_data()[:300]
    print(f"    {response.json['readings']:,} readings derived", flush=True)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    signed = client.post("/login", data={"csrf_token": token, "username": "bench-staff", "password": PASSWORD})
    assert signed.status_code == 302, signed.status_code
    path = f"/monitoring/meters/{meter_id}"
    first = client.get(path)  # warm up: templates, rules, the connection pool
    assert first.status_code == 200 and "BTSYEAR" in first.get_data(as_text=True), first.status_code
    times = []
    for _ in range(CHART_REQUESTS):
        began = time.perf_counter()
        response = client.get(path)
        response.get_data()
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, response.status_code
    times.sort()
    print(f"  meter analysis page {path} (a year of hourly points), {CHART_REQUESTS} requests: "
          f"p50 {percentile(times, 50) * 1000:.0f} ms, p95 {percentile(times, 95) * 1000:.0f} ms, "
          f"max {times[-1] * 1000:.0f} ms "
          f"(goal: ≤ 100 ms); load {os.getloadavg()[0]:.1f}", flush=True)
