"""The plan year (计划用水, issue 19): the enterprise proposes next year's plan from the portal with
its report of the past year, before the deadline of the rules in force; the bureau approves it,
approves it changed (the reason is shown to the enterprise) or refuses it; the bureau may adjust a
plan mid-year, with a reason and the day it takes effect. Every version is kept
(``PlanVersion``); the plan row carries a copy of the latest, which the lists read.

The rules of the plan year (deadline, breakdowns, the allowance of a period) are in
registry.domain.plans and the rules file's ``plan_year`` section; this module only writes.
"""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import access
from registry.domain import plans as plan_rules
from registry.models import AnnualPlan, PlanProposal, PlanVersion, WaterUser
from registry.services import audit, validators
from registry.services.checks import Checker
from registry.services.errors import ValidationError
from registry.services.unit_of_work import FileChange

DECISIONS = ("approve", "change", "refuse")


def read_breakdown(c: Checker, volume: float | None, allowed: tuple[str, ...]) -> tuple[str | None, list | None]:
    """The breakdown fields of a form or API body: ``breakdown`` (none, month, quarter) and
    ``share_1`` … ``share_12`` / ``share_4``; the shares must add up to the year's volume."""
    kind = c.choice("breakdown", ("none",) + tuple(allowed), required=False)
    if kind in (None, "none"):
        c.out["breakdown"] = None
        return None, None
    size = plan_rules.BREAKDOWN_SIZES[kind]
    shares = [c.number(f"share_{i}") for i in range(1, size + 1)]
    for i in range(size + 1, 13):
        c.out.pop(f"share_{i}", None)
    if None in shares or volume is None:
        return kind, None
    try:
        plan_rules.check_breakdown(volume, kind, shares)
    except plan_rules.PlanError:
        total = float(sum(plan_rules.exact(s) for s in shares))
        c.fail("share_1", _l("The %(n)d shares add up to %(t)s m³, not the year's %(v)s m³ "
                             "(a breakdown divides the plan).", n=size, t=f"{total:,.2f}", v=f"{volume:,.2f}"))
    return kind, shares


def _clean(c: Checker) -> dict:
    values = c.done()
    return {k: v for k, v in values.items() if not k.startswith("share_")}


def _permit_cap(session: Session, c: Checker, wu: WaterUser, year: int | None, volume: float | None) -> None:
    if year is None or volume is None:
        return
    permitted = validators._permitted_in_year(session, wu, int(year))
    if permitted is not None and volume > permitted:
        c.fail("planned_volume_m3", _l("The plan cannot exceed the permitted %(v)s m³ a year.", v=f"{permitted:,.0f}"))


def _own_file(actor, wu: WaterUser) -> None:
    access.require(actor, "plan.propose", within=wu)
    if wu.status == "closed":
        raise ValidationError({"_": _l("This file is closed and can no longer be changed.")})


def open_plan(session: Session, wu_id: int, year: int) -> AnnualPlan | None:
    return session.scalars(select(AnnualPlan).where(AnnualPlan.water_user_id == wu_id, AnnualPlan.year == year,
                                                    AnnualPlan.closed_at.is_(None))).first()


def propose(session: Session, actor, wu: WaterUser, data: dict, *, idempotency_key: str | None = None) -> PlanProposal:
    """The enterprise's proposal of next year's plan with the past year's report."""
    _own_file(actor, wu)
    with FileChange(session, actor, idempotency_key) as change:
        if change.replay is not None:
            return change.replay
        rules = change.rules
        c = Checker(data, today=change.today)
        year = c.number("year")
        volume = c.number("planned_volume_m3")
        c.number("past_year_use_m3")
        c.text("past_year_report", required=False, max_len=4000, multiline=True)
        kind, shares = read_breakdown(c, volume, rules.plan_year.breakdowns)
        if year is not None:
            deadline = plan_rules.proposal_deadline(int(year), rules.plan_year.deadline_month_day)
            if int(year) <= change.today.year - 1 or int(year) > change.today.year + 1:
                c.fail("year", _l("Propose the plan of next year (%(y)d).", y=change.today.year + 1))
            elif change.today > deadline:
                c.fail("year", _l("The deadline to propose the %(y)d plan was %(d)s (rules %(r)s); ask the bureau.",
                                  y=int(year), d=deadline.isoformat(), r=rules.version))
            elif session.execute(select(func.count()).where(
                    PlanProposal.water_user_id == wu.id, PlanProposal.year == int(year),
                    PlanProposal.status == "pending", PlanProposal.closed_at.is_(None))).scalar_one():
                c.fail("year", _l("A proposal for that year is already waiting for the bureau's decision."))
        _permit_cap(session, c, wu, year, volume)
        values = _clean(c)
        proposal = change.add(PlanProposal(
            water_user_id=wu.id, year=values["year"], planned_volume_m3=values["planned_volume_m3"],
            breakdown=kind, shares=shares, past_year_use_m3=values["past_year_use_m3"],
            past_year_report=values.get("past_year_report"), status="pending", submitted_on=change.today,
            submitted_by_id=actor.id))
        change.flush()
        change.audit("submit", proposal, water_user_id=wu.id,
                     summary=f"plan proposal: {proposal.year} {proposal.planned_volume_m3:g} m³",
                     changes={k: [None, v] for k, v in audit.snapshot(proposal).items() if v not in (None, "")})
        change.created(proposal)
    return proposal


def _new_version(session: Session, change: FileChange, plan: AnnualPlan, *, volume: float, kind: str | None,
                 shares: list | None, effective_from: date, reason: str | None) -> PlanVersion:
    numbers = [v.number for v in plan.versions]
    if not numbers and plan.id is not None:  # a plan entered before versions: its first version as it stood
        first = change.add(PlanVersion(plan=plan, number=1, effective_from=date(plan.year, 1, 1),
                                       planned_volume_m3=plan.planned_volume_m3, breakdown=plan.breakdown,
                                       shares=plan.shares))
        numbers = [first.number]
    version = change.add(PlanVersion(plan=plan, number=max(numbers, default=0) + 1, effective_from=effective_from,
                                     planned_volume_m3=volume, breakdown=kind, shares=shares, reason=reason,
                                     created_by_id=getattr(change.actor, "id", None)))
    plan.planned_volume_m3, plan.breakdown, plan.shares = volume, kind, shares
    return version


def decide(session: Session, actor, proposal: PlanProposal, data: dict) -> PlanProposal:
    """The bureau's decision: ``approve``, ``change`` (its own volume/breakdown and a reason shown
    to the enterprise) or ``refuse`` (with the reason)."""
    access.require(actor, "plan.edit", within=proposal.water_user_id)
    wu = session.get(WaterUser, proposal.water_user_id)
    with FileChange(session, actor) as change:
        if proposal.status != "pending" or proposal.closed_at is not None:
            raise ValidationError({"decision": _l("This proposal has already been decided.")})
        c = Checker(data, today=change.today)
        decision = c.choice("decision", DECISIONS)
        reason = c.text("decision_reason", required=decision in ("change", "refuse"), max_len=2000, multiline=True)
        volume, kind, shares = proposal.planned_volume_m3, proposal.breakdown, proposal.shares
        if decision == "change":
            volume = c.number("planned_volume_m3")
            kind, shares = read_breakdown(c, volume, change.rules.plan_year.breakdowns)
            _permit_cap(session, c, wu, proposal.year, volume)
        values = _clean(c)
        before = audit.snapshot(proposal)
        proposal.status = {"approve": "approved", "change": "changed", "refuse": "refused"}[decision]
        proposal.decided_on, proposal.decided_by_id, proposal.decision_reason = change.today, actor.id, reason
        if decision != "refuse":
            plan = open_plan(session, wu.id, proposal.year)
            summary = reason or _l("proposal approved")
            if plan is None:
                plan = change.add(AnnualPlan(water_user_id=wu.id, year=proposal.year, planned_volume_m3=volume,
                                             approved_on=change.today, breakdown=kind, shares=shares))
                change.flush()
                change.add(PlanVersion(plan=plan, number=1, effective_from=date(proposal.year, 1, 1),
                                       planned_volume_m3=volume, breakdown=kind, shares=shares,
                                       reason=str(summary), created_by_id=actor.id))
                change.flush()
                change.audit("create", plan, water_user_id=wu.id, summary=f"plan: {plan.year} {volume:g} m³",
                             changes={k: [None, v] for k, v in audit.snapshot(plan).items() if v not in (None, "")})
            else:
                plan_before = audit.snapshot(plan)
                _new_version(session, change, plan, volume=volume, kind=kind, shares=shares,
                             effective_from=max(date(proposal.year, 1, 1), min(change.today, date(proposal.year, 12, 31))),
                             reason=str(summary))
                plan.approved_on = change.today
                change.flush()
                change.audit("update", plan, water_user_id=wu.id, summary=f"plan: {plan.year} {volume:g} m³",
                             changes=audit.diff(plan_before, audit.snapshot(plan)))
            proposal.plan_id = plan.id
        change.flush()
        change.audit(proposal.status, proposal, water_user_id=wu.id,
                     summary=f"plan proposal {proposal.year}: {proposal.status}",
                     changes=audit.diff(before, audit.snapshot(proposal)))
        del values
    return proposal


def adjust(session: Session, actor, plan: AnnualPlan, data: dict) -> PlanVersion:
    """A mid-year adjustment by the bureau: a new version in force from ``effective_from`` (in the
    plan's year), with its reason; the earlier versions stay and keep their days."""
    access.require(actor, "plan.edit", within=plan.water_user_id)
    wu = session.get(WaterUser, plan.water_user_id)
    with FileChange(session, actor) as change:
        if plan.closed_at is not None:
            raise ValidationError({"_": _l("This plan is voided; record a new one.")})
        c = Checker(data, today=change.today)
        volume = c.number("planned_volume_m3")
        effective = c.date("effective_from")
        c.text("reason", max_len=2000, multiline=True)
        kind, shares = read_breakdown(c, volume, change.rules.plan_year.breakdowns)
        if effective is not None and effective.year != plan.year:
            c.fail("effective_from", _l("An adjustment takes effect within the plan's year %(y)d.", y=plan.year))
        elif effective is not None and plan.versions and effective < max(v.effective_from for v in plan.versions):
            c.fail("effective_from", _l("An adjustment takes effect after the version in force (from %(d)s).",
                                        d=max(v.effective_from for v in plan.versions).isoformat()))
        _permit_cap(session, c, wu, plan.year, volume)
        values = _clean(c)
        before = audit.snapshot(plan)
        version = _new_version(session, change, plan, volume=values["planned_volume_m3"], kind=kind, shares=shares,
                               effective_from=values["effective_from"], reason=values["reason"])
        change.flush()
        change.audit("adjust", plan, water_user_id=wu.id,
                     summary=f"plan {plan.year} adjusted from {version.effective_from.isoformat()}: {values['reason'][:80]}",
                     changes=audit.diff(before, audit.snapshot(plan)))
    return version


def versions_of(plan) -> tuple[plan_rules.PlanVersionFact, ...]:
    """The plan's versions as the domain reads them (one from 1 January when none is stored; the
    latest carries the plan's own figures, should the record have been corrected since)."""
    stored = sorted(plan.versions, key=lambda v: v.number)
    facts = [plan_rules.PlanVersionFact(v.effective_from, v.planned_volume_m3, v.breakdown, tuple(v.shares or ()))
             for v in stored]
    current = plan_rules.PlanVersionFact(facts[-1].effective_from if facts else date(plan.year, 1, 1),
                                         plan.planned_volume_m3, plan.breakdown, tuple(plan.shares or ()))
    return tuple(facts[:-1]) + (current,)
