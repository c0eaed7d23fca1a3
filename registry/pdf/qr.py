"""QR codes drawn as vector rectangles: segno computes the matrix, and each horizontal run of dark
modules becomes one ``re`` operator in the page's content stream (a few hundred operators, no
image, sharp at any print resolution).

The mask is fixed instead of chosen by segno's penalty scoring, which tries all eight masks and
costs about ten times the rest of the encoding; every mask gives a valid code (ISO/IEC 18004
§7.8 only recommends the lowest penalty), and a fixed one keeps the output deterministic.
"""
from __future__ import annotations

import re

import segno

MASK = 0
QUIET_ZONE = 4  # modules of white around the code (ISO/IEC 18004 §6.3.8)
_DARK_RUN = re.compile(rb"\x01+")
_RUN_OPS: dict[tuple[int, int, int], str] = {}  # at most 177³ keys (version 40); a few thousand in practice


def matrix(data: str) -> tuple[bytearray, ...]:
    """Rows of modules, top first: 1 dark, 0 light (no quiet zone)."""
    code = segno.make(data, error="m", micro=False, mask=MASK, boost_error=False)
    return code.matrix


def operators(data: str, x: float, y: float, size: float) -> str:
    """PDF operators that fill the code's dark modules in a ``size``-point square whose
    lower-left corner is (x, y); the quiet zone is left to the caller's margins. One module is
    one unit after the ``cm``, so every rectangle is written in small integers, and all are
    filled as one path (no seams between neighbours)."""
    rows = matrix(data)
    n = len(rows)
    module = size / n
    ops = [f"q 0 g {module:.6f} 0 0 {module:.6f} {x:.3f} {y:.3f} cm"]
    for r, row in enumerate(rows):
        bottom = n - 1 - r
        for run in _DARK_RUN.finditer(bytes(row)):
            key = (run.start(), bottom, run.end())
            op = _RUN_OPS.get(key)
            if op is None:  # the same runs recur from code to code: format each once
                op = _RUN_OPS[key] = f"{key[0]} {bottom} {key[2] - key[0]} 1 re"
            ops.append(op)
    ops.append("f Q")
    return "\n".join(ops)


def draw(canvas, data: str, x: float, y: float, size: float) -> None:
    canvas.addLiteral(operators(data, x, y, size))
