"""The table ``distbench run`` prints when a suite is done: one line per matrix point and
contender, mean ± 95% CI half-width over its seeds."""

from __future__ import annotations

import math

from harness.compare.stats import summarize

from .load import canonical_param, display_value
from harness.catalog.params import param_short


def _fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.{digits}f}"
    return str(value)


def run_table(rows: list[dict], swept: list[str], compare: str = "protocol") -> str:
    """One line per matrix point and contender: mean ± 95% CI half-width over its seeds, swept
    values as written (``2k/s``, ``150ms``, labels), and the safety verdicts."""
    keys = [k for k in dict.fromkeys([compare, *swept]) if k != "protocol" or compare == "protocol"
            or "protocol" in swept]
    shown = {}
    for k in keys:
        raw = [display_value(r.get(k)) for r in rows]
        shown[k] = canonical_param(k, raw)[1] if k != "protocol" else {v: v for v in raw}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(display_value(r.get(k)) for k in keys), []).append(r)

    def stat(group: list[dict], key: str, scale: float, digits: int) -> str:
        s = summarize([scale * float(r[key]) for r in group if isinstance(r.get(key), (int, float))])
        if s is None:
            return "-"
        return _fmt(s.mean, digits) + (f" ± {_fmt(s.half, digits)}" if s.half is not None else "")

    def safety(group: list[dict]) -> str:
        verdicts = [str(r.get("safety")) for r in group]
        ok = verdicts.count("ok")
        if ok == len(verdicts):
            return "ok"
        worst = next((v for v in verdicts if v.startswith(("violation", "error"))), None)
        worst = worst or next(v for v in verdicts if v != "ok")
        return f"{ok}/{len(verdicts)} ok; {worst[:60]}"

    head = [param_short(k) if k != "protocol" else k for k in keys]
    head += ["n", "ops/s", "p50 ms", "p99 ms", "abort %", "safety"]
    body = [[*[shown[k].get(v, v) for k, v in zip(keys, point)], str(len(g)),
             stat(g, "throughput_ops_s", 1, 0), stat(g, "latency_p50_ms", 1, 2),
             stat(g, "latency_p99_ms", 1, 2), stat(g, "abort_rate", 100, 2), safety(g)]
            for point, g in groups.items()]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *body]]
    seeds = {len(g) for g in groups.values()}
    if max(seeds, default=0) > 1:
        lines.append("(mean ± 95% CI half-width over n seeds)")
    return "\n".join(lines)

