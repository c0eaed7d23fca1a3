"""Use cases. Each takes (session, actor, ...) and authorises, validates, changes, audits and
commits once. Forms, the API and the importer call the same functions."""
from registry.services.errors import Conflict, Forbidden, NotFound, ServiceError, StaleEdit, ValidationError

__all__ = ["Conflict", "Forbidden", "NotFound", "ServiceError", "StaleEdit", "ValidationError"]
