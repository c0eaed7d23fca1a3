"""Which rules are in force (reading only): the newest version the bureau published, else the packaged default.

Versions are never edited in place: publishing makes a new version, and old evaluations keep
naming (and re-rendering under) the version they were computed with.

One source of the rules in force (issue 15 item 1): scores, due items, certificates, reminders,
validators, the one-file page, the list and the dashboard all ask :func:`current`. It reads the
newest version's name (one query on the indexed ``published_at``, once per request) and reuses the
parsed rules of that version from a per-process cache keyed by version; published versions are
never edited, so a cached version never goes stale, and a version published by another process is
seen at the next request of every process. The packaged file is read only while no version has
been published (it is the first version the bureau starts from).

Publishing lives in ``rules_versions`` (it writes through the unit of work, which reads the rules
in force from here: two modules, so that neither import needs the other).
"""
from __future__ import annotations

import threading

from flask import has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.domain.rules import DEFAULT_VERSION, Rules, available_versions, load_rules
from registry.models import RulesVersion


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


def forget_for_request() -> None:
    """After publishing: this request sees the new version too."""
    if has_request_context():
        setattr(request, _REQUEST_KEY, None)
