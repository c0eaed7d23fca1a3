"""Export of the bureau's spreadsheets (数据导出) with the import's columns, so that re-importing
an export changes nothing; and the template to fill in. Rows are streamed from the database
(``yield_per``) into openpyxl's write-only workbook or a UTF-8 (BOM) CSV file."""
from __future__ import annotations

from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.models import IntakePoint, Meter, Reading, WaterUser
from registry import access
from registry.services.file_view import ListFilters, water_user_list
from registry.services.exchange_columns import CHOICES, KINDS
from registry.services.spreadsheets import Writer


def _iso(value):
    return value.isoformat() if value is not None else None


def _word(choice: str, code):
    return CHOICES[choice].get(code, (code,))[0] if code is not None else None


def _queries(ids):
    live_wu = WaterUser.id.in_(ids)
    return {
        "water_users": (select(*[getattr(WaterUser, c.field) for c in KINDS["water_users"].columns])
                        .where(live_wu).order_by(WaterUser.file_no),
                        lambda r: [*r[:10], _iso(r[10]), r[11]]),
        "intake_points": (select(WaterUser.file_no, IntakePoint.name, IntakePoint.source, IntakePoint.water_body,
                                 IntakePoint.longitude, IntakePoint.latitude, IntakePoint.intake_method,
                                 IntakePoint.design_capacity_m3h)
                          .join(WaterUser, WaterUser.id == IntakePoint.water_user_id)
                          .where(live_wu, IntakePoint.closed_at.is_(None)).order_by(WaterUser.file_no, IntakePoint.id),
                          lambda r: [r[0], r[1], _word("source", r[2]), *r[3:]]),
        "meters": (select(WaterUser.file_no, Meter.serial, IntakePoint.name, Meter.meter_type, Meter.manufacturer,
                          Meter.dn, Meter.q3, Meter.accuracy_class, Meter.installed_on, Meter.removed_on,
                          Meter.telemetry_id, Meter.interval_months, Meter.service_life_years)
                   .join(WaterUser, WaterUser.id == Meter.water_user_id)
                   .join(IntakePoint, IntakePoint.id == Meter.intake_point_id)
                   .where(live_wu, Meter.closed_at.is_(None)).order_by(WaterUser.file_no, Meter.serial),
                   lambda r: [r[0], r[1], r[2], _word("meter_type", r[3]), *r[4:8], _iso(r[8]), _iso(r[9]), *r[10:]]),
        "readings": (select(WaterUser.file_no, Meter.serial, Reading.period, Reading.volume_m3, Reading.meter_index,
                            Reading.source)
                     .join(Meter, Meter.id == Reading.meter_id).join(WaterUser, WaterUser.id == Reading.water_user_id)
                     .where(Reading.water_user_id.in_(ids), Reading.read_on.is_(None), Reading.status.not_in(("rejected", "check")),
                            Reading.closed_at.is_(None), Meter.closed_at.is_(None))
                     .order_by(WaterUser.file_no, Meter.serial, Reading.period),
                     lambda r: [r[0], r[1], r[2].strftime("%Y-%m"), r[3], r[4], _word("reading_source", r[5])]),
    }


def _plan(session: Session, account, fmt: str, kinds, filters):
    """The kinds to write and their queries, limited to what the account may see and the list's filters."""
    if account is not None:
        access.require(account, "export.run")
    chosen = [k for k in KINDS if k in (kinds or KINDS)]
    if fmt == "csv":
        chosen = chosen[:1]
    if account is None:
        ids = select(WaterUser.id)
    else:
        ids = water_user_list(session, account, filters or ListFilters()).with_only_columns(
            WaterUser.id).order_by(None)
    queries = _queries(ids)
    return [(KINDS[name], *queries[name]) for name in chosen]


def export_count(session: Session, account, fmt: str, *, kinds: list[str] | None = None, filters=None) -> int:
    """How many rows ``export`` would write (for a progress bar)."""
    return sum(session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
               for _kind, stmt, _shape in _plan(session, account, fmt, kinds, filters))


def export(session: Session, account, fileobj, fmt: str, *, kinds: list[str] | None = None, filters=None,
           progress: Callable[[int], None] | None = None) -> int:
    """Write the water users the account may see (narrowed by the list's ``filters``), one sheet
    per kind (CSV: the first kind only). Returns the number of rows written."""
    written = 0
    tick = progress or (lambda n: None)

    def rows(stmt, shape):
        nonlocal written
        for row in session.execute(stmt.execution_options(yield_per=5000)):
            written += 1
            tick(1)
            yield shape(row)

    with Writer(fileobj, fmt) as out:
        for kind, stmt, shape in _plan(session, account, fmt, kinds, filters):
            out.sheet(kind.zh, [c.zh for c in kind.columns], rows(stmt, shape))
    return written


def template(fileobj) -> None:
    """The XLSX template: each sheet with its titles and one example row, and the rules of each column."""
    with Writer(fileobj, "xlsx") as out:
        for kind in KINDS.values():
            out.sheet(kind.zh, [c.zh for c in kind.columns], [[c.example for c in kind.columns]])
        notes = [[kind.zh, c.zh, c.en, str(c.note)] for kind in KINDS.values() for c in kind.columns]
        out.sheet("说明", [_("Sheet"), _("Column"), _("English title"), _("Rule")], notes)
