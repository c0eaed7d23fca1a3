"""Charts drawn on the server as inline SVG: no script, no CDN, readable at 768 px.

Two shapes cover the dashboard: horizontal (stacked) bars, one row per category, and columns
over a time axis with optional lines (plan, permit). Every bar and segment may link to the list
behind it and carries a <title> with its figures, so a pointer or a screen reader gets the
number. Colours are SVG presentation attributes (no style attribute needed).
"""
from __future__ import annotations

import itertools
import math
import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from markupsafe import Markup, escape

FONT = 13  # user units; the charts are drawn about as wide as they are shown, so ≈ px
MUTED = "#6c757d"
GRID = "#dee2e6"
_ids = itertools.count(1)


@dataclass
class Series:
    name: str
    colour: str
    text_colour: str = "#fff"  # for figures written inside a segment
    dashed: bool = False  # for lines


@dataclass
class Row:
    """One horizontal bar: a value per series, a link per series (or None), a note after the total."""

    label: str
    values: list[float]
    links: list[str | None] = field(default_factory=list)
    note: str = ""
    label_link: str | None = None  # the whole row's list
    colours: list[str] | None = None  # per series, instead of the series' colour


def text_width(text: str, size: float = FONT) -> float:
    """Rough advance of ``text``: CJK characters are square, Latin ones a little over half."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.6 for c in text)


def fit(text: str, width: float, size: float = FONT) -> str:
    """``text`` cut with an ellipsis to fit ``width`` (the full text stays in the <title>)."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


# The largest value a chart draws: a stored absurd volume (1.7e308 m³, inf) is drawn as a full
# bar instead of overflowing the axis arithmetic (issue 16 item 2).
_DRAWABLE = 1e300


def drawable(value: float | None) -> float | None:
    """``value`` clamped to what the axis arithmetic holds; nan (no quantity) as None."""
    if value is None or value != value:
        return None
    return max(-_DRAWABLE, min(_DRAWABLE, float(value)))


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round axis ticks from 0 to at least ``top`` (1, 2 or 5 × 10ⁿ apart, at least 1)."""
    top = drawable(top) or 0
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = max(next(m * power for m in (1, 2, 5, 10) if m * power >= raw), 1)  # counts and m³: whole steps
    return [step * i for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def _link(href: str | None, label: str, body: str) -> str:
    if not href:
        return body
    return f'<a href="{escape(href)}" aria-label="{escape(label)}">{body}</a>'


def _svg(width: float, height: float, title: str, desc: str, body: list[str]) -> Markup:
    uid = f"chart-{next(_ids)}"
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" width="100%" role="group" '
        f'style="max-width: {width * 1.25:.0f}px" '
        f'aria-labelledby="{uid}-t {uid}-d" font-family="inherit" font-size="{FONT}" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{uid}-t">{escape(title)}</title>'
        f'<desc id="{uid}-d">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def _legend(items: list[tuple[Series, bool]], x: float, y: float) -> list[str]:
    """A swatch and the name of each series: a square for bars, a short line for lines."""
    out = []
    for s, is_line in items:
        if is_line:
            dash = ' stroke-dasharray="6 4"' if s.dashed else ""
            out.append(f'<line x1="{x:.1f}" x2="{x + 22:.1f}" y1="{y - 4:.1f}" y2="{y - 4:.1f}" stroke="{s.colour}" '
                       f'stroke-width="2.5"{dash}/>')
            swatch = 28
        else:
            out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{s.colour}"/>')
            swatch = 16
        out.append(f'<text x="{x + swatch:.1f}" y="{y:.1f}" fill="#212529">{escape(s.name)}</text>')
        x += swatch + text_width(s.name) + 18
    return out


def hbars(rows: list[Row], series: list[Series], *, title: str, desc: str = "",
          fmt: Callable[[float], str] = lambda v: f"{v:,.0f}", width: int = 720) -> Markup:
    """Horizontal bars, stacked when there are several series, the total written after each bar."""
    label_w = min(max((text_width(r.label) for r in rows), default=40) + 12, width * 0.42)
    rows = [dataclasses.replace(r, values=[drawable(v) or 0 for v in r.values]) for r in rows]
    totals = [drawable(sum(r.values)) for r in rows]
    ticks = nice_ticks(max(totals, default=0))
    total_w = max((text_width(fmt(t)) + text_width(r.note, FONT - 1) + 6 for t, r in zip(totals, rows)), default=0)
    plot_w = width - label_w - total_w - 12
    scale = plot_w / ticks[-1]
    bar_h, gap = 24, 10
    top = 30 if len(series) > 1 else 8
    height = top + len(rows) * (bar_h + gap) + 24
    body = _legend([(s, False) for s in series], label_w, 16) if len(series) > 1 else []
    axis_y = top + len(rows) * (bar_h + gap)
    for t in ticks:
        x = label_w + t * scale
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{axis_y:.1f}" stroke="{GRID}"/>'
                    f'<text x="{x:.1f}" y="{axis_y + 16:.1f}" text-anchor="middle" fill="{MUTED}" '
                    f'font-size="{FONT - 2}">{escape(fmt(t))}</text>')
    for i, (row, total) in enumerate(zip(rows, totals)):
        y = top + i * (bar_h + gap)
        label = (f'<text x="{label_w - 8:.1f}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" '
                 f'fill="{"#0a58ca" if row.label_link else "#212529"}"><title>{escape(row.label)}</title>'
                 f'{escape(fit(row.label, label_w - 10))}</text>')
        body.append(_link(row.label_link, f"{row.label}: {fmt(total)}", label))
        x = label_w
        for j, (s, value) in enumerate(zip(series, row.values)):
            if not value:
                continue
            w = value * scale
            what = f"{row.label} · {s.name}: {fmt(value)}" if len(series) > 1 else f"{row.label}: {fmt(value)}"
            inner = ""
            if w >= text_width(fmt(value), FONT - 1) + 6:
                inner = (f'<text x="{x + w / 2:.1f}" y="{y + bar_h * 0.7:.1f}" text-anchor="middle" '
                         f'font-size="{FONT - 1}" fill="{s.text_colour}" aria-hidden="true">'
                         f'{escape(fmt(value))}</text>')
            colour = row.colours[j] if row.colours else s.colour
            rect = (f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" fill="{colour}">'
                    f'<title>{escape(what)}</title></rect>{inner}')
            body.append(_link(row.links[j] if j < len(row.links) else None, what, rect))
            x += w
        note = (f'<tspan dx="6" font-weight="400" font-size="{FONT - 1}" fill="{MUTED}">{escape(row.note)}</tspan>'
                if row.note else "")
        body.append(f'<text x="{x + 6:.1f}" y="{y + bar_h * 0.7:.1f}" font-weight="600" fill="#212529">'
                    f'{escape(fmt(total))}{note}</text>')
    body.append(f'<line x1="{label_w:.1f}" x2="{label_w:.1f}" y1="{top - 4}" y2="{axis_y:.1f}" stroke="{MUTED}"/>')
    return _svg(width, height, title, desc, body)


def columns(labels: list[str], bars: list[tuple[Series, list[float | None], list[str | None]]],
            lines: list[tuple[Series, list[float | None]]] = (), *, title: str, desc: str = "",
            fmt: Callable[[float], str] = lambda v: f"{v:,.0f}", unit: str = "", width: int = 720,
            height: int = 260, show_values: bool = False,
            band: tuple[Series, list[tuple[float, float] | None]] | None = None) -> Markup:
    """Columns over ``labels`` (months), one group per label, with lines drawn across them and,
    behind them, an optional ``band``: the range each month's value is expected in (low, high)."""
    bars = [(series, [drawable(v) for v in vs], notes) for series, vs, notes in bars]
    lines = [(series, [drawable(v) for v in vs]) for series, vs in lines]
    ranges = [None if r is None or drawable(r[0]) is None or drawable(r[1]) is None else (r[0], r[1])
              for r in (band[1] if band else [])]
    values = [v or 0 for _, vs, _ in bars for v in vs] + [v or 0 for _, vs in lines for v in vs] + [
        r[1] for r in ranges if r is not None]
    ticks = nice_ticks(max(values, default=0))
    axis_w = max(text_width(fmt(t), FONT - 2) for t in ticks) + 10
    legend = [(s, False) for s, *_ in bars] + [(s, True) for s, _ in lines] + ([(band[0], False)] if band else [])
    top = 34 if len(legend) > 1 or unit else 14
    bottom = height - 26
    plot_w = width - axis_w - 8
    scale = (bottom - top) / ticks[-1]
    slot = plot_w / max(len(labels), 1)
    body = []
    if unit:
        body.append(f'<text x="0" y="14" font-size="{FONT - 2}" fill="{MUTED}">{escape(unit)}</text>')
    if len(legend) > 1:
        body += _legend(legend, axis_w + (text_width(unit, FONT - 2) + 16 if unit else 0), 16)
    for t in ticks:
        y = bottom - t * scale
        body.append(f'<line x1="{axis_w:.1f}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                    f'<text x="{axis_w - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" font-size="{FONT - 2}" '
                    f'fill="{MUTED}">{escape(fmt(t))}</text>')
    group_w = slot * 0.7
    bar_w = group_w / max(len(bars), 1)
    for i, r in enumerate(ranges):
        if r is None or i >= len(labels):
            continue
        low, high = max(r[0], 0), max(r[1], 0)
        what = f"{labels[i]} · {band[0].name}: {fmt(low)} – {fmt(high)}{' ' + unit if unit else ''}"
        body.append(f'<rect x="{axis_w + i * slot:.1f}" y="{bottom - high * scale:.1f}" width="{slot:.1f}" '
                    f'height="{max((high - low) * scale, 0.5):.1f}" fill="{band[0].colour}" fill-opacity="0.35">'
                    f'<title>{escape(what)}</title></rect>')
    for i, label in enumerate(labels):
        x0 = axis_w + i * slot + (slot - group_w) / 2
        body.append(f'<text x="{axis_w + (i + 0.5) * slot:.1f}" y="{bottom + 17:.1f}" text-anchor="middle" '
                    f'font-size="{FONT - 2}" fill="{MUTED}">{escape(label)}</text>')
        for j, (s, vs, links) in enumerate(bars):
            value = vs[i]
            if value is None:
                continue
            h = value * scale
            what = f"{label} · {s.name}: {fmt(value)}{' ' + unit if unit else ''}"
            x = x0 + j * bar_w
            rect = (f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" '
                    f'fill="{s.colour}"><title>{escape(what)}</title></rect>')
            if show_values:
                rect += (f'<text x="{x + bar_w / 2:.1f}" y="{bottom - h - 4:.1f}" text-anchor="middle" '
                         f'font-size="{FONT - 2}" fill="#212529">{escape(fmt(value))}</text>')
            body.append(_link(links[i] if links else None, what, rect))
    for s, vs in lines:
        points = [(axis_w + (i + 0.5) * slot, bottom - v * scale) for i, v in enumerate(vs) if v is not None]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        body.append(f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2.5"{dash}/>')
        for (x, y), (i, v) in zip(points, [(i, v) for i, v in enumerate(vs) if v is not None]):
            what = f"{labels[i]} · {s.name}: {fmt(v)}{' ' + unit if unit else ''}"
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{s.colour}"><title>{escape(what)}</title>'
                        f'</circle>')
    body.append(f'<line x1="{axis_w:.1f}" x2="{width - 8}" y1="{bottom:.1f}" y2="{bottom:.1f}" stroke="{MUTED}"/>')
    return _svg(width, height, title, desc, body)
