"""One unit of work for every write (issue 14): ``with FileChange(session, actor, key) as change:``.

A change holds what one request or job changes together:

- the **idempotency key** of a create form or API call: ``change.replay`` is what an earlier
  request with the same key made (the caller answers with it and changes nothing), and
  ``change.created(obj)`` remembers the new object under the key;
- the **files touched** (``change.touch(id)``, or ``change.audit(...)`` with a ``water_user_id``);
- the **rules in force** and the bureau's day, read once (``change.rules``, ``change.today``).

Leaving the block without an exception flushes, re-evaluates the touched files under the rules in
force (which revokes certificates whose grade lapsed, see ``evaluations._store``) and commits once.
An exception rolls everything back: a unique constraint lost to a parallel request becomes the
field error it is (``ValidationError``), a version saved first by another request a ``StaleEdit``.
``change.discard()`` makes the block a dry run (rolled back at the end, nothing kept).

Services never call ``session.commit()`` for a record of a file; they write through this class.
"""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from registry import clock
from registry.models import IdempotencyKey, WaterUser
from registry.services import audit, checks, evaluations, rules_in_force
from registry.services.errors import StaleEdit, ValidationError


def integrity_error(err: IntegrityError) -> ValidationError:
    """A unique constraint lost a race with another request: say which field, keep the form."""
    text = str(err.orig).lower()
    for field in ("serial", "number", "file_no", "uscc", "period", "year", "username", "telemetry_id"):
        if field in text:
            return ValidationError({field: _l("This value is already used by another record.")})
    return ValidationError({"_": _l("The record conflicts with another one; reload and try again.")})


def existing_for_key(session: Session, key: str | None):
    """The object a create with this idempotency key already made, if any."""
    key = checks.idempotency_key(key)
    if key is None:
        return None
    seen = session.get(IdempotencyKey, key)
    if seen is None:
        return None
    # Any model a keyed create makes (records, water users, documents, certificates, inspections, …).
    model = {mapper.class_.__name__: mapper.class_ for mapper in WaterUser.registry.mappers}
    return session.get(model[seen.entity_type], seen.entity_id) if seen.entity_type in model else None


def created_changes(obj=None, *, snapshot: dict | None = None) -> dict:
    """The audit trail's changes of a new object: each value it was created with, from nothing."""
    after = audit.snapshot(obj) if snapshot is None else snapshot
    return {k: [None, v] for k, v in after.items() if v not in (None, [], "")}


class FileChange:
    """The unit of work; see the module's docstring."""

    def __init__(self, session: Session, actor=None, key: str | None = None, *, rules=None,
                 today: date | None = None, evaluate: bool = True):
        self.session = session
        self.actor = actor
        self.key = checks.idempotency_key(key)
        self.touched: set[int] = set()
        self.evaluate = evaluate
        self._rules = rules
        self._today = today
        self._discard = False
        self.replay = None

    # -- the block ---------------------------------------------------------------------------
    def __enter__(self) -> "FileChange":
        self.replay = existing_for_key(self.session, self.key)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.session.rollback()
            return self._translate(exc)
        if self._discard or self.replay is not None:
            self.session.rollback()
            return False
        try:
            self.session.flush()
            if self.evaluate and self.touched:
                evaluations.refresh(self.session, self.rules, self.today, sorted(self.touched))
            self.session.commit()
        except (IntegrityError, StaleDataError) as err:
            self.session.rollback()
            self._translate(err)
        return False

    def _translate(self, exc) -> bool:
        if isinstance(exc, IntegrityError):
            raise integrity_error(exc) from exc
        if isinstance(exc, StaleDataError):
            raise StaleEdit({}) from exc
        return False

    # -- what the block knows ----------------------------------------------------------------
    @property
    def rules(self):
        if self._rules is None:
            self._rules = rules_in_force.current(self.session)
        return self._rules

    @property
    def today(self) -> date:
        if self._today is None:
            self._today = clock.today()
        return self._today

    # -- what the block does -----------------------------------------------------------------
    def touch(self, *water_user_ids: int | None) -> None:
        """These files changed: re-evaluate them before the commit."""
        self.touched.update(i for i in water_user_ids if i is not None)

    def add(self, obj):
        self.session.add(obj)
        return obj

    def flush(self) -> None:
        """Flush now (for ids and snapshots); a lost race becomes the field error it is."""
        try:
            self.session.flush()
        except (IntegrityError, StaleDataError) as err:
            self.session.rollback()
            self._translate(err)

    def audit(self, action: str, obj=None, *, water_user_id: int | None = None, **kwargs):
        """Record who changed what (before → after) with the change; the file is touched."""
        self.touch(water_user_id)
        return audit.record(self.session, self.actor, action, obj, water_user_id=water_user_id, **kwargs)

    def created(self, obj) -> None:
        """Remember ``obj`` under the idempotency key, so that a resend answers it again."""
        if self.key:
            self.session.add(IdempotencyKey(key=self.key[:64], account_id=getattr(self.actor, "id", None),
                                            entity_type=type(obj).__name__, entity_id=obj.id))

    def discard(self) -> None:
        """Make the block a dry run: everything is rolled back when it ends."""
        self._discard = True
