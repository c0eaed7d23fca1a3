"""The one place that decides what an account may see and do.

Scope (what an account may *see*):

- ``bureau_admin`` sees every file;
- ``inspector`` sees the files of its divisions, or every file when city-wide;
- ``enterprise`` sees the water users linked to its account.

Every query for water-user data is scoped here; an object outside the scope answers 404
(``NotFound``: we never confirm that it exists).

Actions (what an account may *do*): ``ACTIONS`` below is the one table of who may do what, an
action name (``"permit.edit"``, ``"certificate.issue"``…) mapped to the roles allowed. Pages, the
API and the services all ask it, through

- ``require(account, action, within=file)``: scope first (``NotFound``, 404), then the role
  (``Forbidden``, 403);
- ``can(account, action)``: the same question as a bool (templates: whether to offer a button);
- ``@allows(action)``: a view decorator doing ``require`` for the file the address names;
- ``get_record(account, Model, id, within=file)``: a record named by a nested id; another file's
  record, or one outside the scope, is ``NotFound`` like a missing one.

The order is always: every object the address names is resolved in the account's scope (404),
and only then is the role asked (403). A page that names no file is in every account's scope, so
a role that may not use it answers 403 there.
"""
from __future__ import annotations

from functools import wraps

from sqlalchemy import Select, false, select

from registry.extensions import db
from registry.models import Account, WaterUser, account_divisions, account_water_users
from registry.services.errors import Forbidden, NotFound

ADMIN = frozenset({"bureau_admin"})
STAFF = frozenset({"bureau_admin", "inspector"})
ENTERPRISE = frozenset({"enterprise"})
EVERYONE = STAFF | ENTERPRISE

# Who may do what. To add an action: add a line here (name it "<object>.<verb>"), ask for it with
# require / can / @allows, and add its routes to tests/web/test_access.py. Nothing else decides.
ACTIONS: dict[str, frozenset[str]] = {
    # the file and its parts (records.KINDS: "<kind>.edit" creates, edits and closes the kind)
    "water_user.read": EVERYONE,        # a file in scope: staff any, an enterprise its own
    "water_user.list": STAFF,           # the list and search of files
    "water_user.create": ADMIN,
    "water_user.edit": STAFF,           # the profile of a file
    "water_user.close": ADMIN,          # close / reopen a file
    "permit.edit": ADMIN,
    "plan.edit": ADMIN,
    "intake_point.edit": STAFF,
    "meter.edit": STAFF,
    "calibration.edit": STAFF,
    "reading.edit": STAFF,
    "balance_test.edit": STAFF,
    "inspection.edit": STAFF,
    "rectification.edit": STAFF,
    "document.edit": STAFF,
    "dossier.read": STAFF,              # the whole file as one PDF
    # what staff do with enterprises' submissions, and their daily work
    "reading.review": STAFF,
    "document.review": STAFF,
    "reading.submit": EVERYONE,         # POST /api/v1/readings (an enterprise for its own meters)
    "visits.use": STAFF,                # the field-visit pages
    "work_queue.view": STAFF,
    "monitoring.view": STAFF,           # online meters, their completeness and daily series (issue 17)
    "warning.read": STAFF,              # the city's warnings (预警) and one warning's evidence
    "warning.handle": STAFF,            # assign a warning to an inspector, close it with an outcome
    "analysis.view": STAFF,             # use against plan and permit, by division and industry, coverage
    # the enterprise portal
    "portal.use": ENTERPRISE,           # submit readings and documents, answer orders, acknowledge notices
    # certificates
    "certificate.issue": ADMIN,         # issue, revoke, batch print (签发与撤销: the bureau only)
    # communications
    "communication.read": STAFF,        # the outbox and the letters to print
    "letter.manage": ADMIN,             # post letters, record bounced e-mails
    "message_template.edit": ADMIN,     # the bureau words what it sends
    # spreadsheets
    "import.run": ADMIN,
    "export.run": STAFF,
    # administration
    "rules.read": ADMIN,
    "rules.publish": ADMIN,
    "account.manage": ADMIN,            # accounts and registration requests
    "jobs.view": ADMIN,                 # every job of the task queue
    "token.manage_all": ADMIN,          # every account's API tokens (anyone: its own)
    # the plan year and the water-resource tax hand-over (issue 19)
    "plan.review": STAFF,               # the list of enterprises' plan proposals
    "plan.propose": ENTERPRISE,         # next year's plan and the past year's report, from the portal
    "tax_statement.read": STAFF,        # the city's statements, their exports and the statistics
    "tax_statement.edit": ADMIN,        # compute, sign off, correct
}


def _signed_in(account) -> bool:
    return account is not None and getattr(account, "is_authenticated", False)


def can(account, action: str) -> bool:
    """Whether the account's role may do ``action`` (scope is asked separately)."""
    roles = ACTIONS[action]  # an unknown action is a programming error, never "allowed"
    return _signed_in(account) and getattr(account, "role", None) in roles


def require(account, action: str, *, within: WaterUser | int | None = None) -> None:
    """Scope first (the file ``within``, if given: NotFound outside it), then the role (Forbidden)."""
    if within is not None:
        water_user_id = within if isinstance(within, int) else within.id
        if not in_scope(account, water_user_id):
            raise NotFound()
    if not can(account, action):
        raise Forbidden(action)


def allows(action: str):
    """View decorator: the file the address names (``water_user_id``) must be in scope (404),
    then the signed-in account's role must allow ``action`` (403). Put it below ``login_required``."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from flask_login import current_user

            require(current_user, action, within=kwargs.get("water_user_id"))
            return view(*args, **kwargs)
        return wrapper
    return decorate


def water_user_filter(account: Account):
    """A WHERE clause limiting water users to the account's scope."""
    if not _signed_in(account):
        return false()
    if account.role == "bureau_admin":
        return WaterUser.id.isnot(None)
    if account.role == "inspector":
        if account.city_wide:
            return WaterUser.id.isnot(None)
        codes = select(account_divisions.c.division_code).where(account_divisions.c.account_id == account.id)
        return WaterUser.division_code.in_(codes)
    if account.role == "enterprise":
        ids = select(account_water_users.c.water_user_id).where(account_water_users.c.account_id == account.id)
        return WaterUser.id.in_(ids)
    return false()


def sees_every_file(account: Account) -> bool:
    """True for a bureau administrator and a city-wide inspector: aggregates over a child table
    (readings, permits) then need no join to water_users just to apply the scope."""
    return _signed_in(account) and (account.role == "bureau_admin"
                                    or (account.role == "inspector" and account.city_wide))


def scoped(stmt: Select, account: Account) -> Select:
    """Limit any select that involves WaterUser to the account's scope."""
    return stmt.where(water_user_filter(account))


def get_water_user(account: Account, water_user_id: int) -> WaterUser:
    """The water user if the account may see it; NotFound otherwise (never confirm existence)."""
    if not isinstance(water_user_id, int) or not 0 < water_user_id < 2**63:
        raise NotFound()
    found = db.session.execute(
        scoped(select(WaterUser).where(WaterUser.id == water_user_id), account)).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def in_scope(account: Account, water_user_id: int) -> bool:
    if not isinstance(water_user_id, int) or not 0 < water_user_id < 2**63:
        return False  # no such file (and no database integer: never an error)
    stmt = scoped(select(WaterUser.id).where(WaterUser.id == water_user_id), account)
    return db.session.execute(stmt).first() is not None


def file_of(obj) -> int | None:
    """The id of the file a record belongs to (a calibration through its meter)."""
    if hasattr(obj, "water_user_id"):
        return obj.water_user_id
    meter = getattr(obj, "meter", None)
    return None if meter is None else meter.water_user_id


def get_record(account: Account, model, record_id, *, within: WaterUser | int | None = None):
    """The record ``model`` #``record_id`` of the file ``within`` (or of any file in scope);
    NotFound when it is missing, of another file, or outside the account's scope."""
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    obj = db.session.get(model, record_id) if 0 < record_id < 2**63 else None
    if obj is None:
        raise NotFound()
    owner = file_of(obj)
    if within is not None:
        expected = within if isinstance(within, int) else within.id
        if owner != expected or not in_scope(account, expected):
            raise NotFound()
    elif owner is None or not in_scope(account, owner):
        raise NotFound()
    return obj
