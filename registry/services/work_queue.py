"""The staff work queue: everything due or overdue across the files an account may see."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, literal, or_, select

from registry import access
from registry.models import Account, DueItem, WaterUser, account_divisions
from registry.services.checks import database_id

DUE_KINDS = ("permit_renewal", "calibration", "service_life", "balance_test", "annual_plan", "monthly_readings",
             "rectification")
# Where on the one-file page each kind of item is fixed.
ANCHORS = {"permit_renewal": "permits", "calibration": "meters", "service_life": "meters",
           "balance_test": "balance-tests", "annual_plan": "plans", "monthly_readings": "readings",
           "rectification": "inspections"}


@dataclass
class QueueFilters:
    division: str = ""
    kind: str = ""
    inspector: str = ""  # account id of an inspector: the divisions it covers
    status: str = ""  # overdue | due_soon | "" (both)


def status_expression(today: date):
    """The stored status, except that an item due soon is overdue once its date has passed."""
    return case((and_(DueItem.status == "due_soon", DueItem.due_on < today), literal("overdue")),
                else_=DueItem.status)


def status_is(wanted: str, today: date):
    """``status_expression(today) == wanted`` written on the columns themselves, so that the index
    on (status, due_on) can answer it."""
    if wanted == "overdue":
        return or_(DueItem.status == "overdue", and_(DueItem.status == "due_soon", DueItem.due_on < today))
    return and_(DueItem.status == wanted, or_(DueItem.due_on.is_(None), DueItem.due_on >= today))


def queue(session, account, filters: QueueFilters, today: date):
    """A select of (DueItem, WaterUser, status), most urgent first, scoped to the account."""
    status = status_expression(today).label("status")
    stmt = (access.scoped(select(DueItem, WaterUser, status).join(WaterUser, WaterUser.id == DueItem.water_user_id),
                          account)
            .where(WaterUser.status == "active"))
    if filters.status in ("overdue", "due_soon"):
        stmt = stmt.where(status_is(filters.status, today))
    if filters.division:
        stmt = stmt.where(WaterUser.division_code == filters.division)
    if filters.kind in DUE_KINDS:
        stmt = stmt.where(DueItem.kind == filters.kind)
    if database_id(filters.inspector) is not None:
        inspector = session.get(Account, database_id(filters.inspector))
        if inspector is not None and inspector.role == "inspector" and not inspector.city_wide:
            stmt = stmt.where(WaterUser.division_code.in_(
                select(account_divisions.c.division_code).where(account_divisions.c.account_id == inspector.id)))
    urgency = case((status == "overdue", 0), else_=1)
    return stmt.order_by(urgency, DueItem.due_on.is_(None), DueItem.due_on, WaterUser.file_no)


def inspectors(session) -> list[Account]:
    return list(session.scalars(select(Account).where(Account.role == "inspector", Account.active.is_(True))
                                .order_by(Account.username)))
