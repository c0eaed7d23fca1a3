"""Warnings 预警 (issue 17): the anomaly detection over every file (goal: ≤ 60 s for 100,000
files with 24 months of readings), set-based, first run (every new cause written, audited and
announced) and a rerun (every cause detected again, none added).

`python -m bench warnings --db postgresql --users 100000 [--reuse]`

The demo data holds 18 months of readings; the seed here adds the 6 months before them (each
meter's month a year later, ±20 %), so every meter has 24 months behind it.
"""
from __future__ import annotations

import os
import random

from bench.common import database_url, make_app, peak_rss_mb, seeded_database_url, settle, timed
from bench.recompute import SEED, _fill


def _older(url: str, today) -> None:
    """Six more months of accepted readings before the demo's 18, copied in bulk (COPY on PostgreSQL)."""
    from sqlalchemy import select

    from registry.bulk import copy_rows
    from registry.domain.dates import add_months, month_start
    from registry.extensions import db
    from registry.models import Reading

    first = month_start(add_months(today, -18))
    app = make_app(url)
    with app.app_context():
        rng = random.Random(SEED)
        rows = []
        with timed("6 older months of readings"):
            for wu_id, meter_id, period, volume in db.session.execute(
                    select(Reading.water_user_id, Reading.meter_id, Reading.period, Reading.volume_m3).where(
                        Reading.read_on.is_(None), Reading.period >= first, Reading.period < add_months(first, 6),
                        Reading.status == "accepted")):
                rows.append({"water_user_id": wu_id, "meter_id": meter_id, "period": add_months(period, -6),
                             "volume_m3": round(volume * rng.uniform(0.8, 1.2), 1), "source": "manual",
                             "status": "accepted", "channel": "import"})
            for start in range(0, len(rows), 50_000):
                copy_rows(db.session, Reading.__table__, rows[start:start + 50_000])
            db.session.commit()
        print(f"  {len(rows):,} readings added", flush=True)
        db.session.remove()
        db.engine.dispose()


def _build(url: str, users: int, today) -> None:
    _fill(url, users, today)
    _older(url, today)


def run(kind: str, users: int, reuse: bool = False) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import delete, func, select

    from registry import clock
    from registry.extensions import db
    from registry.models import Communication, Reading, UseWarning
    from registry.services import rules_versions, warnings

    today = clock.today()
    if reuse:
        url = seeded_database_url(kind, f"{users}_{SEED}_{today:%Y%m%d}_w24", lambda u: _build(u, users, today))
    else:
        url = database_url(kind)
        _build(url, users, today)
    app = make_app(url)
    with app.app_context():
        upgrade()
        settle(db.engine)
        db.session.execute(delete(Communication).where(Communication.topic == "use_warning"))
        db.session.execute(delete(UseWarning))
        db.session.commit()
        readings = db.session.scalar(select(func.count()).select_from(Reading).where(Reading.read_on.is_(None)))
        rules = rules_versions.current(db.session)
        print(f"  {readings:,} monthly readings", flush=True)
        with timed("detection, first run (new warnings written, audited, announced)") as t:
            first = warnings.detect(db.session, today=today, now=clock.now(), rules=rules)
            t["count"] = first.files
        with timed("detection, rerun (every cause detected again)") as t2:
            again = warnings.detect(db.session, today=today, now=clock.now(), rules=rules)
            t2["count"] = again.files
        kinds = dict(db.session.execute(select(UseWarning.kind, func.count()).group_by(UseWarning.kind)).all())
        print(f"  {first.meters:,} meters of {first.files:,} files: {first.created:,} warnings "
              f"({', '.join(f'{k} {n:,}' for k, n in sorted(kinds.items()))}), {first.notices:,} notices; "
              f"rerun: {again.created} new, {again.detected_again:,} detected again", flush=True)
        print(f"  first run {t['seconds']:.1f} s, rerun {t2['seconds']:.1f} s (goal: 60 s); peak RSS "
              f"{peak_rss_mb():,.0f} MB; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
        db.session.remove()
        db.engine.dispose()
