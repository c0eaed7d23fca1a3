"""What people see of reminders: the enterprise reads and acknowledges them in its portal, the
file's history shows every message and its fate, the bureau prints the letters that are due and
words the reminders."""
from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from registry.clock import today as bureau_today
from registry.domain.rules import load_rules
from registry.extensions import db
from registry.models import AuditEvent, Communication
from registry.services import reminders
from registry.services.mailer import MailSettings
from tests import factories as f
from tests.mailbox import mail, smtp_server  # noqa: F401  (fixtures)

TODAY = bureau_today()


def _file(division="001", email="water@dyeing.example", expires_in=60, name=None):
    wu = f.WaterUserFactory(email=email, division_code=division, industry_code="1811",
                            opened_on=TODAY - timedelta(days=1500), **({"name": name} if name else {}))
    point = f.IntakePointFactory(water_user=wu)
    permit = f.PermitFactory(water_user=wu, annual_volume_m3=2000, valid_from=TODAY - timedelta(days=1400),
                             valid_to=TODAY + timedelta(days=expires_in))
    permit.intake_points = [point]
    db.session.commit()
    return wu


def _remind(app=None, send=False):
    reminders.run(db.session, TODAY, load_rules(), reminders.Settings())
    if send:
        reminders.deliver(db.session, MailSettings.from_config(app.config))


def _notice(wu) -> Communication:
    return db.session.scalars(select(Communication).where(Communication.water_user_id == wu.id,
                                                          Communication.channel == "in_app")).one()


def _section(html: str, anchor: str) -> str:
    match = re.search(rf'<section class="file-part" id="{anchor}">(.*?)</section>', html, re.S)
    assert match, anchor
    return match.group(1)


def test_enterprise_sees_its_reminders_and_acknowledges_them(client, auth):
    wu = _file()
    account = f.enterprise(wu, username="ent", display_name="李海燕（财务）")
    f.admin(username="admin")
    _remind()
    notice = _notice(wu)
    auth.login("ent")
    home = client.get("/portal?lang=en").get_data(as_text=True)
    assert notice.subject in home and "I have read this" in home
    response = client.post(f"/portal/water-users/{wu.id}/notices/{notice.id}/acknowledge")
    assert response.status_code == 302
    home = client.get("/portal").get_data(as_text=True)
    assert "I have read this" not in home and "Acknowledged" in home
    db.session.refresh(notice)
    assert notice.status == "acknowledged" and notice.acknowledged_by_id == account.id
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "acknowledge")).one().actor_id == account.id
    auth.logout()
    auth.login("admin")
    history = _section(client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True), "communications")
    assert "Acknowledged" in history and "李海燕（财务）" in history and notice.subject in history


def test_enterprise_cannot_acknowledge_the_notice_of_another_file(client, auth):
    mine, theirs = _file(), _file(division="100")
    f.enterprise(mine, username="ent")
    _remind()
    auth.login("ent")
    theirs_notice = _notice(theirs)
    assert client.post(f"/portal/water-users/{theirs.id}/notices/{theirs_notice.id}/acknowledge").status_code == 404
    assert client.post(f"/portal/water-users/{mine.id}/notices/{theirs_notice.id}/acknowledge").status_code == 404
    assert _notice(theirs).status == "sent"
    assert theirs.name not in client.get("/portal").get_data(as_text=True)


def test_a_refused_mail_shows_on_the_file_as_a_letter_due_until_it_is_posted(app, client, auth, mail):
    wu = _file(email="gone@dyeing.example")
    mail.refuse.add("gone@dyeing.example")
    f.admin(username="admin")
    _remind(app, send=True)
    auth.login("admin")
    page = _section(client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True), "communications")
    assert 'id="letter-due"' in page and "Letter due" in page and "Failed" in page and "550" in page

    outbox = client.get("/communications/?view=letters&lang=en").get_data(as_text=True)
    assert wu.name in outbox
    letter = db.session.scalars(select(Communication).where(Communication.channel == "letter")).one()
    pdf = client.get(f"/communications/letters.pdf?ids={letter.id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.get_data()))
    pdf.close()
    assert not list(Path(app.config["BATCH_DIR"]).glob("letters-*.pdf"))  # removed once sent
    assert len(reader.pages) == 1 and wu.file_no in reader.pages[0].extract_text()

    assert client.post("/communications/letters/posted", data={"ids": [letter.id]}).status_code == 302
    page = _section(client.get(f"/water-users/{wu.id}?lang=en").get_data(as_text=True), "communications")
    assert 'id="letter-due"' not in page and "Sent" in page
    assert client.get("/communications/letters.pdf").status_code == 302  # nothing left to print


def test_without_mail_settings_the_outbox_holds_the_emails_of_the_inspectors_divisions(client, auth):
    mine, theirs = _file(name="义乌市稠城测试印染有限公司"), _file(division="100", name="义乌市佛堂测试印染有限公司")
    f.inspector(divisions=("001",), username="insp")
    _remind()
    auth.login("insp")
    body = client.get("/communications/?lang=en").get_data(as_text=True)
    assert "No mail server is configured" in body
    assert mine.name in body and theirs.name not in body
    assert client.get("/communications/letters.pdf").status_code == 403  # letters are the bureau's


def test_a_bounced_email_makes_a_letter_due(app, client, auth, mail):
    wu = _file()
    f.admin(username="admin")
    _remind(app, send=True)
    email = db.session.scalars(select(Communication).where(Communication.channel == "email")).one()
    assert email.status == "sent"
    auth.login("admin")
    url = f"/water-users/{wu.id}/communications/{email.id}/bounced"
    assert client.get(url).status_code == 200
    assert client.post(url, data={"note": "550 user unknown"}).status_code == 302
    db.session.refresh(email)
    assert email.status == "failed" and "550 user unknown" in email.error
    assert db.session.scalars(select(Communication).where(Communication.channel == "letter")).one().status == "queued"


def test_the_bureau_words_a_reminder_with_a_preview(client, auth):
    f.admin(username="admin")
    f.inspector(username="insp")
    auth.login("admin")
    url = "/communications/templates/calibration/zh_CN"
    assert "计量设施" in client.get(url).get_data(as_text=True)
    preview = client.post(url, data={"subject": "水表 {item} 请送检", "body": "{contact}：{name} 的水表 {state}。",
                                     "action": "preview"}).get_data(as_text=True)
    assert "水表 D330782S2021-0120 请送检" in preview and "义乌市示例印染有限公司" in preview
    refused = client.post(url + "?lang=en", data={"subject": "水表 {serial}", "body": "x", "action": "save"})
    assert refused.status_code == 400 and "{serial}" in refused.get_data(as_text=True)
    saved = client.post(url, data={"subject": "水表 {item} 请送检", "body": "{name}", "action": "save"})
    assert saved.status_code == 302
    assert "水表 {item} 请送检" in client.get("/communications/templates").get_data(as_text=True)
    auth.logout()
    auth.login("insp")
    assert client.get(url).status_code == 403 and client.get("/communications/templates").status_code == 403
