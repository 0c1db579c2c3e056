"""What the report knows about metrics and parameters: labels, units, which way is better.

Metrics are the columns of ``runs.csv`` whose names contain no dot; parameters are the dotted
config keys. Unknown metrics still get a table (family "Other metrics", no "better" direction).
Every known metric has a unit, so every axis, table row and finding can say it; a count says what
it counts ("ops", "attempts") or "count".
"""

from __future__ import annotations

from dataclasses import dataclass

HIGHER, LOWER = "higher", "lower"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str            # short, for table rows and axis labels: "p99 latency"
    unit: str             # display unit after scaling: "ms", "ops/s", "%", ""
    better: str | None    # HIGHER, LOWER or None (no "best" mark)
    family: str
    scale: float = 1.0    # display value = raw value * scale (fractions shown as %)
    headline: bool = True  # shown in the family's main table (else only under "All metrics")
    kind: str | None = None  # the only suite kind that measures it ("consensus": leaders,
                             # replication); None for both. Reports of the other kind never show it.

    @property
    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def percent(self) -> bool:
        """Shown as a percentage: its deltas are differences in percentage points."""
        return self.unit == "%"

    @property
    def better_text(self) -> str:
        return {HIGHER: "higher is better", LOWER: "lower is better"}.get(self.better or "", "")


THROUGHPUT, LATENCY, CONTENTION, AVAILABILITY, COST, OTHER = (
    "Throughput", "Latency", "Contention", "Availability", "Cost", "Other metrics")
FAMILIES = (THROUGHPUT, LATENCY, CONTENTION, AVAILABILITY, COST, OTHER)


def family_title(family: str, kind: str) -> str:
    """Section title of a metric family. In a consensus suite nothing contends: its aborts are
    client attempts that timed out (message loss, faults), so the section says so."""
    if family == CONTENTION and kind != "transactions":
        return "Client retries and aborts"
    if family == COST and kind != "transactions":
        return "Cost and leader load"
    return family


def family_blurb(family: str, kind: str) -> str:
    if family == CONTENTION and kind != "transactions":
        return ("Abort rate = client attempts that timed out ÷ attempts sent in the measurement "
                "window (an attempt is one send of a request; a redirect is not an abort). Nothing "
                "contends in a replicated log: attempts time out because a message was lost or a "
                "fault left no leader to answer, and the client re-sends after workload.timeout.")
    if family == CONTENTION:
        return ("Abort rate = aborted transaction attempts ÷ attempts; conflict rate = attempts "
                "that met a conflict ÷ attempts. Aborts by cause below.")
    if family == COST and kind != "transactions":
        return ("Messages and bytes per committed operation, and the leader's CPU utilisation "
                "(its busy fraction over the window: a load, not a per-operation cost).")
    if family == AVAILABILITY and kind == "transactions":
        return ("Time unavailable: the commit gaps longer than metrics.unavailable_gap anywhere in the "
                "window, each attributed to the fault or heal before it (a crashed or cut-off "
                "partition stalls every transaction that needs it).")
    return FAMILY_BLURB[family]


FAMILY_BLURB = {
    THROUGHPUT: "Committed operations per second of simulated time.",
    LATENCY: "Client-observed latency from the intended send time (no coordinated omission).",
    CONTENTION: "How often transactions abort and why.",
    AVAILABILITY: ("Leader changes, failover time (from a fault that hit the leader until a newer "
                   "leader was elected) and time unavailable (commit gaps anywhere in the window, each "
                   "attributed to the fault, heal or leader change before it)."),
    COST: "What each operation costs in messages and bytes.",
    OTHER: "Further numeric columns found in runs.csv.",
}

_M = Metric
CONSENSUS, TRANSACTIONS = "consensus", "transactions"
KNOWN_METRICS: tuple[Metric, ...] = (
    _M("throughput_ops_s", "throughput", "ops/s", HIGHER, THROUGHPUT),
    _M("ops_committed", "operations committed", "ops", HIGHER, THROUGHPUT, headline=False),
    _M("ops_failed", "operations failed", "ops", LOWER, THROUGHPUT, headline=False),
    _M("ops_outstanding", "operations unanswered at the end", "ops", LOWER, THROUGHPUT, headline=False),
    _M("outstanding_age_ms_mean", "mean age of unanswered operations", "ms", LOWER, THROUGHPUT,
       headline=False),
    _M("outstanding_age_ms_max", "max age of unanswered operations", "ms", LOWER, THROUGHPUT,
       headline=False),
    _M("latency_mean_ms", "mean latency", "ms", LOWER, LATENCY, headline=False),
    _M("latency_p50_ms", "p50 latency", "ms", LOWER, LATENCY),
    _M("latency_p95_ms", "p95 latency", "ms", LOWER, LATENCY, headline=False),
    _M("latency_p99_ms", "p99 latency", "ms", LOWER, LATENCY),
    _M("latency_p999_ms", "p99.9 latency", "ms", LOWER, LATENCY),
    _M("latency_max_ms", "max latency", "ms", LOWER, LATENCY, headline=False),
    _M("abort_rate", "abort rate", "%", LOWER, CONTENTION, scale=100.0),
    _M("conflict_rate", "conflict rate", "%", LOWER, CONTENTION, scale=100.0, kind=TRANSACTIONS),
    _M("retries_per_txn", "retries per txn", "retries/txn", LOWER, CONTENTION, kind=TRANSACTIONS),
    _M("lock_wait_ms_mean", "mean lock wait", "ms", LOWER, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("twopc_ms_mean", "mean 2PC duration", "ms", LOWER, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("in_doubt_ms", "time in doubt", "ms", LOWER, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("blocked_ms", "time blocked", "ms", LOWER, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("blocked_ms_max", "longest blocked stretch", "ms", LOWER, CONTENTION, headline=False,
       kind=TRANSACTIONS),
    _M("aborts_conflict", "aborts: conflict", "attempts", LOWER, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("aborts_deadlock", "aborts: deadlock", "attempts", LOWER, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("aborts_validation", "aborts: validation", "attempts", LOWER, CONTENTION, headline=False,
       kind=TRANSACTIONS),
    _M("aborts_timeout", "aborts: timeout", "attempts", LOWER, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("aborts_failure", "aborts: failure", "attempts", LOWER, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("txn_attempts", "transaction attempts", "attempts", None, CONTENTION, headline=False, kind=TRANSACTIONS),
    _M("leader_changes", "leader changes", "count", LOWER, AVAILABILITY, kind=CONSENSUS),
    _M("failover_ms_mean", "mean failover time", "ms", LOWER, AVAILABILITY, kind=CONSENSUS),
    _M("failover_ms_max", "max failover time", "ms", LOWER, AVAILABILITY, headline=False, kind=CONSENSUS),
    _M("failover_heard_ms_mean", "mean failover time until a majority heard the new leader", "ms", LOWER,
       AVAILABILITY, headline=False, kind=CONSENSUS),
    _M("failover_commit_ms_mean", "mean failover time until the first commit", "ms", LOWER,
       AVAILABILITY, headline=False, kind=CONSENSUS),
    _M("failover_commit_ms_max", "max failover time until the first commit", "ms", LOWER,
       AVAILABILITY, headline=False, kind=CONSENSUS),
    _M("unavailable_ms", "time unavailable", "ms", LOWER, AVAILABILITY),
    _M("unavailable_ms_fault", "time unavailable after a fault", "ms", LOWER, AVAILABILITY, headline=False),
    _M("unavailable_ms_heal", "time unavailable after a heal", "ms", LOWER, AVAILABILITY, headline=False),
    _M("unavailable_ms_leader_change", "time unavailable after a leader change", "ms", LOWER,
       AVAILABILITY, headline=False, kind=CONSENSUS),
    _M("unavailable_ms_other", "time unavailable from other causes", "ms", LOWER, AVAILABILITY, headline=False),
    _M("messages_per_op", "messages per op", "msgs/op", LOWER, COST),
    _M("bytes_per_op", "bytes per op", "B/op", LOWER, COST, headline=False),
    _M("leader_cpu_utilization", "leader CPU utilisation", "%", LOWER, COST, scale=100.0, kind=CONSENSUS),
    _M("retransmissions_per_op", "retransmissions per op", "msgs/op", LOWER, COST, headline=False,
       kind=CONSENSUS),
    _M("repairs_per_op", "gap repairs per op", "msgs/op", LOWER, COST, headline=False, kind=CONSENSUS),
    _M("loss_blocked_share", "follower time blocked behind a lost message", "%", LOWER, COST,
       scale=100.0, headline=False, kind=CONSENSUS),
    _M("quiescent_checks", "quiescent balance checks", "count", None, OTHER, headline=False,
       kind=TRANSACTIONS),
    _M("drain_s", "drain after the run", "s", None, OTHER, headline=False, kind=TRANSACTIONS),
)
METRICS_BY_KEY = {m.key: m for m in KNOWN_METRICS}

# Columns of runs.csv that are neither parameters nor metrics.
ID_COLUMNS = ("suite", "kind", "run_id", "protocol", "seed", "safety", "safety_detail")
# Numeric columns that describe the harness, not the protocol: never compared.
NOT_COMPARED = ("wall_s", "sim_events")

ABORT_CAUSES = ("aborts_conflict", "aborts_deadlock", "aborts_validation", "aborts_timeout",
                "aborts_failure")


def metric_for(column: str) -> Metric:
    """The spec of a known metric, or a neutral one for an unknown column, its unit read from the
    end of its name, before a statistic ("gc_pause_ms_max": "gc pause max", ms)."""
    if column in METRICS_BY_KEY:
        return METRICS_BY_KEY[column]
    stem, _, stat = column.rpartition("_")
    if stat not in _STATS:
        stem, stat = column, ""
    for suffix, unit in (("_ops_s", "ops/s"), ("_ms", "ms"), ("_s", "s"), ("_bytes", "B")):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            label = f"{stem[: -len(suffix)]} {stat}".strip()
            return Metric(column, label.replace("_", " "), unit, None, OTHER)
    return Metric(column, column.replace("_", " "), "", None, OTHER)


_STATS = {"mean", "max", "min", "median", "total", "sum", "p50", "p90", "p95", "p99", "p999"}


def shown_in(metric: Metric, kind: str) -> bool:
    """Whether a report of a ``kind`` suite shows ``metric``: not a leader's or a replication
    log's in a transaction suite (the runner writes those columns as zeros there), nor the reverse."""
    return metric.kind is None or metric.kind == kind


# ---------------------------------------------------------------------------------------------
# Parameters

PARAM_LABELS = {
    "cluster.nodes": "cluster size",
    "network.loss": "message loss rate",
    "network.latency.mean": "mean link latency",
    "network.bandwidth": "link bandwidth",
    "workload.clients": "clients",
    "workload.rate": "offered load",
    "workload.keys": "keys",
    "workload.read_ratio": "read ratio",
    "workload.write_ratio": "write ratio",
    "workload.distribution.theta": "Zipfian θ",
    "workload.distribution.type": "key distribution",
    "workload.txn_size": "ops per txn",
    "workload.multi_partition": "multi-partition transactions",
    "replication.election_timeout": "election timeout",
    "replication.batch_size": "batch size",
    "cluster.cpu_per_message": "CPU per message",
    "cluster.fsync": "fsync time",
}
# Units of the parameters whose values do not carry one (durations and rates show theirs: "150ms").
PARAM_UNITS = {"workload.rate": "ops/s", "cluster.nodes": "nodes", "cluster.partitions": "partitions",
               "network.loss": "fraction", "network.duplicate": "fraction",
               "workload.clients": "count", "workload.keys": "count", "workload.accounts": "count",
               "workload.read_ratio": "fraction", "workload.write_ratio": "fraction",
               "workload.multi_partition": "fraction", "workload.distribution.theta": "exponent",
               "workload.txn_size": "ops", "workload.ops": "ops", "workload.retries": "count",
               "replication.batch_size": "commands", "replication.pipeline": "batches"}

# Parameters that express offered load: sweeping one of them earns a latency–throughput chart.
LOAD_PARAM_LEAVES = ("rate", "clients", "load", "offered_load", "target_rate", "concurrency",
                     "outstanding", "ops_per_s", "target_throughput")

# Fixed parameters worth naming in chart subtitles, in this order, when not swept.
HEADLINE_FIXED = (
    "cluster.nodes", "workload.clients", "workload.rate", "workload.distribution.type",
    "workload.distribution.theta", "workload.read_ratio", "workload.write_ratio",
    "workload.txn_size", "network.loss", "network.latency.mean", "duration",
)


def param_label(key: str, unit: str | None = None) -> str:
    label = PARAM_LABELS.get(key)
    if label is None:
        leaf = key.rsplit(".", 1)[-1]
        label = leaf.replace("_", " ")
    unit = unit if unit is not None else PARAM_UNITS.get(key, "")
    return f"{label} ({unit})" if unit else label


def param_short(key: str) -> str:
    """Compact name for table headers and facet titles."""
    if key in PARAM_LABELS:
        return PARAM_LABELS[key]
    return key.rsplit(".", 1)[-1].replace("_", " ")


def is_load_param(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in LOAD_PARAM_LEAVES


# Config values that are durations: the resolved config stores them in seconds.
_DURATION_LEAVES = {"duration", "warmup", "cpu_per_message", "cpu_per_send", "cpu_per_byte", "fsync",
                    "batch_delay", "election_timeout", "heartbeat", "think_time", "timeout", "mtbf",
                    "mttr", "at", "for", "bucket", "unavailable_gap", "delay", "interval"}
_LATENCY_LEAVES = {"mean", "std", "median", "scale", "low", "high", "value", "min", "max"}


def is_duration_key(key: str) -> bool:
    parts = key.split(".")
    leaf = parts[-1]
    if leaf in _DURATION_LEAVES or leaf.endswith("_timeout") or leaf.endswith(("_timeout_min", "_timeout_max")):
        return True
    return leaf in _LATENCY_LEAVES and len(parts) >= 2 and parts[-2] == "latency"


def human_duration(seconds: float) -> str:
    """0.0005 -> "500µs", 0.15 -> "150ms", 4.0 -> "4s"."""
    s = abs(seconds)
    if s == 0:
        return "0s"
    for limit, div, unit in ((1e-6, 1e-9, "ns"), (1e-3, 1e-6, "µs"), (1.0, 1e-3, "ms")):
        if s < limit:
            return f"{seconds / div:.4g}{unit}"
    return f"{seconds:.4g}s"


# Config values that are rates (events per second in the resolved config; "2k/s" as written).
_RATE_LEAVES = {"rate", "target_rate", "arrival_rate", "ops_per_s"}


def is_rate_key(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in _RATE_LEAVES


def human_rate(per_second: float) -> str:
    """8000.0 -> "8k/s", 2500 -> "2.5k/s", 120 -> "120/s", 2e6 -> "2M/s"."""
    a = abs(per_second)
    if a >= 1e6:
        return f"{per_second / 1e6:.4g}M/s"
    if a >= 1e3:
        return f"{per_second / 1e3:.4g}k/s"
    return f"{per_second:.4g}/s"


def parse_seconds(value) -> float | None:
    """A duration from a resolved config (a number of seconds) or as written ("150ms")."""
    from harness.units import parse_duration
    if value is None or isinstance(value, bool):
        return None
    try:
        v = parse_duration(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def parse_per_second(value) -> float | None:
    """A rate from a resolved config (a number per second) or as written ("8k/s", "120/min")."""
    from harness.units import parse_rate
    if value is None or isinstance(value, bool):
        return None
    try:
        v = parse_rate(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None
