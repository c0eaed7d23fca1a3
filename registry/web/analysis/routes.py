"""Dynamic analysis 动态分析 (issue 17), drawn on the server like the dashboard, each mark a link:

- ``/water-users/<id>/analysis``: the file's use of the last 24 months against its plan's
  allowance, its permit's monthly share and the band the rules expect;
- ``/analysis/?month=YYYY-MM``: the city's use by month against last year (each month a link to
  its breakdown), by division and by industry for the chosen month, the top movers against the same
  month last year, and the online coverage of the users permitted ≥ 10,000 m³/yr.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from registry import access, clock
from registry.domain.dates import add_months
from registry.domain.reference import division_by_code, industry_by_code
from registry.extensions import db
from registry.models import WaterUser
from registry.services import analysis, rules_versions
from registry.web import charts

bp = Blueprint("analysis", __name__)


def _name(ref) -> str:
    if ref is None:
        return ""
    return ref.name_en if str(get_locale()).startswith("en") else ref.name_zh


def _m3(v: float) -> str:
    return f"{v:,.0f}"


@bp.route("/water-users/<int:water_user_id>/analysis")
@login_required
@access.allows("analysis.view")
def file_analysis(water_user_id: int):
    wu = access.get_water_user(current_user, water_user_id)
    rules = rules_versions.current(db.session)
    data = analysis.file_months(db.session, wu.id, rules, clock.today())
    link = url_for("water_users.detail", water_user_id=wu.id, _anchor="readings")
    chart = charts.columns(
        [m.strftime("%y-%m") for m in data.months],
        [(charts.Series(str(_l("Counted use")), "#0d6efd"), data.use, [link] * len(data.months))],
        [(charts.Series(str(_l("Plan (monthly allowance)")), "#212529", dashed=True), data.plan),
         (charts.Series(str(_l("Permit (annual ÷ 12)")), "#b02a37"), data.permit)],
        title=str(_l("Use against plan and permit by month")),
        desc=str(_l("Columns: accepted monthly use; dashed: the plan's allowance of the month; red line: the "
                    "permitted annual volume ÷ 12; shaded: the band the rules expect.")),
        unit="m³", width=900, band=(charts.Series(str(_l("Expected band")), "#ffc107"), data.bands))
    rows = list(zip(data.months, data.use, data.plan, data.permit, data.bands))
    return render_template("analysis/file.html", wu=wu, chart=chart, rows=rows[::-1])


def _month() -> date:
    last = add_months(date(clock.today().year, clock.today().month, 1), -1)
    wanted = (request.args.get("month") or "")[:7]
    try:
        chosen = date(int(wanted[:4]), int(wanted[5:7]), 1) if len(wanted) == 7 and wanted[4] == "-" else last
    except ValueError:
        chosen = last
    return chosen if date(2000, 1, 1) <= chosen <= last else last


def _months_chart(series: analysis.CityMonths):
    months = series.months[:-1]  # ended months (the one in progress would look like a fall)
    return charts.columns(
        [m.strftime("%y-%m") for m in months],
        [(charts.Series(str(_l("Counted use")), "#0d6efd"), series.use[:-1],
          [url_for("analysis.city", month=m.strftime("%Y-%m"), _anchor="breakdown") for m in months])],
        [(charts.Series(str(_l("Same month last year")), "#6c757d", dashed=True), series.last_year[:-1])],
        title=str(_l("Use of the files in scope by month")),
        desc=str(_l("Each column opens that month's breakdown by division and industry.")), unit="m³", width=900)


def _group_chart(groups, month: date, name, link):
    this = charts.Series(month.strftime("%Y-%m"), "#0d6efd")
    return charts.hbars([charts.Row(name(g) or g or "—", [now], [link(g)], note=f"({_m3(before)})")
                         for g, now, before in groups[:20]], [this],
                        title=str(_l("Use of %(m)s by group (last year's in brackets)", m=month.strftime("%Y-%m"))),
                        fmt=_m3)


def _coverage_chart(cover: analysis.Coverage, threshold: int):
    return charts.hbars(
        [charts.Row(_name(division_by_code(code)) or code, [reporting, online - reporting, required - online],
                    [url_for("water_users.index", division=code, status="active")] * 3)
         for code, (required, online, reporting) in sorted(cover.by_division.items())],
        [charts.Series(str(_l("Online, reporting")), "#198754"),
         charts.Series(str(_l("Online, silent")), "#ffc107", text_colour="#212529"),
         charts.Series(str(_l("No online meter")), "#b02a37")],
        title=str(_l("Online coverage of the users permitted ≥ %(n)s m³/yr", n=f"{threshold:,}")),
        fmt=lambda v: f"{v:,.0f}")


@bp.route("/analysis/")
@login_required
@access.allows("analysis.view")
def city():
    today, month = clock.today(), _month()
    rules = rules_versions.current(db.session)
    threshold = rules.thresholds.online_monitoring_m3_per_year
    divisions = _group_chart(analysis.by_group(db.session, current_user, month, WaterUser.division_code), month,
                             lambda g: _name(division_by_code(g)),
                             lambda g: url_for("water_users.index", division=g, status="active"))
    industries = _group_chart(analysis.by_group(db.session, current_user, month, WaterUser.industry_code), month,
                              lambda g: f"{g} {_name(industry_by_code(g))}",
                              lambda g: url_for("water_users.index", industry=g, status="active"))
    up, down = analysis.top_movers(db.session, current_user, month)
    cover = analysis.coverage(db.session, current_user, today, rules)
    return render_template("analysis/city.html", month=month, divisions=divisions, industries=industries,
                           months_chart=_months_chart(analysis.city_months(db.session, current_user, today)),
                           up=up, down=down, cover=cover, cover_chart=_coverage_chart(cover, threshold),
                           threshold=threshold)
