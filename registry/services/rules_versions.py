"""Which rules are in force: the newest version the bureau published, else the packaged default.

Versions are never edited in place: publishing makes a new version, and old evaluations keep
naming (and re-rendering under) the version they were computed with.

One source of the rules in force (issue 15 item 1): scores, due items, certificates, reminders,
validators, the one-file page, the list and the dashboard all ask :func:`current`. It reads the
newest version's name (one query on the indexed ``published_at``, once per request) and reuses the
parsed rules of that version from a per-process cache keyed by version; published versions are
never edited, so a cached version never goes stale, and a version published by another process is
seen at the next request of every process. The packaged file is read only while no version has
been published (it is the first version the bureau starts from).
"""
from __future__ import annotations

import json
import threading

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import access
from registry.domain.rules import DEFAULT_VERSION, Rules, RulesError, available_versions, load_rules
from registry.models import RulesVersion
from registry.services import audit
from registry.services.errors import ValidationError


# (version, published_at) -> its parsed rules. Published versions are never edited, so an entry
# never goes stale; the publication time in the key keeps apart two databases (tests, a restore)
# that gave one version name to different documents.
_PARSED: dict[tuple, Rules] = {}
_PARSED_LOCK = threading.Lock()
_REQUEST_KEY = "_rules_in_force"


def _latest(session: Session):
    """(version, published_at) of the newest published version, or None (none published)."""
    return session.execute(
        select(RulesVersion.version, RulesVersion.published_at)
        .order_by(RulesVersion.published_at.desc(), RulesVersion.version.desc()).limit(1)
    ).one_or_none()


def current_version(session: Session) -> str:
    """The name of the version in force."""
    latest = _latest(session)
    return DEFAULT_VERSION if latest is None else latest[0]


def current(session: Session) -> Rules:
    """The rules in force: the newest published version, parsed once per process and version."""
    if has_request_context():  # one look at the version per request, however many callers ask
        memo = getattr(request, _REQUEST_KEY, None)  # on the request: g may outlive it (tests)
        if memo is not None and memo[0] is session:
            return memo[1]
    latest = _latest(session)
    rules = load_rules(DEFAULT_VERSION) if latest is None else _parsed(session, latest[0], latest[1])
    if has_request_context():
        setattr(request, _REQUEST_KEY, (session, rules))
    return rules


def _parsed(session: Session, version: str, published_at=None) -> Rules | None:
    key = (version, published_at)
    rules = _PARSED.get(key) if published_at is not None else None
    if rules is None:
        row = session.get(RulesVersion, version)
        if row is None:
            return None
        key = (version, row.published_at)
        rules = _PARSED.get(key)
        if rules is None:
            with _PARSED_LOCK:
                rules = _PARSED.setdefault(key, Rules.from_dict(row.document))
    return rules


def by_version(session: Session, version: str) -> Rules | None:
    if version in available_versions():
        return load_rules(version)
    return _parsed(session, version)


def all_versions(session: Session) -> list[tuple[str, object]]:
    """(version, published_at or None for packaged) newest first."""
    published = [(r.version, r.published_at) for r in session.scalars(
        select(RulesVersion).order_by(RulesVersion.published_at.desc()))]
    packaged = [(v, None) for v in reversed(available_versions())]
    return published + packaged


def publish(session: Session, actor, text: str, note: str | None = None) -> RulesVersion:
    """Validate a rules document (JSON) and publish it as a new version."""
    access.require(actor, "rules.publish")
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
    if has_request_context():  # this request sees the new version too
        setattr(request, _REQUEST_KEY, None)
    return row
