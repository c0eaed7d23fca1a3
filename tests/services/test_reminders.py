"""Reminders against a real SMTP server (aiosmtpd, started by the test): the right mails arrive,
a rerun sends nothing new, a refused mail fails and makes a letter due."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from registry.clock import today as bureau_today
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.models import AuditEvent, Communication, MessageTemplate
from registry.pdf import letter as letter_pdf
from registry.services import ValidationError, communications, messages, reminders
from registry.services.mailer import MailSettings
from tests import factories as f
from tests.mailbox import body_of, mail, smtp_server  # noqa: F401  (fixtures)

TODAY = bureau_today()
RULES = load_rules()


def _file(expires_in: int = 60, email: str | None = "water@dyeing.example", **fields):
    """A file whose only duty in sight is its permit's renewal (small volume: no plan; no meter)."""
    wu = f.WaterUserFactory(email=email, industry_code="1811", opened_on=TODAY - timedelta(days=1500), **fields)
    point = f.IntakePointFactory(water_user=wu)
    permit = f.PermitFactory(water_user=wu, annual_volume_m3=2000, issued_on=TODAY - timedelta(days=1400),
                             valid_from=TODAY - timedelta(days=1400), valid_to=TODAY + timedelta(days=expires_in))
    permit.intake_points = [point]
    db.session.commit()
    return wu, permit


def _run(today=TODAY, **kw):
    return reminders.run(db.session, today, RULES, reminders.Settings(), **kw)


def _send(app):
    return reminders.deliver(db.session, MailSettings.from_config(app.config))


def _rows(**where) -> list[Communication]:
    stmt = select(Communication).order_by(Communication.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(Communication, key) == value)
    return list(db.session.scalars(stmt))


def test_permit_expiring_in_60_days_gets_the_90_day_reminder_by_mail(app, mail):
    wu, permit = _file(expires_in=60)
    _run()
    outcome = _send(app)
    assert outcome.sent == 1 and not outcome.failed
    [message] = mail.to("water@dyeing.example")
    assert permit.number in message["Subject"] and wu.file_no in message["Subject"]
    body = body_of(message)
    assert wu.name in body and wu.contact_name in body
    assert f"将于 {permit.valid_to.isoformat()} 到期（还有 60 天）" in body
    assert message["From"].addresses[0].addr_spec == "reminders@yiwu-water.example"
    email, = _rows(channel="email")
    assert (email.status, email.recipient, email.item_key) == (
        "sent", "water@dyeing.example", f"permit_renewal:{permit.id}:{permit.valid_to.isoformat()}:90")
    assert email.sent_at is not None
    notice, = _rows(channel="in_app")
    assert notice.status == "sent" and notice.subject == email.subject


def test_a_second_run_sends_nothing_new(app, mail):
    _file(expires_in=60)
    _run()
    _send(app)
    again = _run()
    outcome = _send(app)
    assert again.reminders == 0 and outcome.sent == 0
    assert len(mail.messages) == 1
    assert db.session.scalar(select(func.count()).select_from(Communication)) == 2


def test_each_renewal_step_is_sent_once_then_the_expiry(app, mail):
    _wu, permit = _file(expires_in=60)
    expiry = permit.valid_to
    sent = []
    for days_before in (60, 59, 40, 30, 10, 9, -1, -5):
        _run(today=expiry - timedelta(days=days_before))
        _send(app)
        sent.append(len(mail.messages))
    # 90-day step at 60 days left, 45 at 40, 15 at 10, then "expired": each once.
    assert sent == [1, 1, 2, 2, 3, 3, 4, 4]
    steps = [c.item_key.rsplit(":", 1)[1] for c in _rows(channel="email")]
    assert steps == ["90", "45", "15", "expired"]


def test_a_renewal_applied_for_needs_no_reminder(app, mail):
    _wu, permit = _file(expires_in=30)
    permit.renewal_applied_on = TODAY - timedelta(days=3)
    db.session.commit()
    assert _run().reminders == 0


def test_a_refused_mail_is_marked_failed_and_a_letter_becomes_due(app, mail):
    wu, _permit = _file(expires_in=60, email="gone@dyeing.example")
    mail.refuse.add("gone@dyeing.example")
    _run()
    outcome = _send(app)
    assert (outcome.sent, outcome.failed, outcome.letters) == (0, 1, 1)
    email, = _rows(channel="email")
    assert email.status == "failed" and "550" in email.error
    letter, = _rows(channel="letter")
    assert letter.status == "queued" and letter.subject == email.subject and wu.address in letter.recipient
    assert [row.state for row in communications.history(db.session, f.admin(), wu.id)
            if row.communication.channel == "letter"] == ["letter_due"]
    assert _send(app).sent == 0  # a failed mail is not retried


def test_a_file_without_email_gets_a_portal_notice_and_a_letter(app, mail):
    _file(expires_in=10, email=None)
    _run()
    _send(app)
    assert mail.messages == []
    assert {c.channel: c.status for c in _rows()} == {"in_app": "sent", "letter": "queued"}


def test_every_kind_of_due_item_is_reminded(app):
    today = TODAY
    wu = f.WaterUserFactory(email="ops@dyeing.example", industry_code="1713", opened_on=today - timedelta(days=900))
    point = f.IntakePointFactory(water_user=wu)
    permit = f.PermitFactory(water_user=wu, annual_volume_m3=50000, valid_from=today - timedelta(days=300),
                             valid_to=today + timedelta(days=1500))
    permit.intake_points = [point]
    meter = f.MeterFactory(intake_point=point, water_user=wu, installed_on=today - timedelta(days=1200))
    f.CalibrationFactory(meter=meter, calibrated_on=today - timedelta(days=800), next_due_on=today - timedelta(days=70))
    inspection = f.InspectionFactory(water_user=wu, inspected_on=today - timedelta(days=40))
    f.RectificationFactory(inspection=inspection, water_user_id=wu.id, requirement="补装水表铅封",
                           deadline=today + timedelta(days=3))
    db.session.commit()
    result = _run(today=today)
    topics = {c.topic for c in _rows(channel="in_app")}
    expected = {"calibration", "rectification", "balance_test", "annual_plan"}
    if today.day > RULES.readings.due_day_of_next_month:
        expected.add("monthly_readings")  # last month's reading is late only after the due day
    from registry.domain.plans import proposal_reminder_step

    if proposal_reminder_step(today.year + 1, today, RULES.plan_year.deadline_month_day, RULES.plan_year.reminder_days):
        expected.add("plan_proposal")  # within 30 days of 31 December: next year's plan is to be proposed
    assert topics == expected and result.reminders == len(expected)
    rect = _rows(topic="rectification", channel="email")[0]
    assert "补装水表铅封" in rect.body and "还有 3 天" in rect.body
    calibration = _rows(topic="calibration", channel="email")[0]
    assert meter.serial in calibration.subject and "已逾期 70 天" in calibration.body


def test_an_enterprise_reading_english_gets_english_and_the_bureaus_wording(app, mail):
    wu, permit = _file(expires_in=40)
    f.enterprise(wu, language="en")
    messages.save(db.session, f.admin(), "permit_renewal", "en",
                  {"subject": "Renew {item} now", "body": "Dear {contact}, permit {item} {state}. -- {bureau}"})
    _run()
    _send(app)
    [message] = mail.messages
    assert message["Subject"] == f"Renew {permit.number} now"
    assert body_of(message).strip() == (f"Dear {wu.contact_name}, permit {permit.number} is due on "
                                        f"{permit.valid_to.isoformat()} (in 40 days). -- Yiwu Water Bureau")


def test_a_template_naming_an_unknown_placeholder_is_refused(app):
    with pytest.raises(ValidationError) as err:
        messages.save(db.session, f.admin(), "calibration", "zh_CN", {"subject": "检定 {serial}", "body": "{name}"})
    assert "{serial}" in str(err.value.errors["subject"])
    with pytest.raises(ValidationError) as err:
        messages.save(db.session, f.admin(), "calibration", "zh_CN", {"subject": "检定", "body": "{name.__class__}"})
    assert "body" in err.value.errors
    assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == 0


def test_defaults_are_stored_once_and_saving_is_audited(app):
    _run()
    assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == len(messages.DEFAULTS)
    _run()
    assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == len(messages.DEFAULTS)
    saved = messages.save(db.session, f.admin(), "annual_plan", "zh_CN", {"subject": "请报送 {item} 年计划", "body": "{name}"})
    assert saved.version == 2
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "MessageTemplate",
                                                        AuditEvent.action == "update")).one()
    assert event.changes["subject"][1] == "请报送 {item} 年计划"


def test_a_new_certificate_is_announced_once(app, mail):
    from registry.services import certificates
    from tests.factories.certificates import graded_file

    wu = graded_file("A", email="cert@dyeing.example")
    cert = certificates.issue(db.session, f.admin(), wu, rules=RULES)
    _run()
    _run()
    _send(app)
    [message] = mail.messages
    assert cert.number in message["Subject"] and cert.valid_until.isoformat() in body_of(message)


def test_letters_print_one_after_another_in_one_pdf(tmp_path):
    letters = [letter_pdf.LetterData(f"YW-L00000{i}", "义乌市测试印染有限公司", "李海燕", "义乌市稠城街道测试路1号",
                                     f"YW-T0000{i}", "取水许可证延续提醒", "您好！\n\n请及时办理。\n\n义乌市水务局",
                                     TODAY) for i in (1, 2, 3)]
    path = tmp_path / "letters.pdf"
    assert letter_pdf.write_batch(path, letters) == 3
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    assert len(reader.pages) == 3
    assert "YW-T00002" in reader.pages[1].extract_text()


def _remind(app, *args):
    return app.test_cli_runner().invoke(args=["registry", "remind", *args])


def test_remind_without_mail_settings_keeps_the_emails_in_the_outbox(app):
    _file(expires_in=60)
    result = _remind(app)
    assert result.exit_code == 0, result.output
    assert "created 1 reminders (1 in_app, 1 email, 0 letter)" in result.output
    assert "users/s" in result.output and "stay in the outbox" in result.output
    assert [c.status for c in _rows(channel="email")] == ["queued"]


def test_remind_dry_run_lists_what_it_would_do_and_changes_nothing(app, mail):
    wu, permit = _file(expires_in=60)
    result = _remind(app, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"would remind {wu.file_no}: permit_renewal 90" in result.output
    assert "nothing was changed or sent" in result.output
    assert _rows() == [] and mail.messages == []
    assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == 0


def test_remind_sends_and_ends_with_count_and_rate(app, mail):
    _file(expires_in=60)
    _file(expires_in=20, email="gone@dyeing.example")
    mail.refuse.add("gone@dyeing.example")
    result = _remind(app)
    assert result.exit_code == 0, result.output
    assert "sent 1 e-mails in" in result.output and "mails/s); 1 refused" in result.output
    again = _remind(app)
    assert "created 0 reminders" in again.output and "sent 0 e-mails" in again.output
    assert len(mail.messages) == 1


def test_remind_with_the_mail_server_down_exits_non_zero_and_keeps_the_mail(app):
    from tests.mailbox import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_SENDER="reminders@yiwu-water.example",
                      MAIL_TIMEOUT=2)
    _file(expires_in=60)
    result = _remind(app)
    assert result.exit_code == 1
    assert "cannot send e-mail" in result.output and "stay queued" in result.output
    assert [c.status for c in _rows(channel="email")] == ["queued"]
