"""Hand-over statements stored, signed, corrected and exported (issue 19), on the database.

Q2 2025 = 1 April – 30 June = 91 days of 365. A surface permit of 36,500 m³/yr allows 9,100 m³ in
the quarter, a ground one of 7,300 allows 1,820; the 2025 plan of 43,800 (no breakdown) allows
43,800 × 91/365 = 10,920. Rates (defaults): surface 0.2, ground 1.0 元/m³; over permit ×5.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from registry.models import AnnualPlan, Reading, TaxStatement
from registry.services import Forbidden, ValidationError, tax
from tests import factories as f


def _file(db_session):
    wu = f.WaterUserFactory(opened_on=date(2020, 1, 1))
    surface = f.IntakePointFactory(water_user=wu, source="surface", design_capacity_m3h=10.0)
    ground = f.IntakePointFactory(water_user=wu, source="ground", design_capacity_m3h=5.0)
    for number, volume in (("D330782S2024-0101", 36_500.0), ("D330782G2024-0102", 7_300.0)):
        f.PermitFactory(water_user=wu, number=number, annual_volume_m3=volume, valid_from=date(2024, 1, 1),
                        valid_to=date(2028, 12, 31), issued_on=date(2023, 12, 1))
    meters = []
    for point in (surface, ground):
        meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=date(2022, 1, 10))
        f.CalibrationFactory(meter=meter, calibrated_on=date(2025, 1, 10), next_due_on=date(2027, 1, 10))
        meters.append(meter)
    db_session.add(AnnualPlan(water_user_id=wu.id, year=2025, planned_volume_m3=43_800.0))
    for month in (4, 5, 6):
        f.ReadingFactory(meter=meters[0], period=date(2025, month, 1), volume_m3=3_000.0)
        f.ReadingFactory(meter=meters[1], period=date(2025, month, 1), volume_m3=600.0)
    # Not accepted: never counted.
    f.ReadingFactory(meter=meters[0], period=date(2025, 6, 1), volume_m3=99_999.0, status="rejected")
    db_session.commit()
    return wu, meters


def test_statement_from_the_file_signed_exported_and_corrected(db_session):
    wu, meters = _file(db_session)
    admin = f.admin(username="tax-admin")
    counts = tax.compute(db_session, admin, 2025, 2, [wu.id])
    assert counts["created"] == 1
    st = tax.latest(db_session, wu.id, 2025, 2)
    fig = tax.figures(st)
    # Case 1 by hand: surface 9,000 ≤ 9,100, ground 1,800 ≤ 1,820, W 10,800 ≤ 10,920; tax 1,800 + 1,800.
    assert fig["totals"]["verified_m3"] == 10_800.0 and fig["totals"]["tax_yuan"] == 3_600.0
    assert fig["plan_share_m3"] == 10_920.0 and fig["basis"] == "plan"
    assert [p["number"] for p in fig["permits"]] == ["D330782G2024-0102", "D330782S2024-0101"]
    tax.sign(db_session, admin, st)
    csv1, xlsx1 = tax.export_csv([st]), tax.export_xlsx([st])
    assert "核定取水量(m³)" in csv1.decode("utf-8-sig").splitlines()[0]
    assert csv1.decode("utf-8-sig").count("\r\n") == 3  # the header, the surface row and the ground row
    # A late-accepted June reading: 3,000 → 4,000 m³ on the surface meter.
    june = db_session.scalars(select(Reading).where(Reading.meter_id == meters[0].id, Reading.status == "accepted",
                                                    Reading.period == date(2025, 6, 1))).one()
    june.volume_m3 = 4_000.0
    db_session.commit()
    again = tax.compute(db_session, admin, 2025, 2, [wu.id])
    assert again["differs"] == 1 and again["created"] == 0  # the signed statement is not touched
    with pytest.raises(ValidationError) as err:
        tax.correct(db_session, admin, st, {"reason": ""})
    assert "reason" in err.value.errors
    v2 = tax.correct(db_session, admin, st, {"reason": "6 月抄表数据补录核实。"})
    assert (v2.version, v2.status, v2.previous_id, v2.correction_reason) == (2, "draft", st.id, "6 月抄表数据补录核实。")
    # v2 by hand: surface 10,000 − 9,100 = 900 over permit; W = 9,100 + 1,800 = 10,900 ≤ 10,920;
    # tax = 0.2 × (9,100 + 900 × 5) + 1,800 × 1.0 = 2,720 + 1,800 = 4,520.
    fig2 = tax.figures(v2)
    assert fig2["by_source"]["surface"]["over_permit_m3"] == 900.0 and fig2["totals"]["tax_yuan"] == 4_520.0
    changed = {path: (a, b) for path, a, b in tax.difference(db_session, v2)}
    assert changed["totals.verified_m3"] == (10_800.0, 11_800.0)
    assert changed["totals.tax_yuan"] == (3_600.0, 4_520.0)
    # The signed version is as it was, and exports the same bytes.
    db_session.expire_all()
    signed = db_session.get(TaxStatement, st.id)
    assert signed.status == "signed" and tax.figures(signed) == fig
    assert tax.export_csv([signed]) == csv1 and tax.export_xlsx([signed]) == xlsx1
    with pytest.raises(ValidationError):  # an older version is not signed over the correction
        tax.sign(db_session, admin, signed)
    tax.sign(db_session, admin, v2)
    assert [s.version for s in tax.city_statements(db_session, admin, 2025, 2)] == [2]


def test_only_a_bureau_administrator_computes_and_signs(db_session):
    wu, _ = _file(db_session)
    with pytest.raises(Forbidden):
        tax.compute(db_session, f.inspector(username="tax-insp"), 2025, 2, [wu.id])
    with pytest.raises(ValidationError) as err:
        tax.compute(db_session, f.admin(username="tax-admin2"), "二〇二五", 7)
    assert set(err.value.errors) == {"year", "quarter"}


def test_the_xlsx_opens_with_the_tax_offices_columns(db_session):
    import io

    from openpyxl import load_workbook

    wu, _ = _file(db_session)
    admin = f.admin(username="tax-admin3")
    tax.compute(db_session, admin, 2025, 2)
    book = load_workbook(io.BytesIO(tax.export_xlsx(tax.city_statements(db_session, admin, 2025, 2))))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:2] == ("纳税人识别号（统一社会信用代码）", "纳税人名称")
    by_source = {r[5]: r for r in rows[1:] if r[2] == wu.file_no}
    assert by_source["地表水"][7] == 9_000.0 and by_source["地下水"][7] == 1_800.0


def test_this_years_verified_volume_on_the_file_page_counts_the_ended_months(db_session):
    """The file page's figure: the ended months of this year, 1,000 m³ each read, against the plan
    and the permitted volume (permit 36,500 m³/yr for the whole year: 36,500)."""
    from registry.clock import today as bureau_today
    from registry.domain.rules import load_rules

    today = bureau_today()
    wu = f.WaterUserFactory(opened_on=date(2020, 1, 1))
    point = f.IntakePointFactory(water_user=wu, source="surface", design_capacity_m3h=10.0)
    f.PermitFactory(water_user=wu, number="D330782S2024-0201", annual_volume_m3=36_500.0,
                    valid_from=date(today.year - 1, 1, 1), valid_to=date(today.year + 3, 12, 31),
                    issued_on=date(today.year - 1, 1, 1))
    meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=date(today.year - 1, 1, 10))
    f.CalibrationFactory(meter=meter, calibrated_on=date(today.year - 1, 1, 10), next_due_on=None, kind="initial")
    ended = today.month - 1
    for month in range(1, ended + 1):
        f.ReadingFactory(meter=meter, period=date(today.year, month, 1), volume_m3=1_000.0)
    db_session.add(AnnualPlan(water_user_id=wu.id, year=today.year, planned_volume_m3=20_000.0))
    db_session.commit()
    got = tax.this_year(db_session, wu.id, today, load_rules())
    assert got["verified_m3"] == 1_000.0 * ended and got["estimated_m3"] == 0.0
    assert (got["planned_m3"], got["permitted_m3"]) == (20_000.0, 36_500.0)  # in force every day of the year


def test_statements_computed_by_worker_processes_are_the_ones_computed_here(db_session, monkeypatch):
    """The city run in worker processes (a chunk of one file each here) stores what one process
    computes, for every open file, and a second run finds every draft unchanged."""
    wu, _ = _file(db_session)
    others = [f.WaterUserFactory(opened_on=date(2024, 7, 1)) for _ in range(2)]
    f.IntakePointFactory(water_user=others[0], source="ground", design_capacity_m3h=2.0)
    db_session.commit()
    admin = f.admin(username="tax-admin-workers")
    expected = {fig["water_user"]["id"]: tax.canonical(fig) for fig in tax.compute_figures(
        db_session, 2025, 2, load_rules_in_force(db_session))}
    monkeypatch.setattr(tax, "CHUNK", 1)
    counts = tax.compute(db_session, admin, 2025, 2, workers=2)
    assert counts["created"] == len(expected) >= 3
    stored = {st.water_user_id: st.figures for st in db_session.scalars(select(TaxStatement))}
    assert stored == expected
    assert tax.compute(db_session, admin, 2025, 2, workers=2)["unchanged"] == len(expected)


def load_rules_in_force(session):
    from registry.services import rules_in_force

    return rules_in_force.current(session)
