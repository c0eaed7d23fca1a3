"""Which rules are in force: the newest version the bureau published, else the packaged default.

Versions are never edited in place: publishing makes a new version, and old evaluations keep
naming (and re-rendering under) the version they were computed with.
"""
from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import access
from registry.domain.rules import DEFAULT_VERSION, Rules, RulesError, available_versions, load_rules
from registry.models import RulesVersion
from registry.services import audit
from registry.services.errors import ValidationError


def current(session: Session) -> Rules:
    latest = session.execute(
        select(RulesVersion).order_by(RulesVersion.published_at.desc(), RulesVersion.version.desc()).limit(1)
    ).scalar_one_or_none()
    return Rules.from_dict(latest.document) if latest is not None else load_rules(DEFAULT_VERSION)


def by_version(session: Session, version: str) -> Rules | None:
    if version in available_versions():
        return load_rules(version)
    row = session.get(RulesVersion, version)
    return Rules.from_dict(row.document) if row is not None else None


def all_versions(session: Session) -> list[tuple[str, object]]:
    """(version, published_at or None for packaged) newest first."""
    published = [(r.version, r.published_at) for r in session.scalars(
        select(RulesVersion).order_by(RulesVersion.published_at.desc()))]
    packaged = [(v, None) for v in reversed(available_versions())]
    return published + packaged


def publish(session: Session, actor, text: str, note: str | None = None) -> RulesVersion:
    """Validate a rules document (JSON) and publish it as a new version."""
    access.require_edit(actor, "rules")
    try:
        document = json.loads(text or "")
    except json.JSONDecodeError as err:
        raise ValidationError({"document": _l("Not valid JSON: line %(line)d, column %(col)d: %(msg)s",
                                              line=err.lineno, col=err.colno, msg=err.msg)}) from None
    try:
        rules = Rules.from_dict(document)
    except RulesError as err:
        raise ValidationError({"document": _l("Rule %(field)s is invalid (%(rule)s). %(detail)s",
                                              field=err.field, rule=err.rule, detail=getattr(err, "message", ""))}) from None
    if rules.version in available_versions() or session.get(RulesVersion, rules.version) is not None:
        raise ValidationError({"document": _l("Version %(v)s exists already: published rules are never edited; "
                                              "give the new rules a new version.", v=rules.version)})
    row = RulesVersion(version=rules.version, document=rules.to_dict(), published_by_id=getattr(actor, "id", None),
                       note=(note or "").strip()[:1000] or None)
    session.add(row)
    session.flush()
    audit.record(session, actor, "publish", row, entity="RulesVersion", entity_id=None,
                 summary=f"rules {rules.version}", changes={"version": [None, rules.version]})
    session.commit()
    return row
