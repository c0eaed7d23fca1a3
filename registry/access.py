"""The one place that decides what an account may see and do.

- ``bureau_admin`` sees every file;
- ``inspector`` sees the files of its divisions, or every file when city-wide;
- ``enterprise`` sees the water users linked to its account.

Every query for water-user data is scoped here; an object outside the scope answers 404.
"""
from __future__ import annotations

from sqlalchemy import Select, false, select

from registry.extensions import db
from registry.models import Account, WaterUser, account_divisions, account_water_users
from registry.services.errors import Forbidden, NotFound

# Which roles may change which part of a file. Enterprises submit through the portal (later);
# they never edit records directly.
EDITORS: dict[str, frozenset[str]] = {
    "water_user": frozenset({"bureau_admin", "inspector"}),
    "water_user_create": frozenset({"bureau_admin"}),
    "water_user_close": frozenset({"bureau_admin"}),
    "permit": frozenset({"bureau_admin"}),
    "plan": frozenset({"bureau_admin"}),
    "intake_point": frozenset({"bureau_admin", "inspector"}),
    "meter": frozenset({"bureau_admin", "inspector"}),
    "calibration": frozenset({"bureau_admin", "inspector"}),
    "reading": frozenset({"bureau_admin", "inspector"}),
    "balance_test": frozenset({"bureau_admin", "inspector"}),
    "inspection": frozenset({"bureau_admin", "inspector"}),
    "rectification": frozenset({"bureau_admin", "inspector"}),
    "document": frozenset({"bureau_admin", "inspector"}),
    "account": frozenset({"bureau_admin"}),
    "rules": frozenset({"bureau_admin"}),
    "tax_statement": frozenset({"bureau_admin"}),  # compute, sign off, correct (issue 19)
}


def water_user_filter(account: Account):
    """A WHERE clause limiting water users to the account's scope."""
    if account is None or not getattr(account, "is_authenticated", False):
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
    return (account is not None and getattr(account, "is_authenticated", False)
            and (account.role == "bureau_admin" or (account.role == "inspector" and account.city_wide)))


def scoped(stmt: Select, account: Account) -> Select:
    """Limit any select that involves WaterUser to the account's scope."""
    return stmt.where(water_user_filter(account))


def get_water_user(account: Account, water_user_id: int) -> WaterUser:
    """The water user if the account may see it; NotFound otherwise (never confirm existence)."""
    found = db.session.execute(
        scoped(select(WaterUser).where(WaterUser.id == water_user_id), account)).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def in_scope(account: Account, water_user_id: int) -> bool:
    stmt = scoped(select(WaterUser.id).where(WaterUser.id == water_user_id), account)
    return db.session.execute(stmt).first() is not None


def can_edit(account: Account, kind: str) -> bool:
    return account is not None and getattr(account, "role", None) in EDITORS.get(kind, frozenset())


def require_edit(account: Account, kind: str) -> None:
    if not can_edit(account, kind):
        raise Forbidden(kind)
