"""Password rules of NIST SP 800-63B §5.1.1.2 (memorized secrets): a minimum length, no value
from a list of known-compromised or common passwords, nothing derived from the account's name.
No composition rules and no forced periodic change (§5.1.1.2 advises against both)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 10  # 等保 2.0 level 3 practice; NIST's floor is 8
MAX_LENGTH = 200
_LIST = Path(__file__).with_name("common_passwords.txt")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list (a few thousand, most common first), lower-cased."""
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def problem(password: str | None, username: str = "", *, min_length: int = MIN_LENGTH) -> str | None:
    """Why ``password`` may not be set, as a code (``short``, ``long``, ``common``, ``username``), or None."""
    if not password or len(password) < min_length:
        return "short"
    if len(password) > MAX_LENGTH:
        return "long"
    if password.lower() in common_passwords():
        return "common"
    name = (username or "").lower()
    if name and (password.lower() == name or (len(name) >= 3 and name in password.lower())):
        return "username"
    return None
