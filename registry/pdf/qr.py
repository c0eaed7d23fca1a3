"""QR codes drawn as vector rectangles: segno computes the matrix, and each horizontal run of dark
modules becomes one ``re`` operator in the page's content stream (a few hundred operators, no
image, sharp at any print resolution).

The mask is fixed instead of chosen by segno's penalty scoring, which tries all eight masks and
costs about ten times the rest of the encoding; every mask gives a valid code (ISO/IEC 18004
§7.8 only recommends the lowest penalty), and a fixed one keeps the output deterministic.
"""
from __future__ import annotations

import segno

MASK = 0
QUIET_ZONE = 4  # modules of white around the code (ISO/IEC 18004 §6.3.8)


def matrix(data: str) -> tuple[tuple[int, ...], ...]:
    code = segno.make(data, error="m", micro=False, mask=MASK, boost_error=False)
    return code.matrix


def operators(data: str, x: float, y: float, size: float) -> str:
    """PDF operators that fill the code's dark modules in a ``size``-point square whose
    lower-left corner is (x, y); the quiet zone is left to the caller's margins."""
    rows = matrix(data)
    n = len(rows)
    module = size / n
    ops = ["q 0 g"]
    for r, row in enumerate(rows):
        top = y + (n - 1 - r) * module
        start = None
        for c, dark in enumerate((*row, 0)):
            if dark and start is None:
                start = c
            elif not dark and start is not None:
                ops.append(f"{x + start * module:.3f} {top:.3f} {(c - start) * module:.3f} {module:.3f} re")
                start = None
    ops.append("f Q")
    return "\n".join(ops)


def draw(canvas, data: str, x: float, y: float, size: float) -> None:
    canvas.addLiteral(operators(data, x, y, size))
