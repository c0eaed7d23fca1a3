"""The task queue with real workers: ``flask registry worker`` processes on a SQLite queue file and
the test's database. A worker killed in the middle of a certificate batch leaves a job that the
next worker finishes: every file ends with one certificate, issued once, and the job's page says so.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from huey import SqliteHuey

from registry import queue
from registry.extensions import db
from registry.models import Certificate, Job, utcnow
from registry.services import certificates, jobs
from tests import factories as f
from tests.conftest import ROOT
from tests.factories.certificates import graded_file

FILES = 240  # three of certificates.CHUNK (100) a transaction: the kill lands between two commits
STALE = 2  # seconds without a heartbeat before a running job counts as lost (JOB_STALE_SECONDS)


def _worker(database_url: str, queue_path: Path, upload_dir: Path, batch_dir: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "REGISTRY_DATABASE_URL": database_url, "REGISTRY_QUEUE_PATH": str(queue_path),
           "REGISTRY_UPLOAD_DIR": str(upload_dir), "REGISTRY_BATCH_DIR": str(batch_dir),
           "REGISTRY_JOB_STALE_SECONDS": str(STALE), "REGISTRY_SECRET_KEY": "test-secret"}
    env.pop("REGISTRY_TEST_AT", None)
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "registry", "worker", "--workers", "1"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _enqueue(queue_path: Path, job_id: str) -> None:
    """Tell the workers' queue (a SQLite file) about the job, as a web process would."""
    def stand_in(job_id):  # the message names the task (module and name); the worker runs its own
        raise AssertionError("runs in the worker")

    stand_in.__module__ = queue.__name__
    huey = SqliteHuey("registry", filename=str(queue_path))
    huey.task(name=queue.RUN_JOB)(stand_in)(job_id)
    huey.storage.close()


def _job(job_id: str) -> SimpleNamespace:
    """The job as stored now, read in a short transaction of its own: on SQLite an open read
    would hold the lock the worker needs to commit."""
    db.session.rollback()
    job = db.session.get(Job, job_id)
    seen = SimpleNamespace(**{c.key: getattr(job, c.key) for c in Job.__table__.columns})
    db.session.rollback()
    return seen


def _wait(condition, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"{what} within {seconds} s; worker log:\n{log.read_text(errors='replace')[-3000:]}")


def test_a_worker_killed_mid_batch_leaves_a_job_the_next_worker_finishes_issuing_each_certificate_once(
        app, client, auth, tmp_path):
    admin = f.admin(username="officer")
    files = [graded_file("A") for _ in range(FILES)]
    ids = [wu.id for wu in files]
    job = jobs.create(db.session, "certificate_batch", admin, {"which": "missing", "ids": ids, "fmt": "pdf"},
                      total=FILES)
    _enqueue(tmp_path / "queue.db", job.id)
    log = tmp_path / "worker.log"
    args = (app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "queue.db", Path(app.config["UPLOAD_DIR"]),
            Path(app.config["BATCH_DIR"]), log)

    first = _worker(*args)
    try:  # kill it once the first chunk of certificates is committed, before the last one is
        _wait(lambda: len((_job(job.id).result or {}).get("issued", [])) >= certificates.CHUNK, 180,
              "the first worker committed no chunk", log)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    stopped = _job(job.id)
    issued_before = len(stopped.result["issued"])
    assert stopped.state == "running" and certificates.CHUNK <= issued_before < FILES
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == issued_before
    db.session.rollback()  # no read left open while the next worker writes

    # The page tells the officer while the job waits for a worker again.
    auth.login("officer")
    time.sleep(STALE + 0.5)  # its heartbeat is now older than JOB_STALE_SECONDS
    second = _worker(*args)
    try:
        done = _wait(lambda: (j := _job(job.id)).state in ("done", "failed") and j, 240,
                     "the second worker did not finish the job", log)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)

    assert (done.state, done.attempts) == ("done", 2)
    per_file = dict(db.session.execute(select(Certificate.water_user_id, func.count()).group_by(Certificate.water_user_id)).all())
    assert per_file == {wu_id: 1 for wu_id in ids}  # every file one certificate: none twice, none missing
    assert sorted(done.result["issued"]) == sorted(db.session.scalars(select(Certificate.id)))
    page = client.get(f"/certificates/batch/{job.id}?lang=en").get_data(as_text=True)
    assert f"{FILES} certificates issued, each once" in page
    pdf = client.get(f"/certificates/batch/{job.id}/file")
    try:
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    finally:
        pdf.close()


def test_a_job_whose_worker_died_is_queued_again_then_failed_after_its_last_run(app):
    admin = f.admin()
    job = jobs.create(db.session, "certificate_batch", admin, {"which": "valid", "ids": [], "fmt": "pdf"})
    long_ago = utcnow() - timedelta(seconds=jobs.STALE_SECONDS + 1)
    for run in range(1, jobs.MAX_ATTEMPTS + 1):
        assert jobs.claim(db.session, job.id)
        db.session.execute(db.update(Job).where(Job.id == job.id).values(heartbeat_at=long_ago))
        db.session.commit()
        again = jobs.recover(db.session)
        assert (again, _job(job.id).state) == (([job.id], "queued") if run < jobs.MAX_ATTEMPTS else ([], "failed"))
    assert "3 runs" in _job(job.id).error
    # A job that is alive (a fresh heartbeat) is left alone, whoever runs recover.
    live = jobs.create(db.session, "certificate_batch", admin, {"which": "valid", "ids": [], "fmt": "pdf"})
    jobs.claim(db.session, live.id)
    assert jobs.recover(db.session) == [] and _job(live.id).state == "running"


def test_two_workers_told_the_same_job_run_it_once(app):
    job = jobs.create(db.session, "certificate_batch", f.admin(), {"which": "valid", "ids": [], "fmt": "pdf"})
    assert [jobs.claim(db.session, job.id), jobs.claim(db.session, job.id)] == [True, False]


def test_the_bureau_sees_each_job_its_state_and_why_it_failed(app, client, auth):
    admin = f.admin(username="boss")
    job = jobs.create(db.session, "import", admin, {"path": "/nowhere/gone.xlsx", "fmt": "xlsx", "apply": True})
    queue.enqueue(job.id)  # immediate in the tests: runs here, and fails (the upload is gone)
    auth.login("boss")
    page = client.get("/admin/jobs?lang=en").get_data(as_text=True)
    assert "Spreadsheet import" in page and "failed" in page and "the uploaded file is no longer there" in page
    assert admin.label in page


def test_output_folders_older_than_a_day_are_removed_and_the_jobs_kept(app, tmp_path):
    old, new = tmp_path / ("a" * 32), tmp_path / ("b" * 32)
    for folder in (old, new):
        folder.mkdir()
        (folder / "certificates.pdf").write_bytes(b"%PDF")
    day_ago = time.time() - jobs.KEEP_SECONDS - 60
    os.utime(old, (day_ago, day_ago))
    assert jobs.clean_outputs(tmp_path) == 1
    assert not old.exists() and new.exists()


def test_an_import_over_its_time_budget_stops_and_changes_nothing(app, tmp_path):
    """Issue 16 item 6: the queue's import has a time budget (REGISTRY_IMPORT_MAX_SECONDS); one over
    it is refused in its report, saying why, and its one transaction is rolled back."""
    import json

    from registry.services.job_handlers import REPORT
    from registry.models import Reading

    wu = f.WaterUserFactory(file_no="YW-2020-0001")
    f.MeterFactory(intake_point=f.IntakePointFactory(water_user=wu), water_user=wu, serial="SN-000")
    path = tmp_path / "readings.csv"
    path.write_text("表号,月份,取水量(m³)\nSN-000,2025-01,10\nSN-000,2025-02,20\n", encoding="utf-8-sig")
    app.config["IMPORT_MAX_SECONDS"] = 0
    job = jobs.create(db.session, "import", f.admin(), {"path": str(path), "fmt": "csv", "apply": True})
    queue.enqueue(job.id)
    stopped = _job(job.id)
    assert stopped.state == "done" and stopped.result["applied"] is False
    report = json.loads((jobs.directory(app.config["BATCH_DIR"], job.id) / REPORT).read_text())
    assert "超过 0 秒" in report["errors"][0][4] and not report["applied"]
    assert db.session.scalar(select(func.count()).select_from(Reading)) == 0
    app.config["IMPORT_MAX_SECONDS"] = 900
    again = jobs.create(db.session, "import", f.admin(), {"path": str(path), "fmt": "csv", "apply": True})
    queue.enqueue(again.id)
    assert _job(again.id).state == "done" and db.session.scalar(select(func.count()).select_from(Reading)) == 2


def test_an_import_over_its_memory_budget_stops_and_changes_nothing(app, tmp_path, monkeypatch):
    """Issue 16 item 6: the memory budget (REGISTRY_IMPORT_MAX_MEMORY_MB) beside the time budget:
    what the worker gained since the job began, looked at every few hundred rows."""
    import json
    from itertools import count

    from registry.models import Reading
    from registry.services import job_handlers

    wu = f.WaterUserFactory(file_no="YW-2020-0001")
    f.MeterFactory(intake_point=f.IntakePointFactory(water_user=wu), water_user=wu, serial="SN-000")
    path = tmp_path / "readings.csv"
    path.write_text("表号,月份,取水量(m³)\n" + "".join(f"SN-000,{2000 + n // 12}-{n % 12 + 1:02d},10\n"
                                                     for n in range(300)), encoding="utf-8-sig")
    grows = count(100, 600)  # 100 MB when the job begins, 700 at the first look
    monkeypatch.setattr(job_handlers, "resident_mb", lambda: float(next(grows)))
    app.config["IMPORT_MAX_MEMORY_MB"] = 500
    job = jobs.create(db.session, "import", f.admin(), {"path": str(path), "fmt": "csv", "apply": True})
    queue.enqueue(job.id)
    stopped = _job(job.id)
    assert stopped.state == "done" and stopped.result["applied"] is False
    report = json.loads((jobs.directory(app.config["BATCH_DIR"], job.id) / job_handlers.REPORT).read_text())
    assert "超过 500 MB" in report["errors"][0][4] and report["rows"] < 300
    assert db.session.scalar(select(func.count()).select_from(Reading)) == 0
