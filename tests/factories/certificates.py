"""Files graded as a test needs them, and certificates issued for them through the service."""
from __future__ import annotations

from datetime import timedelta

from registry.clock import today as bureau_today
from registry.extensions import db
from tests import factories as f

TODAY = bureau_today()


def graded_file(grade: str = "A", **fields):
    """A file whose evaluation today gives ``grade``: A (100 points), B (3 rectifications overdue,
    85), C (as B, and one meter past its verification date and an intake point without a meter, 70)
    or D (no permit: veto)."""
    wu = f.WaterUserFactory(opened_on=TODAY - timedelta(days=5), industry_code="1811", **fields)
    point = f.IntakePointFactory(water_user=wu)
    points = [point] + ([f.IntakePointFactory(water_user=wu)] if grade == "C" else [])
    if grade != "D":
        permit = f.PermitFactory(water_user=wu, annual_volume_m3=2000)
        permit.intake_points = points
    if grade == "C":  # never verified, installed long before the 24-month interval
        f.MeterFactory(intake_point=point, water_user=wu, installed_on=TODAY - timedelta(days=1200))
    else:
        meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=TODAY - timedelta(days=300))
        f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=100),
                             next_due_on=TODAY + timedelta(days=600))
    for _ in range(3 if grade in "BC" else 0):
        inspection = f.InspectionFactory(water_user=wu, inspected_on=TODAY - timedelta(days=30))
        f.RectificationFactory(inspection=inspection, water_user_id=wu.id, deadline=TODAY - timedelta(days=5))
    db.session.commit()
    return wu
