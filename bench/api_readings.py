"""`POST /api/v1/readings` in batches of 10,000 (issue 8), against inserting the same number of
readings one ORM object at a time (``session.add`` + ``flush`` per reading, the naive way).

Demo data with a few thousand meters; the readings go to months each meter has no reading for
yet (between its installation and the 18 months the demo fills), the API half and the naive half
to different (meter, month) pairs so neither meets the other's rows. The API goes through the
Flask test client with a Bearer token: routing, token check, JSON parsing, validation, insert,
audit and marking the files for re-scoring are in the figure; only the socket is not. The batches
queue one coalesced re-scoring job (the default, as in production); the bench runs it after the
POSTs, as a worker of the queue would, and prints that end-to-end figure too.
"""
from __future__ import annotations

import time
from datetime import date

from bench.common import database_url, make_app, seeded_database_url, settle, timed
from bench.recompute import SEED, _fill

BATCH = 10_000
MAX_USERS = 3_000  # 3,680 meters: enough free months for 2 × 50,000 readings


def run(kind: str, users: int, reuse: bool = False, readings: int = 30_000) -> None:
    from flask_migrate import upgrade

    from registry import clock
    from registry.extensions import db

    users, today = min(users, MAX_USERS), clock.today()
    if reuse:
        url = seeded_database_url(kind, f"{users}_{SEED}_{today:%Y%m%d}", lambda u: _fill(u, users, today))
    else:
        url = database_url(kind)
        _fill(url, users, today)
    app = make_app(url)
    with app.app_context():
        upgrade()
        settle(db.engine)
        pairs = free_pairs(db.session, today, 2 * readings)
        if len(pairs) < 2 * readings:
            readings = len(pairs) // 2
        print(f"  {users:,} water users, {len({m for m, _ in pairs}):,} meters written to", flush=True)
        api_pairs, naive_pairs = pairs[:readings], pairs[readings:2 * readings]
        token = _token(db.session)
        db.session.remove()

        from sqlalchemy import select

        from registry import rescoring
        from registry.models import Job
        from registry.services import evaluations, jobs

        api_bodies = bodies(api_pairs)
        warm_up(app, token)
        with timed("until every touched file is re-scored as well", readings, "readings") as e:
            with timed(f"POST /api/v1/readings, batches of {BATCH:,}", readings, "readings") as t:
                post_all(app, token, api_bodies)
            # The coalesced re-scoring job(s) the batches queued (EVALUATE_PENDING=queue), run here as a
            # worker of the queue would run them.
            for job_id in db.session.scalars(select(Job.id).where(Job.kind == rescoring.KIND, Job.state == "queued")).all():
                jobs.run(db.session, job_id, app.config["BATCH_DIR"], engine=db.engine)
            waiting = evaluations.pending_count(db.session)
            db.session.remove()
        print(f"  the re-scoring job ended {e['seconds'] - t['seconds']:.2f} s after the last "
              f"answer; files still waiting: {waiting}", flush=True)
        with timed("resend the first batch (idempotent: nothing created)", min(BATCH, readings), "readings"):
            again = post_all(app, token, api_bodies[:1])
        assert again == (0, min(BATCH, readings)), again
        with timed("naive: one ORM object per reading, add + flush each", readings, "readings") as n:
            naive(db.session, today, naive_pairs)
        print(f"  ratio API / naive: {n['seconds'] / t['seconds']:,.1f}x "
              f"(goals: 10x and 20,000 readings/s; API {readings / t['seconds']:,.0f} readings/s)", flush=True)
        db.session.remove()
        db.engine.dispose()


def free_pairs(session, today: date, wanted: int) -> list[tuple[int, date]]:
    """(meter id, month) with no reading yet, in service then, up to last month; month by month
    across all meters, as a gateway sends them."""
    from sqlalchemy import select

    from registry.domain.dates import add_months
    from registry.models import Meter, Reading

    taken = set(session.execute(select(Reading.meter_id, Reading.period).where(Reading.read_on.is_(None))))
    meters = session.execute(select(Meter.id, Meter.installed_on, Meter.removed_on)
                             .where(Meter.closed_at.is_(None)).order_by(Meter.id)).all()
    last = add_months(today.replace(day=1), -1)
    by_month: dict[date, list[int]] = {}
    for meter_id, installed_on, removed_on in meters:
        month = installed_on.replace(day=1)
        end = min(last, removed_on) if removed_on else last
        while month <= end:
            if (meter_id, month) not in taken:
                by_month.setdefault(month, []).append(meter_id)
            month = add_months(month, 1)
    out = [(m, month) for month in sorted(by_month, reverse=True) for m in by_month[month]]
    return out[:wanted]


def _token(session) -> str:
    from sqlalchemy import select

    from registry.demo import seed_accounts
    from registry.models import Account, WaterUser
    from registry.services.tokens import create_token

    seed_accounts(session, "bench-password", list(session.scalars(select(WaterUser.file_no).order_by(WaterUser.id)
                                                                  .limit(2))))
    admin = session.scalars(select(Account).where(Account.role == "bureau_admin").order_by(Account.id)).first()
    return create_token(session, None, admin, "bench")


def bodies(pairs) -> list[tuple[int, bytes]]:
    """The JSON bodies of the batches, encoded beforehand: a gateway's encoding is its own work,
    not the registry's."""
    import json

    out = []
    for start in range(0, len(pairs), BATCH):
        batch = [{"meter_id": m, "period": f"{p:%Y-%m}", "volume_m3": 100.0 + (m % 97), "source": "online"}
                 for m, p in pairs[start:start + BATCH]]
        out.append((len(batch), json.dumps({"readings": batch}).encode()))
    return out


def warm_up(app, token: str) -> None:
    """An empty batch first, as a running server has had requests before: routes, schemas,
    the token check and the connection pool are ready (the web bench warms its pages too); then
    the loaded app is frozen out of the cyclic collector's walks, as in a gunicorn worker."""
    response = app.test_client().post("/api/v1/readings", json={"readings": []},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json["created"] == 0, response.get_data(as_text=True)
    import gc

    gc.freeze()  # as gunicorn.conf.py does in each worker once the app is loaded


def post_all(app, token: str, batches: list[tuple[int, bytes]]) -> tuple[int, int]:
    client = app.test_client()
    created = unchanged = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for size, body in batches:
        started = time.perf_counter()
        response = client.post("/api/v1/readings", data=body, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"  POST answered {response.status_code}: {response.get_data(as_text=True)[:500]}")
        created += response.json["created"]
        unchanged += response.json["unchanged"]
        print(f"    batch of {size:,}: {time.perf_counter() - started:.2f} s", flush=True)
    return created, unchanged


def naive(session, today: date, pairs) -> None:
    """What one writes first: per reading, load the meter, check it, look for an existing reading,
    add the ORM object and flush; one commit at the end."""
    from sqlalchemy import select

    from registry.models import Meter, Reading

    for meter_id, period in pairs:
        meter = session.get(Meter, meter_id)
        if meter is None or meter.closed_at is not None:
            raise SystemExit(f"unknown meter {meter_id}")
        exists = session.scalar(select(Reading.id).where(Reading.meter_id == meter_id, Reading.period == period,
                                                         Reading.read_on.is_(None)))
        if exists is None:
            session.add(Reading(water_user_id=meter.water_user_id, meter_id=meter_id, period=period,
                                volume_m3=100.0 + (meter_id % 97), source="online", status="accepted",
                                submitted_on=today))
            session.flush()
    session.commit()
