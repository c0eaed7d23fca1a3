"""``flask --app wsgi registry ...``: accounts and demo data (spec.md, "Command line")."""
from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from registry import clock
from registry.extensions import db
from registry.models import ROLES, WaterUser
from registry.services import ValidationError

registry_cli = AppGroup("registry", help="Registry administration: accounts, demo data.")


def _fail(err: ValidationError) -> None:
    for field, message in err.errors.items():
        click.echo(f"error: {field}: {message}", err=True)
    sys.exit(2)


@registry_cli.command("create-account")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--water-user", "file_numbers", multiple=True, metavar="FILE_NO", help="enterprise: linked file number")
@click.option("--division", "divisions", multiple=True, metavar="CODE", help="inspector: division code, e.g. 001")
@click.option("--city-wide", is_flag=True, help="inspector: every division")
@click.option("--name", "display_name", default=None)
@click.option("--password", default=None, help="prompted for when absent")
@with_appcontext
def create_account_command(username, role, file_numbers, divisions, city_wide, display_name, password):
    """Create an account; the holder must change the password at first sign-in."""
    from registry.services.accounts import create_account

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        account = create_account(db.session, None, username=username, role=role, password=password,
                                 division_codes=divisions, file_numbers=file_numbers, city_wide=city_wide,
                                 display_name=display_name)
    except ValidationError as err:
        _fail(err)
    click.echo(f"created account {account.username} ({account.role})")


@registry_cli.command("demo-data")
@click.option("--users", default=200, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--password", default="demo", show_default=True)
@click.option("--if-empty", is_flag=True, help="do nothing when the registry already has water users")
@with_appcontext
def demo_data_command(users, seed, password, if_empty):
    """Fill the registry with realistic synthetic files and the demo accounts."""
    from registry.demo import generate, seed_accounts

    existing = db.session.execute(select(func.count()).select_from(WaterUser)).scalar_one()
    if if_empty and existing:
        click.echo(f"the registry already has {existing} water users; no demo data added")
        return
    started = time.perf_counter()
    with click.progressbar(length=users, label="water users", file=sys.stderr) as bar:
        counts = generate(db.session, users=users, seed=seed, today=clock.today(), progress=bar.update)
    first = list(db.session.scalars(select(WaterUser.file_no).order_by(WaterUser.id).limit(2)))
    made = seed_accounts(db.session, password, first)
    from registry.demo import telemetry_feeds
    from registry.models import Account
    from registry.services import evaluations, rules_versions

    admin = db.session.scalars(select(Account).where(Account.username == "demo-admin")).first()
    if admin is not None:  # a few online meters report hourly through the intake, faults included
        click.echo(f"telemetry: {telemetry_feeds(db.session, admin, clock.today())} points through the intake")
    with click.progressbar(length=users, label="evaluating", file=sys.stderr) as bar:
        evaluations.refresh(db.session, rules_versions.current(db.session), clock.today(), progress=bar.update)
        db.session.commit()
    from registry.services import reminders, warnings

    # The nightly detection once, so the warnings (预警) of the demo's anomalies are there at once.
    found = warnings.detect(db.session, today=clock.today(), now=clock.now(), rules=rules_versions.current(db.session),
                            settings=reminders.Settings.from_config(current_app.config))
    click.echo(f"warnings: {found.created} detected")
    elapsed = max(time.perf_counter() - started, 1e-9)
    rows = sum(counts.rows.values())
    click.echo(f"created {counts.water_users} water users ({rows} rows) in {elapsed:.1f} s "
               f"({counts.water_users / elapsed:.0f} users/s)")
    for username, role in made:
        click.echo(f"demo login: {username} / {password} ({role})")


@registry_cli.command("demo-logins")
@with_appcontext
def demo_logins_command():
    """Print the demo accounts that exist (password as given to demo-data, default 'demo')."""
    from registry.demo import DEMO_ACCOUNTS
    from registry.models import Account

    names = [u for u, _ in DEMO_ACCOUNTS]
    found = db.session.execute(select(Account.username, Account.role).where(Account.username.in_(names))).all()
    url = current_app.config["PUBLIC_URL"]
    click.echo(f"Open {url} and sign in with one of:")
    for username, role in sorted(found):
        click.echo(f"  {username:18s} password: demo   ({role})")


def _default_workers() -> int:
    from registry.services.evaluations import default_workers

    return default_workers()


@registry_cli.command("recompute")
@click.option("--all", "everything", is_flag=True, help="every open file (the nightly run, and after a rules change)")
@click.option("--water-user", "file_numbers", multiple=True, metavar="FILE_NO")
@click.option("--pending", is_flag=True,
              help="the files waiting for re-scoring after bulk readings (a timer's job when the queue's "
                   "re-scoring job is off: REGISTRY_EVALUATE_PENDING=off)")
@click.option("--workers", type=click.IntRange(min=1), default=lambda: _default_workers(),
              show_default="the number of CPUs, at most 4", help="processes judging files in parallel (--all)")
@with_appcontext
def recompute_command(everything, file_numbers, pending, workers):
    """Recompute compliance evaluations and due items; prints count and rate."""
    from registry.services import evaluations, rules_versions

    if not everything and not file_numbers and not pending:
        raise click.UsageError("give --all, --pending or --water-user FILE_NO")
    if pending and (everything or file_numbers):
        raise click.UsageError("--pending goes alone (--all scores the waiting files too)")
    ids = None
    if file_numbers:
        ids = list(db.session.scalars(select(WaterUser.id).where(WaterUser.file_no.in_(file_numbers))))
        if len(ids) != len(set(file_numbers)):
            click.echo("error: unknown file number", err=True)
            sys.exit(2)
    if pending:
        total = evaluations.pending_count(db.session)
    elif ids is not None:
        total = len(ids)
    else:
        total = db.session.execute(select(func.count()).select_from(WaterUser)
                                   .where(WaterUser.status != "closed")).scalar_one()
    rules = rules_versions.current(db.session)
    started = time.perf_counter()
    with click.progressbar(length=total, label=f"evaluating ({rules.version})", file=sys.stderr) as bar:
        if pending:  # committed batch by batch
            outcome = evaluations.drain(db.session, rules, clock.today(), progress=bar.update)
        elif ids is None:  # committed batch by batch
            outcome = evaluations.recompute(db.session, rules, clock.today(), workers=workers, progress=bar.update)
        else:
            outcome = evaluations.refresh(db.session, rules, clock.today(), ids, progress=bar.update)
            db.session.commit()
    elapsed = max(time.perf_counter() - started, 1e-9)
    click.echo(f"evaluated {outcome.evaluated} water users in {elapsed:.1f} s ({outcome.evaluated / elapsed:.0f} users/s); "
               f"{outcome.changed} results changed")
    if outcome.failed:  # a non-zero exit, so the nightly job's monitoring sees it
        numbers = db.session.scalars(select(WaterUser.file_no).where(WaterUser.id.in_(outcome.failed[:20]))).all()
        click.echo(f"error: {len(outcome.failed)} water users could not be scored (their last results stay; "
                   f"see the log): {', '.join(sorted(numbers))}{' …' if len(outcome.failed) > 20 else ''}", err=True)
        sys.exit(1)


@registry_cli.command("detect-warnings")
@with_appcontext
def detect_warnings_command():
    """Detect the anomalies of every active file's use (预警: over the permit's share, jumps, ±60 %
    against last year, × 3 against the 12-month median, zero months, flat line, silence) and keep one
    warning per cause; the enterprise is told once per new warning. Safe to rerun: a cause already
    known is detected again, never added twice. Prints the count and rate."""
    from registry.services import reminders, rules_versions, warnings

    rules = rules_versions.current(db.session)
    total = warnings.meters_to_judge(db.session)
    started = time.perf_counter()
    with click.progressbar(length=total, label=f"judging meters ({rules.version})", file=sys.stderr) as bar:
        outcome = warnings.detect(db.session, today=clock.today(), now=clock.now(), rules=rules,
                                  progress=bar.update, settings=reminders.Settings.from_config(current_app.config))
    elapsed = max(time.perf_counter() - started, 1e-9)
    click.echo(f"judged {outcome.meters} meters of {outcome.files} water users in {elapsed:.1f} s "
               f"({outcome.files / elapsed:.0f} users/s); {outcome.created} new warnings, "
               f"{outcome.detected_again} detected again, {outcome.notices} notices")


@registry_cli.command("create-token")
@click.argument("username")
@click.option("--name", default="API", show_default=True)
@with_appcontext
def create_token_command(username, name):
    """Print a new API token for USERNAME once (only its hash is stored)."""
    from registry.models import Account
    from registry.services.tokens import create_token

    account = db.session.execute(select(Account).where(Account.username == username)).scalar_one_or_none()
    if account is None:
        click.echo(f"error: no account {username}", err=True)
        sys.exit(2)
    click.echo(create_token(db.session, None, account, name))


@registry_cli.command("worker")
@click.option("--workers", type=click.IntRange(1, 32), default=2, show_default=True, help="jobs run at once (threads)")
@click.option("--periodic/--no-periodic", default=True, show_default=True,
              help="also run the nightly recompute and reminders and put back jobs whose worker died; with "
                   "several workers on one Redis each night's run is still one job, so --periodic everywhere is safe")
@with_appcontext
def worker_command(workers, periodic):
    """Run a task-queue worker (Huey) for background jobs: certificate batches, large imports and,
    with --periodic, the nightly recompute and reminders. Stop it with Ctrl-C (a job it was running
    is queued again when its heartbeat stops)."""
    from registry import queue

    app = current_app._get_current_object()
    where = app.config.get("REDIS_URL") or app.config.get("QUEUE_PATH") or "instance/queue.db"
    click.echo(f"worker: {workers} thread(s) on {where}; periodic tasks {'on' if periodic else 'off'}")
    try:
        queue.run_worker(app, workers=workers, periodic=periodic)
    except RuntimeError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)


@registry_cli.command("remind")
@click.option("--dry-run", is_flag=True, help="list the reminders that would be created; change and send nothing")
@with_appcontext
def remind_command(dry_run):
    """Create today's reminders (permit renewal, calibration, balance test, plan, readings,
    rectification, certificates) once per item and step, then send the queued e-mails.

    Safe to run every night: a rerun creates and sends nothing new. Without REGISTRY_MAIL_SERVER
    and REGISTRY_MAIL_SENDER the e-mails stay queued in the outbox.
    """
    from registry.services import mailer, reminders, rules_versions

    rules = rules_versions.current(db.session)
    settings = reminders.Settings.from_config(current_app.config)
    total = db.session.execute(
        select(func.count()).select_from(WaterUser).where(WaterUser.status != "closed")).scalar_one()
    started = time.perf_counter()
    with click.progressbar(length=total, label="checking files", file=sys.stderr) as bar:
        result = reminders.run(db.session, clock.today(), rules, settings, dry_run=dry_run, progress=bar.update)
    elapsed = max(time.perf_counter() - started, 1e-9)
    channels = ", ".join(f"{result.created[c]} {c}" for c in ("in_app", "email", "letter"))
    if dry_run:
        for planned in result.planned:
            r = planned.reminder
            click.echo(f"would remind {planned.file_no}: {r.topic} {r.step} ({r.item_key}) by {', '.join(planned.channels)}")
        click.echo(f"checked {result.files} water users in {elapsed:.1f} s ({result.files / elapsed:.0f} users/s); "
                   f"would create {result.reminders} reminders ({channels}); nothing was changed or sent")
        return
    click.echo(f"checked {result.files} water users in {elapsed:.1f} s ({result.files / elapsed:.0f} users/s); "
               f"created {result.reminders} reminders ({channels})")
    mail = mailer.MailSettings.from_config(current_app.config)
    if mail is None:
        click.echo("mail is not configured (REGISTRY_MAIL_SERVER, REGISTRY_MAIL_SENDER): e-mails stay in the outbox")
        return
    from registry.models import Communication

    queued = db.session.execute(select(func.count()).select_from(Communication).where(
        Communication.channel == "email", Communication.status == "queued")).scalar_one()
    started = time.perf_counter()
    try:
        with click.progressbar(length=queued, label=f"sending via {mail.where}", file=sys.stderr) as bar:
            sent = reminders.deliver(db.session, mail, progress=bar.update)
    except mailer.MailServerUnavailable as err:
        click.echo(f"error: cannot send e-mail: {err}; {queued} e-mails stay queued for the next run", err=True)
        sys.exit(1)
    elapsed = max(time.perf_counter() - started, 1e-9)
    done = sent.sent + sent.failed
    click.echo(f"sent {sent.sent} e-mails in {elapsed:.1f} s ({done / elapsed:.0f} mails/s); {sent.failed} refused "
               f"(a letter is due for each), {sent.deferred} deferred to the next run")
    if sent.stopped:
        click.echo(f"error: the mail server stopped answering: {sent.stopped}", err=True)
        sys.exit(1)


@registry_cli.command("check-deploy")
@with_appcontext
def check_deploy_command():
    """Report settings that are unsafe for production; exits 1 when any is found."""
    config = current_app.config
    problems = []
    if config.get("ENV") != "production":
        problems.append("REGISTRY_ENV is not 'production'")
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append("session cookies are not Secure (serve over HTTPS with REGISTRY_ENV=production)")
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        problems.append("the database is SQLite: use PostgreSQL (REGISTRY_DATABASE_URL=postgresql+psycopg://...)")
    if str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory"):
        problems.append("rate limits are kept in memory: set REGISTRY_RATELIMIT_STORAGE_URI=redis://... for several workers")
    if not config.get("PROXY_HOPS"):
        problems.append("REGISTRY_PROXY_HOPS is 0: behind the reverse proxy every client shares the proxy's address "
                        "(one sign-in throttle and one verification limit for the whole city, the proxy in the "
                        "audit trail); set it to the number of proxies in front of the app")
    if len(str(config.get("SECRET_KEY") or "")) < 32:
        problems.append("REGISTRY_SECRET_KEY is shorter than 32 characters")
    if str(config.get("PUBLIC_URL", "")).startswith("http://"):
        problems.append("REGISTRY_PUBLIC_URL is not https:// (certificate QR codes would point to plain HTTP)")
    for line in problems:
        click.echo(f"unsafe: {line}")
    click.echo("deploy check: " + ("no problems found" if not problems else f"{len(problems)} problems"))
    sys.exit(1 if problems else 0)


from registry import cli_exchange  # noqa: E402,F401  registers `registry import` and `registry export`
from registry import cli_backup  # noqa: E402,F401  registers `registry dump` and `registry load`
