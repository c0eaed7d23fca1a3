"""Hand-over statements (水资源税涉税信息, issue 19): the facts of many files loaded in a fixed number
of queries, judged by ``registry.domain.tax`` (one computation for the statements and the
statistics), stored as canonical JSON, signed off by a bureau administrator and exported.

A statement of a taxpayer and quarter has versions. Computing (one file, or the whole city as a
job of the queue) writes version 1 as a *draft*, or refreshes a draft; a *signed* statement is
never edited: a correction is a new draft version with its reason (:func:`correct`), signed in its
turn, and the page shows what it changed. Exports are made from the stored figures alone, so a
signed statement exports byte-identical files however often and whenever it is exported.
"""
from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
from collections import defaultdict
from datetime import date
from collections.abc import Callable, Iterable, Iterator

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, case, create_engine, func, select, text, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.pool import NullPool

from registry import access
from registry.domain import calibration as calib
from registry.domain import tax as tax_rules
from registry.domain.facts import MeterFact, PermitFact, PlanFact
from registry.domain.plans import PlanVersionFact, quarter_bounds
from registry.models import (AnnualPlan, Calibration, IntakePoint, Meter, Permit, PlanVersion, Reading, TaxStatement,
                             WaterUser, utcnow)
from registry.bulk import copy_rows
from registry.services.checks import refuse_control
from registry.services.errors import NotFound, ValidationError
from registry.services.evaluations import collector_paused, default_workers
from registry.services.unit_of_work import FileChange

CHUNK = 2000
ANALYZE_AFTER = 10_000  # statements created in one run


def canonical(figures: dict) -> str:
    """The stored form: sorted keys, no spaces, UTF-8 characters as they are (byte-stable)."""
    return json.dumps(figures, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def check_period(year, quarter) -> tuple[int, int]:
    """``year`` and ``quarter`` of a request, refused with the field named when out of range."""
    errors = {}
    try:
        year = int(year)
        if not 2000 <= year <= 2100:
            raise ValueError
    except (TypeError, ValueError):
        errors["year"] = _l("Enter a year between 2000 and 2100.")
    try:
        quarter = int(quarter)
        if not 1 <= quarter <= 4:
            raise ValueError
    except (TypeError, ValueError):
        errors["quarter"] = _l("Enter a quarter from 1 to 4.")
    if errors:
        raise ValidationError(errors)
    return year, quarter


# --- the facts, set-based ----------------------------------------------------------------------


def _grouped(session: Session, stmt, ids) -> dict[int, list]:
    """Plain rows through the session's connection (Core: no ORM bookkeeping per row)."""
    if ids is not None:
        stmt = stmt.where(stmt.selected_columns[0].in_(ids))
    out: dict[int, list] = defaultdict(list)
    for row in session.connection().execute(stmt):
        out[row[0]].append(row)
    return out


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def iter_facts(session: Session, year: int, quarter: int | None, ids: list[int] | None = None, *,
               between: tuple[date, date] | None = None) -> Iterator[tax_rules.TaxFacts]:
    """The tax facts of every open file (or of ``ids``), CHUNK files at a time, a dozen queries each."""
    users = select(WaterUser.id).where(WaterUser.status != "closed").order_by(WaterUser.id)
    if ids is not None:
        users = users.where(WaterUser.id.in_(ids))
    all_ids = list(session.scalars(users))
    for chunk in _chunks(all_ids):
        yield from _facts_of(session, year, between or quarter_bounds(year, quarter), chunk)


def _facts_of(session: Session, year: int, period: tuple[date, date], ids: list[int]) -> Iterator[tax_rules.TaxFacts]:
    """The facts with the readings from ``period[0]`` to ``period[1]`` (excluded), the plan of ``year``."""
    start, end = period
    if session.autoflush:  # read through the connection below: what the session holds goes first
        session.flush()
    live_renewal = aliased(Permit)
    renewal_starts_on = (select(func.min(live_renewal.valid_from))
                         .where(live_renewal.renews_id == Permit.id, live_renewal.closed_at.is_(None))
                         .scalar_subquery())
    # The first passed initial verification, over the same rows (initial is a verification kind):
    # one scan of the calibrations per chunk, not two.
    first_initial = case((and_(Calibration.kind == "initial", Calibration.passed.is_(True)),
                          Calibration.calibrated_on))
    cal_meter = aliased(Meter)
    latest = (select(Calibration.meter_id, Calibration.calibrated_on, Calibration.id, Calibration.next_due_on,
                     Calibration.passed, Calibration.error_pct, Calibration.kind,
                     func.min(first_initial).over(partition_by=Calibration.meter_id).label("first_verified_on"),
                     func.row_number().over(partition_by=Calibration.meter_id,
                                            order_by=(Calibration.calibrated_on.desc(), Calibration.id.desc()))
                     .label("rank"))
              .join(cal_meter, cal_meter.id == Calibration.meter_id)
              .where(Calibration.closed_at.is_(None), Calibration.kind.in_(calib.VERIFICATION_KINDS),
                     cal_meter.water_user_id.in_(ids)).subquery())
    heads = session.connection().execute(select(WaterUser.id, WaterUser.file_no, WaterUser.name, WaterUser.uscc,
                                   WaterUser.division_code, WaterUser.industry_code, WaterUser.opened_on)
                            .where(WaterUser.id.in_(ids)).order_by(WaterUser.id)).all()
    points = _grouped(session, select(IntakePoint.water_user_id, IntakePoint.id, IntakePoint.name, IntakePoint.source,
                                      IntakePoint.design_capacity_m3h)
                      .where(IntakePoint.closed_at.is_(None)).order_by(IntakePoint.id), ids)
    permits = _grouped(session, select(Permit.water_user_id, Permit.id, Permit.number, Permit.valid_from,
                                       Permit.valid_to, Permit.annual_volume_m3, Permit.renewal_applied_on,
                                       Permit.revoked_on, renewal_starts_on.label("renewal_starts_on"))
                       .where(Permit.closed_at.is_(None)).order_by(Permit.id), ids)
    plans = _grouped(session, select(AnnualPlan.water_user_id, AnnualPlan.id, AnnualPlan.year,
                                     AnnualPlan.planned_volume_m3, AnnualPlan.breakdown, AnnualPlan.shares)
                     .where(AnnualPlan.closed_at.is_(None), AnnualPlan.year == year), ids)
    versions = _grouped(session, select(AnnualPlan.water_user_id, PlanVersion.plan_id, PlanVersion.effective_from,
                                        PlanVersion.planned_volume_m3, PlanVersion.breakdown, PlanVersion.shares)
                        .join(AnnualPlan, AnnualPlan.id == PlanVersion.plan_id)
                        .where(AnnualPlan.closed_at.is_(None), AnnualPlan.year == year)
                        .order_by(PlanVersion.plan_id, PlanVersion.number), ids)
    meters = _grouped(session, select(Meter.water_user_id, Meter.id, Meter.serial, Meter.intake_point_id,
                                      Meter.meter_type, Meter.dn, Meter.q3, Meter.installed_on, Meter.removed_on,
                                      Meter.interval_months, Meter.service_life_years, latest.c.calibrated_on,
                                      latest.c.id, latest.c.next_due_on, latest.c.passed, latest.c.error_pct,
                                      latest.c.kind, latest.c.first_verified_on)
                      .outerjoin(latest, and_(latest.c.meter_id == Meter.id, latest.c.rank == 1))
                      .where(Meter.closed_at.is_(None)).order_by(Meter.id), ids)
    # Accepted readings only, of every channel (pending, rejected and flagged ones do not count).
    monthly = _grouped(session, select(Reading.water_user_id, Reading.meter_id, Reading.period,
                                       func.sum(Reading.volume_m3))
                       .where(Reading.status == "accepted", Reading.read_on.is_(None), Reading.closed_at.is_(None),
                              Reading.period >= start, Reading.period < end)
                       .group_by(Reading.water_user_id, Reading.meter_id, Reading.period), ids)
    daily = _grouped(session, select(Reading.water_user_id, Reading.meter_id, Reading.period, Reading.read_on,
                                     func.sum(Reading.volume_m3))
                     .where(Reading.status == "accepted", Reading.read_on.is_not(None), Reading.closed_at.is_(None),
                            Reading.read_on >= start, Reading.read_on < end)
                     .group_by(Reading.water_user_id, Reading.meter_id, Reading.period, Reading.read_on), ids)
    # A stored value no quantity can be (inf, NaN: refused on entry since issue 16, but older rows may
    # hold one) counts as missing: the month is estimated, the permit or plan left out, the capacity unknown.
    def finite(v):
        return v is not None and math.isfinite(v)

    for wu_id, file_no, name, uscc, division, industry, opened_on in heads:
        plan = None
        for r in plans.get(wu_id, ()):
            if not finite(r[3]):
                continue
            mine = [PlanVersionFact(v[2], v[3], v[4], tuple(v[5] or ())) for v in versions.get(wu_id, ()) if v[1] == r[1]]
            current = PlanVersionFact(mine[-1].effective_from if mine else date(year, 1, 1), r[3], r[4],
                                      tuple(r[5] or ()))
            plan = PlanFact(r[1], r[2], r[3], tuple(mine[:-1]) + (current,))
        per_day: dict[tuple[int, date], dict[date, float]] = defaultdict(dict)
        for r in daily.get(wu_id, ()):
            if r[4] is None or finite(r[4]):
                per_day[(r[1], r[3].replace(day=1))][r[3]] = float(r[4] or 0)
        yield tax_rules.TaxFacts(
            water_user_id=wu_id, file_no=file_no, name=name, uscc=uscc, division_code=division,
            industry_code=industry, opened_on=opened_on,
            points=tuple(tax_rules.PointFact(r[1], r[2], r[3], r[4] if finite(r[4]) else None)
                         for r in points.get(wu_id, ())),
            permits=tuple(PermitFact(id=r[1], number=r[2], valid_from=r[3], valid_to=r[4], annual_volume_m3=r[5],
                                     intake_point_ids=frozenset(), renewal_applied_on=r[6], revoked_on=r[7],
                                     renewal_starts_on=r[8]) for r in permits.get(wu_id, ()) if finite(r[5])),
            plan=plan,
            meters=tuple(MeterFact(id=r[1], serial=r[2], intake_point_id=r[3], meter_type=r[4], dn=r[5], q3=r[6],
                                   installed_on=r[7], removed_on=r[8], interval_months=r[9], service_life_years=r[10],
                                   last_calibrated_on=r[11], last_calibration_id=r[12], last_next_due_on=r[13],
                                   last_passed=r[14], last_error_pct=r[15], last_kind=r[16], first_verified_on=r[17])
                         for r in meters.get(wu_id, ())),
            monthly={(r[1], r[2]): float(r[3] or 0) for r in monthly.get(wu_id, ()) if r[3] is None or finite(r[3])},
            daily=dict(per_day),
        )


def compute_figures(session: Session, year: int, quarter: int, rules, ids: list[int] | None = None
                    ) -> Iterator[dict]:
    """The statement figures of each file (the one computation behind statements and statistics)."""
    for facts in iter_facts(session, year, quarter, ids):
        yield tax_rules.statement(facts, year, quarter, rules)


# --- statements --------------------------------------------------------------------------------


def latest(session: Session, wu_id: int, year: int, quarter: int) -> TaxStatement | None:
    return session.scalars(select(TaxStatement).where(
        TaxStatement.water_user_id == wu_id, TaxStatement.year == year, TaxStatement.quarter == quarter)
        .order_by(TaxStatement.version.desc())).first()


def _totals(figures: dict) -> dict:
    return {"verified_m3": figures["totals"]["verified_m3"], "estimated_m3": figures["totals"]["estimated_m3"],
            "permitted_m3": float(sum(Fraction_(repr(figures["by_source"][s]["permitted_share_m3"]))
                                      for s in tax_rules.SOURCES))}


def compute(session: Session, actor, year: int, quarter: int, ids: list[int] | None = None, *,
            progress: Callable[[int], None] | None = None, workers: int | None = None) -> dict:
    """Draft statements for the quarter: version 1 where none exists, a refreshed draft where the
    latest is a draft; a signed one is left as it is (counted as ``differs`` when the figures moved:
    a correction with its reason is the bureau's act).

    The figures are computed by ``workers`` processes (None: on PostgreSQL one per CPU, at most 4,
    as ``registry recompute --all``; on SQLite this process), CHUNK files each, and written here in
    one transaction: new statements in bulk (COPY on PostgreSQL), refreshed drafts in one
    executemany per chunk."""
    access.require(actor, "tax_statement.edit")
    year, quarter = check_period(year, quarter)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "signed_unchanged": 0, "differs": 0}
    table = TaxStatement.__table__
    with FileChange(session, actor, evaluate=False) as change:
        rules, today = change.rules, change.today
        for chunk in _figures(session, year, quarter, ids, rules, workers):
            existing = {}
            for row in session.connection().execute(
                    select(table.c.id, table.c.water_user_id, table.c.status, table.c.figures).where(
                        table.c.water_user_id.in_([c[0] for c in chunk]), table.c.year == year,
                        table.c.quarter == quarter).order_by(table.c.version)):
                existing[row.water_user_id] = row  # the latest version wins
            new_rows, refreshed = [], []
            for wu_id, figures, totals in chunk:
                st = existing.get(wu_id)
                if st is None:
                    new_rows.append({"water_user_id": wu_id, "year": year, "quarter": quarter, "version": 1,
                                     "status": "draft", "figures": figures, "rules_version": rules.version,
                                     "computed_on": today, **totals})
                    counts["created"] += 1
                elif st.status == "draft":
                    if st.figures != figures:
                        refreshed.append({"b_id": st.id, "b_figures": figures, "b_rules_version": rules.version,
                                          "b_computed_on": today, **{f"b_{k}": v for k, v in totals.items()}})
                        counts["updated"] += 1
                    else:
                        counts["unchanged"] += 1
                else:
                    counts["differs" if st.figures != figures else "signed_unchanged"] += 1
            change.flush()  # anything the session holds goes first (the actor's scope, the audit trail)
            if new_rows:
                copy_rows(session, table, new_rows)
            if refreshed:
                session.connection().execute(
                    update(table).where(table.c.id == bindparam("b_id")).values(
                        figures=bindparam("b_figures"), rules_version=bindparam("b_rules_version"),
                        computed_on=bindparam("b_computed_on"), verified_m3=bindparam("b_verified_m3"),
                        estimated_m3=bindparam("b_estimated_m3"), permitted_m3=bindparam("b_permitted_m3")),
                    refreshed)
            if progress:
                progress(len(chunk))
        if counts["created"] >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
            # Fresh statistics with the new rows (this transaction's own count as live): without
            # them the next run's lookup of the drafts by file read the whole quarter per chunk
            # (a rerun over 100,000 files 155 s) until autovacuum came by.
            session.execute(text("ANALYZE tax_statements"))
        change.audit("compute", None, summary=f"tax statements {year} Q{quarter}: " +
                     ", ".join(f"{k} {v}" for k, v in counts.items()),
                     changes={"tax_statements": [None, counts]})
    return counts


def _figured(facts: tax_rules.TaxFacts, year: int, quarter: int, rules) -> tuple[int, str, dict]:
    """(water user id, canonical figures, their totals) of one file's statement."""
    plain = tax_rules.statement(facts, year, quarter, rules)
    return facts.water_user_id, canonical(plain), _totals(plain)


def _figures(session: Session, year: int, quarter: int, ids: list[int] | None, rules,
             workers: int | None) -> Iterator[list[tuple[int, str, dict]]]:
    """The statements of every open file (or of ``ids``), CHUNK files at a time, in id order;
    computed in ``workers`` processes when there is more than one chunk."""
    users = select(WaterUser.id).where(WaterUser.status != "closed").order_by(WaterUser.id)
    if ids is not None:
        users = users.where(WaterUser.id.in_(ids))
    chunks = list(_chunks(list(session.scalars(users))))
    bind = session.get_bind()
    if workers is None:
        workers = default_workers() if bind.dialect.name == "postgresql" else 1
    if workers <= 1 or len(chunks) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        period = quarter_bounds(year, quarter)
        for chunk in chunks:
            with collector_paused():
                yield [_figured(facts, year, quarter, rules) for facts in _facts_of(session, year, period, chunk)]
        return
    # Forked workers read over their own connections; this process keeps its transaction (the
    # writes, committed once at the end) and its connection, which no worker touches.
    context = multiprocessing.get_context("fork")
    with context.Pool(min(workers, len(chunks)), initializer=_worker_start,
                      initargs=(bind, year, quarter, rules)) as pool:
        yield from pool.imap(_worker_figures, chunks)


_WORKER: dict = {}


def _worker_start(bind, year: int, quarter: int, rules) -> None:
    """A worker process: its own engine; the parent's pooled connections are forgotten, never
    closed or used (they are the parent's sockets)."""
    bind.dispose(close=False)
    _WORKER.update(session=Session(create_engine(bind.url, poolclass=NullPool)), year=year, quarter=quarter,
                   rules=rules)


def _worker_figures(chunk: list[int]) -> list[tuple[int, str, dict]]:
    session, year, quarter, rules = _WORKER["session"], _WORKER["year"], _WORKER["quarter"], _WORKER["rules"]
    try:
        with collector_paused():
            return [_figured(facts, year, quarter, rules)
                    for facts in _facts_of(session, year, quarter_bounds(year, quarter), chunk)]
    finally:
        session.rollback()  # release the read snapshot


def _chunked(it: Iterable, n: int = CHUNK) -> Iterator[list]:
    batch = []
    for item in it:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def get(session: Session, actor, wu_id: int, statement_id: int) -> TaxStatement:
    st = session.get(TaxStatement, statement_id)
    if st is None or st.water_user_id != wu_id or not access.in_scope(actor, wu_id):
        raise NotFound()
    return st


def sign(session: Session, actor, st: TaxStatement) -> TaxStatement:
    """The bureau administrator's sign-off: from then on the statement is never edited."""
    access.require(actor, "tax_statement.edit", within=st.water_user_id)
    with FileChange(session, actor, evaluate=False) as change:
        if st.status == "signed":
            raise ValidationError({"_": _l("This statement is already signed; a change is a correction.")})
        newer = latest(session, st.water_user_id, st.year, st.quarter)
        if newer is not None and newer.id != st.id:
            raise ValidationError({"_": _l("A later version of this statement exists; sign that one.")})
        st.status, st.signed_at, st.signed_by_id = "signed", utcnow(), actor.id
        change.flush()
        change.audit("sign", st, water_user_id=st.water_user_id,
                     summary=f"tax statement {st.year} Q{st.quarter} v{st.version} signed",
                     changes={"status": ["draft", "signed"]})
    return st


def correct(session: Session, actor, st: TaxStatement, data: dict) -> TaxStatement:
    """A correction of a signed statement: recomputed now, a new draft version with the reason;
    the signed one stays as it is."""
    access.require(actor, "tax_statement.edit", within=st.water_user_id)
    reason = (data.get("reason") or "").strip() if isinstance(data.get("reason"), str) else ""
    refuse_control("reason", reason)  # a NUL or control character: the field's error, never a database error
    with FileChange(session, actor, evaluate=False) as change:
        if st.status != "signed":
            raise ValidationError({"reason": _l("Only a signed statement is corrected; a draft is recomputed.")})
        newer = latest(session, st.water_user_id, st.year, st.quarter)
        if newer.id != st.id:
            raise ValidationError({"reason": _l("A later version of this statement exists; correct that one.")})
        if not reason:
            raise ValidationError({"reason": _l("Say why the signed statement is corrected.")})
        if len(reason) > 2000:
            raise ValidationError({"reason": _l("At most %(n)d characters.", n=2000)})
        (facts,) = list(iter_facts(session, st.year, st.quarter, [st.water_user_id])) or [None]
        if facts is None:
            raise ValidationError({"reason": _l("This file is closed; its statements stand as signed.")})
        plain = tax_rules.statement(facts, st.year, st.quarter, change.rules)
        figures = canonical(plain)
        if figures == st.figures:
            raise ValidationError({"reason": _l("The figures have not changed since the signed statement.")})
        new = change.add(TaxStatement(water_user_id=st.water_user_id, year=st.year, quarter=st.quarter,
                                      version=st.version + 1, status="draft", figures=figures,
                                      rules_version=change.rules.version, computed_on=change.today,
                                      correction_reason=reason, previous_id=st.id, **_totals(plain)))
        change.flush()
        change.audit("correct", new, water_user_id=st.water_user_id,
                     summary=f"tax statement {st.year} Q{st.quarter} v{new.version}: {reason[:80]}",
                     changes={"version": [st.version, new.version]})
    return new


def figures(st: TaxStatement) -> dict:
    return json.loads(st.figures)


def difference(session: Session, st: TaxStatement) -> list[tuple[str, object, object]]:
    """What this version changed against the one it corrects (empty for a first version)."""
    if st.previous_id is None:
        return []
    previous = session.get(TaxStatement, st.previous_id)
    return tax_rules.difference(figures(previous), figures(st))


def document(st: TaxStatement) -> dict:
    """The statement as the API answers it."""
    return {"id": st.id, "water_user_id": st.water_user_id, "year": st.year, "quarter": st.quarter,
            "version": st.version, "status": st.status, "rules_version": st.rules_version,
            "computed_on": st.computed_on.isoformat(), "signed_at": st.signed_at.isoformat() if st.signed_at else None,
            "correction_reason": st.correction_reason, "previous_id": st.previous_id, "figures": figures(st)}


# --- exports (from the stored figures only: byte-identical on re-export) -----------------------

COLUMNS = (
    ("纳税人识别号（统一社会信用代码）", lambda f, s: f["water_user"]["uscc"]),
    ("纳税人名称", lambda f, s: f["water_user"]["name"]),
    ("档案号", lambda f, s: f["water_user"]["file_no"]),
    ("所属期", lambda f, s: f"{f['period']['from']}至{f['period']['to']}"),
    ("取水许可证号", lambda f, s: "；".join(p["number"] for p in f["permits"] if p["source"] == s)),
    ("水源类型", lambda f, s: {"surface": "地表水", "ground": "地下水"}[s]),
    ("取用水用途", lambda f, s: f["use"]),
    ("核定取水量(m³)", lambda f, s: f["by_source"][s]["verified_m3"]),
    ("其中：计量(m³)", lambda f, s: f["by_source"][s]["measured_m3"]),
    ("其中：核定估算(m³)", lambda f, s: f["by_source"][s]["estimated_m3"]),
    ("计划内(m³)", lambda f, s: f["by_source"][s]["within_plan_m3"]),
    ("超计划一档(m³)", lambda f, s: f["by_source"][s]["over_plan_m3"][0]),
    ("超计划二档(m³)", lambda f, s: (f["by_source"][s]["over_plan_m3"] + [0.0, 0.0])[1]),
    ("超计划三档(m³)", lambda f, s: (f["by_source"][s]["over_plan_m3"] + [0.0, 0.0, 0.0])[2]),
    ("超许可(m³)", lambda f, s: f["by_source"][s]["over_permit_m3"]),
    ("适用税额(元/m³)", lambda f, s: f["by_source"][s]["rate_yuan_per_m3"]),
    ("参考税额(元)", lambda f, s: f["by_source"][s]["tax_yuan"]),
    ("计划核定依据", lambda f, s: "计划" if f["basis"] == "plan" else "许可"),
    ("规则版本", lambda f, s: f["rules_version"]),
)
HEADER = tuple(c[0] for c in COLUMNS) + ("版本", "状态", "签发时间")


def rows_of(statements: Iterable[TaxStatement]) -> Iterator[list]:
    """One row per statement and source with any water or a permit of that source."""
    for st in statements:
        f = figures(st)
        for source in tax_rules.SOURCES:
            part = f["by_source"][source]
            if not part["verified_m3"] and not any(p["source"] == source for p in f["permits"]):
                continue
            yield [fn(f, source) for _, fn in COLUMNS] + [
                st.version, "已签发" if st.status == "signed" else "草稿",
                st.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ") if st.signed_at else ""]


def export_csv(statements: Iterable[TaxStatement]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows_of(statements):
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly


def export_xlsx(statements: Iterable[TaxStatement], title: str = "水资源税涉税信息") -> bytes:
    """An XLSX whose bytes depend on the rows only (fixed workbook times, fixed zip timestamps)."""
    return xlsx_bytes([(title[:31], [list(HEADER), *rows_of(statements)])])


def xlsx_bytes(sheets: list[tuple[str, list[list]]]) -> bytes:
    import zipfile
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    fixed = datetime(2000, 1, 1)
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "registry"
    raw = io.BytesIO()
    wb.save(raw)
    # openpyxl stamps the zip entries with the time of saving: rewrite them with a fixed one.
    raw.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                import re

                data = re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>",
                              b'<dcterms:modified xsi:type="dcterms:W3CDTF">2000-01-01T00:00:00Z</dcterms:modified>',
                              data)
            info = zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    return out.getvalue()


def city_statements(session: Session, actor, year: int, quarter: int, *, signed_only: bool = False
                    ) -> list[TaxStatement]:
    """The latest version of each statement of the quarter in the actor's scope."""
    year, quarter = check_period(year, quarter)
    newest = (select(TaxStatement.water_user_id, func.max(TaxStatement.version).label("v"))
              .where(TaxStatement.year == year, TaxStatement.quarter == quarter)
              .group_by(TaxStatement.water_user_id).subquery())
    stmt = (select(TaxStatement).join(newest, and_(newest.c.water_user_id == TaxStatement.water_user_id,
                                                   newest.c.v == TaxStatement.version))
            .join(WaterUser, WaterUser.id == TaxStatement.water_user_id)
            .where(TaxStatement.year == year, TaxStatement.quarter == quarter, access.water_user_filter(actor))
            .order_by(WaterUser.file_no))
    if signed_only:
        stmt = stmt.where(TaxStatement.status == "signed")
    return list(session.scalars(stmt))


def sign_all(session: Session, actor, year: int, quarter: int) -> int:
    """Sign every draft (latest version) of the quarter in the actor's scope: the city batch's sign-off."""
    access.require(actor, "tax_statement.edit")
    drafts = [st for st in city_statements(session, actor, year, quarter) if st.status == "draft"]
    with FileChange(session, actor, evaluate=False) as change:
        now = utcnow()
        for st in drafts:
            st.status, st.signed_at, st.signed_by_id = "signed", now, actor.id
        change.flush()
        change.audit("sign", None, summary=f"tax statements {year} Q{quarter}: {len(drafts)} signed",
                     changes={"signed": [0, len(drafts)]})
    return len(drafts)


# --- water-use statistics (节水统计): the same figures as the statements ------------------------

STAT_DIMENSIONS = ("division", "industry", "source", "use")


def statistics(session: Session, actor, year: int, quarter: int | None, by: str) -> list[dict]:
    """Quarterly (``quarter``) or annual (None: the four quarters) totals of the statements' figures
    (latest version each) by division, industry (GB/T 4754 division, two digits), source or use:
    users, verified, estimated (and its share), planned and permitted volumes."""
    if by not in STAT_DIMENSIONS:
        raise ValidationError({"by": _l("Choose one of the listed options.")})
    quarters = [quarter] if quarter else [1, 2, 3, 4]
    rows: dict[str, dict] = {}
    for q in quarters:
        for st in city_statements(session, actor, year, q):
            f = figures(st)
            parts = []
            if by == "source":
                for s in tax_rules.SOURCES:
                    part = f["by_source"][s]
                    if part["verified_m3"] or part["permitted_share_m3"]:
                        parts.append((s, part["verified_m3"], part["estimated_m3"], None, part["permitted_share_m3"]))
            else:
                key = {"division": f["water_user"]["division_code"], "industry": f["water_user"]["industry_code"][:2],
                       "use": f["use"]}[by]
                permitted = sum(f["by_source"][s]["permitted_share_m3"] for s in tax_rules.SOURCES)
                planned = f["plan_share_m3"] if f["basis"] == "plan" else 0.0
                parts.append((key, f["totals"]["verified_m3"], f["totals"]["estimated_m3"], planned, permitted))
            for key, verified, estimated, planned, permitted in parts:
                row = rows.setdefault(key, {"key": key, "users": set(), "verified_m3": Fraction_(0),
                                            "estimated_m3": Fraction_(0), "planned_m3": Fraction_(0),
                                            "permitted_m3": Fraction_(0)})
                row["users"].add(st.water_user_id)
                row["verified_m3"] += Fraction_(repr(verified))
                row["estimated_m3"] += Fraction_(repr(estimated))
                row["planned_m3"] += Fraction_(repr(planned or 0.0))
                row["permitted_m3"] += Fraction_(repr(permitted))
    out = []
    for key in sorted(rows):
        r = rows[key]
        out.append({"key": key, "users": len(r["users"]), "verified_m3": tax_rules.round2(r["verified_m3"]),
                    "estimated_m3": tax_rules.round2(r["estimated_m3"]),
                    "estimated_share": tax_rules.round2(100 * r["estimated_m3"] / r["verified_m3"])
                    if r["verified_m3"] else 0.0,
                    "planned_m3": tax_rules.round2(r["planned_m3"]),
                    "permitted_m3": tax_rules.round2(r["permitted_m3"])})
    return out


def statistics_xlsx(session: Session, actor, year: int, quarter: int | None) -> bytes:
    titles = {"division": "按街道", "industry": "按行业", "source": "按水源", "use": "按用途"}
    header = ["分组", "取水户数", "核定取水量(m³)", "其中核定估算(m³)", "估算占比(%)", "计划水量(m³)", "许可水量(m³)"]
    sheets = []
    for by in STAT_DIMENSIONS:
        rows = statistics(session, actor, year, quarter, by)
        sheets.append((titles[by], [header] + [[r["key"], r["users"], r["verified_m3"], r["estimated_m3"],
                                                 r["estimated_share"], r["planned_m3"], r["permitted_m3"]]
                                                for r in rows]))
    return xlsx_bytes(sheets)


def this_year(session: Session, wu_id: int, today: date, rules) -> dict:
    """This year's verified volume over its ended months (the statements' computation, one load of
    the file's facts) against the year's plan and the permitted volume: for the file page."""
    from registry.domain.dates import add_months

    start, this_month = date(today.year, 1, 1), today.replace(day=1)
    verified = estimated = Fraction_(0)
    planned = permitted = None
    for facts in iter_facts(session, today.year, None, [wu_id], between=(start, max(this_month, start))):
        month = start
        while month < this_month:
            for point in facts.points:
                r = tax_rules.point_month(facts, point, month, rules)
                verified += r.total
                estimated += r.total - r.measured
            month = add_months(month, 1)
        if facts.plan is not None:
            planned = facts.plan.planned_volume_m3
        permitted = tax_rules.round2(sum(tax_rules.permit_shares(facts.permits, start, date(today.year + 1, 1, 1),
                                                                 rules).values(), Fraction_(0)))
    return {"year": today.year, "verified_m3": tax_rules.round2(verified), "estimated_m3": tax_rules.round2(estimated),
            "planned_m3": planned, "permitted_m3": permitted, "through": this_month.isoformat()[:7]}


def year_totals(session: Session, actor, year: int) -> dict:
    """The year's verified volume so far from the latest statements of its quarters (in scope),
    against the year's plans and the permitted shares those statements counted: the dashboard's."""
    newest = (select(TaxStatement.water_user_id, TaxStatement.quarter, func.max(TaxStatement.version).label("v"))
              .where(TaxStatement.year == year).group_by(TaxStatement.water_user_id, TaxStatement.quarter).subquery())
    row = session.execute(
        select(func.count(func.distinct(TaxStatement.quarter)), func.coalesce(func.sum(TaxStatement.verified_m3), 0.0),
               func.coalesce(func.sum(TaxStatement.estimated_m3), 0.0),
               func.coalesce(func.sum(TaxStatement.permitted_m3), 0.0))
        .join(newest, and_(newest.c.water_user_id == TaxStatement.water_user_id, newest.c.quarter == TaxStatement.quarter,
                           newest.c.v == TaxStatement.version))
        .join(WaterUser, WaterUser.id == TaxStatement.water_user_id)
        .where(TaxStatement.year == year, access.water_user_filter(actor))).one()
    planned = session.execute(select(func.coalesce(func.sum(AnnualPlan.planned_volume_m3), 0.0))
                              .join(WaterUser, WaterUser.id == AnnualPlan.water_user_id)
                              .where(AnnualPlan.year == year, AnnualPlan.closed_at.is_(None),
                                     access.water_user_filter(actor))).scalar_one()
    return {"year": year, "quarters": row[0], "verified_m3": float(row[1]), "estimated_m3": float(row[2]),
            "permitted_m3": float(row[3]), "planned_m3": float(planned)}


from fractions import Fraction as Fraction_  # noqa: E402
