"""Dynamic analysis pages (动态分析, issue 17): one file against plan and permit by month with
the expected band; the city by division and industry, its top movers against last year and the
online coverage of the users permitted ≥ 10,000 m³/yr (rules: thresholds.online_monitoring_m3_per_year).
Figures computed by hand."""
from __future__ import annotations

import re
from datetime import date, timedelta

from registry import clock
from registry.domain.dates import add_months
from tests import factories as f

TODAY = clock.today()
LAST = add_months(date(TODAY.year, TODAY.month, 1), -1)
YEAR_AGO = add_months(LAST, -12)


def _file(name, permitted, division="001", industry="1713", **meter):
    wu = f.WaterUserFactory(name=name, division_code=division, industry_code=industry)
    f.PermitFactory(water_user=wu, annual_volume_m3=permitted, valid_from=TODAY - timedelta(days=800),
                    valid_to=TODAY + timedelta(days=800))
    m = f.MeterFactory(intake_point=f.IntakePointFactory(water_user=wu, design_capacity_m3h=None), **meter)
    return wu, m


def _row(page: str, month: date) -> str:
    found = re.search(rf"<tr><td>{month:%Y-%m}</td>(.*?)</tr>", page, re.S)
    assert found, month
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_a_file_against_its_permit_and_the_band_of_last_year(client, auth):
    # permitted 24,000 m³/yr → 24,000 ÷ 12 = 2,000 m³ a month; last year's month 1,000 m³ → band
    # 1,000 × (1 − 60 %) … 1,000 × (1 + 60 %) = 400 – 1,600 m³ (monitoring.same_month_change_percent)
    wu, m = _file("甲印染公司", 24_000.0)
    f.ReadingFactory(meter=m, period=YEAR_AGO, volume_m3=1000.0)
    f.ReadingFactory(meter=m, period=LAST, volume_m3=1800.0)
    auth.login(f.admin(username="boss").username)
    page = client.get(f"/water-users/{wu.id}/analysis?lang=en").get_data(as_text=True)
    assert _row(page, LAST) == "1,800 m³ — 2,000 m³ 400 – 1,600 m³"
    assert 'class="text-end text-nowrap text-danger fw-bold"' in page  # 1,800 is outside the band
    assert "<svg" in page and f'href="/water-users/{wu.id}#readings"' in page


def test_a_plan_gives_the_month_its_allowance_by_days(client, auth):
    wu, m = _file("乙公司", 24_000.0)
    f.ReadingFactory(meter=m, period=LAST, volume_m3=500.0)
    from registry.models import AnnualPlan
    from registry.extensions import db

    db.session.add(AnnualPlan(water_user_id=wu.id, year=LAST.year, planned_volume_m3=3650.0))
    db.session.commit()
    auth.login(f.admin(username="boss").username)
    page = client.get(f"/water-users/{wu.id}/analysis?lang=en").get_data(as_text=True)
    days = (add_months(LAST, 1) - LAST).days
    year_days = (date(LAST.year + 1, 1, 1) - date(LAST.year, 1, 1)).days
    allowance = round(3650 * days / year_days)  # 3,650 m³ a year, 10 m³ a day in a 365-day year
    assert f"{allowance:,} m³" in _row(page, LAST)


def test_the_city_page_ranks_movers_and_counts_online_coverage(client, auth):
    up, m_up = _file("上升公司", 12_000.0, telemetry_id="GW-UP")
    down, m_down = _file("下降公司", 10_000.0, division="002", industry="2211")
    _file("小户公司", 9_999.0)
    f.ReadingFactory(meter=m_up, period=YEAR_AGO, volume_m3=1000.0)
    f.ReadingFactory(meter=m_up, period=LAST, volume_m3=2500.0)
    f.ReadingFactory(meter=m_down, period=YEAR_AGO, volume_m3=2000.0)
    f.ReadingFactory(meter=m_down, period=LAST, volume_m3=500.0)
    yesterday = TODAY - timedelta(days=1)
    f.ReadingFactory(meter=m_up, period=date(yesterday.year, yesterday.month, 1), read_on=yesterday,
                     volume_m3=40.0, source="online")
    auth.login(f.admin(username="boss").username)
    page = client.get(f"/analysis/?month={LAST:%Y-%m}&lang=en").get_data(as_text=True)
    rises = page[page.index('id="movers-up"'):page.index('id="movers-down"')]
    falls = page[page.index('id="movers-down"'):]
    assert "上升公司" in rises and "+1,500 m³" in rises and "+150.0 %" in rises  # 2,500 against 1,000
    assert "下降公司" in falls and "-1,500 m³" in falls and "-75.0 %" in falls  # 500 against 2,000
    # 12,000 and 10,000 m³/yr are required to monitor online, 9,999 is not; one has an online meter
    # that reported yesterday
    assert ("2 users are permitted 10,000 m³/yr or more: 1 have an online meter, 1 of them reported"
            in re.sub(r"\s+", " ", page))
    by_division = page[page.index('id="by-division"'):page.index('id="by-industry"')]
    assert "/water-users/?division=001&amp;status=active" in by_division and "2,500" in by_division
    assert f'href="/analysis/?month={LAST:%Y-%m}#breakdown"' in page


def test_an_enterprise_has_no_analysis_page(client, auth):
    wu, _ = _file("丙公司", 12_000.0)
    auth.login(f.enterprise(wu, username="ent1").username)
    assert client.get(f"/water-users/{wu.id}/analysis").status_code == 403
    assert client.get("/analysis/").status_code == 403
