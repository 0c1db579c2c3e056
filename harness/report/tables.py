"""Comparison tables, the safety table and the key findings, independent of the output format
(whether the contenders ran like with like is :mod:`harness.report.likeness`).

A table covers one metric family. Rows are (metric, parameter point), columns are contenders (the
values of the suite's ``compare`` key: protocols by default); each cell holds the mean across seeds
with a 95% t-interval, whether it is the best in its row, and its change against the reference with
a significance verdict. Contenders at one point ran with the same seeds, and runs at the same seed
share every random stream (common random numbers), so they are compared paired by seed (paired
t-test); Welch's t-test only when two cells share no seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import fmt
from .load import CONTENDER, Param, Results
from harness.catalog.metrics import FAMILIES, HIGHER, METRICS, METRICS_BY_KEY, Metric, metric_for
from harness.units import human_duration
from .metrics import family_blurb, family_title
from harness.compare.stats import ALPHA, MIN_SEEDS, Summary, delta_pct, geomean_delta_pct, paired, summarize, welch_p


@dataclass
class Cell:
    summary: Summary
    values: np.ndarray
    seeds: np.ndarray | None = None     # the seed of each of ``values``
    best: bool = False
    delta: float | None = None          # change of the mean against the reference: % (or
                                        # percentage points for a metric shown as a percentage)
    significant: bool | None = None     # vs reference; None when untestable (n < 2) or reference
    p: float | None = None              # its p-value (paired by seed, else Welch)
    unsafe: bool = False                # a run in this cell violated safety
    marks: str = ""                     # footnote marks: † ≈ k × client timeout, ‡ unanswered ops
    timeout_k: int | None = None        # the mean is ≈ this multiple of the client timeout
    outstanding: float = 0.0            # mean share of operations unanswered at the end

    def text(self, metric: Metric, decimals: int) -> str:
        s = self.summary
        main = fmt.num(s.mean * metric.scale, decimals)
        if s.half is not None:
            main += f" ± {fmt.num(s.half * metric.scale, decimals)}"
        return main + ("%" if metric.percent else "")

    def delta_text(self, metric: Metric | None = None) -> str:
        if self.delta is None:
            return ""
        text = fmt.pp(self.delta) if metric is not None and metric.percent else fmt.pct(self.delta)
        return text + (" ~" if self.significant is False else "")


# Why a row has (or has no) best protocol.
SIGNIFICANT, UNTESTED, NOT_SIGNIFICANT, TIE = "significant", "untested", "not significant", "tie"


@dataclass
class Row:
    point: tuple[str, ...]
    metric: Metric
    cells: dict[str, Cell | None]
    decimals: int
    winner: str | None = None           # the contender marked best, if any
    verdict: str | None = None          # SIGNIFICANT / UNTESTED (n=1) / NOT_SIGNIFICANT / TIE; None: no ranking


@dataclass
class Table:
    id: str
    title: str
    blurb: str
    metrics: list[Metric]
    params: list[Param]
    contenders: list[str]
    reference: str | None
    rows: list[Row]
    geomean: dict[str, dict[str, float | None]] = field(default_factory=dict)
    family: str = ""
    notes: list[str] = field(default_factory=list)   # footnotes under the table

    @property
    def multi_metric(self) -> bool:
        return len(self.metrics) > 1

    def param_headers(self) -> list[str]:
        """Column headers of the parameters, with the unit their values do not carry."""
        return [p.label for p in self.params]

    @staticmethod
    def geo_label(metric: Metric) -> str:
        return "mean Δ (pp)" if metric.percent else "geometric mean Δ"

    @staticmethod
    def geo_text(metric: Metric, value: float | None) -> str:
        if value is None:
            return ""
        return fmt.pp(value) if metric.percent else fmt.pct(value)


def _unsafe(safety: pd.Series) -> bool:
    return bool(safety.astype(str).str.startswith("violation").any())


# ---------------------------------------------------------------------------------------------
# The client timeout behind a tail percentile

TAIL_METRICS = ("latency_p95_ms", "latency_p99_ms", "latency_p999_ms")
TIMEOUT_BELOW, TIMEOUT_ABOVE = 0.01, 0.05  # of the timeout, around k × timeout
TIMEOUT_BASE_CAP = 0.125                   # the ordinary operation's share is at most this × timeout
OUTSTANDING_SHARE = 0.01


def timeout_multiple(value_ms: float | None, timeout_ms: float | None, base_ms: float = 0.0,
                     kmax: int = 20) -> int | None:
    """k when ``value_ms`` is k × the client timeout (k ≥ 1) plus at most about one ordinary
    operation (``base_ms``, the run's median latency) and a few percent of the timeout: the latency
    of an operation whose request or reply was lost, or found no leader or partition up, and was
    re-sent k times."""
    if not timeout_ms or value_ms is None or not math.isfinite(value_ms) or timeout_ms <= 0:
        return None
    base = min(base_ms, TIMEOUT_BASE_CAP * timeout_ms) if base_ms and math.isfinite(base_ms) else 0.0
    k = int(value_ms // timeout_ms)
    for kk in (k, k + 1):
        excess = value_ms - kk * timeout_ms
        if 1 <= kk <= kmax and -TIMEOUT_BELOW * timeout_ms <= excess <= TIMEOUT_ABOVE * timeout_ms + 2 * base:
            return kk
    return None


def timeout_k(values, timeout_ms: float | None, base_ms=None) -> int | None:
    """The multiple of the client timeout that at least half of the runs' values lie on (the
    most common one), or None. ``base_ms``: each run's median latency."""
    vals = np.asarray(values, dtype=float)
    bases = np.zeros(len(vals)) if base_ms is None else np.asarray(base_ms, dtype=float)
    ks = [timeout_multiple(float(v), timeout_ms, float(b)) for v, b in zip(vals, bases) if math.isfinite(v)]
    hits = [k for k in ks if k]
    if not hits or 2 * len(hits) < len(ks):
        return None
    return max(set(hits), key=lambda k: (hits.count(k), -k))


def lost_or_down(kind: str) -> str:
    """Why a client waits for its retry timer, in a suite of this kind."""
    return ("a request or reply was lost, or its partition was down" if kind == "transactions"
            else "a request or reply was lost, or no leader answered")


def timeout_note(timeout_text: str, kind: str) -> str:
    return (f"† the runs' values sit at k × the client timeout ({timeout_text}) plus about one ordinary "
            f"operation: at this percentile operations waited for the client's retry timer ({lost_or_down(kind)}, "
            "and the client re-sent after the timeout), so the value measures workload.timeout rather "
            "than the protocol.")


OUTSTANDING_NOTE = ("‡ more than 1% of the operations were still unanswered at the end of the run "
                    "(ops_outstanding); their age at the end counts as a lower bound, so the latency "
                    "is understated.")


def _human_ms(ms: float) -> str:
    return human_duration(ms / 1000)


# ---------------------------------------------------------------------------------------------

def _display_tie(a: Cell, b: Cell, metric: Metric, decimals: int) -> bool:
    return fmt.num(a.summary.mean * metric.scale, decimals) == fmt.num(b.summary.mean * metric.scale, decimals)


def cell_p(a: Cell, b: Cell) -> float | None:
    """p-value of the difference of two cells: paired t-test over the seeds both have (common
    random numbers), Welch's t-test when they share none; None when untestable."""
    if a.seeds is not None and b.seeds is not None:
        common = np.intersect1d(a.seeds, b.seeds)
        if len(common):
            base = [a.values[a.seeds == s][0] for s in common]
            new = [b.values[b.seeds == s][0] for s in common]
            return paired(base, new).p
    return welch_p(a.values, b.values)


def _rank(row: Row) -> None:
    """Mark the best contender of a row, only when it beats the runner-up: significantly (paired
    by seed, p < 0.05) with several seeds, or at the displayed precision with a single run."""
    m = row.metric
    present = [(p, c) for p, c in row.cells.items() if c is not None]
    if not m.better or len(present) < 2:
        return
    ranked = sorted(present, key=lambda pc: pc[1].summary.mean, reverse=(m.better == HIGHER))
    (p1, c1), c2 = ranked[0], ranked[1][1]
    if _display_tie(c1, c2, m, row.decimals):
        row.verdict = TIE
        return
    p = cell_p(c1, c2)
    if p is None:
        row.verdict = UNTESTED
    elif p < ALPHA:
        row.verdict = SIGNIFICANT
    else:
        row.verdict = NOT_SIGNIFICANT
        return
    row.winner = p1
    c1.best = True


def metric_rows(res: Results, metric: Metric) -> list[Row]:
    """One row per parameter point for ``metric`` (rows without any value are dropped)."""
    runs = res.runs
    keys = res.param_keys
    groups = {}
    for gkey, g in runs.groupby([CONTENDER, *keys], sort=False, dropna=False):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        groups[(gkey[0], tuple(gkey[1:]))] = g
    tail = metric.key in TAIL_METRICS
    latency = metric.family == "Latency"
    rows = []
    for point in res.points:
        cells: dict[str, Cell | None] = {}
        timeout = res.timeout_ms_at(point) if tail else None
        for proto in res.contenders:
            g = groups.get((proto, point))
            if g is None:
                cells[proto] = None
                continue
            vals = g[metric.key].to_numpy(dtype=float)
            s = summarize(vals)
            if s is None:
                cells[proto] = None
                continue
            finite = np.isfinite(vals)
            c = Cell(s, vals[finite], g["seed"].to_numpy(dtype=float)[finite], unsafe=_unsafe(g["safety"]))
            if tail:
                base = g["latency_p50_ms"].to_numpy(dtype=float) if "latency_p50_ms" in g.columns else None
                vals = g[metric.key].to_numpy(dtype=float)
                c.timeout_k = timeout_k(vals, timeout, base)
                if c.timeout_k:
                    c.marks += "†"
            if latency and "ops_outstanding" in g.columns and "ops_committed" in g.columns:
                out = g["ops_outstanding"].to_numpy(dtype=float)
                done = g["ops_committed"].to_numpy(dtype=float)
                total = out + done
                share = np.where(total > 0, out / np.where(total > 0, total, 1), 0.0)
                c.outstanding = float(np.nanmean(share)) if len(share) else 0.0
                if c.outstanding > OUTSTANDING_SHARE:
                    c.marks += "‡"
            cells[proto] = c
        present = {p: c for p, c in cells.items() if c is not None}
        if not present:
            continue
        decimals = fmt.decimals_for([c.summary.mean * metric.scale for c in present.values()])
        row = Row(point, metric, cells, decimals)
        _rank(row)
        ref = cells.get(res.reference) if res.reference else None
        if ref is not None:
            for p, c in present.items():
                if p == res.reference:
                    continue
                if metric.percent:
                    c.delta = (c.summary.mean - ref.summary.mean) * metric.scale
                else:
                    c.delta = delta_pct(c.summary.mean, ref.summary.mean)
                c.p = cell_p(ref, c)
                c.significant = None if c.p is None else c.p < ALPHA
        rows.append(row)
    return rows


def _geomeans(res: Results, rows: list[Row]) -> dict[str, float | None]:
    """Per contender: the geometric mean of its ratios to the reference (as a % change), or for a
    percentage metric the mean difference in percentage points."""
    out: dict[str, float | None] = {}
    if not res.reference or len(rows) < 2:
        return out
    for p in res.contenders:
        if p == res.reference:
            continue
        pairs = [(r.cells[p].summary.mean, r.cells[res.reference].summary.mean)  # type: ignore[union-attr]
                 for r in rows if r.cells.get(p) is not None and r.cells.get(res.reference) is not None]
        if len(pairs) == len(rows):
            if rows[0].metric.percent:
                out[p] = float(np.mean([(a - b) * rows[0].metric.scale for a, b in pairs]))
            else:
                out[p] = geomean_delta_pct([a for a, _ in pairs], [b for _, b in pairs])
    return out


def _table_notes(res: Results, rows: list[Row]) -> list[str]:
    notes = []
    cells = [c for r in rows for c in r.cells.values() if c is not None]
    if any("†" in c.marks for c in cells):
        ts = sorted({res.timeout_ms_at(r.point) for r in rows
                     if any(c is not None and "†" in c.marks for c in r.cells.values())} - {None})
        notes.append(timeout_note(", ".join(_human_ms(t) for t in ts), res.kind))  # type: ignore[arg-type]
    if any("‡" in c.marks for c in cells):
        notes.append(OUTSTANDING_NOTE)
    if any(c.summary.n == 2 for c in cells):
        notes.append(TWO_SEEDS_NOTE)
    return notes


TWO_SEEDS_NOTE = ("With n=2 seeds the 95% interval uses Student's t with 1 degree of freedom "
                  "(t = 12.7): the ± values are very wide and say little; only large differences "
                  "can test as significant. Run more seeds (5 or more) for usable intervals.")


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
            tables.append(Table(tid, family_title(family, res.kind), family_blurb(family, res.kind), used,
                                res.params, res.contenders, res.reference, rows, geo, family,
                                _table_notes(res, rows)))
    return tables


def _ordered_metrics(res: Results) -> list[str]:
    """Known metrics in their canonical order, then unknown ones in runs.csv order."""
    known = [m.key for m in METRICS if res.has_metric(m.key)]
    other = [k for k in res.metrics if k not in METRICS_BY_KEY and res.has_metric(k)]
    return known + other


# ---------------------------------------------------------------------------------------------
# Safety

@dataclass
class SafetyRow:
    run_id: str
    contender: str
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
        detail = r.get("safety_detail")
        if isinstance(detail, str) and detail.strip() and detail.strip() != verdict:
            verdict = f"{verdict} ({detail.strip()})"
        point = tuple(str(r[k]) for k in res.param_keys)
        out.append(SafetyRow(str(r["run_id"]), str(r[CONTENDER]), fmt.num(r["seed"], 0)
                             if math.isfinite(r["seed"]) else "—", point, verdict))
    porder = {p: i for i, p in enumerate(res.contenders)}
    out.sort(key=lambda s: (not s.violation, porder.get(s.contender, 99), res.point_order(s.point),
                            s.seed, s.run_id))
    return out


# ---------------------------------------------------------------------------------------------
# Key findings: which contender wins, where, by how much, how sure.

FINDING_METRICS = ("throughput_ops_s", "latency_p99_ms", "abort_rate", "failover_ms_mean",
                   "unavailable_ms", "messages_per_op")


def capitalize(label: str) -> str:
    """Capitalise a metric label, leaving "p99 latency" alone."""
    if len(label) > 1 and label[0] == "p" and label[1].isdigit():
        return label
    return label[:1].upper() + label[1:]


def _b(s: str) -> str:
    return f"**{s}**"


def _count(n: int, of: int) -> str:
    return f"{n} of {of} points" if of > 1 else ""


def _best_head(rows: list[Row], res: Results, multi_seed: bool) -> str:
    """Who is best where, counting only rows whose best beats the runner-up (see :func:`_rank`)."""
    n = len(rows)
    wins: dict[str, int] = {}
    for r in rows:
        if r.winner:
            wins[r.winner] = wins.get(r.winner, 0) + 1
    even = sum(1 for r in rows if r.verdict in (NOT_SIGNIFICANT, TIE))
    untested = any(r.verdict == UNTESTED for r in rows)
    ranked = sorted(wins.items(), key=lambda kv: (-kv[1], res.contenders.index(kv[0])))
    if n == 1:
        if ranked:
            how = (f"significant, {test_name(res)} p < 0.05" if rows[0].verdict == SIGNIFICANT
                   else "single run, not tested")
            return f"best: {_b(ranked[0][0])} ({how})"
        return "no significant difference" if multi_seed else "tied at the displayed precision"
    bits = []
    if ranked:
        who = ", ".join(f"{_b(p)} at {_count(k, n)}" for p, k in ranked)
        bits.append(("best (single runs, not tested): " if untested and not multi_seed else "best: ") + who
                    + (f" ({test_name(res)} p < 0.05)" if multi_seed and not untested else ""))
    if even:
        if not ranked:
            bits.append(f"no significant difference at any of the {n} points" if multi_seed
                        else f"tied at the displayed precision at all {n} points")
        else:
            bits.append(f"no significant difference at {_count(even, n)}" if multi_seed
                        else f"tied at {_count(even, n)}")
    return "; ".join(bits) or "no ranking"


def findings(res: Results) -> list[str]:
    """Sentences in a tiny markup (``**bold**``) that renderers convert."""
    out = []
    multi_seed = max(res.runs.groupby([CONTENDER, *res.param_keys], dropna=False).size()) > 1 \
        if len(res.runs) else False
    for key in FINDING_METRICS:
        if not res.has_metric(key):
            continue
        m = metric_for(key)
        rows = metric_rows(res, m)
        if not rows or len(res.contenders) < 2:
            continue
        if key in ("abort_rate", "failover_ms_mean", "unavailable_ms") and all(
                c.summary.mean == 0 for r in rows for c in r.cells.values() if c):
            continue
        head = _best_head(rows, res, multi_seed)
        what = capitalize(m.label)
        if key == "failover_ms_mean":
            what += " (fault on the leader → newer leader elected)"
        elif key == "unavailable_ms":
            what += " (commit gaps anywhere in the window: the outage clients saw)"
        elif key == "abort_rate" and res.kind != "transactions":
            what = "Abort rate (client attempts that timed out)"
        sentence = f"{_b(what)} ({m.unit + ', ' if m.unit else ''}{m.better_text}) — {head}."
        ref = res.reference
        comps = []
        for p in res.contenders:
            if p == ref or ref is None:
                continue
            pr = [r for r in rows if r.cells.get(p) is not None and r.cells.get(ref) is not None]
            if not pr:
                continue
            deltas = [r.cells[p].delta for r in pr if r.cells[p].delta is not None]  # type: ignore[union-attr]
            if not deltas:
                continue
            show = fmt.pp if m.percent else fmt.pct
            if len(pr) == 1:
                size = show(deltas[0])
            else:
                lo, hi = min(deltas), max(deltas)
                if m.percent:
                    size = f"{fmt.pp(sum(deltas) / len(deltas))} on average"
                else:
                    geo = geomean_delta_pct([r.cells[p].summary.mean for r in pr],  # type: ignore[union-attr]
                                            [r.cells[ref].summary.mean for r in pr])  # type: ignore[union-attr]
                    size = (f"{fmt.pct(geo)} geometric mean" if geo is not None
                            else f"mean {fmt.pct(sum(deltas) / len(deltas))}")
                size += f", from {show(lo)} to {show(hi)}" if lo != hi else ""
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
                if not tested:
                    sure = "not tested"
                elif len(pr) == 1:
                    sure = "significant" if better + worse else "not significant"
                elif same == tested:
                    sure = f"not significant at any of the {tested} points"
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
                sure = "single seed, not tested"
            if m.better is None:
                sure = ""
            comps.append(f"{_b(p)} {size}" + (f" ({sure})" if sure else ""))
        if comps:
            sentence += f" Against {ref}: " + "; ".join(comps) + "."
        if key == "latency_p99_ms":
            sentence += _timeout_finding(res, rows)
        out.append(sentence)
    return out


def _timeout_finding(res: Results, rows: list[Row]) -> str:
    hit = [r for r in rows if any(c is not None and c.timeout_k for c in r.cells.values())]
    if not hit:
        return ""
    ts = sorted({res.timeout_ms_at(r.point) for r in hit} - {None})
    tt = ", ".join(_human_ms(t) for t in ts)  # type: ignore[arg-type]
    where = "" if len(rows) == 1 else f" at {len(hit)} of {len(rows)} points"
    return (f" Note: p99{where} is ≈ a multiple of the client timeout ({tt}): it is set by the retry "
            f"timer ({lost_or_down(res.kind)}, then a re-send after workload.timeout), not by the "
            f"protocol.")


def method_note(res: Results) -> str:
    n = res.runs.groupby([CONTENDER, *res.param_keys], dropna=False).size()
    lo, hi = int(n.min()), int(n.max())
    if hi <= 1:
        return ("Cells show the value of a single run (n=1, no CI); differences against the "
                "reference are not tested.")
    nn = f"n={lo}" if lo == hi else f"n={lo}–{hi}"
    text = (f"Cells show the mean across seeds ± the half-width of its 95% confidence interval "
            f"(Student's t-interval, {nn} seeds per cell). Δ% is the change of the mean against the "
            f"reference, {res.reference} (Δ pp: the difference of two percentages, in percentage points); "
            f"~ marks a difference that is not significant ({test_name(res)}, p ≥ 0.05).")
    if test_name(res) == PAIRED:
        text += (" Contenders at a point ran with the same seeds, and runs at the same seed share their "
                 "random streams (arrivals, keys, fault plans: common random numbers), so each is "
                 "compared with the reference seed by seed: the paired t-test on the per-seed "
                 "differences sees far smaller changes than a test on independent samples.")
    if lo < MIN_SEEDS:
        text += (f" Cells with fewer than {MIN_SEEDS} seeds cannot be tested at all: their Δ carries no "
                 "verdict.")
    if lo <= 2:
        text += " " + TWO_SEEDS_NOTE
    return text


PAIRED, WELCH = "paired t-test by seed", "Welch's t-test"


def test_name(res: Results) -> str:
    """The test the report uses: paired when contenders at each point share their seeds (runs of
    one suite always do), else Welch's."""
    seeds = res.runs.groupby([*res.param_keys, CONTENDER], dropna=False)["seed"].apply(frozenset)
    by_point: dict = {}
    for key, s in seeds.items():
        point = key[:-1] if isinstance(key, tuple) else ()
        by_point.setdefault(point, []).append(s)
    shared = all(len(frozenset.intersection(*ss)) > 0 for ss in by_point.values() if len(ss) > 1)
    return PAIRED if shared else WELCH


def bold_note(res: Results) -> str:
    n = res.runs.groupby([CONTENDER, *res.param_keys], dropna=False).size()
    if int(n.max()) <= 1:
        return ("Bold: best in its row, where it differs from the runner-up at the displayed precision "
                "(single runs: not tested for significance).")
    return ("Bold: best in its row, only where it differs significantly from the runner-up "
            f"({test_name(res)}, p < 0.05); no bold: no significant difference.")
