"""Accounts: creation, password checks and sign-in with lockout."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from registry.models import ROLES, Account, Division, WaterUser, utcnow
from registry.services import audit
from registry.services.errors import ValidationError
from registry.services.records import _commit

MAX_FAILED = 5
LOCK_MINUTES = 15
# A short list of the passwords tried first by anyone guessing; policy details grow in the portal issue.
COMMON_PASSWORDS = frozenset({"password", "12345678", "123456789", "1234567890", "qwertyui", "11111111",
                              "88888888", "abc12345", "password1", "iloveyou", "admin123", "a1234567"})


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password_policy(password: str, *, allow_short: bool = False) -> None:
    if not password or (len(password) < 10 and not allow_short):
        raise ValidationError({"password": _l("A password has at least 10 characters.")})
    if password.lower() in COMMON_PASSWORDS:
        raise ValidationError({"password": _l("This password is too common.")})


def create_account(session: Session, actor, *, username: str, role: str, password: str,
                   division_codes=(), file_numbers=(), city_wide: bool = False, display_name: str | None = None,
                   must_change_password: bool = True, allow_short_password: bool = False) -> Account:
    errors = {}
    if not username or len(username) > 60 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        errors["username"] = _l("A username is 1–60 letters, digits, - _ or .")
    elif session.execute(select(Account.id).where(Account.username == username)).first():
        errors["username"] = _l("This username is taken.")
    if role not in ROLES:
        errors["role"] = _l("Choose one of the listed options.")
    divisions = [session.get(Division, code) for code in division_codes]
    if any(d is None for d in divisions):
        errors["divisions"] = _l("Choose one of Yiwu's 14 divisions.")
    water_users = [session.execute(select(WaterUser).where(WaterUser.file_no == f)).scalar_one_or_none()
                   for f in file_numbers]
    if any(w is None for w in water_users):
        errors["water_users"] = _l("No water user has this file number.")
    if role == "inspector" and not (divisions or city_wide):
        errors["divisions"] = _l("An inspector needs divisions or city-wide scope.")
    if role == "enterprise" and not water_users:
        errors["water_users"] = _l("An enterprise account needs at least one water user.")
    if errors:
        raise ValidationError(errors)
    check_password_policy(password, allow_short=allow_short_password)
    account = Account(username=username, role=role, password_hash=hash_password(password), city_wide=city_wide,
                      display_name=display_name, must_change_password=must_change_password,
                      divisions=[d for d in divisions if d], water_users=[w for w in water_users if w])
    session.add(account)
    session.flush()
    audit.record(session, actor, "create", account, summary=f"account {username} ({role})",
                 changes={"username": [None, username], "role": [None, role],
                          "divisions": [None, list(division_codes)], "water_users": [None, list(file_numbers)],
                          "city_wide": [None, city_wide]})
    _commit(session)
    return account


def authenticate(session: Session, username: str, password: str) -> Account:
    """The account for these credentials; ValidationError naming no detail an attacker could use."""
    account = session.execute(select(Account).where(Account.username == username)).scalar_one_or_none()
    now = utcnow()
    if account is not None and account.locked_until is not None and account.locked_until > now:
        raise ValidationError({"_": _l("Too many failed attempts: this account is locked for %(n)d minutes.",
                                       n=LOCK_MINUTES)})
    if account is None or not check_password_hash(account.password_hash, password or ""):
        if account is not None:
            account.failed_logins += 1
            if account.failed_logins >= MAX_FAILED:
                account.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                account.failed_logins = 0
                audit.record(session, None, "lock", account, summary=f"account {username} locked")
            session.commit()
        raise ValidationError({"_": _l("Wrong username or password.")})
    if not account.is_active:
        raise ValidationError({"_": _l("This account is disabled.")})
    account.failed_logins = 0
    account.locked_until = None
    audit.record(session, account, "sign_in", account, summary=f"account {username} signed in")
    session.commit()
    return account
