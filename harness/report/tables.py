"""Comparison tables, the safety table and the key findings, independent of the output format.

A table covers one metric family. Rows are (metric, parameter point), columns are protocols; each
cell holds the mean across seeds with a 95% t-interval, whether it is the best in its row, and its
change against the reference protocol with a significance verdict (Welch's t-test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import fmt
from .load import Param, Results
from .metrics import FAMILIES, FAMILY_BLURB, HIGHER, OTHER, Metric, metric_for, param_short
from .stats import Summary, delta_pct, geomean_delta_pct, significant, summarize


@dataclass
class Cell:
    summary: Summary
    values: np.ndarray
    best: bool = False
    delta: float | None = None          # % change of the mean against the reference protocol
    significant: bool | None = None     # vs reference; None when untestable (n < 2) or reference
    unsafe: bool = False                # a run in this cell violated safety

    def text(self, metric: Metric, decimals: int) -> str:
        s = self.summary
        main = fmt.num(s.mean * metric.scale, decimals)
        if s.half is not None:
            main += f" ± {fmt.num(s.half * metric.scale, decimals)}"
        return main

    def delta_text(self) -> str:
        if self.delta is None:
            return ""
        return fmt.pct(self.delta) + (" ~" if self.significant is False else "")


@dataclass
class Row:
    point: tuple[str, ...]
    metric: Metric
    cells: dict[str, Cell | None]
    decimals: int


@dataclass
class Table:
    id: str
    title: str
    blurb: str
    metrics: list[Metric]
    params: list[Param]
    protocols: list[str]
    reference: str | None
    rows: list[Row]
    geomean: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @property
    def multi_metric(self) -> bool:
        return len(self.metrics) > 1

    def param_headers(self) -> list[str]:
        return [param_short(p.key) for p in self.params]


def _unsafe(safety: pd.Series) -> bool:
    return bool(safety.astype(str).str.startswith("violation").any())


def metric_rows(res: Results, metric: Metric) -> list[Row]:
    """One row per parameter point for ``metric`` (rows without any value are dropped)."""
    runs = res.runs
    keys = res.param_keys
    groups = {}
    for gkey, g in runs.groupby(["protocol", *keys], sort=False, dropna=False):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        groups[(gkey[0], tuple(gkey[1:]))] = g
    rows = []
    for point in res.points:
        cells: dict[str, Cell | None] = {}
        for proto in res.protocols:
            g = groups.get((proto, point))
            if g is None:
                cells[proto] = None
                continue
            vals = g[metric.key].to_numpy(dtype=float)
            s = summarize(vals)
            cells[proto] = None if s is None else Cell(s, vals[np.isfinite(vals)], unsafe=_unsafe(g["safety"]))
        present = {p: c for p, c in cells.items() if c is not None}
        if not present:
            continue
        if metric.better and len(present) > 1:
            pick = max if metric.better == HIGHER else min
            best = pick(c.summary.mean for c in present.values())
            if not all(c.summary.mean == best for c in present.values()):
                for c in present.values():
                    c.best = c.summary.mean == best
        ref = cells.get(res.reference) if res.reference else None
        if ref is not None:
            for p, c in present.items():
                if p == res.reference:
                    continue
                c.delta = delta_pct(c.summary.mean, ref.summary.mean)
                c.significant = significant(c.values, ref.values)
        decimals = fmt.decimals_for([c.summary.mean * metric.scale for c in present.values()])
        rows.append(Row(point, metric, cells, decimals))
    return rows


def _geomeans(res: Results, rows: list[Row]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    if not res.reference or len(rows) < 2:
        return out
    for p in res.protocols:
        if p == res.reference:
            continue
        pairs = [(r.cells[p].summary.mean, r.cells[res.reference].summary.mean)  # type: ignore[union-attr]
                 for r in rows if r.cells.get(p) is not None and r.cells.get(res.reference) is not None]
        if len(pairs) == len(rows):
            out[p] = geomean_delta_pct([a for a, _ in pairs], [b for _, b in pairs])
    return out


def build_tables(res: Results, headline_only: bool = True) -> list[Table]:
    """One table per metric family with data, in family order."""
    tables = []
    for family in FAMILIES:
        metrics = [metric_for(k) for k in _ordered_metrics(res) if metric_for(k).family == family]
        if headline_only:  # all-zero metrics (abort rate of a consensus suite) only under "All metrics"
            metrics = [m for m in metrics if m.headline and res.runs[m.key].fillna(0).ne(0).any()]
        rows: list[Row] = []
        used: list[Metric] = []
        geo: dict[str, dict[str, float | None]] = {}
        for m in metrics:
            mrows = metric_rows(res, m)
            if not mrows:
                continue
            used.append(m)
            rows.extend(mrows)
            geo[m.key] = _geomeans(res, mrows)
        if rows:
            tid = ("all-" if not headline_only else "t-") + family.lower().replace(" ", "-")
            tables.append(Table(tid, family, FAMILY_BLURB[family], used, res.params, res.protocols,
                                res.reference, rows, geo))
    return tables


def _ordered_metrics(res: Results) -> list[str]:
    """Known metrics in their canonical order, then unknown ones in runs.csv order."""
    from .metrics import KNOWN_METRICS
    known = [m.key for m in KNOWN_METRICS if res.has_metric(m.key)]
    other = [k for k in res.metrics if metric_for(k).family == OTHER and res.has_metric(k)]
    return known + other


# ---------------------------------------------------------------------------------------------
# Safety

@dataclass
class SafetyRow:
    run_id: str
    protocol: str
    seed: str
    point: tuple[str, ...]
    verdict: str

    @property
    def violation(self) -> bool:
        return self.verdict.startswith("violation")


def safety_rows(res: Results) -> list[SafetyRow]:
    out = []
    for _, r in res.runs.iterrows():
        verdict = str(r["safety"]).strip()
        if verdict.lower() == "ok":
            continue
        point = tuple(str(r[k]) for k in res.param_keys)
        out.append(SafetyRow(str(r["run_id"]), str(r["protocol"]), fmt.num(r["seed"], 0)
                             if math.isfinite(r["seed"]) else "—", point, verdict))
    porder = {p: i for i, p in enumerate(res.protocols)}
    out.sort(key=lambda s: (not s.violation, porder.get(s.protocol, 99), res.point_order(s.point),
                            s.seed, s.run_id))
    return out


# ---------------------------------------------------------------------------------------------
# Key findings: which protocol wins, where, by how much, how sure.

FINDING_METRICS = ("throughput_ops_s", "latency_p99_ms", "abort_rate", "failover_ms_mean",
                   "unavailable_ms", "messages_per_op")


def capitalize(label: str) -> str:
    """Capitalise a metric label, leaving "p99 latency" alone."""
    if len(label) > 1 and label[0] == "p" and label[1].isdigit():
        return label
    return label[:1].upper() + label[1:]


def _b(s: str) -> str:
    return f"**{s}**"


def findings(res: Results) -> list[str]:
    """Sentences in a tiny markup (``**bold**``) that renderers convert."""
    out = []
    npoints = len(res.points)
    multi_seed = max(res.runs.groupby(["protocol", *res.param_keys], dropna=False).size()) > 1 \
        if len(res.runs) else False
    for key in FINDING_METRICS:
        if not res.has_metric(key):
            continue
        m = metric_for(key)
        rows = metric_rows(res, m)
        if not rows or len(res.protocols) < 2:
            continue
        if key == "abort_rate" and all(c.summary.mean == 0 for r in rows for c in r.cells.values() if c):
            continue
        if key == "unavailable_ms" and res.has_metric("failover_ms_mean"):
            continue
        if key in ("failover_ms_mean", "unavailable_ms") and all(
                c.summary.mean == 0 for r in rows for c in r.cells.values() if c):
            continue
        counts: dict[str, int] = {}
        for r in rows:
            for p, c in r.cells.items():
                if c is not None and c.best:
                    counts[p] = counts.get(p, 0) + 1
        where = "" if npoints == 1 else f" at {{n}} of {len(rows)} points"
        if not counts:
            head = "all protocols are equal" if npoints == 1 else "all protocols are equal everywhere"
        else:
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], res.protocols.index(kv[0])))
            parts = [f"{_b(p)}" + where.format(n=n) for p, n in ranked]
            head = "best: " + ", ".join(parts)
        sentence = f"{_b(capitalize(m.label))} ({m.unit + ', ' if m.unit else ''}{m.better_text}) — {head}."
        ref = res.reference
        comps = []
        for p in res.protocols:
            if p == ref or ref is None:
                continue
            pr = [r for r in rows if r.cells.get(p) is not None and r.cells.get(ref) is not None]
            if not pr:
                continue
            deltas = [r.cells[p].delta for r in pr if r.cells[p].delta is not None]  # type: ignore[union-attr]
            if not deltas:
                continue
            if len(pr) == 1:
                size = fmt.pct(deltas[0])
            else:
                geo = geomean_delta_pct([r.cells[p].summary.mean for r in pr],  # type: ignore[union-attr]
                                        [r.cells[ref].summary.mean for r in pr])  # type: ignore[union-attr]
                lo, hi = min(deltas), max(deltas)
                size = (f"{fmt.pct(geo)} geometric mean" if geo is not None else f"mean {fmt.pct(sum(deltas) / len(deltas))}")
                size += f", from {fmt.pct(lo)} to {fmt.pct(hi)}" if lo != hi else ""
            if multi_seed:
                better = worse = same = 0
                for r in pr:
                    c = r.cells[p]
                    if c.significant is None or c.delta is None:  # type: ignore[union-attr]
                        continue
                    if not c.significant:  # type: ignore[union-attr]
                        same += 1
                    elif (c.delta > 0) == (m.better == HIGHER):  # type: ignore[union-attr,operator]
                        better += 1
                    else:
                        worse += 1
                tested = better + worse + same
                if tested:
                    if len(pr) == 1:
                        sure = ("significant" if better + worse else "not significant")
                    else:
                        bits = []
                        if better:
                            bits.append(f"significantly better at {better}")
                        if worse:
                            bits.append(f"significantly worse at {worse}")
                        if same:
                            bits.append(f"no significant difference at {same}")
                        sure = ", ".join(bits)
                else:
                    sure = "not tested"
            else:
                sure = "single seed, not tested"
            if m.better is None:
                sure = ""
            comps.append(f"{_b(p)} {size}" + (f" ({sure})" if sure else ""))
        if comps:
            sentence += f" Against {ref}: " + "; ".join(comps) + "."
        out.append(sentence)
    return out


def method_note(res: Results) -> str:
    n = res.runs.groupby(["protocol", *res.param_keys], dropna=False).size()
    lo, hi = int(n.min()), int(n.max())
    if hi <= 1:
        return ("Cells show the value of a single run (n=1, no CI); differences against the "
                "reference are not tested.")
    nn = f"n={lo}" if lo == hi else f"n={lo}–{hi}"
    return (f"Cells show the mean across seeds ± the half-width of its 95% confidence interval "
            f"(Student's t-interval, {nn} seeds per cell). Δ% is the change of the mean against the "
            f"reference protocol; ~ marks a difference that is not significant "
            f"(Welch's t-test, p ≥ 0.05).")


# ---------------------------------------------------------------------------------------------
# Like with like

_RUN_SPECIFIC = ("protocol", "seed", "run_id", "name", "out", "output")


def like_for_like(res: Results) -> tuple[bool | None, list[str], dict[str, dict[str, str]]]:
    """Whether runs of different protocols at the same parameter point and seed share their
    resolved config, apart from the protocol and its own settings (``protocols.<name>.*``).
    Returns (verdict, differing keys, {protocol: {setting: value}}); verdict None when the
    manifest has no resolved configs."""
    from .load import _flatten, display_value
    runs = res.manifest.get("runs") or []
    by_id = {str(r.get("run_id")): r for r in runs if isinstance(r.get("config"), dict)}
    if not by_id or len(res.protocols) < 2:
        return None, [], {}
    specific: dict[str, dict[str, str]] = {}
    for r in by_id.values():
        proto = (r.get("params") or {}).get("protocol") or r["config"].get("protocol")
        own = (r["config"].get("protocols") or {}).get(proto) if isinstance(r["config"].get("protocols"), dict) else None
        if isinstance(proto, str) and isinstance(own, dict):
            specific.setdefault(proto, {}).update({k: display_value(v) for k, v in _flatten(own).items()})
    diffs: set[str] = set()
    keys = res.param_keys
    for _, g in res.runs.groupby([*keys, "seed"], dropna=False, sort=False):
        flats = [_flatten(by_id[rid]["config"]) for rid in g["run_id"] if rid in by_id]
        if len(flats) < 2:
            continue
        all_keys = set().union(*flats)
        for k in all_keys:
            leaf = k.rsplit(".", 1)[-1]
            if k in _RUN_SPECIFIC or leaf in ("protocol", "seed") or k.startswith("protocols."):
                continue
            vals = {repr(f.get(k, "<absent>")) for f in flats}
            if len(vals) > 1:
                diffs.add(k)
    return (not diffs), sorted(diffs), {p: specific[p] for p in res.protocols if specific.get(p)}
