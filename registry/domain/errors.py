"""Domain errors (领域错误): one base class for every rule the domain layer enforces.

Every error carries two machine codes, never user-facing text:

- ``field``: the input that failed (``"uscc"``, ``"valid_to"``, ``"longitude"``, a dotted
  path inside a rules file such as ``"calibration.intervals_months.mechanical"``);
- ``rule``: which rule failed (``"length"``, ``"before_start"``, ``"out_of_bounds"`` ...).

The web layer turns ``(field, rule)`` into a translated message and a 400 answer.
"""

from __future__ import annotations


class DomainError(ValueError):
    """A value broke a rule of the regulation; see ``field`` and ``rule``."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")
