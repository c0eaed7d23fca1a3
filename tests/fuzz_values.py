"""Hostile values for the fuzz tests: what a careless paste, a broken scanner or an attacker sends."""
from __future__ import annotations

from hypothesis import strategies as st

# Shown literally if it is ever stored; a page that renders it unescaped fails the test.
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
MARKERS = (SCRIPT, IMG)

FRAGMENTS = (
    "\x00", "a\x00b", "义乌\x00市", "\x1b[31m", "\x7f", "\x08", "\r\n", "\n", "\t", " ", "\u00a0", "\ufeff",
    SCRIPT, IMG, "</textarea><b>x</b>", '"><svg onload=alert(1)>', "{{7*7}}", "${7*7}", "%(x)s", "%s",
    "'; DROP TABLE water_users; --", "' OR '1'='1", "1; SELECT pg_sleep(5)", "\\", "%", "_", "'", '"',
    "\u202e\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd", "𝕏𠀀😀", "\U0010ffff", "\u0301", "１２３",
    "../../etc/passwd", "null", "None", "true", "on", "[]", "{}",
    "-1", "0", "-0", "1e400", "-1e400", "nan", "inf", "1e-400", "0x10", "1_000", "9" * 40, "2147483648",
    "-2147483649", "²", "٣", "①", "3.4028236e38", "1,5",
    # Issue 16 item 2: the absurd numbers, and the edges of registry.domain.ranges.
    "1.7e308", "-1.7e308", "1" * 400, "9" * 5000, "1e999999999", "100000000", "100000000.01", "1200000000.5",
    "150000.1", "260000.1", "3001", "180.0001", "Infinity", "sNaN",
    "2024-02-30", "2024-13-01", "0001-01-01", "9999-12-31", "1949-12-31", "2101-01-01", "2024-1-1", "2024/01/01",
    "2024-06", "2024-00", "+2024-01-01",
)

hostile_text = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(max_size=60),  # any code point but surrogates: astral, RTL, control characters, NUL
    st.text(min_size=1, max_size=4).map(lambda s: s * 3000),  # very long
    st.lists(st.sampled_from(FRAGMENTS), min_size=2, max_size=4).map("".join),
    st.integers().map(str),
    st.floats().map(str),
    st.dates().map(lambda d: d.isoformat()),
)


def has_raw_marker(body: str) -> bool:
    return any(marker in body for marker in MARKERS)
