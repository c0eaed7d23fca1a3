"""Accounts: creation, the password policy, sign-in (failures counted; throttled by
web/auth/throttle.py, never locked) and sessions that end."""
from __future__ import annotations

import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from registry import access
from registry.domain import passwords
from registry.domain.uscc import UsccError, normalise_uscc, validate_uscc
from registry.models import ROLES, Account, Division, RegistrationRequest, WaterUser, utcnow
from registry.services import audit
from registry.services.checks import CONTROL_CHARS, Checker, refuse_control
from registry.services.errors import ValidationError
from registry.services.validators import USCC_MESSAGES
from registry.services.unit_of_work import FileChange

# Failed sign-ins in a row after which the bureau's trail notes repeated failures (the sign-in
# throttle of web/auth does the slowing down: there is no automatic lock, which anyone could use
# to lock a known account out).
REPEATED_FAILURES = 5

_POLICY_MESSAGES = {
    "short": _l("A password has at least 10 characters."),
    "long": _l("At most %(n)d characters.", n=passwords.MAX_LENGTH),
    "common": _l("This password is too common: choose one nobody would guess."),
    "username": _l("The password must not contain the username."),
}


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password_policy(password: str, *, username: str = "") -> None:
    """NIST SP 800-63B §5.1.1.2 (``domain.passwords``): every path that sets a password calls this."""
    code = passwords.problem(password, username)
    if code is not None:
        raise ValidationError({"password": _POLICY_MESSAGES[code]})


_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash of a random secret with the configured method: an unknown username costs the same
    hashing as a known one, so the answer's timing does not tell which names exist."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASHES[method]


def end_sessions(session: Session, account: Account) -> None:
    """Every session of the account ends: its session version goes up in one UPDATE (no
    optimistic-lock conflict with an edit of the account in flight)."""
    new = session.execute(update(Account).where(Account.id == account.id)
                          .values(session_version=Account.session_version + 1)
                          .returning(Account.session_version)
                          .execution_options(synchronize_session=False)).scalar_one()
    set_committed_value(account, "session_version", new)


def create_account(session: Session, actor, *, username: str, role: str, password: str,
                   division_codes=(), file_numbers=(), city_wide: bool = False, display_name: str | None = None,
                   must_change_password: bool = True, demo_password: bool = False) -> Account:
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
    if not demo_password:  # spec.md: the demo accounts' password is the one given to demo-data (default "demo")
        check_password_policy(password, username=username)
    with FileChange(session, actor) as change:
        account = change.add(Account(username=username, role=role, password_hash=hash_password(password),
                                     city_wide=city_wide, display_name=display_name,
                                     must_change_password=must_change_password,
                                     divisions=[d for d in divisions if d], water_users=[w for w in water_users if w]))
        change.flush()
        change.audit("create", account, summary=f"account {username} ({role})",
                     changes={"username": [None, username], "role": [None, role],
                              "divisions": [None, list(division_codes)], "water_users": [None, list(file_numbers)],
                              "city_wide": [None, city_wide]})
    return account


def authenticate(session: Session, username: str, password: str) -> Account:
    """The account for these credentials; ValidationError naming no detail an attacker could use.

    A wrong password on a known name and any password on an unknown one do the same work (issue 16
    item 3: 57 ms against 757 ms told which names exist): one look-up of the hash by name, one password hash
    (of a random secret when no account has the name), and the failure counted by the same
    ``UPDATE … SET failed_logins = failed_logins + 1 WHERE username = …``, committed, which for an
    unknown name finds no row. Parallel guesses all count, none collides with another. The same
    message for both; only the right password learns that an account is disabled.
    """
    wrong = ValidationError({"_": _l("Wrong username or password.")})
    plausible = isinstance(username, str) and len(username) <= 60 and not CONTROL_CHARS.search(username)
    name = username if plausible else ""  # no account has an empty name (create_account refuses it)
    # Only the hash is read until the password matched: loading the account (its divisions and
    # water users) for a wrong password would be work an unknown name does not do.
    found = session.execute(select(Account.id, Account.password_hash).where(Account.username == name)).one_or_none()
    matches = check_password_hash(found.password_hash if found is not None else _dummy_hash(), password or "")
    if found is None or not matches:
        _count_failure(session, name)
        raise wrong
    account = session.get(Account, found.id)
    if not account.is_active or account.is_locked:
        raise ValidationError({"_": _l("This account is disabled.")})
    with FileChange(session, account) as change:
        session.execute(update(Account).where(Account.id == account.id).values(failed_logins=0)
                        .execution_options(synchronize_session=False))
        change.audit("sign_in", account, summary=f"account {username} signed in")
    return account


def _count_failure(session: Session, name: str) -> None:
    """One refused sign-in on ``name``, counted and committed although the answer is an error, by
    the same statements whether or not an account has the name, so both cost the same: the UPDATE
    of the count (no row for an unknown name) and one event in the trail, which is a real write in
    both cases (a commit that changed nothing would be quicker). The event is the log of every
    refused sign-in that OWASP ASVS V7.2.1 asks for; an unknown name is not stored (people type
    their password in the name field)."""
    with FileChange(session) as change:
        counted = session.execute(update(Account).where(Account.username == name)
                                  .values(failed_logins=Account.failed_logins + 1)
                                  .returning(Account.id, Account.failed_logins)
                                  .execution_options(synchronize_session=False)).one_or_none()
        change.audit("sign_in_refused", entity="Account", entity_id=counted.id if counted is not None else None,
                     summary=f"account {name}: sign-in refused ({counted.failed_logins} in a row)"
                     if counted is not None else "sign-in refused: no account has the name typed")
        if counted is not None and counted.failed_logins == REPEATED_FAILURES:  # exactly one request sees this
            change.audit("failed_logins", session.get(Account, counted.id),
                         summary=f"account {name}: {REPEATED_FAILURES} failed sign-ins in a row",
                         changes={"failed_logins": [None, counted.failed_logins]})


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
    access.require(actor, "account.manage")
    errors = {}
    divisions, water_users = _scope_refs(session, division_codes, file_numbers, errors)
    display_name, email = _profile(display_name, email, errors)
    if account.role == "inspector" and not (divisions or city_wide) and not errors:
        errors["divisions"] = _l("An inspector needs divisions or city-wide scope.")
    if account.role == "enterprise" and not water_users and not errors:
        errors["water_users"] = _l("An enterprise account needs at least one water user.")
    if errors:
        raise ValidationError(errors)
    with FileChange(session, actor) as change:
        before = _scope_of(account)
        account.display_name = display_name
        account.email = email
        account.city_wide = bool(city_wide) and account.role == "inspector"
        account.divisions = [d for d in divisions if d] if account.role == "inspector" else []
        account.water_users = [w for w in water_users if w] if account.role == "enterprise" else []
        change.flush()
        if _scope_of(account) != before:  # what the account may see changed: its sessions start again
            end_sessions(session, account)
        change.audit("update", account, summary=f"account {account.username}", changes=_account_changes(before, account))
    return account


def set_active(session: Session, actor, account: Account, active: bool, reason: str) -> Account:
    access.require(actor, "account.manage")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _l("Give a reason for this change.")})
    refuse_control("reason", reason)
    if account.id == getattr(actor, "id", None) and not active:
        raise ValidationError({"reason": _l("You cannot disable your own account.")})
    with FileChange(session, actor) as change:
        before = account.active
        account.active = active
        account.disabled_reason = None if active else reason[:1000]
        change.flush()
        if not active:
            end_sessions(session, account)
        change.audit("update", account, reason=reason, summary=f"account {account.username}",
                     changes={"active": [before, active]})
    return account


def reset_password(session: Session, actor, account: Account) -> str:
    """A one-time password, shown once to the officer; the holder must change it at sign-in."""
    access.require(actor, "account.manage")
    temporary = secrets.token_urlsafe(9)
    while passwords.problem(temporary, account.username):  # the same policy as any password (rarely loops)
        temporary = secrets.token_urlsafe(9)
    with FileChange(session, actor) as change:
        before = {"must_change_password": account.must_change_password,
                  "locked_until": audit.snapshot(account)["locked_until"]}
        account.password_hash = hash_password(temporary)
        account.must_change_password = True
        account.failed_logins, account.locked_until = 0, None
        change.flush()
        end_sessions(session, account)  # whoever holds a session of the account now is signed out
        # The trail says the password changed, never what it is (no hash either).
        changes = {"password": ["(set)", "(one-time)"],
                   **audit.diff(before, {"must_change_password": True, "locked_until": None})}
        change.audit("reset_password", account, summary=f"account {account.username}", changes=changes)
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
    with FileChange(session, account) as change:
        was_one_time = account.must_change_password
        account.password_hash = hash_password(new)
        account.must_change_password = False
        account.password_changed_at = utcnow()
        change.flush()
        end_sessions(session, account)  # other sessions end; the caller signs the current one in anew
        changes = {"password": ["(set)", "(changed)"]}  # never the password or its hash
        if was_one_time:
            changes["must_change_password"] = [True, False]
        change.audit("change_password", account, summary=f"account {account.username}", changes=changes)


def request_registration(session: Session, data: dict) -> RegistrationRequest:
    """An enterprise asks for an account (no sign-in); staff approve it against the USCC."""
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
    # A taken name is not refused here: the answer would tell anyone which names exist. The
    # officer deciding the request sees it (decide_registration) and tells the applicant.
    password = data.get("password") or ""
    try:
        check_password_policy(password, username=username or "")
    except ValidationError as err:
        c.fail("password", err.errors["password"])
    if password != (data.get("repeat") or ""):
        c.fail("repeat", _l("The two passwords differ."))
    values = c.done()
    with FileChange(session) as change:
        row = change.add(RegistrationRequest(username=values["username"], display_name=values["display_name"],
                                             uscc=values["uscc"], email=values["email"], phone=values["phone"],
                                             password_hash=hash_password(password)))
        change.flush()
        change.audit("request", row, entity="RegistrationRequest", summary=f"registration {row.username}",
                     changes={"username": [None, row.username], "uscc": [None, row.uscc]})
    return row


def sign_out(session: Session, account: Account) -> None:
    """Sign-out ends every session of the account, so a copied cookie is worth nothing after it."""
    with FileChange(session, account) as change:
        end_sessions(session, account)
        change.audit("sign_out", account, summary=f"account {account.username} signed out")


def decide_registration(session: Session, actor, row: RegistrationRequest, approve: bool, reason: str = "") -> Account | None:
    """Approve: an enterprise account linked to the water user with the same USCC. Reject: say why."""
    access.require(actor, "account.manage")
    if row.status != "pending":
        raise ValidationError({"_": _l("This request has already been decided.")})
    with FileChange(session, actor) as change:
        return _decide(change, row, approve, reason)


def _decide(change: FileChange, row: RegistrationRequest, approve: bool, reason: str) -> Account | None:
    session, actor = change.session, change.actor
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
        change.add(account)
        change.flush()
        row.account_id = account.id
    elif not (reason or "").strip():
        raise ValidationError({"reason": _l("Say why the request is rejected.")})
    refuse_control("reason", (reason or "").strip())
    row.status = "approved" if approve else "rejected"
    row.reason = (reason or "").strip()[:1000] or None
    row.reviewed_by_id, row.reviewed_at = actor.id, utcnow()
    change.flush()
    change.audit("approve" if approve else "reject", row, entity="RegistrationRequest",
                 summary=f"registration {row.username}", reason=row.reason, changes={"status": ["pending", row.status]})
    return account
