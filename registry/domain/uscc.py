"""统一社会信用代码 (unified social credit code, USCC), GB 32100-2015.

Layout of the 18 characters:
1 registration authority (登记管理部门), 2 organisation type (机构类别), 3–8 registering
division (登记管理机关行政区划码, Yiwu 330782), 9–17 organisation code (主体标识码, GB 11714,
whose 9th character is its own check digit), 18 check character.

The 18th character is checked with the GB 32100-2015 §4 weights over the 31-character
alphabet (no I, O, S, V, Z); a wrong length, alphabet or check character rejects the code.
The embedded GB 11714 check is only a warning: codes re-issued from old registrations do
not always satisfy it. Input is normalised first (:func:`normalise_uscc`: half-width, no
spaces or dashes, upper case), and a degenerate code (all zeros ...) is refused.
"""

from __future__ import annotations

import random
import re
import unicodedata

from registry.domain.errors import DomainError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LENGTH = 18
# GB 32100-2015 §4.2: W_i = 3^(i-1) mod 31 for positions 1..17.
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714-1997 §5: weights of the 8-character organisation code body.
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
ORG_CODE_SLICE = slice(8, 16)  # positions 9–16: organisation code body
ORG_CHECK_INDEX = 16  # position 17: organisation code check digit

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Whitespace and every dash (ASCII, full-width after NFKC, Unicode hyphens and dashes, minus)
# that people type between the groups of a code.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\ufe58\ufe63]+")


class UsccError(DomainError):
    """The code is rejected. ``rule`` is ``length``, ``alphabet``, ``degenerate`` or ``check``;
    ``position`` is the 1-based position of the offending character (None for length)."""

    def __init__(self, rule: str, position: int | None = None, field: str = "uscc") -> None:
        super().__init__(field, rule)
        self.position = position
        if position is not None:
            self.args = (f"{field}: {rule} at position {position}",)


def normalise_uscc(code: str) -> str:
    """The one stored form: NFKC (full-width ９１３３ → 9133), whitespace and dashes removed,
    upper case. Validate, store and compare (the unique check) this form only."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", code)).upper()


def is_degenerate(text: str) -> bool:
    """A code no registration yields though its check character may hold: one character
    repeated (000000000000000000 passes the check), a registering division of 000000, or an
    organisation code (positions 9–17) of zeros."""
    return len(set(text)) == 1 or text[2:8] == "000000" or text[8:17] == "000000000"


def _check_chars(text: str, length: int) -> None:
    if len(text) != length:
        raise UsccError("length")
    for position, ch in enumerate(text, start=1):
        if ch not in _VALUE:
            raise UsccError("alphabet", position)


def check_character(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015 §4)."""
    text = normalise_uscc(first17)
    _check_chars(text, LENGTH - 1)
    total = sum(_VALUE[ch] * w for ch, w in zip(text, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def _org_value(ch: str, position: int) -> int:
    # GB 11714: digits are their value, letters A–Z are 10–35.
    if ch.isdigit() and ch.isascii():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    raise UsccError("alphabet", position, field="org_code")


def org_code_check(first8: str) -> str:
    """Check digit of an organisation code body (GB 11714): C = 11 − Σ mod 11, 10→X, 11→0."""
    text = normalise_uscc(first8)
    if len(text) != len(ORG_CODE_WEIGHTS):
        raise UsccError("length", field="org_code")
    total = sum(
        _org_value(ch, i) * w
        for i, (ch, w) in enumerate(zip(text, ORG_CODE_WEIGHTS, strict=True), start=1)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def validate_uscc(code: str) -> list[str]:
    """Reject a bad code with :class:`UsccError`; return warning codes (``["org_code"]``).

    Store :func:`normalise_uscc` of the input, which is what was checked.
    """
    text = normalise_uscc(code)
    _check_chars(text, LENGTH)
    if is_degenerate(text):
        raise UsccError("degenerate")
    if check_character(text[:17]) != text[17]:
        raise UsccError("check", LENGTH)
    warnings: list[str] = []
    if org_code_check(text[ORG_CODE_SLICE]) != text[ORG_CHECK_INDEX]:
        warnings.append("org_code")
    return warnings


def make_uscc(rng: random.Random, division: str = "330782") -> str:
    """A valid code for demo data: 9 (工商) + 1 (企业) + division + organisation code + check."""
    if not re.fullmatch(r"\d{6}", division):
        raise UsccError("alphabet", field="division")
    body = "".join(rng.choice("0123456789") for _ in ORG_CODE_WEIGHTS)
    first17 = f"91{division}{body}{org_code_check(body)}"
    return first17 + check_character(first17)
