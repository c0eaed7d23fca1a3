"""Domain errors raised by services; the web and API layers turn them into 400/403/404/409."""
from __future__ import annotations


class ServiceError(Exception):
    pass


class ValidationError(ServiceError):
    """Bad input: ``errors`` maps a field name to a message naming the rule that failed."""

    def __init__(self, errors: dict[str, object]):
        super().__init__(errors)
        self.errors = errors


class Forbidden(ServiceError):
    """The actor may see the object but not do this to it (403)."""


class NotFound(ServiceError):
    """Missing or outside the actor's scope (404: we never confirm that it exists)."""


class StaleEdit(ServiceError):
    """Someone saved the record after the form was opened; ``current`` holds their values."""

    def __init__(self, current: dict):
        super().__init__("stale")
        self.current = current


class Conflict(ServiceError):
    """The change met another one made at the same moment and cannot be judged now (409): sending
    it again is safe (an idempotent batch answers what the other one stored)."""
