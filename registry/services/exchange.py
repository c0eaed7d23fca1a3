"""Import and export of the bureau's spreadsheets (数据导入导出): water users, intake points,
meters and monthly readings, CSV or XLSX, keyed on natural keys (file number, file number +
intake point name, meter serial, meter serial + month).

An import is checked whole before anything is kept: every row goes through the same validators
as the forms, each change is written with its audit event (before → after), and the transaction
commits once when no cell failed, or is rolled back (a dry run always is). Re-importing an export
changes nothing.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl.utils import get_column_letter
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from registry import access, clock
from registry.domain import plausibility
from registry.bulk import copy_rows
from registry.domain.uscc import normalise_uscc
from registry.models import AuditEvent, Division, IntakePoint, Meter, READING_SOURCES, Reading, WaterUser
from registry.services import audit, validators, plausibility_context, rules_in_force as rules_versions
from registry.services.checks import Checker
from registry.services.errors import ValidationError
from registry.services.exchange_columns import CHOICES, KINDS, Column, Kind, normal
from registry.services.spreadsheets import SheetError, cell_text, read
from registry.services.unit_of_work import FileChange, created_changes

MAX_ERRORS = 1000  # listed; the count says how many more
CHUNK = 1000  # readings checked and written per batch (bounded memory, bounded IN lists)
NOTES_SHEETS = {normal("说明"), normal("Notes")}
_MISSING = ("", None)


@dataclass
class CellError:
    """One failed cell: sheet, row and column as the spreadsheet shows them, and the rule."""

    sheet: str
    row: int | None
    column: str | None  # letter, e.g. "C"
    title: str | None  # the column's title, e.g. 统一社会信用代码
    message: object

    def text(self) -> str:
        if self.row is None:
            return _("Sheet %(sheet)s: %(message)s", sheet=self.sheet, message=self.message)
        if self.column is None:
            return _("Sheet %(sheet)s, row %(row)d (%(field)s): %(message)s", sheet=self.sheet, row=self.row,
                     field=self.title or "—", message=self.message)
        return _("Sheet %(sheet)s, row %(row)d, column %(col)s (%(field)s): %(message)s", sheet=self.sheet,
                 row=self.row, col=self.column, field=self.title or "—", message=self.message)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class Report:
    counts: dict[str, Counts] = field(default_factory=lambda: {name: Counts() for name in KINDS})
    errors: list[CellError] = field(default_factory=list)
    more_errors: int = 0
    rows: int = 0
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changes(self) -> int:
        return sum(c.created + c.updated for c in self.counts.values())

    def kinds(self):
        """(kind, counts) for the kinds the file held."""
        return [(KINDS[name], c) for name, c in self.counts.items() if c.total]

    def to_json(self) -> dict:
        """The report as plain values, messages worded in the current language (kept by background jobs)."""
        return {"counts": {k: [c.created, c.updated, c.unchanged] for k, c in self.counts.items()},
                "errors": [[e.sheet, e.row, e.column, e.title, str(e.message)] for e in self.errors],
                "more_errors": self.more_errors, "rows": self.rows, "applied": self.applied}

    @classmethod
    def from_json(cls, data: dict) -> Report:
        return cls(counts={k: Counts(*v) for k, v in data["counts"].items()},
                   errors=[CellError(*e) for e in data["errors"]], more_errors=data["more_errors"],
                   rows=data["rows"], applied=data["applied"])

    def fail(self, error: CellError) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)
        else:
            self.more_errors += 1

    def refuse(self, error: CellError) -> None:
        """The whole file is refused (a sheet that cannot be read, a limit passed): said first, never
        lost among a thousand cell errors."""
        self.errors.insert(0, error)
        if len(self.errors) > MAX_ERRORS:
            self.errors.pop()
            self.more_errors += 1


@dataclass
class _Sheet:
    kind: Kind
    name: str
    positions: dict[str, int]  # field -> 0-based column index
    rows: object


class _Context:
    """What one import run knows: its unit of work (the session, the actor, the files touched), the
    report, caches by natural key."""

    def __init__(self, change: FileChange, report: Report, apply: bool, progress):
        self.change, self.session, self.actor, self.today = change, change.session, change.actor, change.today
        self.report, self.apply = report, apply
        self.progress = progress or (lambda n: None)
        session = self.session
        self._files: dict[str, WaterUser | None] = {}
        self.divisions = {normal(d.name_zh): d.code for d in session.scalars(select(Division))} | {
            normal(d.name_en): d.code for d in session.scalars(select(Division))}

    def water_user(self, file_no) -> WaterUser | None:
        if file_no not in self._files:
            self._files[file_no] = self.session.scalar(select(WaterUser).where(WaterUser.file_no == file_no))
        return self._files[file_no]

    def fail(self, sheet: _Sheet, row: int, field_name: str, message) -> None:
        column = sheet.kind.column(field_name) or sheet.kind.column(field_name.removesuffix("_id"))
        position = sheet.positions.get(column.field) if column else None
        self.report.fail(CellError(sheet.name, row, get_column_letter(position + 1) if position is not None else None,
                                   column.zh if column else None, message))

    def fail_all(self, sheet: _Sheet, row: int, errors: dict) -> None:
        for name, message in errors.items():
            self.fail(sheet, row, name, message)


def _convert(ctx: _Context, column: Column, value):
    """A cell as the validators expect it; (value, error message or None)."""
    if value in _MISSING or (isinstance(value, str) and not value.strip()):
        return None, None
    kind = column.type
    if kind in ("number", "integer"):
        return (value.strip().replace(",", "") if isinstance(value, str) else value), None
    if kind == "date" and hasattr(value, "year"):
        return value, None
    if kind == "month" and hasattr(value, "year"):
        return (value.date() if hasattr(value, "date") else value).replace(day=1).isoformat()[:7], None
    text = cell_text(value)
    if kind == "division":
        if text.isdigit() and len(text) <= 3:
            return text.zfill(3), None
        return ctx.divisions.get(normal(text), text), None
    if kind.startswith("choice:"):
        words = CHOICES[kind.split(":", 1)[1]]
        for code, (zh, en) in words.items():
            if normal(text) in (normal(code), normal(zh), normal(en)):
                return code, None
        return None, _l("Use one of: %(words)s.", words=", ".join(zh for zh, _en in words.values()))
    return text, None


def _values(ctx: _Context, sheet: _Sheet, number: int, cells) -> dict | None:
    out, failed = {}, False
    for name, position in sheet.positions.items():
        column = sheet.kind.column(name)
        value, error = _convert(ctx, column, cells[position] if position < len(cells) else None)
        if error is not None:
            ctx.fail(sheet, number, name, error)
            failed = True
        out[name] = value
    return None if failed else out


def _changes(obj, cleaned: dict) -> dict:
    return {k: [audit._plain(getattr(obj, k)), audit._plain(v)] for k, v in cleaned.items()
            if not isinstance(v, list) and getattr(obj, k) != v}


# -- one handler per kind: (context, sheet, row number, values) ------------------------------

def _water_user(ctx: _Context, sheet: _Sheet, number: int, values: dict) -> None:
    if values.get("file_no"):
        existing = ctx.water_user(values["file_no"])
    elif "file_no" not in values and values.get("uscc"):  # keyed on the USCC (a sheet without file numbers)
        existing = ctx.session.scalar(select(WaterUser).where(WaterUser.uscc == normalise_uscc(str(values["uscc"]))))
    else:
        existing = None
    data = {c.field: getattr(existing, c.field) for c in sheet.kind.columns} if existing else {}
    data.update(values)

    def new(cleaned: dict) -> WaterUser:
        wu = WaterUser(**cleaned, status="active")
        ctx._files[wu.file_no] = wu
        return wu

    closed = existing is not None and existing.status == "closed"
    _record(ctx, sheet, number, "water_users", existing, existing, data, validators.water_user, new,
            lambda wu: f"{wu.file_no} {wu.name}",
            ("file_no", _l("This file is closed and can no longer be changed.")) if closed else None)


def _file_of(ctx: _Context, sheet: _Sheet, number: int, values: dict) -> WaterUser | None:
    file_no = values.get("file_no")
    if file_no in _MISSING:
        ctx.fail(sheet, number, "file_no", _l("This field is required."))
        return None
    wu = ctx.water_user(file_no)
    if wu is None:
        ctx.fail(sheet, number, "file_no", _l("No water user has this file number."))
    return wu


def _live_points(ctx: _Context, wu: WaterUser, name: str | None) -> list[IntakePoint]:
    stmt = select(IntakePoint).where(IntakePoint.water_user_id == wu.id, IntakePoint.closed_at.is_(None))
    if name is not None:
        stmt = stmt.where(IntakePoint.name == name)
    return list(ctx.session.scalars(stmt.order_by(IntakePoint.id)))


def _record(ctx: _Context, sheet: _Sheet, number: int, kind_name: str, wu: WaterUser | None, existing,
            data: dict, validate: Callable, new: Callable[[dict], object], label: Callable[[object], str],
            closed: tuple[str, object] | None) -> None:
    """Create or update one row's record through validate(session, data, wu, existing), with its audit event.

    wu is the file the record belongs to (a water-user row's own, None when the row adds it: the new record is
    the file); new(cleaned) makes the new record, label(record) words its events' summary, and closed is the
    column and message a row changing a closed record fails with (None: the record is not closed)."""
    try:
        cleaned = validate(ctx.session, data, wu, existing)
    except ValidationError as err:
        ctx.fail_all(sheet, number, err.errors)
        return
    counts = ctx.report.counts[kind_name]
    if existing is None:
        obj = ctx.change.add(new(cleaned))
        ctx.change.flush()
        file = obj if wu is None else wu
        ctx.change.audit("create", obj, water_user_id=file.id, summary=label(obj), changes=created_changes(obj),
                         reason=_IMPORT_REASON)
        counts.created += 1
        return
    changes = _changes(existing, cleaned)
    if not changes:
        counts.unchanged += 1
        return
    if closed is not None:
        ctx.fail(sheet, number, *closed)
        return
    for key, value in cleaned.items():
        setattr(existing, key, value)
    ctx.change.flush()
    ctx.change.audit("update", existing, water_user_id=wu.id, summary=label(existing), changes=changes,
                     reason=_IMPORT_REASON)
    counts.updated += 1


def _file_record(ctx: _Context, sheet: _Sheet, number: int, kind_name: str, model, wu: WaterUser, existing,
                 data: dict, validate: Callable, label: str) -> None:
    """Create or update one record of the file wu (an intake point, a meter)."""
    closed = existing is not None and existing.closed_at is not None
    _record(ctx, sheet, number, kind_name, wu, existing, data, validate,
            lambda cleaned: model(**cleaned, water_user_id=wu.id), lambda _obj: label,
            (sheet.kind.keys[-1], _l("This record was closed and can no longer be changed.")) if closed else None)


def _intake_point(ctx: _Context, sheet: _Sheet, number: int, values: dict) -> None:
    wu = _file_of(ctx, sheet, number, values)
    if wu is None:
        return
    found = _live_points(ctx, wu, values.get("name")) if values.get("name") else []
    if len(found) > 1:
        ctx.fail(sheet, number, "name", _l("Two intake points of this file have this name; rename one first."))
        return
    existing = found[0] if found else None
    fields = [c.field for c in sheet.kind.columns if c.field != "file_no"]
    data = {f: getattr(existing, f) for f in fields} if existing else {}
    data.update({k: v for k, v in values.items() if k != "file_no"})
    _file_record(ctx, sheet, number, "intake_points", IntakePoint, wu, existing, data, validators.intake_point,
                 f"intake_point: {values.get('name')}")


def _meter(ctx: _Context, sheet: _Sheet, number: int, values: dict) -> None:
    serial = values.get("serial")
    existing = ctx.session.scalar(select(Meter).where(Meter.serial == serial)) if serial else None
    if "file_no" in values or existing is None:
        wu = _file_of(ctx, sheet, number, values)
        if wu is None:
            return
    else:
        wu = ctx.session.get(WaterUser, existing.water_user_id)
    if existing is not None and existing.water_user_id != wu.id:
        owner = ctx.session.get(WaterUser, existing.water_user_id)
        ctx.fail(sheet, number, "file_no", _l("This meter belongs to another file (%(file_no)s).",
                                              file_no=owner.file_no))
        return
    name = values["intake_point"] if "intake_point" in values else (
        existing.intake_point.name if existing else None)
    points = _live_points(ctx, wu, name)
    if len(points) != 1:
        ctx.fail(sheet, number, "intake_point",
                 _l("Name an intake point of this file.") if name in _MISSING or not points
                 else _l("Two intake points of this file have this name; rename one first."))
        return
    fields = [c.field for c in sheet.kind.columns if c.field not in ("file_no", "intake_point")]
    data = {f: getattr(existing, f) for f in fields} if existing else {}
    data.update({k: v for k, v in values.items() if k not in ("file_no", "intake_point")})
    data["intake_point_id"] = points[0].id
    _file_record(ctx, sheet, number, "meters", Meter, wu, existing, data, validators.meter, f"meter: {serial}")


HANDLERS = {"water_users": _water_user, "intake_points": _intake_point, "meters": _meter}
_IMPORT_REASON = "import"


# -- readings: checked and written in batches (a file may hold 100,000 of them) -------------

class _Readings:
    def __init__(self, ctx: _Context, sheet: _Sheet):
        self.ctx, self.sheet = ctx, sheet
        self.seen: dict[tuple[int, date], int] = {}
        self.months: dict[int, list[str]] = defaultdict(list)
        self.batch: list[tuple[int, dict]] = []

    def add(self, number: int, values: dict) -> None:
        self.batch.append((number, values))
        if len(self.batch) >= CHUNK:
            self.flush()

    def _check(self, number: int, values: dict) -> dict | None:
        data = dict(values)
        if data.get("source") in _MISSING:
            data["source"] = "manual"
        c = Checker(data, self.ctx.today)
        c.text("serial", max_len=60)
        c.month("period")
        c.number("volume_m3")
        c.number("meter_index", required=False)
        c.choice("source", READING_SOURCES)
        if c.errors:
            self.ctx.fail_all(self.sheet, number, c.errors)
            return None
        return c.out

    def flush(self) -> None:
        ctx, batch, self.batch = self.ctx, self.batch, []
        checked = [(n, v, self._check(n, v)) for n, v in batch]
        serials = {c["serial"] for _, _, c in checked if c}
        meters = {row.serial: row for row in ctx.session.execute(
            select(Meter.id, Meter.serial, Meter.water_user_id, Meter.installed_on, Meter.removed_on,
                   Meter.closed_at, WaterUser.file_no).join(WaterUser, WaterUser.id == Meter.water_user_id)
            .where(Meter.serial.in_(serials)))} if serials else {}
        good = []
        for number, values, c in checked:
            if c is None:
                continue
            meter = meters.get(c["serial"])
            period = c["period"]
            if meter is None or meter.closed_at is not None:
                ctx.fail(self.sheet, number, "serial", _l("No meter has this serial number."))
            elif values.get("file_no") not in _MISSING and values["file_no"] != meter.file_no:
                ctx.fail(self.sheet, number, "file_no", _l("The meter belongs to file %(file_no)s.",
                                                          file_no=meter.file_no))
            elif period < meter.installed_on.replace(day=1):
                ctx.fail(self.sheet, number, "period", _l("The meter was not installed yet in that month."))
            elif meter.removed_on is not None and period > meter.removed_on:
                ctx.fail(self.sheet, number, "period", _l("The meter had been removed by then."))
            elif (meter.id, period) in self.seen:
                ctx.fail(self.sheet, number, "period", _l("The same meter and month are also in row %(row)d.",
                                                          row=self.seen[(meter.id, period)]))
            else:
                self.seen[(meter.id, period)] = number
                good.append((number, meter, c))
        pairs = [(meter.id, c["period"]) for _, meter, c in good]
        existing = {(r.meter_id, r.period): r for r in ctx.session.execute(
            select(Reading.id, Reading.meter_id, Reading.period, Reading.volume_m3, Reading.meter_index,
                   Reading.source).where(tuple_(Reading.meter_id, Reading.period).in_(pairs),
                                         Reading.read_on.is_(None), Reading.status.not_in(("rejected", "check")),
                                         Reading.closed_at.is_(None)))} if pairs else {}
        counts = ctx.report.counts["readings"]
        # Plausibility (registry.domain.plausibility), as in the forms: a hard finding is the
        # cell's error, soft ones store the reading flagged.

        judged = plausibility_context.judge(
            ctx.session, [(number, meter.id, c["period"], float(c["volume_m3"]), c["meter_index"])
                          for number, meter, c in good], rules=rules_versions.current(ctx.session), today=ctx.today)
        kept = []
        for number, meter, c in good:
            hard, flags = judged[number]
            if hard:
                name = "meter_index" if hard[0].code == "index_backwards" else "volume_m3"
                ctx.fail(self.sheet, number, name, plausibility_context.message(hard[0]))
                continue
            c["flags"] = flags
            kept.append((number, meter, c))
        good = kept
        new_rows, updates = [], []
        for number, meter, c in good:
            old = existing.get((meter.id, c["period"]))
            if old is None:
                new_rows.append({"water_user_id": meter.water_user_id, "meter_id": meter.id, "period": c["period"],
                                 "read_on": None, "volume_m3": float(c["volume_m3"]), "meter_index": c["meter_index"],
                                 "source": c["source"], "status": "flagged" if plausibility.held(c["flags"]) else "accepted",
                                 "flags": c["flags"], "channel": "import", "submitted_on": ctx.today,
                                 "submitted_by_id": getattr(ctx.actor, "id", None)})
                self.months[meter.water_user_id].append(c["period"].strftime("%Y-%m"))
                counts.created += 1
            elif (abs(old.volume_m3 - float(c["volume_m3"])) < 1e-9 and old.source == c["source"]
                  and _same(old.meter_index, c["meter_index"])):
                counts.unchanged += 1
            else:
                updates.append((old.id, meter.water_user_id, c))
                counts.updated += 1
        if ctx.apply and not ctx.report.errors:
            if new_rows:
                copy_rows(ctx.session, Reading.__table__, new_rows)
            for reading_id, wu_id, c in updates:
                reading = ctx.session.get(Reading, reading_id)
                cleaned = {"volume_m3": float(c["volume_m3"]), "meter_index": c["meter_index"], "source": c["source"]}
                changes = _changes(reading, cleaned)
                for key, value in cleaned.items():
                    setattr(reading, key, value)
                ctx.change.audit("update", reading, water_user_id=wu_id,
                                 summary=f"reading: {c['serial']} {c['period']:%Y-%m}", changes=changes,
                                 reason=_IMPORT_REASON)
            ctx.change.flush()

    def finish(self) -> None:
        self.flush()
        ctx = self.ctx
        if ctx.apply and not ctx.report.errors and self.months:
            # Thousands of new readings: their audit events go in bulk, one per file, in the same unit of work.
            copy_rows(ctx.session, AuditEvent.__table__, [
                {"actor_id": getattr(ctx.actor, "id", None), "action": "create", "entity_type": "Reading",
                 "entity_id": None, "water_user_id": wu_id, "summary": f"readings via import: {len(months)}",
                 "changes": {"periods": [None, sorted(months)]}, "reason": _IMPORT_REASON}
                for wu_id, months in self.months.items()])
            ctx.change.touch(*self.months)


def _same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(float(a) - float(b)) < 1e-9)


# -- the file as a whole -----------------------------------------------------------------------

def _kind_of(name: str, header: list[str]) -> Kind | None:
    for kind in KINDS.values():
        if normal(name) in kind.sheet_names():
            return kind
    titles = {normal(h) for h in header if h}

    def present(kind):
        return {c.field for c in kind.columns if titles & c.names()}

    best = max(KINDS.values(), key=lambda k: (k.has_key(present(k)), len(present(k))))
    return best if best.has_key(present(best)) else None


def _map_header(report: Report, kind: Kind, name: str, header: list[str]) -> dict[str, int] | None:
    positions, ok = {}, True
    for index, title in enumerate(header):
        if not title:
            continue
        column = next((c for c in kind.columns if normal(title) in c.names()), None)
        letter = get_column_letter(index + 1)
        if column is None:
            report.fail(CellError(name, 1, letter, title, _l("Unknown column title; see the template for the columns.")))
            ok = False
        elif column.field in positions:
            report.fail(CellError(name, 1, letter, title, _l("This column appears twice.")))
            ok = False
        else:
            positions[column.field] = index
    for key in () if kind.has_key(positions) else kind.keys:
        if key not in positions:
            report.fail(CellError(name, 1, None, kind.column(key).zh, _l("The column %(title)s is missing.",
                                                                         title=kind.column(key).zh)))
            ok = False
    return positions if ok else None


def _sheets(report: Report, found, filename: str) -> list[_Sheet]:
    sheets: dict[str, _Sheet] = {}
    for sheet in found:
        if normal(sheet.name) in NOTES_SHEETS:
            continue
        if not any(sheet.header):
            continue
        kind = _kind_of(sheet.name, sheet.header)
        if kind is None:
            report.fail(CellError(sheet.name, None, None, None, _l(
                "The first row must hold the column titles of one kind of record (取水户, 取水口, 计量设施 or "
                "月取水量); download the template to see them.")))
            continue
        if kind.name in sheets:
            report.fail(CellError(sheet.name, None, None, None, _l("Two sheets hold %(kind)s.", kind=kind.zh)))
            continue
        positions = _map_header(report, kind, sheet.name, sheet.header)
        if positions is not None:
            sheets[kind.name] = _Sheet(kind, sheet.name, positions, sheet.rows)
    if not sheets and not report.errors:
        report.fail(CellError(filename, None, None, None, _l(
            "The file is empty: the first row must hold the column titles, the rows below the records.")))
    return [sheets[name] for name in KINDS if name in sheets]


def count_rows(path: Path, fmt: str) -> int:
    """Data rows in the file, as far as it says (for a progress bar); 0 when unreadable."""
    try:
        with read(path, fmt) as sheets:
            return sum(s.total or 0 for s in sheets if normal(s.name) not in NOTES_SHEETS)
    except SheetError:
        return 0


@contextmanager
def _reading(report: Report, path: Path, fmt: str):
    """The file's sheets; a file that cannot be opened is reported and reads as no sheets."""
    stack = ExitStack()
    try:
        found = stack.enter_context(read(path, fmt))
    except SheetError as err:
        report.fail(CellError(Path(path).name, None, None, None, err.message))
        found = []
    with stack:
        yield found


def _check_sheet(ctx: _Context, sheet: _Sheet) -> None:
    report = ctx.report
    readings = _Readings(ctx, sheet) if sheet.kind.name == "readings" else None
    handler = HANDLERS.get(sheet.kind.name)
    try:
        for number, cells in sheet.rows:
            report.rows += 1
            ctx.progress(1)
            values = _values(ctx, sheet, number, cells)
            if values is None:
                continue
            if readings is not None:
                readings.add(number, values)
            else:
                handler(ctx, sheet, number, values)
    except SheetError as err:
        report.refuse(CellError(sheet.name, None, None, None, err.message))
        return  # the rest of the sheet was not read: nothing more to check in it
    if readings is not None:
        readings.finish()


def run(session: Session, actor, path: Path, fmt: str, *, apply: bool, progress: Callable[[int], None] | None = None,
        today: date | None = None, on_total: Callable[[int], None] | None = None) -> Report:
    """Check the file and, when ``apply`` and every cell passed, keep it: one transaction.

    ``actor`` None is the command line (the server's operator); otherwise a bureau administrator.
    ``on_total(rows)``: the data rows the file says it holds, once its sheets are open and before
    the first row (a progress bar's length, without reading the file a second time).
    """
    if actor is not None:
        access.require(actor, "import.run")
    report = Report()
    # One unit of work: it commits (re-evaluating the files touched) only when every cell passed;
    # a dry run or a failed cell discards it, and an exception (the time budget) rolls it back.
    with FileChange(session, actor, today=today or clock.today()) as change:
        ctx = _Context(change, report, apply, progress)
        with _reading(report, path, fmt) as found:
            if on_total is not None:
                on_total(sum(s.total or 0 for s in found if normal(s.name) not in NOTES_SHEETS))
            for sheet in _sheets(report, found, Path(path).name):
                _check_sheet(ctx, sheet)
        if apply and report.ok and report.rows:
            report.applied = True
        else:
            change.discard()
    return report


# Export and the template live in their own module; the same names are offered here.
from registry.services.exchange_export import export, export_count, template  # noqa: E402,F401
