"""Number formatting shared by the HTML and Markdown renderers."""

from __future__ import annotations

import math

MINUS = "\u2212"


def decimals_for(values) -> int:
    """Decimals that give the largest |value| three significant figures (0..4)."""
    vals = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not vals:
        return 0
    m = max(vals)
    return int(min(4, max(0, 2 - math.floor(math.log10(m)))))


def num(v: float | None, decimals: int) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    s = f"{v:,.{decimals}f}"
    if s.startswith("-"):
        s = MINUS + s[1:]
        if float(s[1:].replace(",", "")) == 0:
            s = s[1:]
    return s


def pct(delta: float | None, signed: bool = True) -> str:
    if delta is None or not math.isfinite(delta):
        return "—"
    d = round(delta, 1)
    if d == 0:
        return "±0.0%"
    sign = "+" if d > 0 else MINUS
    return f"{sign}{abs(d):.1f}%" if signed else f"{abs(d):.1f}%"


def short_num(v: float) -> str:
    """Compact number for prose: 48,213 -> 48.2k."""
    if not math.isfinite(v):
        return "—"
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div * 10:
            return num(v / div, 1 if a < div * 100 else 0) + suffix
    return num(v, decimals_for([v]))


def pp(delta: float | None) -> str:
    """A difference of two percentages, in percentage points: "+0.35 pp", "−1.2 pp"."""
    if delta is None or not math.isfinite(delta):
        return "—"
    a = abs(delta)
    d = 2 if a < 1 else 1
    if round(a, d) == 0:
        return "±0 pp"
    return f"{'+' if delta > 0 else MINUS}{a:.{d}f} pp"
