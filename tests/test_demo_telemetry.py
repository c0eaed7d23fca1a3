"""Demo data (issue 17): a few online meters report hourly through the telemetry intake, with a
gap, a flat line, a rollover and a spike, so `make run` shows flagged months and silent meters."""
from __future__ import annotations

from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.demo import generate, seed_accounts, telemetry_feeds
from registry.extensions import db
from registry.models import Account, Meter, Reading, TelemetryPoint

TODAY = bureau_today()


def test_demo_feeds_go_through_the_intake_with_their_faults(app):
    generate(db.session, users=60, seed=2026, today=TODAY)
    seed_accounts(db.session, "demo-password-x", ["YW-000001", "YW-000002"])
    admin = db.session.scalars(select(Account).where(Account.username == "demo-admin")).one()
    stored = telemetry_feeds(db.session, admin, TODAY, meters=4, days=30)
    # 30 days × 24 hours each, less the first meter's 3-day gap (72 hours)
    assert stored == 4 * 720 - 72
    assert db.session.scalar(select(func.count()).select_from(TelemetryPoint)) == stored
    rolled = db.session.scalars(select(Meter).where(Meter.register_capacity_m3 == 100_000.0)).one()
    derived = db.session.scalars(select(Reading).where(Reading.meter_id == rolled.id, Reading.channel == "telemetry",
                                                       Reading.read_on.is_(None))).all()
    assert derived and all(r.volume_m3 >= 0 for r in derived)  # the rollover is a volume, not a refusal


def test_demo_data_ends_with_the_detection_so_warnings_show(app):
    """`make run` shows warnings (预警): the demo's faults are detected when the data is made."""
    from registry.models import UseWarning

    result = app.test_cli_runner().invoke(args=["registry", "demo-data", "--users", "60", "--seed", "2026"])
    assert result.exit_code == 0, result.output
    kinds = set(db.session.scalars(select(UseWarning.kind)))
    assert "flat_line" in kinds  # the feed whose totalizer stays flat for days
    assert "warnings:" in result.output
