"""The wording of reminders and notices (提醒模板): one template per topic and language, the
packaged defaults, placeholders, rendering, and the bureau's edits (versioned and audited).

A template is plain text with placeholders in braces, ``{name}``. Only the names in
:data:`PLACEHOLDERS` exist: a template naming another one, or holding a stray brace, is
refused with a message that names it, so a typo never reaches an enterprise as ``{nmae}``.
Attribute or index syntax (``{name.__class__}``) is not a placeholder and is refused too.

The packaged defaults (:data:`DEFAULTS`) count until the bureau saves its own wording; the
nightly ``registry remind`` stores them (``ensure_defaults``) so every template has a row,
a version and a history.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.domain.due import DUE_KINDS
from registry.models import MessageTemplate
from registry.services import audit
from registry.services.checks import Checker
from registry.services.errors import NotFound, StaleEdit, ValidationError
from registry.services.unit_of_work import FileChange
from registry import access

TOPICS = (*DUE_KINDS, "plan_proposal", "certificate_issued", "certificate_revoked", "use_warning")
LANGUAGES = ("zh_CN", "en")

PLACEHOLDERS = {
    "name": _l("name of the water user"),
    "file_no": _l("file number"),
    "contact": _l("contact person (the water user's name when none is on file)"),
    "item": _l("what the message is about: permit number, meter serial, month, year, requirement or certificate number"),
    "due_on": _l("due date (for certificates: valid until, or the day of revocation)"),
    "days_left": _l("days left until the due date"),
    "days_overdue": _l("days past the due date"),
    "state": _l("a phrase such as “is due on 2026-03-01 (in 45 days)” or “was due on … and is 3 days overdue”"),
    "reason": _l("reason of a revocation"),
    "bureau": _l("name of the bureau"),
    "portal_url": _l("address of the enterprise portal"),
}

_TOKEN = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Wording:
    subject: str
    body: str


def problems(text: str) -> list[str]:
    """Placeholders the template names that do not exist, and stray braces (empty when fine)."""
    found = [f"{{{name}}}" for name in _TOKEN.findall(text) if name not in PLACEHOLDERS]
    rest = _TOKEN.sub("", text)
    if "{" in rest or "}" in rest:
        found.append("{" if "{" in rest else "}")
    return list(dict.fromkeys(found))


def render(text: str, context: dict) -> str:
    """Fill the placeholders; an unknown one is left as written (``problems`` refuses it on save)."""
    return _TOKEN.sub(lambda m: str(context.get(m.group(1), m.group(0))), text)


# --- the state phrase, in the recipient's language ------------------------------------------


def state_phrase(language: str, due_on, days_left: int | None) -> str:
    if due_on is None or days_left is None:
        return ""
    day = due_on.isoformat()
    if language == "en":
        if days_left > 0:
            return f"is due on {day} (in {days_left} day{'s' if days_left != 1 else ''})"
        if days_left == 0:
            return f"is due today ({day})"
        late = -days_left
        return f"was due on {day} and is {late} day{'s' if late != 1 else ''} overdue"
    if days_left > 0:
        return f"将于 {day} 到期（还有 {days_left} 天）"
    if days_left == 0:
        return f"于今天（{day}）到期"
    return f"已于 {day} 到期，已逾期 {-days_left} 天"


# --- packaged defaults ------------------------------------------------------------------------

_ZH_CLOSE = "\n\n在线查看并确认收到：{portal_url}\n\n{bureau}"
_EN_CLOSE = "\n\nView and acknowledge online: {portal_url}\n\n{bureau}"

DEFAULTS: dict[tuple[str, str], Wording] = {
    ("permit_renewal", "zh_CN"): Wording(
        "取水许可证 {item} 延续提醒（{file_no}）",
        "{contact}：\n\n您好！贵单位（{name}，档案号 {file_no}）的取水许可证 {item} {state}。\n\n"
        "根据《取水许可和水资源费征收管理条例》第二十五条，取水许可证有效期届满需要延续的，应当在有效期届满"
        " 45 日前向原审批机关提出申请。如已提出延续申请，请将受理材料提交至平台，并忽略本提醒。" + _ZH_CLOSE),
    ("permit_renewal", "en"): Wording(
        "Water-intake permit {item}: renewal reminder ({file_no})",
        "Dear {contact},\n\nThe water-intake permit {item} of {name} (file {file_no}) {state}.\n\n"
        "A renewal must be applied for at least 45 days before the permit expires (Regulations on Water-Intake "
        "Permits, Article 25). If you have applied already, please upload the receipt and disregard this reminder."
        + _EN_CLOSE),
    ("calibration", "zh_CN"): Wording(
        "计量设施 {item} 检定提醒（{file_no}）",
        "{contact}：\n\n您好！贵单位（{name}，档案号 {file_no}）的计量设施 {item} 的检定{state}。\n\n"
        "请委托法定计量检定机构按检定规程（如 JJG 162-2019）进行检定，并将检定证书提交至平台。"
        "超过检定有效期的计量设施，其读数将被标记为“未检定”。" + _ZH_CLOSE),
    ("calibration", "en"): Wording(
        "Meter {item}: verification reminder ({file_no})",
        "Dear {contact},\n\nThe verification of meter {item} of {name} (file {file_no}) {state}.\n\n"
        "Please have the meter verified by a legal metrology agency (e.g. JJG 162-2019) and upload the certificate. "
        "Readings from a meter past its verification date are flagged as unverified." + _EN_CLOSE),
    ("service_life", "zh_CN"): Wording(
        "水表 {item} 使用年限提醒（{file_no}）",
        "{contact}：\n\n您好！贵单位（{name}，档案号 {file_no}）的水表 {item} 的使用年限{state}。\n\n"
        "按 JJG 162-2019，此类水表使用期满应予更换。请及时安排更换，并在平台上报备新表信息。" + _ZH_CLOSE),
    ("service_life", "en"): Wording(
        "Meter {item}: end of service life ({file_no})",
        "Dear {contact},\n\nThe service life of meter {item} of {name} (file {file_no}) {state}.\n\n"
        "Under JJG 162-2019 such meters are replaced at the end of their service life. Please arrange the "
        "replacement and report the new meter." + _EN_CLOSE),
    ("balance_test", "zh_CN"): Wording(
        "水平衡测试提醒（{file_no}）",
        "{contact}：\n\n您好！贵单位（{name}，档案号 {file_no}）的水平衡测试{state}。\n\n"
        "请委托专业机构按 GB/T 12452-2022 开展水平衡测试，并将测试报告提交至平台。" + _ZH_CLOSE),
    ("balance_test", "en"): Wording(
        "Water-balance test reminder ({file_no})",
        "Dear {contact},\n\nThe water-balance test of {name} (file {file_no}) {state}.\n\n"
        "Please have a qualified agency carry out the test under GB/T 12452-2022 and upload the report." + _EN_CLOSE),
    ("annual_plan", "zh_CN"): Wording(
        "{item} 年度计划用水未报送（{file_no}）",
        "{contact}：\n\n您好！贵单位（{name}，档案号 {file_no}）尚未报送 {item} 年度计划用水。\n\n"
        "按计划用水管理规定，贵单位应当报送年度用水计划，请尽快报送。" + _ZH_CLOSE),
    ("annual_plan", "en"): Wording(
        "Water-use plan {item} not submitted ({file_no})",
        "Dear {contact},\n\n{name} (file {file_no}) has not submitted its annual water-use plan for {item}.\n\n"
        "Planned-use management requires one at your permitted volume; please submit it as soon as possible."
        + _EN_CLOSE),
    ("plan_proposal", "zh_CN"): Wording(
        "请报送 {item} 年度用水计划（{file_no}）",
        "{contact}：\n\n您好！贵单位（{name}，档案号 {file_no}）应于 {due_on} 前通过平台报送 {item} 年度用水计划建议"
        "（可按月或按季分解），并附上年度用水情况报告。" + _ZH_CLOSE),
    ("plan_proposal", "en"): Wording(
        "Propose your {item} water-use plan ({file_no})",
        "Dear {contact},\n\n{name} (file {file_no}) should propose its water-use plan for {item} through the portal "
        "by {due_on} (by month or by quarter if you wish), with its report of the past year." + _EN_CLOSE),
    ("monthly_readings", "zh_CN"): Wording(
        "{item} 月取水量未报送（{file_no}）",
        "{contact}：\n\n您好！贵单位（{name}，档案号 {file_no}）{item} 的月取水量{state}，平台尚未收到。\n\n"
        "请登录平台填报该月的计量读数。" + _ZH_CLOSE),
    ("monthly_readings", "en"): Wording(
        "Monthly reading for {item} missing ({file_no})",
        "Dear {contact},\n\nThe monthly reading of {name} (file {file_no}) for {item} {state} and has not been "
        "received.\n\nPlease submit the meter reading of that month online." + _EN_CLOSE),
    ("rectification", "zh_CN"): Wording(
        "整改期限提醒（{file_no}）",
        "{contact}：\n\n您好！检查中发现贵单位（{name}，档案号 {file_no}）存在的问题“{item}”，整改期限{state}。\n\n"
        "请按要求完成整改，并在平台上答复整改情况。" + _ZH_CLOSE),
    ("rectification", "en"): Wording(
        "Rectification deadline ({file_no})",
        "Dear {contact},\n\nThe deadline to rectify “{item}” found at {name} (file {file_no}) {state}.\n\n"
        "Please rectify and answer the order online." + _EN_CLOSE),
    ("certificate_issued", "zh_CN"): Wording(
        "规范评价合格证书 {item} 已颁发（{file_no}）",
        "{contact}：\n\n您好！贵单位（{name}，档案号 {file_no}）的自备取水户规范评价合格证书 {item} 已颁发，"
        "有效期至 {due_on}。\n\n可登录平台下载证书，或扫描证书上的二维码核验。" + _ZH_CLOSE),
    ("certificate_issued", "en"): Wording(
        "Compliance certificate {item} issued ({file_no})",
        "Dear {contact},\n\nCompliance certificate {item} was issued to {name} (file {file_no}), valid until "
        "{due_on}.\n\nDownload it online, or verify it with the QR code printed on it." + _EN_CLOSE),
    ("certificate_revoked", "zh_CN"): Wording(
        "合格证书 {item} 已撤销（{file_no}）",
        "{contact}：\n\n贵单位（{name}，档案号 {file_no}）的合格证书 {item} 已于 {due_on} 撤销。\n\n原因：{reason}"
        + _ZH_CLOSE),
    ("certificate_revoked", "en"): Wording(
        "Compliance certificate {item} revoked ({file_no})",
        "Dear {contact},\n\nCompliance certificate {item} of {name} (file {file_no}) was revoked on {due_on}.\n\n"
        "Reason: {reason}" + _EN_CLOSE),
    # A warning 预警 (issue 17): {item} the meter and month, {reason} the finding with its figures.
    ("use_warning", "zh_CN"): Wording(
        "用水异常预警 {item}（{file_no}）",
        "{contact}：\n\n您好！平台在贵单位（{name}，档案号 {file_no}）{item} 的用水数据中发现异常：{reason}\n\n"
        "水务局将核实情况；如有说明（如生产变化、计量故障），请与我们联系。" + _ZH_CLOSE),
    ("use_warning", "en"): Wording(
        "Water-use warning {item} ({file_no})",
        "Dear {contact},\n\nThe water-use data of {name} (file {file_no}) for {item} shows an anomaly: {reason}\n\n"
        "The bureau will look into it; if you can explain it (a change of production, a meter fault), please "
        "contact us." + _EN_CLOSE),
}

SAMPLE_CONTEXT = {
    "name": "义乌市示例印染有限公司", "file_no": "YW-001-0001", "contact": "李海燕", "item": "D330782S2021-0120",
    "due_on": "2026-03-01", "days_left": 45, "days_overdue": 0, "reason": "—", "bureau": "义乌市水务局",
    "portal_url": "http://127.0.0.1:5000/portal",
}


def sample_context(language: str, bureau: str, portal_url: str) -> dict:
    """What the preview fills in: a made-up file, 45 days before a due date."""
    from datetime import date

    return {**SAMPLE_CONTEXT, "bureau": bureau, "portal_url": portal_url,
            "state": state_phrase(language, date(2026, 3, 1), 45)}


# --- stored templates ---------------------------------------------------------------------------


def current(session: Session) -> dict[tuple[str, str], Wording]:
    """Every (topic, language): the bureau's wording where saved, else the packaged default."""
    stored = {(t.topic, t.language): Wording(t.subject, t.body)
              for t in session.scalars(select(MessageTemplate).where(MessageTemplate.closed_at.is_(None)))}
    return {key: stored.get(key, default) for key, default in DEFAULTS.items()}


def stored(session: Session) -> dict[tuple[str, str], MessageTemplate]:
    return {(t.topic, t.language): t for t in session.scalars(select(MessageTemplate))}


def ensure_defaults(session: Session) -> int:
    """Store the packaged wording of every (topic, language) that has no row yet; the caller commits."""
    have = set(stored(session))
    added = 0
    for (topic, language), wording in DEFAULTS.items():
        if (topic, language) in have:
            continue
        template = MessageTemplate(topic=topic, language=language, subject=wording.subject, body=wording.body)
        session.add(template)
        session.flush()
        audit.record(session, None, "create", template, summary=f"message template {topic} {language} (default)",
                     changes={"subject": [None, wording.subject]})
        added += 1
    return added


def check(data: dict) -> dict:
    """Subject (one line) and body, each with known placeholders only; ValidationError otherwise."""
    c = Checker(data)
    c.text("subject", max_len=300)
    c.text("body", max_len=10000, multiline=True)
    errors = dict(c.errors)
    for field in ("subject", "body"):
        bad = problems(str(data.get(field) or ""))
        if bad and field not in errors:
            errors[field] = _l("Unknown placeholder or stray brace: %(found)s. Use only: %(known)s.",
                               found=", ".join(bad), known=", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
    if errors:
        raise ValidationError(errors)
    return c.out


def save(session: Session, actor, topic: str, language: str, data: dict, *,
         expected_version: int | None = None) -> MessageTemplate:
    """The bureau saves its wording of one topic and language (versioned, audited, committed once)."""
    access.require(actor, "message_template.edit")
    if topic not in TOPICS or language not in LANGUAGES:
        raise NotFound()
    values = check(data)
    with FileChange(session, actor) as change:
        template = stored(session).get((topic, language))
        if template is None:
            default = DEFAULTS[(topic, language)]
            template = change.add(MessageTemplate(topic=topic, language=language, subject=default.subject,
                                                  body=default.body))
            change.flush()
        elif expected_version is not None and int(expected_version) != template.version:
            raise StaleEdit({"subject": template.subject, "body": template.body})
        before = audit.snapshot(template)
        template.subject, template.body = values["subject"], values["body"]
        template.closed_at = template.closed_reason = None
        change.flush()
        changes = audit.diff(before, audit.snapshot(template))
        if changes:
            change.audit("update", template, summary=f"message template {topic} {language}", changes=changes)
    return template
