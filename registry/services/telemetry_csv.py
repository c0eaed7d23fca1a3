"""Staff upload of telemetry as CSV (issue 17): the columns of ``POST /api/v1/telemetry``
(``telemetry_id, at, totalizer_m3, flow_m3h``, or their Chinese titles), UTF-8 (with or without
BOM) or GB 18030 as Excel writes it. The rows go through the same intake (``telemetry.ingest``)
in chunks of its batch size; a refused row is named by its line in the file."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import gettext as _

from registry.services import telemetry

COLUMNS = {
    "telemetry_id": ("telemetry_id", "在线监测编号", "telemetry id"),
    "at": ("at", "时间", "time"),
    "totalizer_m3": ("totalizer_m3", "累计读数(m³)", "累计读数", "累计流量(m³)", "totalizer (m³)"),
    "flow_m3h": ("flow_m3h", "瞬时流量(m³/h)", "瞬时流量", "flow (m³/h)"),
}
_TITLES = {title.lower(): key for key, titles in COLUMNS.items() for title in titles}


class CsvRefused(ValueError):
    """The file as a whole cannot be read (its message says why, in the user's language)."""


@dataclass
class CsvOutcome:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"line", "field", "message"}

    def to_json(self) -> dict:
        return {"rows": self.rows, "created": self.created, "unchanged": self.unchanged, "rejected": self.rejected}


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvRefused(_("The file is neither UTF-8 nor GB 18030 text."))


def _number(text: str):
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text  # the intake names it as no number


def read(data: bytes, max_rows: int) -> list[dict]:
    """The rows as points (the intake's shape), in file order."""
    reader = csv.reader(io.StringIO(_text(data)))
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise CsvRefused(_("The CSV file cannot be read: %(error)s", error=str(err))) from None
    if not header:
        raise CsvRefused(_("The file is empty."))
    keys = [_TITLES.get(h.strip().lower()) for h in header]
    missing = [k for k in ("telemetry_id", "at", "totalizer_m3") if k not in keys]
    if missing:
        raise CsvRefused(_("The first row must name the columns telemetry_id (在线监测编号), at (时间) and "
                           "totalizer_m3 (累计读数(m³)); missing: %(m)s.", m=", ".join(COLUMNS[k][1] for k in missing)))
    points = []
    try:
        for row in reader:
            _point(row, keys, points, max_rows)
    except csv.Error as err:  # a field past csv's limit, a NUL: the file, not the server, is at fault
        raise CsvRefused(_("The CSV file cannot be read: %(error)s", error=str(err))) from None
    return points


def _point(row: list[str], keys: list, points: list[dict], max_rows: int) -> None:
    """One row of the file as a point, appended to ``points`` (an empty row is skipped)."""
    if not any(cell.strip() for cell in row):
        return
    if len(points) >= max_rows:
        raise CsvRefused(_("The file has more than %(n)d rows.", n=max_rows))
    values = {k: (row[i] if i < len(row) else "") for i, k in enumerate(keys) if k}
    point = {"telemetry_id": values.get("telemetry_id", "").strip(), "at": values.get("at", "").strip(),
             "totalizer_m3": _number(values.get("totalizer_m3", ""))}
    flow = _number(values.get("flow_m3h", ""))
    if flow is not None:
        point["flow_m3h"] = flow
    points.append(point)


def count_rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return max(0, sum(1 for _ in fh) - 1)


def run(session, actor, data: bytes, *, max_rows: int, progress=None) -> CsvOutcome:
    points = read(data, max_rows)
    out = CsvOutcome(rows=len(points))
    for start in range(0, len(points), telemetry.MAX_POINTS):
        chunk = points[start:start + telemetry.MAX_POINTS]
        got = telemetry.ingest(session, actor, chunk, channel_source="csv")
        out.created += got.created
        out.unchanged += got.unchanged
        out.rejected += [{"line": start + r["index"] + 2, "field": r["field"].split(".", 1)[-1]
                          if "." in r["field"] else "", "message": r["message"]} for r in got.rejected]
        if progress is not None:
            progress(len(chunk))
    return out
