""""Where the difference comes from": the measured work behind a significant difference.

Wherever the contenders differ significantly (and by at least ``PRACTICAL``) in throughput or
latency, the report sets side by side, per contender, what each committed operation cost in
messages of each type (``messages_per_op_by_type``) and the columns that measure repair work and
its cost: ``retransmissions_per_op`` (re-sent after a whole retransmission interval),
``transport_retransmissions_per_op`` (copies the stream transport re-sent),
``repairs_per_op`` (sent to fill a gap a replica reported), ``loss_blocked_share`` (follower
time spent unable to acknowledge behind a lost message) — replication's, so consensus suites
only — ``unavailable_ms`` (time without a commit: where throughput went) and, for consensus
suites, the anomaly shares (``stale_read_share``, ``nonlinearizable_share``): what a faster
read path gave up. The section knows
no protocol: message types are whatever the contenders report, and a contender without a column
shows "—".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fmt
from .load import CONTENDER, Results
from harness.catalog.metrics import metric_for
from .tables import SIGNIFICANT, UNTESTED, capitalize, metric_rows

PRACTICAL = 0.03  # a relative difference below this is not worth explaining
DIFFERENCES = ("throughput_ops_s", "latency_p50_ms", "latency_p99_ms")
ANOMALIES = ("stale_read_share", "nonlinearizable_share")  # rows only where some contender has any
CAUSES = ("messages_per_op", "retransmissions_per_op", "transport_retransmissions_per_op",
          "repairs_per_op", "loss_blocked_share", "unavailable_ms", *ANOMALIES)
BY_TYPE = "messages_per_op_by_type"


@dataclass
class Explanation:
    point: tuple[str, ...]    # the parameter values (empty without a sweep)
    differences: list[str]    # "throughput: raft 4 566 ops/s, multipaxos 5 518 ops/s (+20.8%)"
    header: list[str]         # "per committed operation", then the contenders
    rows: list[list[str]]


def explanations(res: Results) -> list[Explanation]:
    """One explanation per parameter point where the contenders differ (see the module notes)."""
    if len(res.contenders) < 2:
        return []
    found: dict[tuple[str, ...], list[str]] = {}
    for key in DIFFERENCES:
        if key not in res.runs.columns:
            continue
        m = metric_for(key)
        for row in metric_rows(res, m):
            if row.verdict not in (SIGNIFICANT, UNTESTED):
                continue
            cells = {c: cell for c, cell in row.cells.items() if cell is not None}
            lo = min(c.summary.mean for c in cells.values())
            hi = max(c.summary.mean for c in cells.values())
            if not lo > 0 or hi / lo - 1 < PRACTICAL:
                continue
            shown = ", ".join(f"{c} {fmt.num(cell.summary.mean * m.scale, row.decimals)} {m.unit}"
                              for c, cell in cells.items())
            found.setdefault(row.point, []).append(
                f"{m.label}: {shown} (highest {fmt.num((hi / lo - 1) * 100, 1)}% above lowest)")
    return [_explain(res, point, diffs) for point, diffs in found.items()]


def _explain(res: Results, point: tuple[str, ...], differences: list[str]) -> Explanation:
    runs = res.runs
    here = np.ones(len(runs), dtype=bool)
    for key, value in zip(res.param_keys, point):
        here &= (runs[key].astype(str) == value).to_numpy()
    at = runs[here]
    means: dict[str, dict[str, float]] = {}
    for c in res.contenders:
        mine = at[at[CONTENDER] == c]
        row: dict[str, float] = {}
        if BY_TYPE in mine.columns:
            counts: dict[str, list[float]] = {}
            for text in mine[BY_TYPE].dropna().astype(str):
                for kind, value in _by_type(text).items():
                    counts.setdefault(kind, []).append(value)
            row.update({f"{BY_TYPE}:{k}": float(np.mean(v)) for k, v in counts.items()})
        for key in CAUSES:
            if res.has_metric(key) and mine[key].notna().any():
                row[key] = float(mine[key].astype(float).mean())
        means[c] = row
    kinds = sorted({k for row in means.values() for k in row if k.startswith(BY_TYPE)})
    rows = []
    for key in [*kinds, *CAUSES]:
        if not any(key in row for row in means.values()):
            continue
        if key in ANOMALIES and not any(row.get(key) for row in means.values()):
            continue
        if key.startswith(BY_TYPE):
            label, scale, unit = f"{key.split(':', 1)[1]} messages", 1.0, ""
        else:
            m = metric_for(key)
            label, scale = capitalize(m.label), m.scale
            unit = " %" if m.percent else (f" {m.unit}" if m.unit else "")
        values = [row[key] * scale for row in means.values() if key in row]
        decimals = max(fmt.decimals_for(values), 2 if not unit else 1)
        rows.append([label, *[fmt.num(means[c][key] * scale, decimals) + unit if key in means[c] else "—"
                              for c in res.contenders]])
    return Explanation(point, differences, ["per committed operation", *res.contenders], rows)


def _by_type(text: str) -> dict[str, float]:
    """``"Accept=4 Accepted=3.96"`` -> ``{"Accept": 4.0, "Accepted": 3.96}``."""
    out = {}
    for item in text.split():
        kind, _, value = item.partition("=")
        try:
            out[kind] = float(value)
        except ValueError:
            continue
    return out


def blurb(kind: str) -> str:
    """The section's lead: what its rows are, for the suite's kind."""
    head = ("Where the contenders differ significantly (paired by seed, p < 0.05, or a single run) "
            f"by at least {PRACTICAL:.0%} in throughput or latency: the work behind each committed "
            "operation. Messages by type, then ")
    if kind == "transactions":
        return head + ("the time without any commit, where throughput went (a crash or partition "
                       "that stalls the transactions touching a partition).")
    return head + ("retransmissions (re-sent after a whole `replication.retransmit` interval), gap "
                   "repairs (sent to fill a gap a replica reported after `replication.reorder_wait`) "
                   "and the share of follower time spent unable to acknowledge behind a lost message "
                   "(a replica that must accept in log order cannot acknowledge past a gap, and is "
                   "out of the quorum meanwhile); then the time without any commit, where "
                   "throughput went. Last, the share of reads that were stale and that no "
                   "linearization can place: a read served from one replica's local state (a "
                   "ZooKeeper local read, a quorum read at `one`, a lease read past a drifted "
                   "clock) saves the round trips to a quorum, and pays for it in these rows. A "
                   "difference in throughput or latency that comes with non-zero shares is a "
                   "trade of consistency for speed, not a faster protocol at equal guarantees.")
