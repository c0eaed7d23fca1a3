"""``flask --app wsgi registry import FILE [--dry-run]`` and ``registry export FILE``: the bureau's
spreadsheets (CSV or XLSX), through registry.services.exchange."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from registry.cli import registry_cli
from registry.extensions import db
from registry.services.exchange_columns import KINDS
from registry.services.spreadsheets import format_of


def _format(path: str) -> str:
    fmt = format_of(path)
    if fmt is None:
        raise click.BadParameter("the file name must end in .csv or .xlsx", param_hint="FILE")
    return fmt


def _actor(username):
    if username is None:
        return None
    from registry.models import Account

    account = db.session.execute(select(Account).where(Account.username == username)).scalar_one_or_none()
    if account is None or account.role != "bureau_admin":
        click.echo(f"error: {username} is not a bureau administrator", err=True)
        sys.exit(2)
    return account


class _Ticks:
    """Progress bar updates every 500 rows: redrawing per row would cost more than the import."""

    def __init__(self, bar):
        self.bar, self.pending = bar, 0

    def __call__(self, n: int) -> None:
        self.pending += n
        if self.pending >= 500:
            self.bar.update(self.pending)
            self.pending = 0


@registry_cli.command("import")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="check the file and print what would change; keep nothing")
@click.option("--as", "username", default=None, metavar="USERNAME",
              help="bureau administrator named in the audit trail (default: the operator, no account)")
@with_appcontext
def import_command(path, dry_run, username):
    """Import water users, intake points, meters and monthly readings (one sheet or CSV file per
    kind, titles in row 1). All or nothing: any bad cell is reported and nothing is kept."""
    from registry.services import exchange

    fmt = _format(path)
    actor = _actor(username)
    total = exchange.count_rows(Path(path), fmt)
    started = time.perf_counter()
    with click.progressbar(length=max(total, 1), label="checking" if dry_run else "importing", file=sys.stderr) as bar:
        report = exchange.run(db.session, actor, Path(path), fmt, apply=not dry_run, progress=_Ticks(bar))
    elapsed = max(time.perf_counter() - started, 1e-9)
    for kind, counts in report.kinds():
        click.echo(f"{kind.name}: {counts.created} to create, {counts.updated} to update, {counts.unchanged} unchanged"
                   if dry_run or not report.ok else
                   f"{kind.name}: {counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged")
    for error in report.errors:
        click.echo(f"error: {error.text()}", err=True)
    if report.more_errors:
        click.echo(f"error: … and {report.more_errors} more", err=True)
    rate = f"{report.rows} rows in {elapsed:.1f} s ({report.rows / elapsed:,.0f} rows/s)"
    if not report.ok:
        click.echo(f"checked {rate}: {len(report.errors) + report.more_errors} errors; nothing was changed", err=True)
        sys.exit(1)
    if dry_run:
        click.echo(f"checked {rate}; dry run: nothing was changed")
    else:
        click.echo(f"imported {rate}")


@registry_cli.command("export")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, writable=True))
@click.option("--kind", "kinds", multiple=True, type=click.Choice(list(KINDS)),
              help="kinds to export (default: all; a CSV file holds the first one)")
@click.option("--template", is_flag=True, help="write the empty template (XLSX) with an example row and the rules")
@with_appcontext
def export_command(path, kinds, template):
    """Export the registry as CSV or XLSX with the import's columns (re-importing it changes nothing)."""
    from registry.services import exchange

    fmt = _format(path)
    if template:
        if fmt != "xlsx":
            raise click.BadParameter("the template is an .xlsx file", param_hint="FILE")
        with open(path, "wb") as fh:
            exchange.template(fh)
        click.echo(f"wrote the template to {path}")
        return
    started = time.perf_counter()
    total = exchange.export_count(db.session, None, fmt, kinds=list(kinds) or None)
    with open(path, "wb") as fh, click.progressbar(length=max(total, 1), label="exporting", file=sys.stderr) as bar:
        rows = exchange.export(db.session, None, fh, fmt, kinds=list(kinds) or None, progress=_Ticks(bar))
    elapsed = max(time.perf_counter() - started, 1e-9)
    click.echo(f"exported {rows} rows to {path} in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)")
