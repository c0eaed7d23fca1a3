"""API tokens: shown once, stored as sha256, revocable, scoped like their account."""
from __future__ import annotations

import hashlib
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import access
from registry.models import Account, ApiToken, utcnow
from registry.services.checks import refuse_control
from registry.services.errors import NotFound, ValidationError
from registry.services.unit_of_work import FileChange

PREFIX = "ywr_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, actor, account: Account, name: str | None = None) -> str:
    """A new token for ``account``; the plain value is returned once and never stored."""
    if actor is not None and getattr(actor, "id", None) != account.id and getattr(actor, "role", None) != "bureau_admin":
        raise ValidationError({"account": _l("You may create tokens only for yourself.")})
    name = "API" if name is None else name.strip()
    if not name:
        raise ValidationError({"name": _l("Give the token a name, e.g. the system that will use it.")})
    if len(name) > 100:
        raise ValidationError({"name": _l("At most %(n)d characters.", n=100)})
    refuse_control("name", name, multiline=False)
    token = PREFIX + secrets.token_urlsafe(32)
    with FileChange(session, actor) as change:
        row = change.add(ApiToken(account_id=account.id, name=name, token_hash=_digest(token)))
        change.flush()
        change.audit("create", row, entity="ApiToken", summary=f"API token {name} for {account.username}",
                     changes={"name": [None, name], "account": [None, account.username]})
    return token


def account_for(session: Session, token: str | None) -> Account | None:
    """The active account behind a Bearer token (and note when it was last used), or None."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                 ApiToken.revoked_at.is_(None))).scalar_one_or_none()
    if row is None:
        return None
    account = session.get(Account, row.account_id)
    if account is None or not account.is_active or account.is_locked:  # disabled or locked by the bureau
        return None
    with FileChange(session, account):  # when the token was last used (not audited: every API call)
        row.last_used_at = utcnow()
    return account


def visible_to(session: Session, actor, *, everyone: bool = False) -> list[tuple[ApiToken, Account]]:
    """(token, its account) for the actor's own tokens, live ones first, newest first; every
    account's when a bureau admin asks for ``everyone``. Revoked tokens stay listed: nothing is
    deleted."""
    stmt = (select(ApiToken, Account).join(Account, Account.id == ApiToken.account_id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc()))
    if not (everyone and access.can(actor, "token.manage_all")):
        stmt = stmt.where(ApiToken.account_id == actor.id)
    return [tuple(row) for row in session.execute(stmt.limit(1000))]


def get_for(session: Session, actor, token_id: int) -> ApiToken:
    """A token the actor may manage: its own, or any for a bureau admin; otherwise NotFound."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.account_id != actor.id and not access.can(actor, "token.manage_all")):
        raise NotFound("token")
    return row


def revoke(session: Session, actor, row: ApiToken, reason: str) -> ApiToken:
    if row.revoked_at is not None:
        raise ValidationError({"reason": _l("This token was already revoked.")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _l("Give a reason for this change.")})
    refuse_control("reason", reason.strip())
    with FileChange(session, actor) as change:
        row.revoked_at, row.revoked_reason = utcnow(), reason.strip()[:1000]
        change.flush()
        change.audit("revoke", row, entity="ApiToken", reason=row.revoked_reason, summary=f"API token {row.name}")
    return row
