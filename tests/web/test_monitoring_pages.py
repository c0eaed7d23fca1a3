"""The online monitoring pages (issue 17): the staff's telemetry CSV upload and the list of
online meters with their completeness, silent ones first."""
from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.domain.dates import add_months
from registry.extensions import db
from registry.models import Reading
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
TODAY = bureau_today()
LAST_MONTH = add_months(TODAY.replace(day=1), -1)


def _at(day, hour):
    return datetime.combine(day, time(hour), tzinfo=SH).isoformat()


def _csv(rows, header="在线监测编号,时间,累计读数(m³),瞬时流量(m³/h)", encoding="utf-8-sig"):
    text = header + "\n" + "\n".join(",".join(str(c) for c in r) for r in rows) + "\n"
    return io.BytesIO(text.encode(encoding))


def _meter(tid="YWT-CSV"):
    meter = f.MeterFactory(telemetry_id=tid, installed_on=TODAY - timedelta(days=400))
    f.CalibrationFactory(meter=meter, calibrated_on=TODAY - timedelta(days=300), kind="initial", next_due_on=None)
    db.session.commit()
    return meter


def test_a_csv_upload_stores_the_good_rows_and_names_each_refused_line(client, auth):
    meter = _meter()
    auth.login(f.admin(username="csvadmin").username)
    d = LAST_MONTH + timedelta(days=4)
    rows = [("YWT-CSV", _at(d, 0), 100, 2.5), ("YWT-CSV", _at(d, 6), 160, ""), ("YWT-CSV", "2026-11-01", 1, ""),
            ("YWT-CSV", _at(d, 7), "abc", "")]
    response = client.post("/monitoring/telemetry/upload", data={"file": (_csv(rows, encoding="gb18030"), "t.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 303 and "/monitoring/telemetry/jobs/" in response.headers["Location"]
    response = client.get(response.headers["Location"])  # the job read it (in the tests, at once)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "4 行：存储 2 行，已存在 0 行，拒收 2 行。" in page
    assert "<td>4</td><td>at</td>" in page and "<td>5</td><td>totalizer_m3</td>" in page
    derived = db.session.scalars(select(Reading).where(Reading.meter_id == meter.id, Reading.read_on.is_(None))).one()
    assert derived.volume_m3 == 60.0  # 160 − 100
    again = client.post("/monitoring/telemetry/upload", data={"file": (_csv(rows), "t.csv")},
                        content_type="multipart/form-data", follow_redirects=True)
    assert "4 行：存储 0 行，已存在 2 行，拒收 2 行。" in again.get_data(as_text=True)


def test_a_csv_without_the_columns_is_refused_with_the_reason_and_no_500(client, auth):
    auth.login(f.admin(username="csvadmin2").username)
    response = client.post("/monitoring/telemetry/upload", data={"file": (_csv([], header="a,b"), "t.csv")},
                           content_type="multipart/form-data", follow_redirects=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "第一行须列出在线监测编号、时间和累计读数(m³)三列" in body
    assert 'action="/monitoring/telemetry/upload"' in body  # the form again, sent to the upload
    wide = b"telemetry_id,at,totalizer_m3\n" + b'"' + b"x" * 200_000 + b'",a,1\n'  # a field past csv's limit
    response = client.post("/monitoring/telemetry/upload", data={"file": (io.BytesIO(wide), "t.csv")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 422 and "无法读取 CSV 文件" in response.get_data(as_text=True)
    response = client.post("/monitoring/telemetry/upload", data={"file": (io.BytesIO(b"\xff\xfe\x00"), "t.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 400


def test_the_enterprise_cannot_upload_and_the_list_puts_silent_meters_first(client, auth):
    quiet, talking = _meter("YWT-Q"), _meter("YWT-T")
    auth.login(f.enterprise(quiet.water_user, username="entcsv").username)
    assert client.get("/monitoring/telemetry/upload").status_code == 403  # a staff page: forbidden to the role (access.ACTIONS)
    auth.logout()
    auth.login(f.admin(username="csvadmin3").username)
    client.post("/monitoring/telemetry/upload", data={"file": (_csv([
        ("YWT-Q", _at(TODAY - timedelta(days=5), 1), 10, ""),  # 4+ days ago: beyond 72 h
        ("YWT-T", _at(TODAY - timedelta(days=1), 1), 10, ""), ("YWT-T", _at(TODAY, 0), 11, "")]), "t.csv")},
        content_type="multipart/form-data")
    page = client.get("/monitoring/?silent=1").get_data(as_text=True)
    assert "YWT-Q" in page and "YWT-T" not in page
    full = client.get("/monitoring/").get_data(as_text=True)
    assert full.index("YWT-Q") < full.index("YWT-T")


def test_the_meter_page_draws_the_daily_series_with_its_gaps_and_the_months_flags(client, auth):
    meter = _meter("YWT-P")
    auth.login(f.admin(username="meterpage").username)
    d = TODAY - timedelta(days=10)
    client.post("/monitoring/telemetry/upload", data={"file": (_csv([
        ("YWT-P", _at(d, 1), 100, ""), ("YWT-P", _at(d + timedelta(days=1), 1), 130, ""),
        ("YWT-P", _at(d + timedelta(days=4), 1), 190, "")]), "t.csv")}, content_type="multipart/form-data")
    page = client.get(f"/monitoring/meters/{meter.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    # window: the 90 days ending today (the meter is older); data on today−10, −9 and −6: 3 days.
    # Gaps: today−89 … today−11 = 79 days, then 2 (−8, −7), then 6 (−5 … today): the longest is 79.
    assert "90 天中有 3 天有数据" in body and "<svg" in body
    assert '<dd class="col-sm-9">79</dd>' in body
    other = f.enterprise(meter.water_user, username="meterpage-ent")
    auth.logout()
    auth.login(other.username)
    assert client.get(f"/monitoring/meters/{meter.id}").status_code == 403  # its own meter, but a staff page


def test_item6_the_upload_request_stores_the_csv_and_a_job_reads_it(client, auth, monkeypatch):
    """Issue 16 item 6: the request neither counts nor parses the lines; the job does."""
    from registry import queue
    from registry.services import telemetry_csv

    _meter("YWT-J")
    auth.login(f.admin(username="csvjob").username)
    queued = []
    monkeypatch.setattr(queue, "enqueue", lambda job_id, *a, **k: queued.append(job_id))

    def parsed(*a, **k):
        raise AssertionError("the request read the CSV")

    with monkeypatch.context() as m:
        for name in ("run", "read", "count_rows"):
            m.setattr(telemetry_csv, name, parsed)
        response = client.post("/monitoring/telemetry/upload", data={"file": (_csv([
            ("YWT-J", _at(TODAY - timedelta(days=1), 1), 10, "")]), "t.csv")}, content_type="multipart/form-data")
        assert response.status_code == 303 and len(queued) == 1
        page = client.get(response.headers["Location"])
        assert page.status_code == 200 and '<progress class="w-100"' in page.get_data(as_text=True)
    client.application.extensions["queue_tasks"]["run_job"](queued[0])
    assert "1 行：存储 1 行" in client.get(response.headers["Location"]).get_data(as_text=True)
