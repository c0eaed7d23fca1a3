"""Hand-over statements (水资源税涉税信息) and water-use statistics (节水统计), issue 19.

Staff see the city's statements of a quarter and each file's; a bureau administrator computes the
quarter (a job of the queue), signs off, and corrects a signed statement with a reason. The
enterprise sees its own signed statements in the portal."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Optional

from registry import access, clock, queue
from registry.extensions import db
from registry.models import TaxStatement
from registry.services import ValidationError, jobs, tax
from registry.web import binding

bp = Blueprint("tax", __name__)
PAGE_ROWS = 500
MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class PeriodForm(FlaskForm):
    year = HiddenField()
    quarter = HiddenField()


class CorrectionForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the correction"), [Optional()], render_kw={"rows": 3})


def _period() -> tuple[int, int, dict]:
    """The ``year`` and ``quarter`` asked for (default: the last ended quarter); errors named."""
    today = clock.today()
    last = (today.month - 1) // 3  # the quarter before this one
    default = (today.year, last) if last else (today.year - 1, 4)
    year = request.values.get("year", default[0])
    quarter = request.values.get("quarter", default[1])
    try:
        y, q = tax.check_period(year, quarter)
        return y, q, {}
    except ValidationError as err:
        return default[0], default[1], err.errors


@bp.route("/tax-statements")
@login_required
def index():
    access.require(current_user, "tax_statement.read")
    year, quarter, errors = _period()
    statements = tax.city_statements(db.session, current_user, year, quarter)
    rows = [(st, tax.figures(st)) for st in statements[:PAGE_ROWS]]  # the exports carry them all
    return render_template("tax/index.html", year=year, quarter=quarter, rows=rows, errors=errors,
                           total=len(statements), signed=sum(st.status == "signed" for st in statements),
                           form=PeriodForm(year=year, quarter=quarter), can_edit=access.can(current_user, "tax_statement.edit")), \
        400 if errors else 200


def _posted_period() -> tuple[int, int]:
    """The quarter of a posted period form (400 without its CSRF token); ValidationError if invalid."""
    form = PeriodForm()
    if not form.validate_on_submit():
        abort(400)
    return tax.check_period(form.year.data, form.quarter.data)


def _back_with(err: ValidationError):
    for message in err.errors.values():
        flash(str(message), "danger")
    return redirect(url_for("tax.index"))


@bp.route("/tax-statements/compute", methods=["POST"])
@login_required
def compute():
    access.require(current_user, "tax_statement.edit")
    try:
        year, quarter = _posted_period()
    except ValidationError as err:
        return _back_with(err)
    job_id = queue.submit("tax_statements", current_user, {"year": year, "quarter": quarter})
    return redirect(url_for("tax.job", job_id=job_id))


@bp.route("/tax-statements/jobs/<job_id>")
@login_required
def job(job_id: str):
    access.require(current_user, "tax_statement.edit")  # only the bureau's administrators have such jobs
    found = jobs.for_owner(db.session, job_id, current_user.id, "tax_statements")
    if found is None:
        if request.args.get("format") == "json":
            abort(404)
        flash(_("This computation is no longer available (jobs are kept for a day)."), "info")
        return redirect(url_for("tax.index"))
    state = jobs.view(found)
    message = _job_message(state)
    if request.args.get("format") == "json" or request.accept_mimetypes.best == "application/json":
        return jsonify({k: state.get(k) for k in ("state", "done", "total")} | {"message": message})
    params = found.params or {}
    return render_template("tax/job.html", job=state, job_id=job_id, message=message,
                           year=params.get("year"), quarter=params.get("quarter"))


def _job_message(state: dict) -> str:
    result = state.get("result") or {}
    if state.get("state") == "done":
        return _("Done: %(files)d files in %(seconds)s s (%(rate)s files a second); %(created)d created, "
                 "%(updated)d updated, %(unchanged)d unchanged, %(differs)d signed ones differ (correct them).",
                 files=result.get("files", 0), seconds=result.get("seconds", 0), rate=result.get("rate", 0),
                 created=result.get("created", 0), updated=result.get("updated", 0),
                 unchanged=result.get("unchanged", 0), differs=result.get("differs", 0))
    if state.get("state") == "failed":
        return _("The computation failed: %(error)s", error=state.get("error") or "")
    if state.get("state") == "queued":
        return _("Waiting to start…")
    return _("Computing: %(done)d of %(total)d files.", done=state.get("done", 0), total=state.get("total", 0))


@bp.route("/tax-statements/sign", methods=["POST"])
@login_required
def sign_all():
    access.require(current_user, "tax_statement.edit")
    try:
        year, quarter = _posted_period()
        n = tax.sign_all(db.session, current_user, year, quarter)
    except ValidationError as err:
        return _back_with(err)
    flash(_("%(n)d statements signed.", n=n), "success")
    return redirect(url_for("tax.index", year=year, quarter=quarter))


@bp.route("/tax-statements/export.<fmt>")
@login_required
def export(fmt: str):
    access.require(current_user, "tax_statement.read")
    if fmt not in MIMETYPES:
        abort(404)
    year, quarter, errors = _period()
    if errors:
        abort(400)
    statements = tax.city_statements(db.session, current_user, year, quarter)
    body = tax.export_csv(statements) if fmt == "csv" else tax.export_xlsx(statements)
    return Response(body, mimetype=MIMETYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="tax-statements-{year}-Q{quarter}.{fmt}"'})


def _statement(water_user_id: int, statement_id: int) -> TaxStatement:
    wu = access.get_water_user(current_user, water_user_id)
    st = db.session.get(TaxStatement, statement_id)
    if st is None or st.water_user_id != wu.id:
        abort(404)
    if st.status != "signed" and not access.can(current_user, "tax_statement.read"):
        abort(404)  # the enterprise sees what the bureau handed over, not its drafts
    return st


@bp.route("/water-users/<int:water_user_id>/tax-statements/<int:statement_id>")
@login_required
def detail(water_user_id: int, statement_id: int):
    st = _statement(water_user_id, statement_id)
    wu = access.get_water_user(current_user, water_user_id)
    versions = db.session.scalars(db.select(TaxStatement).where(
        TaxStatement.water_user_id == wu.id, TaxStatement.year == st.year, TaxStatement.quarter == st.quarter)
        .order_by(TaxStatement.version)).all()
    if not access.can(current_user, "tax_statement.read"):  # the enterprise: what was handed over
        versions = [v for v in versions if v.status == "signed"]
    return render_template("tax/detail.html", wu=wu, st=st, f=tax.figures(st), versions=versions,
                           difference=tax.difference(db.session, st), form=PeriodForm(),
                           can_edit=access.can(current_user, "tax_statement.edit"))


@bp.route("/water-users/<int:water_user_id>/tax-statements/<int:statement_id>/sign", methods=["POST"])
@login_required
def sign(water_user_id: int, statement_id: int):
    st = _statement(water_user_id, statement_id)
    access.require(current_user, "tax_statement.edit")
    if not PeriodForm().validate_on_submit():
        abort(400)
    try:
        tax.sign(db.session, current_user, st)
    except ValidationError as err:
        for message in err.errors.values():
            flash(str(message), "info")
    else:
        flash(_("Statement signed off; it will not change again."), "success")
    return redirect(url_for("tax.detail", water_user_id=water_user_id, statement_id=statement_id))


@bp.route("/water-users/<int:water_user_id>/tax-statements/<int:statement_id>/correct", methods=["GET", "POST"])
@login_required
def correct(water_user_id: int, statement_id: int):
    st = _statement(water_user_id, statement_id)
    access.require(current_user, "tax_statement.edit")
    wu = access.get_water_user(current_user, water_user_id)
    form = CorrectionForm()
    made = {}

    def save():
        made["new"] = tax.correct(db.session, current_user, st, binding.values(form))

    saved, summary, status = binding.submit(form, save)
    if saved:
        flash(_("Correction computed as a new version; the signed statement is kept as it was."), "success")
        return redirect(url_for("tax.detail", water_user_id=wu.id, statement_id=made["new"].id))
    return render_template("tax/correct.html", form=form, wu=wu, st=st, summary=summary), status


@bp.route("/water-users/<int:water_user_id>/tax-statements/<int:statement_id>/export.<fmt>")
@login_required
def export_one(water_user_id: int, statement_id: int, fmt: str):
    st = _statement(water_user_id, statement_id)
    if fmt not in MIMETYPES:
        abort(404)
    body = tax.export_csv([st]) if fmt == "csv" else tax.export_xlsx([st])
    name = f"tax-statement-{st.year}-Q{st.quarter}-{st.water_user_id}-v{st.version}.{fmt}"
    return Response(body, mimetype=MIMETYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


def portal_list(water_user_id: int):
    """The enterprise's signed statements (routed as portal.tax_statements)."""
    wu = access.get_water_user(current_user, water_user_id)  # portal.use: asked by the portal's route
    statements = db.session.scalars(db.select(TaxStatement).where(
        TaxStatement.water_user_id == wu.id, TaxStatement.status == "signed")
        .order_by(TaxStatement.year.desc(), TaxStatement.quarter.desc(), TaxStatement.version.desc())).all()
    return render_template("tax/portal.html", wu=wu, statements=[(st, tax.figures(st)) for st in statements])


@bp.route("/statistics")
@login_required
def statistics():
    access.require(current_user, "tax_statement.read")
    year, quarter, errors = _period()
    annual = request.args.get("quarter") == "all"
    if annual:
        errors = {}
    by = request.args.get("by", "division")
    if by not in tax.STAT_DIMENSIONS:
        by = "division"
    rows = tax.statistics(db.session, current_user, year, None if annual else quarter, by)
    return render_template("tax/statistics.html", year=year, quarter=None if annual else quarter, by=by, rows=rows,
                           errors=errors)


@bp.route("/statistics/export.xlsx")
@login_required
def statistics_export():
    access.require(current_user, "tax_statement.read")
    year, quarter, errors = _period()
    annual = request.args.get("quarter") == "all"
    if errors and not annual:
        abort(400)
    body = tax.statistics_xlsx(db.session, current_user, year, None if annual else quarter)
    label = "year" if annual else f"Q{quarter}"
    return Response(body, mimetype=MIMETYPES["xlsx"],
                    headers={"Content-Disposition": f'attachment; filename="statistics-{year}-{label}.xlsx"'})
