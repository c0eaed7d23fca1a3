"""The dossier 档案 of one whole file as a PDF: profile, permits, meters and calibrations,
readings summary, water-balance tests, inspections and rectifications, the evaluation breakdown
in words (``presentation.explain``), certificates and the timeline.

Rendered on request from the same read model as the one-file page (``services.file_view``), in
the reader's language; unlike a certificate it is a print-out of the file as it is today.
"""
from __future__ import annotations

import io
from xml.sax.saxutils import escape

from flask_babel import get_locale
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from registry import clock
from registry.i18n import division_name, label, number
from registry.pdf import PdfSettings, fonts
from registry.presentation import explain
from registry.presentation.certificates import reason_text, status_of

MARGIN = 16 * mm
FRAME_WIDTH = A4[0] - 2 * MARGIN
GRID = colors.Color(0.75, 0.77, 0.80)
HEAD = colors.Color(0.92, 0.94, 0.97)
TIMELINE_ROWS = 200


class _Styles:
    def __init__(self, font: str):
        base = dict(fontName=font, wordWrap="CJK")
        self.title = ParagraphStyle("title", fontSize=17, leading=22, spaceAfter=4, **base)
        self.subtitle = ParagraphStyle("subtitle", fontSize=9, leading=12, textColor=colors.grey, **base)
        self.h2 = ParagraphStyle("h2", fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=4,
                                 textColor=colors.Color(0.11, 0.23, 0.42), **base)
        self.cell = ParagraphStyle("cell", fontSize=8.5, leading=11, **base)
        self.head = ParagraphStyle("head", fontSize=8.5, leading=11, textColor=colors.Color(0.2, 0.2, 0.25), **base)
        self.note = ParagraphStyle("note", fontSize=8.5, leading=11, textColor=colors.grey, **base)


def _p(text, style) -> Paragraph:
    text = "" if text is None else str(text)
    if text.isascii():  # codes, dates and English read best in a Latin face
        style = ParagraphStyle(f"{style.name}-latin", parent=style, fontName=fonts.LATIN)
    text = fonts.printable(text, style.fontName)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _d(value) -> str:
    return value.isoformat() if value else "—"


class _Builder:
    def __init__(self, view, font: str, timeline_rows=()):
        self.view, self.wu, self.s, self.story = view, view.water_user, _Styles(font), []
        self.timeline_rows = timeline_rows

    def heading(self, text: str) -> None:
        self.story.append(_p(text, self.s.h2))

    def table(self, header: list[str], rows: list[list], widths: list[float], empty: str) -> None:
        if not rows:
            self.story.append(_p(empty, self.s.note))
            return
        data = [[_p(h, self.s.head) for h in header]] + [[_p(c, self.s.cell) for c in row] for row in rows]
        total = sum(widths)
        table = Table(data, colWidths=[w / total * FRAME_WIDTH for w in widths], repeatRows=1)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, GRID), ("BACKGROUND", (0, 0), (-1, 0), HEAD),
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5)]))
        self.story.append(table)

    def build(self) -> list:
        for part in (self.profile, self.permits, self.meters, self.readings, self.balance_tests, self.inspections,
                     self.evaluation, self.certificates, self.timeline):
            part()
        return self.story

    def profile(self) -> None:
        wu, view = self.wu, self.view
        self.story += [_p(_("Dossier of a self-supplied water user") + f" · {wu.name}", self.s.title),
                       _p(_("File %(f)s · printed %(d)s", f=wu.file_no, d=view.today.isoformat()), self.s.subtitle)]
        self.heading(_("Profile"))
        industry = view.industry
        rows = [
            [_("File number"), wu.file_no], [_("Name"), wu.name], [_("USCC"), wu.uscc],
            [_("Legal representative"), wu.legal_representative or "—"],
            [_("Contact"), " ".join(x for x in (wu.contact_name, wu.contact_phone, wu.email) if x) or "—"],
            [_("Address"), wu.address or "—"], [_("Division"), f"{wu.division_code} {division_name(wu.division)}"],
            [_("Industry"), f"{wu.industry_code} {_industry_name(industry)}"],
            [_("File opened on"), _d(wu.opened_on)], [_("Status"), label("status", wu.status)],
            [_("Grade"), f"{wu.grade} · {wu.score:.1f} · {wu.rules_version}" if wu.grade else "—"],
        ]
        self.table([_("Item"), _("Value")], rows, [1, 3], "")

    def permits(self) -> None:
        self.heading(_("Permits"))
        rows = [[p.number, _("Closed") if status == "closed" else label("permit_status", status),
                 f"{_d(p.valid_from)} – {_d(p.valid_to)}", f"{number(p.annual_volume_m3)} m³",
                 "、".join(ip.name for ip in p.intake_points) or "—"] for p, status, _days in self.view.permits]
        self.table([_("Permit number"), _("Status"), _("Valid"), _("Annual volume"), _("Intake points covered")],
                   rows, [2.2, 1.2, 2.2, 1.4, 2.2], _("No permit recorded."))

    def meters(self) -> None:
        self.heading(_("Meters and calibrations"))
        rows = []
        for m, due, life, _status in self.view.meters:
            rows.append([m.serial, label("meter_type", m.meter_type) + (f" DN{m.dn}" if m.dn else ""),
                         m.intake_point.name if m.intake_point else "—", _d(m.installed_on),
                         _d(due) + (f" / {_d(life)}" if life else ""), "—", "—"])
            for cal in m.calibrations:
                rows.append(["", "", "", _d(cal.calibrated_on), label("calibration_kind", cal.kind),
                             f"{cal.agency or ''} {cal.certificate_no or ''}".strip() or "—",
                             (f"{cal.error_pct:+.2f} % · " if cal.error_pct is not None else "")
                             + (_("Pass") if cal.passed else _("Fail"))])
        self.table([_("Meter"), _("Type"), _("Intake point"), _("Date"), _("Next due"), _("Agency"), _("Result")],
                   rows, [1.5, 1.4, 1.4, 1.1, 1.6, 1.8, 1.2], _("No meter recorded."))

    def readings(self) -> None:
        self.heading(_("Readings (last 12 months)"))
        rows = [[month.strftime("%Y-%m"), f"{number(volume)} m³" if volume else "—",
                 f"{number(planned)} m³" if planned else "—"] for month, volume, planned in self.view.monthly]
        self.table([_("Month"), _("Volume"), _("Plan (monthly share)")], rows, [1, 1, 1],
                   _("No reading in the last 12 months."))
        self.story.append(_p(_("Online monitoring: readings on %(n)d of the last 90 days.", n=self.view.online_days),
                             self.s.note))

    def balance_tests(self) -> None:
        self.heading(_("Water-balance tests"))
        rows = [[_d(t.tested_on), t.agency or "—", f"{number(t.vf)} m³", _pct(ind.reuse_rate_percent),
                 _pct(ind.leakage_rate_percent), _pct(ind.balance_error_percent) + (
                     " ⚠ " + _("above the %(limit)s %% limit", limit=self.view.balance_error_limit)
                     if ind.flagged else ""),
                 _d(t.next_due_on)] for t, ind in self.view.balance_tests]
        self.table([_("Test date"), _("Agency"), _("Fresh intake Vf"), _("Reuse rate"), _("Leakage rate"),
                    _("Balance error"), _("Next due")], rows, [1.2, 2, 1.3, 1, 1, 1.1, 1.2],
                   _("No water-balance test recorded."))

    def inspections(self) -> None:
        self.heading(_("Inspections and rectifications"))
        rows = []
        for insp in self.wu.inspections:
            problems = sum(1 for i in insp.items if i.result == "problem")
            rows.append([_d(insp.inspected_on), insp.inspector.label if insp.inspector else "—",
                         (insp.findings or "") + (f" ({_('%(n)d problems', n=problems)})" if problems else ""), ""])
            for r in insp.rectifications:
                rows.append(["", _("Rectification"), r.requirement,
                             f"{_d(r.deadline)} · {label('rectification_status', r.status)}"])
        self.table([_("Date"), _("Inspector"), _("Findings"), _("Deadline")], rows, [1.1, 1.4, 4, 1.8],
                   _("No inspection recorded."))

    def evaluation(self) -> None:
        self.heading(_("Compliance evaluation"))
        ev = self.wu.evaluations[0] if self.wu.evaluations else None
        if ev is None:
            self.story.append(_p(_("This file has not been evaluated yet."), self.s.note))
            return
        self.story.append(_p(_("Evaluated on %(d)s under rules %(v)s: %(t)s points, grade %(g)s.", d=_d(ev.evaluated_on),
                               v=ev.rules_version, t=f"{ev.total:.1f}", g=ev.grade), self.s.cell))
        rows = [[str(explain.RULE_NAMES.get(row["rule"], row["rule"])), f"{row['points']:g} / {row['maximum']:g}",
                 "\n".join(explain.sentence(f["code"], f["params"]) + (f" (−{f['lost']:g})" if f["lost"] else "")
                           for f in row["findings"]) or _("Full marks")] for row in ev.rows]
        self.table([_("Rule"), _("Points"), _("Why points were lost")], rows, [1.6, 0.8, 5], "")

    def certificates(self) -> None:
        self.heading(_("Certificates"))
        rows = []
        for c in self.wu.certificates:
            state = status_of(c, self.view.today)
            rows.append([c.number, label("certificate_status", state) + (f" {_d(c.revoked_on)} {reason_text(c)}"
                                                                          if state == "revoked" else ""),
                         f"{c.grade} · {c.score:.1f}", f"{_d(c.issued_on)} – {_d(c.valid_until)}"])
        self.table([_("Certificate number"), _("Status"), _("Grade"), _("Valid")], rows, [1.6, 2.4, 0.8, 1.8],
                   _("No certificate issued."))

    def timeline(self) -> None:
        self.heading(_("Timeline"))
        rows = [list(row) for row in self.timeline_rows[:TIMELINE_ROWS]]
        self.table([_("When"), _("Who"), _("What")], rows, [1.3, 1.2, 5], _("No event yet."))


def _industry_name(industry) -> str:
    if industry is None:
        return ""
    return industry.name_en if str(get_locale()).startswith("en") else industry.name_zh


def _entity(kind: str) -> str:
    names = {"WaterUser": _("file"), "IntakePoint": _("intake point"), "Permit": _("permit"),
             "AnnualPlan": _("annual plan"), "Meter": _("meter"), "Calibration": _("calibration"),
             "Reading": _("reading"), "BalanceTest": _("water-balance test"), "Inspection": _("inspection"),
             "Rectification": _("rectification order"), "Document": _("document"), "Certificate": _("certificate"),
             "Evaluation": _("evaluation")}
    return names.get(kind, kind)


def _pct(value) -> str:
    return "—" if value is None else f"{number(value, 1)} %"


def render(view, settings: PdfSettings | None = None, timeline_rows=()) -> bytes:
    """The dossier of ``view`` (a ``services.file_view.FileView``) as PDF bytes; ``timeline_rows`` are
    the timeline's (when, who, what) in words, as the page shows them (``web.timeline.rows``)."""
    settings = settings or PdfSettings()
    font = fonts.cjk(settings.font_path)
    wu = view.water_user
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 4 * mm,
                            bottomMargin=MARGIN, title=f"{wu.file_no} {wu.name}", author=settings.authority,
                            creator="yiwu-registry", invariant=1)
    footer = _("%(name)s · file %(file)s · printed %(date)s", name=wu.name, file=wu.file_no,
               date=(view.today or clock.today()).isoformat())

    def decorate(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, MARGIN - 16, fonts.printable(footer, font))
        canvas.drawRightString(A4[0] - MARGIN, MARGIN - 16, _("Page %(n)d", n=document.page))
        canvas.restoreState()

    doc.build([*_Builder(view, font, timeline_rows).build(), Spacer(1, 6)], onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
