"""Hand-over statements of one quarter for every user (issue 19: ≤ 60 s for 100,000 users on
PostgreSQL and ≥ 10× a per-user ORM loop), set-based against the loop a first version would be.

`python -m bench tax --users 100000 --db postgresql [--reuse]`
"""
from __future__ import annotations

import os
from datetime import date

from bench.common import database_url, make_app, peak_rss_mb, seeded_database_url, timed
from bench.recompute import SEED, _fill

NAIVE_SAMPLE = 2_000


def _quarter(today: date) -> tuple[int, int]:
    last = (today.month - 1) // 3
    return (today.year, last) if last else (today.year - 1, 4)


def run(kind: str, users: int, reuse: bool = False) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import delete, select

    from registry import clock
    from registry.extensions import db
    from registry.models import Account, TaxStatement, WaterUser
    from registry.services import rules_versions, tax

    today = clock.today()
    if reuse:
        url = seeded_database_url(kind, f"{users}_{SEED}_{today:%Y%m%d}", lambda u: _fill(u, users, today))
    else:
        url = database_url(kind)
        _fill(url, users, today)
    year, quarter = _quarter(today)
    app = make_app(url)
    with app.app_context():
        upgrade()
        rules = rules_versions.current(db.session)
        admin = db.session.scalars(select(Account).where(Account.role == "bureau_admin")).first()
        if admin is None:
            from registry.services.accounts import create_account

            admin = create_account(db.session, None, username="bench-tax", role="bureau_admin",
                                   password="Yiwu-river-stones-2026", must_change_password=False)
        db.session.execute(delete(TaxStatement))
        db.session.commit()
        with timed(f"set-based statements {year} Q{quarter} (first run, writes every statement)") as t:
            counts = tax.compute(db.session, admin, year, quarter)
            t["count"] = counts["created"]
        set_rate = counts["created"] / t["seconds"]
        with timed("set-based statements (rerun, drafts unchanged)") as t2:
            t2["count"] = sum(tax.compute(db.session, admin, year, quarter).values())
        ids = list(db.session.scalars(select(WaterUser.id).where(WaterUser.status != "closed").limit(NAIVE_SAMPLE)))
        db.session.execute(delete(TaxStatement).where(TaxStatement.water_user_id.in_(ids)))
        db.session.commit()
        with timed("naive per-user ORM loop", len(ids)) as n:
            naive(db.session, rules, year, quarter, ids)
        naive_rate = len(ids) / n["seconds"]
        print(f"  ratio set-based / naive: {set_rate / naive_rate:,.1f}x", flush=True)
        print(f"  all {counts['created']:,} statements in {t['seconds']:.1f} s (goal: 60 s); "
              f"peak RSS {peak_rss_mb():,.0f} MB; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
              flush=True)
        db.session.remove()
        db.engine.dispose()


def naive(session, rules, year, quarter, ids) -> None:
    """One user at a time through the ORM relationships, as a first version would."""
    from registry.domain import tax as tax_rules
    from registry.domain.facts import MeterFact, PermitFact, PlanFact
    from registry.domain.plans import quarter_bounds
    from registry.models import Reading, TaxStatement, WaterUser
    from registry.services import plans as plan_service
    from registry.services.tax import canonical

    start, end = quarter_bounds(year, quarter)
    for wu_id in ids:
        wu = session.get(WaterUser, wu_id)
        meters = []
        for m in wu.meters:
            cals = [c for c in m.calibrations if c.kind in ("initial", "subsequent") and c.closed_at is None]
            last = max(cals, key=lambda c: (c.calibrated_on, c.id), default=None)
            first = min((c.calibrated_on for c in cals if c.kind == "initial" and c.passed), default=None)
            meters.append(MeterFact(id=m.id, serial=m.serial, intake_point_id=m.intake_point_id, meter_type=m.meter_type,
                                    dn=m.dn, q3=m.q3, installed_on=m.installed_on, removed_on=m.removed_on,
                                    interval_months=m.interval_months, service_life_years=m.service_life_years,
                                    last_calibrated_on=last and last.calibrated_on, last_next_due_on=last and last.next_due_on,
                                    last_passed=last and last.passed, last_error_pct=last and last.error_pct,
                                    last_kind=last and last.kind, first_verified_on=first))
        monthly, daily = {}, {}
        for m in wu.meters:
            for r in m.readings:
                if r.status != "accepted" or r.closed_at is not None:
                    continue
                if r.read_on is None and start <= r.period < end:
                    monthly[(m.id, r.period)] = monthly.get((m.id, r.period), 0.0) + r.volume_m3
                elif r.read_on is not None and start <= r.read_on < end:
                    daily.setdefault((m.id, r.period), {})[r.read_on] = r.volume_m3
        plan = next((PlanFact(p.id, p.year, p.planned_volume_m3, plan_service.versions_of(p))
                     for p in wu.plans if p.year == year and p.closed_at is None), None)
        facts = tax_rules.TaxFacts(
            water_user_id=wu.id, file_no=wu.file_no, name=wu.name, uscc=wu.uscc, division_code=wu.division_code,
            industry_code=wu.industry_code, opened_on=wu.opened_on,
            points=tuple(tax_rules.PointFact(p.id, p.name, p.source, p.design_capacity_m3h)
                         for p in wu.intake_points if p.closed_at is None),
            permits=tuple(PermitFact(id=p.id, number=p.number, valid_from=p.valid_from, valid_to=p.valid_to,
                                     annual_volume_m3=p.annual_volume_m3, intake_point_ids=frozenset(),
                                     renewal_applied_on=p.renewal_applied_on, revoked_on=p.revoked_on,
                                     renewal_starts_on=p.renewed_by.valid_from if p.renewed_by else None)
                          for p in wu.permits if p.closed_at is None),
            plan=plan, meters=tuple(meters), monthly=monthly, daily=daily)
        figures = tax_rules.statement(facts, year, quarter, rules)
        session.add(TaxStatement(water_user_id=wu.id, year=year, quarter=quarter, version=1, status="draft",
                                 figures=canonical(figures), rules_version=rules.version, computed_on=start,
                                 verified_m3=figures["totals"]["verified_m3"],
                                 estimated_m3=figures["totals"]["estimated_m3"], permitted_m3=0.0))
        session.commit()
    del Reading
