"""Bulk readings (issue 8): an archive month sent as backfill is stored but cannot change the
score, so the file is not marked for re-scoring; a month the rules look at is, and the file is
re-scored after the answer (inline in tests, by one coalesced job of the task queue, or
`recompute --pending`)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from registry import rescoring
from registry.clock import today as bureau_today
from registry.domain.dates import add_months
from registry.extensions import db
from registry.models import DueItem, Evaluation, Job, PendingEvaluation, Reading, utcnow
from registry.services import evaluations, jobs, rules_versions
from registry.services.readings_bulk import first_scored_month
from tests import factories as f

TODAY = bureau_today()


def _post(api, meter, months, volume=80.0):
    return api.post("/api/v1/readings", json={"readings": [
        {"meter_id": meter.id, "period": f"{m:%Y-%m}", "volume_m3": volume, "source": "online"} for m in months]})


def _state(wu_id):
    evaluations_ = db.session.scalars(select(Evaluation.id).where(Evaluation.water_user_id == wu_id)).all()
    due = db.session.execute(select(DueItem.kind, DueItem.record_id, DueItem.due_on, DueItem.status)
                             .where(DueItem.water_user_id == wu_id).order_by(DueItem.kind, DueItem.record_id)).all()
    return evaluations_, due


def test_backfilled_archive_months_are_stored_and_leave_the_score_as_a_full_refresh_finds_it(api_as):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=6 * 365))
    f.PermitFactory(water_user=meter.water_user)
    wu_id = meter.water_user_id
    rules = rules_versions.current(db.session)
    evaluations.refresh(db.session, rules, TODAY, [wu_id])
    db.session.commit()
    before = _state(wu_id)
    first = first_scored_month(rules, TODAY)
    archive = [add_months(first, -n) for n in range(1, 25)]

    response = _post(api_as(f.admin()), meter, archive)

    assert response.status_code == 200 and response.json == {"created": 24, "unchanged": 0, "rescoring_files": 0}
    assert db.session.scalar(select(func.count()).select_from(Reading).where(Reading.meter_id == meter.id)) == 24
    assert _state(wu_id) == before
    # the nightly full refresh agrees: nothing it would store differs from what is there
    outcome = evaluations.refresh(db.session, rules, TODAY, [wu_id])
    db.session.commit()
    assert outcome.changed == 0 and _state(wu_id)[0] == before[0]
    assert _state(wu_id)[1] == before[1]


def test_a_reading_of_a_scored_month_re_evaluates_the_file(api_as):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=6 * 365))
    f.PermitFactory(water_user=meter.water_user)
    rules = rules_versions.current(db.session)
    evaluations.refresh(db.session, rules, TODAY, [meter.water_user_id])
    db.session.commit()
    before = _state(meter.water_user_id)

    last_month = add_months(TODAY.replace(day=1), -1)
    assert _post(api_as(f.admin()), meter, [last_month]).status_code == 200

    after = _state(meter.water_user_id)
    assert after != before  # the records rule counts the month, and last month's reading is no longer due


def test_a_full_batch_of_10000_readings_is_accepted_and_a_resend_changes_nothing(api_as):
    """10,000 is the documented maximum; PostgreSQL once refused it (a row-value IN of 10,000
    pairs exceeded its stack depth)."""
    meters = [f.MeterFactory(installed_on=TODAY - timedelta(days=12 * 365)) for _ in range(100)]
    first = add_months(first_scored_month(rules_versions.current(db.session), TODAY), -1)
    batch = [{"meter_id": m.id, "period": f"{add_months(first, -n):%Y-%m}", "volume_m3": 10.0, "source": "online"}
             for m in meters for n in range(100)]
    api = api_as(f.admin())

    assert api.post("/api/v1/readings", json={"readings": batch}).json == {"created": 10_000, "unchanged": 0,
                                                                                "rescoring_files": 0}
    assert api.post("/api/v1/readings", json={"readings": batch}).json == {"created": 0, "unchanged": 10_000,
                                                                                "rescoring_files": 0}
    batch[-1]["volume_m3"] = -1
    refused = api.post("/api/v1/readings", json={"readings": batch})
    assert refused.status_code == 422 and list(refused.json["errors"]) == ["readings[9999].volume_m3"]
    assert db.session.scalar(select(func.count()).select_from(Reading)) == 10_000


def _pending():
    db.session.commit()  # see what other transactions (the re-scoring job) committed
    return db.session.scalars(select(PendingEvaluation.water_user_id).order_by(PendingEvaluation.water_user_id)).all()


def _scored_file(app):
    meter = f.MeterFactory(installed_on=TODAY - timedelta(days=6 * 365))
    f.PermitFactory(water_user=meter.water_user)
    evaluations.refresh(db.session, rules_versions.current(db.session), TODAY, [meter.water_user_id])
    db.session.commit()
    return meter


def test_with_rescoring_off_the_file_waits_marked_once_until_recompute_pending(app, api_as):
    app.config["EVALUATE_PENDING"] = "off"
    meter = _scored_file(app)
    wu_id = meter.water_user_id
    before = _state(wu_id)
    api = api_as(f.admin())
    last, earlier = add_months(TODAY.replace(day=1), -1), add_months(TODAY.replace(day=1), -2)

    assert _post(api, meter, [last]).json["rescoring_files"] == 1
    assert _post(api, meter, [earlier]).json["rescoring_files"] == 1
    assert _state(wu_id) == before  # stored, not yet scored
    assert _pending() == [wu_id]  # one mark for both batches

    result = app.test_cli_runner().invoke(args=["registry", "recompute", "--pending"])

    assert result.exit_code == 0, result.output
    assert "evaluated 1 water users" in result.output
    assert _pending() == []
    after = _state(wu_id)
    assert after != before
    # what a full refresh would store now is what is there
    assert evaluations.refresh(db.session, rules_versions.current(db.session), TODAY, [wu_id]).changed == 0


def _rescore_jobs():
    db.session.commit()  # see what the job committed
    return db.session.scalars(select(Job).where(Job.kind == rescoring.KIND).order_by(Job.created_at)).all()


def test_a_burst_of_batches_makes_one_rescoring_job_of_the_queue_that_scores_the_file_after_the_answer(
        app, api_as, waiting_queue, auth, client):
    meter = _scored_file(app)
    wu_id = meter.water_user_id
    before = _state(wu_id)
    admin = f.admin()
    api, username = api_as(admin), admin.username

    for back in (1, 2, 3):  # three batches for the same file, back to back
        assert _post(api, meter, [add_months(TODAY.replace(day=1), -back)]).json["rescoring_files"] == 1

    assert [j.state for j in _rescore_jobs()] == ["queued"]  # one job for the three batches ...
    assert waiting_queue.messages == 1  # ... and one message to the queue
    assert _state(wu_id) == before and _pending() == [wu_id]  # answered before any scoring

    assert waiting_queue.work() == 1

    [job] = _rescore_jobs()
    assert job.state == "done" and job.done == job.total == 1
    assert job.result["evaluated"] == 1 and job.result["rate"] > 0 and job.result["seconds"] > 0
    assert _pending() == [] and _state(wu_id) != before
    assert evaluations.refresh(db.session, rules_versions.current(db.session), TODAY, [wu_id]).changed == 0
    db.session.rollback()
    auth.login(username)
    page = client.get("/admin/jobs?lang=en").get_data(as_text=True)
    assert "Re-scoring after bulk readings" in page and "readings received through the API" in page
    assert "Files scored: 1 in" in page


def test_a_batch_arriving_while_the_rescoring_job_runs_gets_the_next_job(app, api_as, waiting_queue):
    meter = _scored_file(app)
    api = api_as(f.admin())
    _post(api, meter, [add_months(TODAY.replace(day=1), -1)])
    [first] = _rescore_jobs()
    assert jobs.claim(db.session, first.id)  # a worker took it: it no longer stands for later batches

    _post(api, meter, [add_months(TODAY.replace(day=1), -2)])

    assert [j.state for j in _rescore_jobs()] == ["running", "queued"]
    assert waiting_queue.messages == 2


def test_marks_left_by_a_restart_are_picked_up_by_the_queues_minutely_recover_task(app, api_as, waiting_queue):
    """Marks with no job (a crash between the commit and the enqueue), and a waiting job whose
    message the queue lost: the minutely ``recover`` gives the marks a job, and the next batch
    sends the lost job's message again; no file waits for the nightly run, no job is doubled."""
    meter = _scored_file(app)
    wu_id = meter.water_user_id
    evaluations.queue(db.session, [wu_id])  # marked and committed, then the process died
    db.session.commit()

    app.extensions["queue_tasks"]["recover"].call_local()

    [job] = _rescore_jobs()
    assert job.state == "queued" and waiting_queue.messages == 1
    app.extensions["queue_tasks"]["recover"].call_local()  # a job is waiting: nothing more
    assert len(_rescore_jobs()) == 1 and waiting_queue.messages == 1

    waiting_queue.lose_messages()
    db.session.execute(update(Job).where(Job.id == job.id).values(created_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    _post(api_as(f.admin()), meter, [add_months(TODAY.replace(day=1), -1)])
    assert len(_rescore_jobs()) == 1 and waiting_queue.messages == 1  # the same job, told again

    assert waiting_queue.work() == 1
    assert [j.state for j in _rescore_jobs()] == ["done"] and _pending() == []


def test_readings_are_stored_when_the_queue_is_unreachable_and_the_sweep_sends_their_job_later(
        app, api_as, waiting_queue, monkeypatch, caplog):
    from registry import queue

    meter = _scored_file(app)
    wu_id = meter.water_user_id
    real_enqueue = queue.enqueue

    def redis_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(queue, "enqueue", redis_down)
    response = _post(api_as(f.admin()), meter, [add_months(TODAY.replace(day=1), -1)])

    assert response.status_code == 200 and response.json["created"] == 1  # stored, not a 500
    assert "could not queue re-scoring job" in caplog.text
    [job] = _rescore_jobs()
    assert job.state == "queued" and waiting_queue.messages == 0 and _pending() == [wu_id]

    monkeypatch.setattr(queue, "enqueue", real_enqueue)  # the queue is back
    db.session.execute(update(Job).where(Job.id == job.id).values(created_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    app.extensions["queue_tasks"]["recover"].call_local()
    assert waiting_queue.messages == 1 and waiting_queue.work() == 1
    assert [j.state for j in _rescore_jobs()] == ["done"] and _pending() == []


def test_a_file_marked_again_while_its_batch_is_scored_stays_marked_for_the_next_drain(app, monkeypatch):
    meter = _scored_file(app)
    wu_id = meter.water_user_id
    evaluations.queue(db.session, [wu_id])
    db.session.commit()
    real_refresh = evaluations.refresh

    def refresh_while_a_batch_arrives(session, *args, **kwargs):
        outcome = real_refresh(session, *args, **kwargs)
        evaluations.queue(session, [wu_id])  # a batch for the same file, after its facts were read
        return outcome

    monkeypatch.setattr(evaluations, "refresh", refresh_while_a_batch_arrives)
    assert evaluations.drain(db.session).evaluated == 1
    assert _pending() == [wu_id]  # the newer mark survives the drain that began before it
    monkeypatch.setattr(evaluations, "refresh", real_refresh)
    assert evaluations.drain(db.session).evaluated == 1
    assert _pending() == []


def test_the_nightly_run_takes_the_waiting_files_off_the_queue(app):
    meter = _scored_file(app)
    evaluations.queue(db.session, [meter.water_user_id])
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["registry", "recompute", "--all", "--workers", "1"])

    assert result.exit_code == 0, result.output
    assert _pending() == []


def test_recompute_pending_does_not_mix_with_other_selections(app):
    result = app.test_cli_runner().invoke(args=["registry", "recompute", "--pending", "--all"])
    assert result.exit_code == 2 and "--pending goes alone" in result.output


def test_the_file_page_says_while_new_readings_wait_to_be_scored(app, api_as, auth, client):
    app.config["EVALUATE_PENDING"] = "off"
    meter = _scored_file(app)
    wu_id = meter.water_user_id
    admin = f.admin()
    _post(api_as(admin), meter, [add_months(TODAY.replace(day=1), -1)])
    auth.login(admin.username)

    waiting = client.get(f"/water-users/{wu_id}").get_data(as_text=True)
    assert "data-rescoring" in waiting and "正在重新评分" in waiting

    app.test_cli_runner().invoke(args=["registry", "recompute", "--pending"])
    assert "data-rescoring" not in client.get(f"/water-users/{wu_id}").get_data(as_text=True)


def test_an_unknown_rescoring_mode_stops_the_start_naming_the_setting(tmp_path):
    from registry import create_app
    from registry.config import ConfigError

    with pytest.raises(ConfigError, match="REGISTRY_EVALUATE_PENDING"):
        create_app({"EVALUATE_PENDING": "sometimes", "SECRET_KEY": "x", "UPLOAD_DIR": str(tmp_path),
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})


def test_a_file_whose_scoring_fails_stays_marked_and_the_others_are_scored(app, monkeypatch, caplog):
    meters = [_scored_file(app) for _ in range(5)]
    ids = sorted(m.water_user_id for m in meters)
    broken = ids[2]
    evaluations.queue(db.session, ids)
    db.session.commit()
    real_judge = evaluations._judge

    def judge(facts, today, rules):
        if facts.water_user_id == broken:
            raise ValueError("a record this rule's code did not expect")
        return real_judge(facts, today, rules)

    monkeypatch.setattr(evaluations, "_judge", judge)
    outcome = evaluations.drain(db.session, batch=10)

    assert outcome.evaluated == 4
    assert _pending() == [broken]
    assert f"scoring file {broken} failed" in caplog.text
    monkeypatch.setattr(evaluations, "_judge", real_judge)  # the code fixed: the next drain scores it
    assert evaluations.drain(db.session).evaluated == 1 and _pending() == []
