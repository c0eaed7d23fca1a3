"""Publishing rules versions, and (re-exported from ``rules_in_force``) which rules are in force.

Versions are never edited in place: publishing makes a new version (a unit of work of its own,
audited), and old evaluations keep naming the version they were computed with. Reading the rules
in force lives in ``rules_in_force``, which the unit of work needs without importing this module.
"""
from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from registry import access
from registry.domain.rules import Rules, RulesError, available_versions
from registry.models import RulesVersion
from registry.services.errors import ValidationError
from registry.services.rules_in_force import (all_versions, by_version, current, current_version,  # noqa: F401
                                              forget_for_request)
from registry.services.unit_of_work import FileChange


def publish(session: Session, actor, text: str, note: str | None = None) -> RulesVersion:
    """Validate a rules document (JSON) and publish it as a new version."""
    access.require(actor, "rules.publish")
    try:
        document = json.loads(text or "")
    except json.JSONDecodeError as err:
        raise ValidationError({"document": _l("Not valid JSON: line %(line)d, column %(col)d: %(msg)s",
                                              line=err.lineno, col=err.colno, msg=err.msg)}) from None
    try:
        rules = Rules.from_dict(document)
    except RulesError as err:
        raise ValidationError({"document": _l("Rule %(field)s is invalid (%(rule)s). %(detail)s",
                                              field=err.field, rule=err.rule, detail=getattr(err, "message", ""))}) from None
    if rules.version in available_versions() or session.get(RulesVersion, rules.version) is not None:
        raise ValidationError({"document": _l("Version %(v)s exists already: published rules are never edited; "
                                              "give the new rules a new version.", v=rules.version)})
    # No file changes here: the files are scored under the new rules by ``registry recompute --all``.
    with FileChange(session, actor, evaluate=False) as change:
        row = change.add(RulesVersion(version=rules.version, document=rules.to_dict(),
                                      published_by_id=getattr(actor, "id", None), note=(note or "").strip()[:1000] or None))
        change.flush()
        change.audit("publish", row, entity="RulesVersion", entity_id=None,
                     summary=f"rules {rules.version}", changes={"version": [None, rules.version]})
    forget_for_request()
    return row
