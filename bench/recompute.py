"""`registry recompute --all`, set-based, against a naive per-user ORM loop over the same data.

The naive loop is what one writes first: load each water user, walk its relationships, judge it,
save the result, one user at a time. It is timed on a sample (it would take too long on all
users) and both rates are printed with their ratio.
"""
from __future__ import annotations

import os
import shutil
import sys

from bench.common import database_url, make_app, peak_rss_mb, seeded_database_url, timed

NAIVE_SAMPLE = 2_000
SEED = 2026


def default_workers() -> int:
    """What ``registry recompute --all`` uses without ``--workers``."""
    from registry.services.evaluations import default_workers

    return default_workers()


def _fill(url: str, users: int, today) -> None:
    """Migrate the empty database at ``url`` and fill it with ``users`` demo water users."""
    from flask_migrate import upgrade

    from registry.demo import generate
    from registry.extensions import db

    app = make_app(url)
    with app.app_context():
        upgrade()
        with timed("demo data", users):
            generate(db.session, users=users, seed=SEED, today=today, chunk=2000)
        db.session.remove()
        db.engine.dispose()


def run(kind: str, users: int, reuse: bool = False) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from registry import clock
    from registry.extensions import db
    from registry.models import WaterUser
    from registry.services import evaluations, rules_versions

    today = clock.today()
    if reuse:  # demo data depends on the day: one seed per size, seed and day
        url = seeded_database_url(kind, f"{users}_{SEED}_{today:%Y%m%d}", lambda u: _fill(u, users, today))
    else:
        url = database_url(kind)
        _fill(url, users, today)
    app = make_app(url)
    with app.app_context():
        upgrade()  # a kept seed gets any migration added since
        rules = rules_versions.current(db.session)
        ids = list(db.session.scalars(select(WaterUser.id).where(WaterUser.status != "closed")))

        workers = default_workers()
        label = f"set-based recompute --all, {workers} worker processes"
        with timed(f"{label} (first run, writes every result)") as t:
            outcome = evaluations.recompute(db.session, rules, today, workers=workers)
            t["count"] = outcome.evaluated
        set_rate = outcome.evaluated / t["seconds"]
        with timed(f"{label} (nightly rerun, results unchanged)") as t2:
            again = evaluations.recompute(db.session, rules, today, workers=workers)
            t2["count"] = again.evaluated
        with timed("set-based recompute --all, 1 process (nightly rerun, results unchanged)") as t3:
            t3["count"] = evaluations.recompute(db.session, rules, today, workers=1).evaluated

        sample = ids[:NAIVE_SAMPLE]
        with timed("naive per-user ORM loop", len(sample)) as n:
            naive(db.session, rules, today, sample)
        naive_rate = len(sample) / n["seconds"]
        print(f"  ratio set-based / naive: {set_rate / naive_rate:,.1f}x", flush=True)
        print(f"  all {outcome.evaluated:,} users in {t['seconds']:.1f} s (goal: 60 s); "
              f"peak RSS {peak_rss_mb():,.0f} MB; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
              "(other work on the machine slows every figure alike)", flush=True)
        db.session.remove()
        db.engine.dispose()
    if reuse and kind == "sqlite":  # the copy of the kept seed (1.8 GB at 100,000 users)
        shutil.rmtree(os.path.dirname(url.removeprefix("sqlite:///")), ignore_errors=True)


def naive(session, rules, today, ids) -> None:
    """One user at a time through the ORM relationships, as a first version would."""
    from registry.domain import scoring
    from registry.domain.facts import (BalanceTestFact, FileFacts, IntakePointFact, MeterFact, MonthlyReadingFact,
                                       PermitFact, PlanFact, RectificationFact)
    from sqlalchemy import select

    from registry.models import Evaluation, Reading, WaterUser

    for wu_id in ids:
        wu = session.get(WaterUser, wu_id)
        readings = list(session.scalars(select(Reading).where(Reading.water_user_id == wu.id)))
        monthly: dict = {}
        for r in readings:
            if r.read_on is None and r.status == "accepted" and r.closed_at is None:
                volume, first = monthly.get(r.period, (0.0, None))
                monthly[r.period] = (volume + r.volume_m3, min(d for d in (first, r.submitted_on) if d) if (first or r.submitted_on) else None)
        facts = FileFacts(
            water_user_id=wu.id, opened_on=wu.opened_on, industry_code=wu.industry_code, status=wu.status,
            intake_points=tuple(IntakePointFact(p.id, p.name) for p in wu.intake_points if p.closed_at is None),
            permits=tuple(PermitFact(p.id, p.number, p.valid_from, p.valid_to, p.annual_volume_m3,
                                     frozenset(i.id for i in p.intake_points), p.renewal_applied_on, p.revoked_on,
                                     p.renewed_by is not None) for p in wu.permits if p.closed_at is None),
            plans=tuple(PlanFact(p.id, p.year, p.planned_volume_m3) for p in wu.plans if p.closed_at is None),
            meters=tuple(_meter(m, MeterFact) for m in wu.meters if m.closed_at is None),
            monthly_readings=tuple(MonthlyReadingFact(k, v, s) for k, (v, s) in sorted(monthly.items())),
            online_days=frozenset(r.read_on for r in readings if r.read_on and r.source == "online"),
            balance_tests=tuple(BalanceTestFact(b.id, b.tested_on, b.next_due_on) for b in wu.balance_tests
                                if b.closed_at is None),
            rectifications=tuple(RectificationFact(r.id, r.inspection_id, r.deadline, r.status)
                                 for i in wu.inspections for r in i.rectifications if r.closed_at is None),
        )
        result = scoring.evaluate(facts, today, rules)
        stored = result.to_dict()
        session.add(Evaluation(water_user_id=wu.id, evaluated_on=today, rules_version=result.rules_version,
                               total=result.total, grade=result.grade, veto=result.veto, rows=stored["rows"]))
        wu.grade, wu.score = result.grade, result.total
        session.commit()
    session.rollback()


def _meter(m, MeterFact):
    live = [c for c in m.calibrations if c.closed_at is None]
    last = live[0] if live else None
    return MeterFact(m.id, m.serial, m.intake_point_id, m.meter_type, m.dn, m.q3, m.installed_on, m.removed_on,
                     m.interval_months, m.service_life_years, last.calibrated_on if last else None,
                     last.id if last else None, last.next_due_on if last else None, last.passed if last else None)


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "sqlite", int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
