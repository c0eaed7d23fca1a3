"""Select options that depend on the file: its intake points, meters and inspections."""
from __future__ import annotations

from registry.i18n import label


def fill(form, wu) -> None:
    points = [(str(p.id), p.name) for p in wu.intake_points if p.closed_at is None]
    meters = [(str(m.id), f"{m.serial} · {label('meter_type', m.meter_type)}" + (f" DN{m.dn}" if m.dn else ""))
              for m in wu.meters if m.closed_at is None]
    inspections = [(str(i.id), i.inspected_on.isoformat()) for i in wu.inspections if i.closed_at is None]
    if "intake_point_id" in form._fields:
        form.intake_point_id.choices = [("", "—")] + points
    if "intake_point_ids" in form._fields:
        form.intake_point_ids.choices = [(int(k), v) for k, v in points]
    if "meter_id" in form._fields:
        form.meter_id.choices = [("", "—")] + meters
    if "inspection_id" in form._fields:
        form.inspection_id.choices = [("", "—")] + inspections


def preselect(form, args) -> None:
    """``?meter_id=3`` from the meter's "add calibration" button, and the like."""
    for name in ("meter_id", "intake_point_id", "inspection_id"):
        if name in form._fields and args.get(name):
            form._fields[name].data = args.get(name)


def load(form, obj) -> None:
    """Values a plain ``obj=`` does not fill: id selects as strings, many-to-many as ids."""
    for name in ("meter_id", "intake_point_id", "inspection_id"):
        if name in form._fields:
            form._fields[name].data = str(getattr(obj, name))
    if "intake_point_ids" in form._fields:
        form.intake_point_ids.data = [p.id for p in obj.intake_points]
    if "period" in form._fields and obj.period:
        form.period.data = obj.period.strftime("%Y-%m")
    if "passed" in form._fields:
        form.passed.data = "1" if obj.passed else "0"
