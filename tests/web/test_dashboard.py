"""The bureau's dashboard: the figures in the charts are the files' own, and each bar opens its list."""
from __future__ import annotations

import html
import re
from datetime import date, timedelta

from registry import clock
from registry.extensions import db
from registry.models import AnnualPlan, DueItem
from tests import factories as f


def _dashboard(client) -> str:
    return client.get("/?lang=en").get_data(as_text=True)


def _link(page: str, label: str) -> str:
    """The list behind the chart element a user reads as ``label`` (its aria-label and <title>)."""
    found = re.search(r'<a href="([^"]+)" aria-label="' + re.escape(html.escape(label)) + '"', page)
    assert found, f"no chart element {label!r}"
    return html.unescape(found.group(1))


def _due(wu, kind, status, due_on):
    db.session.add(DueItem(water_user_id=wu.id, kind=kind, status=status, due_on=due_on, params={}))


def test_grade_and_division_bars_count_the_files_and_open_exactly_them(client, auth):
    a_files = [f.WaterUserFactory(grade="A", score=92.0, division_code="001") for _ in range(3)]
    d_file = f.WaterUserFactory(grade="D", score=40.0, division_code="102", industry_code="2221")
    unrated = f.WaterUserFactory(grade=None, division_code="001")
    f.WaterUserFactory(grade="A", division_code="001", status="suspended")  # not an active file
    f.admin(username="admin")
    auth.login("admin")
    page = _dashboard(client)
    assert "<title>A: 3</title>" in page and "<title>D: 1</title>" in page
    assert "<title>Not evaluated: 1</title>" in page
    assert "<title>Choucheng · A: 3</title>" in page and "<title>Yiting · D: 1</title>" in page
    assert "<title>Choucheng · D: 1</title>" not in page  # no empty segment drawn

    listing = client.get(_link(page, "Choucheng · A: 3") + "&lang=en").get_data(as_text=True)
    assert "3 water users match." in listing
    assert all(wu.name in listing for wu in a_files)
    assert d_file.name not in listing and unrated.name not in listing

    unrated_list = client.get(_link(page, "Not evaluated: 1")).get_data(as_text=True)
    assert unrated.name in unrated_list and a_files[0].name not in unrated_list

    assert "<title>Cotton printing, dyeing and finishing · A: 3</title>" in page
    industry = client.get(_link(page, "Machine-made paper and paperboard · D: 1")).get_data(as_text=True)
    assert d_file.name in industry and a_files[0].name not in industry


def test_due_bars_count_the_work_queue_and_open_it_filtered(client, auth):
    today = clock.today()
    late, soon, lapsed = (f.WaterUserFactory() for _ in range(3))
    _due(late, "calibration", "overdue", today - timedelta(days=30))
    _due(soon, "calibration", "due_soon", today + timedelta(days=20))
    _due(lapsed, "calibration", "due_soon", today - timedelta(days=1))  # overdue since yesterday
    _due(soon, "permit_renewal", "due_soon", today + timedelta(days=60))
    db.session.commit()
    f.admin(username="admin")
    auth.login("admin")
    page = _dashboard(client)
    assert "<title>Meter verification · Overdue: 2</title>" in page
    assert "<title>Meter verification · Due soon: 1</title>" in page
    assert "<title>Permit renewal · Due soon: 1</title>" in page
    assert "Water-balance test" not in page.split('id="chart-due"')[1].split("</section>")[0]

    queue = client.get(_link(page, "Meter verification · Overdue: 2")).get_data(as_text=True)
    assert late.name in queue and lapsed.name in queue and soon.name not in queue


def test_volume_chart_sets_readings_against_permits_and_plans(client, auth):
    year = clock.today().year
    meter = f.MeterFactory()
    wu = meter.water_user
    f.PermitFactory(water_user=wu, valid_from=date(year - 1, 6, 1), valid_to=date(year + 2, 5, 31),
                    annual_volume_m3=120_000)
    db.session.add(AnnualPlan(water_user_id=wu.id, year=year, planned_volume_m3=60_000))
    f.ReadingFactory(meter=meter, period=date(year, 1, 1), volume_m3=7_000)
    f.ReadingFactory(meter=meter, period=date(year - 1, 12, 1), volume_m3=9_999)  # last year: not shown
    f.admin(username="admin")
    auth.login("admin")
    page = _dashboard(client)
    assert "<title>01 · Read: 7,000 m³</title>" in page
    assert "<title>01 · Permitted (annual ÷ 12): 10,000 m³</title>" in page
    assert "<title>12 · Planned (annual plan ÷ 12): 5,000 m³</title>" in page
    assert "9,999" not in page


def test_inspector_sees_only_their_divisions(client, auth):
    mine = f.WaterUserFactory(grade="B", division_code="001")
    other = f.WaterUserFactory(grade="B", division_code="102")
    _due(other, "calibration", "overdue", clock.today() - timedelta(days=5))
    db.session.commit()
    f.inspector(username="insp", divisions=("001",))
    auth.login("insp")
    page = _dashboard(client)
    assert "<title>B: 1</title>" in page and "<title>Choucheng · B: 1</title>" in page
    assert "Yiting" not in page and "Meter verification" not in page.split('id="chart-due"')[1]
    listing = client.get(_link(page, "B: 1")).get_data(as_text=True)
    assert mine.name in listing and other.name not in listing


def test_empty_registry_renders_the_dashboard_in_both_languages(client, auth):
    f.admin(username="admin")
    auth.login("admin")
    page = _dashboard(client)
    assert 'id="dashboard-empty"' in page and "No readings, permits or plans" in page
    chinese = client.get("/?lang=zh_CN")
    assert chinese.status_code == 200 and "工作台" in chinese.get_data(as_text=True)


def test_files_opened_per_month_link_to_that_month(client, auth):
    this_month = clock.today().replace(day=1)
    new = f.WaterUserFactory(opened_on=this_month)
    old = f.WaterUserFactory(opened_on=date(2015, 1, 5))
    f.admin(username="admin")
    auth.login("admin")
    page = _dashboard(client)
    label = f"{this_month:%Y-%m} · Files opened: 1" if this_month.month == 1 else f"{this_month:%m} · Files opened: 1"
    listing = client.get(_link(page, label)).get_data(as_text=True)
    assert new.name in listing and old.name not in listing


def test_list_filters_by_grade_and_opening_month_and_exports_what_is_filtered(client, auth):
    march = f.WaterUserFactory(grade="C", opened_on=date(2026, 3, 9))
    april = f.WaterUserFactory(grade=None, opened_on=date(2026, 4, 1))
    f.admin(username="admin")
    auth.login("admin")
    by_grade = client.get("/water-users/?grade=C").get_data(as_text=True)
    assert march.name in by_grade and april.name not in by_grade
    assert "grade=C" in by_grade.split('id="export-links"')[1]  # the export keeps the filter
    unrated = client.get("/water-users/?grade=none").get_data(as_text=True)
    assert april.name in unrated and march.name not in unrated
    in_march = client.get("/water-users/?opened=2026-03").get_data(as_text=True)
    assert march.name in in_march and april.name not in in_march
    for odd in ("2026-13", "9999-12", "2026-3", "x", "2026-03-01"):  # ignored, never a 500
        page = client.get(f"/water-users/?opened={odd}")
        assert page.status_code == 200 and april.name in page.get_data(as_text=True), odd


def test_dashboard_queries_do_not_grow_with_the_number_of_files(client, auth, app):
    from sqlalchemy import event

    f.admin(username="admin")
    auth.login("admin")
    statements = []

    def count(*_args):
        statements.append(1)

    def queries() -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get("/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    f.WaterUserFactory(grade="A")
    few = queries()
    for i in range(12):
        wu = f.WaterUserFactory(grade="ABCD"[i % 4], division_code=("001", "102", "002")[i % 3])
        f.PermitFactory(water_user=wu)
        _due(wu, "calibration", "overdue", clock.today() - timedelta(days=i + 1))
    db.session.commit()
    assert queries() == few
