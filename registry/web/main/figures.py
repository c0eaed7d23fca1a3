"""The dashboard's charts: the service's figures drawn as SVG, each bar linked to the list behind it."""
from __future__ import annotations

from flask import url_for
from flask_babel import get_locale, gettext as _

from registry.domain.reference import division_by_code, industry_by_code
from registry.i18n import division_name, label, number
from registry.services.dashboard import GRADES, Dashboard
from registry.web.charts import Row, Series, columns, hbars

GRADE_COLOURS = {"A": ("#198754", "#fff"), "B": ("#0d6efd", "#fff"), "C": ("#b8860b", "#fff"),
                 "D": ("#b02a37", "#fff"), "none": ("#ced4da", "#212529")}


def grade_name(grade: str) -> str:
    return _("Not evaluated") if grade == "none" else grade


def _grade_series() -> list[Series]:
    return [Series(grade_name(g), *GRADE_COLOURS[g]) for g in GRADES]


def _list(**filters) -> str:
    return url_for("water_users.index", status="active", **{k: v for k, v in filters.items() if v})


def grades(d: Dashboard):
    rows = [Row(grade_name(g), [d.grades[g]], [_list(grade=g)], label_link=_list(grade=g),
                colours=[GRADE_COLOURS[g][0]]) for g in GRADES]
    return hbars(rows, [Series(_("Active files"), "#0d6efd")], title=_("Active files by grade"),
                 desc=_("Each bar opens the list of those files."), fmt=number, width=480)


def _breakdowns(items, name_of, key: str, title: str):
    rows = [Row(name_of(b.code), [b.by_grade[g] for g in GRADES], [_list(**{key: b.code, "grade": g}) for g in GRADES],
                note=f"+{number(b.opened_recently)}" if b.opened_recently else "", label_link=_list(**{key: b.code}))
            for b in items]
    return hbars(rows, _grade_series(), title=title, fmt=number,
                 desc=_("Active files by grade; +N after a bar: files opened in the last 12 months."))


def divisions(d: Dashboard):
    def name(code):
        division = division_by_code(code)
        return division_name(division) if division else code
    return _breakdowns(d.divisions, name, "division", _("Active files by division and grade"))


def industries(d: Dashboard):
    english = str(get_locale()).startswith("en")

    def name(code):
        industry = industry_by_code(code)
        return (industry.name_en if english else industry.name_zh) if industry else code
    return _breakdowns(d.industries, name, "industry", _("Active files by industry and grade"))


def opened(d: Dashboard):
    labels = [m.strftime("%Y-%m") if i == 0 or m.month == 1 else m.strftime("%m")
              for i, (m, _n) in enumerate(d.opened_by_month)]
    links = [url_for("water_users.index", opened=m.strftime("%Y-%m")) for m, _n in d.opened_by_month]
    return columns(labels, [(Series(_("Files opened"), "#0d6efd"), [n for _m, n in d.opened_by_month], links)],
                   title=_("Files opened in each of the last 12 months"), fmt=number, width=560, height=220,
                   show_values=True)


def due(d: Dashboard):
    series = [Series(label("due_status", "overdue"), "#b02a37"),
              Series(label("due_status", "due_soon"), "#ffc107", "#212529")]
    rows = [Row(label("due_kind", kind), [counts["overdue"], counts["due_soon"]],
                [url_for("queue.index", kind=kind, status=s) for s in ("overdue", "due_soon")],
                label_link=url_for("queue.index", kind=kind))
            for kind, counts in d.due.items() if counts["overdue"] or counts["due_soon"]]
    return hbars(rows, series, title=_("Due and overdue items by kind"), fmt=number,
                 desc=_("Each bar opens the work queue filtered by kind and urgency."), width=600) if rows else None


def volume(d: Dashboard):
    labels = [m.strftime("%m") for m, *_ in d.volume]
    read = [v for _m, v, _p, _q in d.volume]
    return columns(
        labels, [(Series(_("Read"), "#0d6efd"), read, [])],
        [(Series(_("Permitted (annual ÷ 12)"), "#198754"), [p for *_x, p, _q in d.volume]),
         (Series(_("Planned (annual plan ÷ 12)"), "#212529", dashed=True), [q for *_x, q in d.volume])],
        title=_("Water withdrawn in %(year)d against permits and plans", year=d.today.year), fmt=number,
        unit="m³", width=640)
