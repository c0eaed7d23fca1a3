"""Accounts: creation, password checks and sign-in with lockout."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from registry.models import ROLES, Account, Division, RegistrationRequest, WaterUser, utcnow
from registry.services import audit
from registry.services.checks import CONTROL_CHARS, Checker, refuse_control
from registry.services.errors import ValidationError
from registry.services.records import _commit

MAX_FAILED = 5
LOCK_MINUTES = 15
# A short list of the passwords tried first by anyone guessing; policy details grow in the portal issue.
COMMON_PASSWORDS = frozenset("""
password password1 password123 passw0rd p@ssw0rd 12345678 123456789 1234567890 12345678910 0123456789
11111111 1111111111 88888888 8888888888 66666666 6666666666 00000000 0000000000 99999999 11223344
qwertyui qwertyuiop qwerty123 qwerty1234 1qaz2wsx 1q2w3e4r 1q2w3e4r5t zaq12wsx asdfghjkl asdf1234
abc12345 abcd1234 abcdefgh a1234567 a12345678 aa123456 aa12345678 abc123456 abc1234567 iloveyou
admin123 admin1234 administrator root1234 welcome1 welcome123 changeme changeme123 letmein123 sunshine
woaini1314 woaini520 5201314520 1314520520 wang123456 zhang123456 li123456789 qq123456789 123123123
1234qwer 12344321 987654321 9876543210 147258369 123qweasd qweasdzxc 1qazxsw2 111222333 121212121
football baseball princess dragon123 monkey123 superman trustno1 starwars whatever shadow123 master123
""".split())


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password_policy(password: str, *, allow_short: bool = False, username: str = "") -> None:
    """Government-system policy: at least 10 characters, not a common password, not the username."""
    field = "password"
    if not password or (len(password) < 10 and not allow_short):
        raise ValidationError({field: _l("A password has at least 10 characters.")})
    if len(password) > 200:
        raise ValidationError({field: _l("At most %(n)d characters.", n=200)})
    if password.lower() in COMMON_PASSWORDS:
        raise ValidationError({field: _l("This password is too common: choose one nobody would guess.")})
    if username and username.lower() in password.lower():
        raise ValidationError({field: _l("The password must not contain the username.")})


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
    divisions, water_users = _scope_refs(session, division_codes, file_numbers, errors)
    display_name = _profile(display_name, None, errors)[0]
    if role == "inspector" and not (divisions or city_wide):
        errors["divisions"] = _l("An inspector needs divisions or city-wide scope.")
    if role == "enterprise" and not water_users:
        errors["water_users"] = _l("An enterprise account needs at least one water user.")
    if errors:
        raise ValidationError(errors)
    check_password_policy(password, allow_short=allow_short_password, username=username)
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
    if not isinstance(username, str) or len(username) > 60 or CONTROL_CHARS.search(username):
        raise ValidationError({"_": _l("Wrong username or password.")})  # no account could have this name
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


def _account_changes(before: dict, account: Account) -> dict:
    after = {"display_name": account.display_name, "email": account.email, "city_wide": account.city_wide,
             "divisions": sorted(d.code for d in account.divisions),
             "water_users": sorted(w.file_no for w in account.water_users), "active": account.active}
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _scope_of(account: Account) -> dict:
    return {"display_name": account.display_name, "email": account.email, "city_wide": account.city_wide,
            "divisions": sorted(d.code for d in account.divisions),
            "water_users": sorted(w.file_no for w in account.water_users), "active": account.active}


def _plain(value, max_len: int) -> bool:
    """A code or file number that could be stored (no control characters, not too long)."""
    return isinstance(value, str) and 0 < len(value) <= max_len and not CONTROL_CHARS.search(value)


def _scope_refs(session: Session, division_codes, file_numbers, errors: dict) -> tuple[list, list]:
    """The divisions and water users an account is linked to; unknown ones noted in ``errors``."""
    divisions = [session.get(Division, code) if _plain(code, 3) else None for code in division_codes]
    if any(d is None for d in divisions):
        errors["divisions"] = _l("Choose one of Yiwu's 14 divisions.")
    water_users = [session.execute(select(WaterUser).where(WaterUser.file_no == f)).scalar_one_or_none()
                   if _plain(f, 30) else None for f in file_numbers]
    if any(w is None for w in water_users):
        errors["water_users"] = _l("No water user has this file number.")
    return divisions, water_users


def _profile(display_name, email, errors: dict) -> tuple[str | None, str | None]:
    """The display name and e-mail as stored, or their errors added to ``errors``."""
    c = Checker({"display_name": display_name, "email": email})
    c.text("display_name", required=False, max_len=100)
    c.pattern("email", r"[^@\s]+@[^@\s]+\.[^@\s]+", _l("Enter an e-mail address like name@example.com."),
              required=False, max_len=200)
    errors.update({k: v for k, v in c.errors.items() if k not in errors})
    return c.out.get("display_name"), c.out.get("email")


def update_account(session: Session, actor, account: Account, *, display_name=None, email=None,
                   division_codes=(), file_numbers=(), city_wide=False) -> Account:
    """Change who the account is and what it may see (links to divisions or water users)."""
    from registry import access

    access.require_edit(actor, "account")
    errors = {}
    divisions, water_users = _scope_refs(session, division_codes, file_numbers, errors)
    display_name, email = _profile(display_name, email, errors)
    if account.role == "inspector" and not (divisions or city_wide) and not errors:
        errors["divisions"] = _l("An inspector needs divisions or city-wide scope.")
    if account.role == "enterprise" and not water_users and not errors:
        errors["water_users"] = _l("An enterprise account needs at least one water user.")
    if errors:
        raise ValidationError(errors)
    before = _scope_of(account)
    account.display_name = display_name
    account.email = email
    account.city_wide = bool(city_wide) and account.role == "inspector"
    account.divisions = [d for d in divisions if d] if account.role == "inspector" else []
    account.water_users = [w for w in water_users if w] if account.role == "enterprise" else []
    session.flush()
    audit.record(session, actor, "update", account, summary=f"account {account.username}",
                 changes=_account_changes(before, account))
    _commit(session)
    return account


def set_active(session: Session, actor, account: Account, active: bool, reason: str) -> Account:
    from registry import access

    access.require_edit(actor, "account")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _l("Give a reason for this change.")})
    refuse_control("reason", reason)
    if account.id == getattr(actor, "id", None) and not active:
        raise ValidationError({"reason": _l("You cannot disable your own account.")})
    before = account.active
    account.active = active
    account.disabled_reason = None if active else reason[:1000]
    session.flush()
    audit.record(session, actor, "update", account, reason=reason, summary=f"account {account.username}",
                 changes={"active": [before, active]})
    _commit(session)
    return account


def reset_password(session: Session, actor, account: Account) -> str:
    """A one-time password, shown once to the officer; the holder must change it at sign-in."""
    import secrets

    from registry import access

    access.require_edit(actor, "account")
    temporary = secrets.token_urlsafe(9)
    before = {"must_change_password": account.must_change_password, "locked_until": audit.snapshot(account)["locked_until"]}
    account.password_hash = hash_password(temporary)
    account.must_change_password = True
    account.failed_logins, account.locked_until = 0, None
    session.flush()
    # The trail says the password changed, never what it is (no hash either).
    changes = {"password": ["(set)", "(one-time)"], **audit.diff(before, {"must_change_password": True, "locked_until": None})}
    audit.record(session, actor, "reset_password", account, summary=f"account {account.username}", changes=changes)
    _commit(session)
    return temporary


def change_password(session: Session, account: Account, current: str, new: str, repeat: str) -> None:
    if not check_password_hash(account.password_hash, current or ""):
        raise ValidationError({"current": _l("The current password is wrong.")})
    if new != repeat:
        raise ValidationError({"repeat": _l("The two new passwords differ.")})
    try:
        check_password_policy(new, username=account.username)
    except ValidationError as err:
        raise ValidationError({"new": err.errors["password"]}) from None
    if check_password_hash(account.password_hash, new):
        raise ValidationError({"new": _l("Choose a password different from the current one.")})
    was_one_time = account.must_change_password
    account.password_hash = hash_password(new)
    account.must_change_password = False
    account.password_changed_at = utcnow()
    session.flush()
    changes = {"password": ["(set)", "(changed)"]}  # never the password or its hash
    if was_one_time:
        changes["must_change_password"] = [True, False]
    audit.record(session, account, "change_password", account, summary=f"account {account.username}", changes=changes)
    _commit(session)


def request_registration(session: Session, data: dict) -> RegistrationRequest:
    """An enterprise asks for an account (no sign-in); staff approve it against the USCC."""
    from registry.domain.uscc import UsccError, normalise_uscc, validate_uscc
    from registry.services.checks import Checker
    from registry.services.validators import USCC_MESSAGES

    c = Checker(data)
    username = c.pattern("username", r"[A-Za-z0-9_.\-]{3,60}", _l("A username is 3–60 letters, digits, - _ or ."))
    c.text("display_name", max_len=100)
    c.pattern("email", r"[^@\s]+@[^@\s]+\.[^@\s]+", _l("Enter an e-mail address like name@example.com."), max_len=200)
    c.pattern("phone", r"[0-9+\-() ]{5,40}", _l("Enter a phone number of digits, spaces, + - ( )."), max_len=40)
    raw = str(data.get("uscc") or "")
    try:
        validate_uscc(raw)
        c.out["uscc"] = normalise_uscc(raw)
    except UsccError as err:
        c.fail("uscc", USCC_MESSAGES.get(err.rule, USCC_MESSAGES["check"]))
    if username and session.execute(select(Account.id).where(Account.username == username)).first():
        c.fail("username", _l("This username is taken."))
    password = data.get("password") or ""
    try:
        check_password_policy(password, username=username or "")
    except ValidationError as err:
        c.fail("password", err.errors["password"])
    if password != (data.get("repeat") or ""):
        c.fail("repeat", _l("The two passwords differ."))
    values = c.done()
    row = RegistrationRequest(username=values["username"], display_name=values["display_name"], uscc=values["uscc"],
                              email=values["email"], phone=values["phone"], password_hash=hash_password(password))
    session.add(row)
    session.flush()
    audit.record(session, None, "request", row, entity="RegistrationRequest", summary=f"registration {row.username}",
                 changes={"username": [None, row.username], "uscc": [None, row.uscc]})
    session.commit()
    return row


def decide_registration(session: Session, actor, row: RegistrationRequest, approve: bool, reason: str = "") -> Account | None:
    """Approve: an enterprise account linked to the water user with the same USCC. Reject: say why."""
    from registry import access

    access.require_edit(actor, "account")
    if row.status != "pending":
        raise ValidationError({"_": _l("This request has already been decided.")})
    account = None
    if approve:
        wu = session.execute(select(WaterUser).where(WaterUser.uscc == row.uscc)).scalar_one_or_none()
        if wu is None:
            raise ValidationError({"_": _l("No water user has the USCC %(c)s: open the file first, or reject the request.",
                                           c=row.uscc)})
        if session.execute(select(Account.id).where(Account.username == row.username)).first():
            raise ValidationError({"_": _l("This username is taken.")})
        account = Account(username=row.username, role="enterprise", password_hash=row.password_hash,
                          display_name=row.display_name, email=row.email, water_users=[wu],
                          must_change_password=False)
        session.add(account)
        session.flush()
        row.account_id = account.id
    elif not (reason or "").strip():
        raise ValidationError({"reason": _l("Say why the request is rejected.")})
    refuse_control("reason", (reason or "").strip())
    row.status = "approved" if approve else "rejected"
    row.reason = (reason or "").strip()[:1000] or None
    row.reviewed_by_id, row.reviewed_at = actor.id, utcnow()
    session.flush()
    audit.record(session, actor, "approve" if approve else "reject", row, entity="RegistrationRequest",
                 summary=f"registration {row.username}", reason=row.reason,
                 changes={"status": ["pending", row.status]})
    _commit(session)
    return account
