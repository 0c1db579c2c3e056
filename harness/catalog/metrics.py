"""Every metric a run measures, declared once: its ``runs.csv`` column, how it is labelled and
shown, which way is better, what it means, the gate's default threshold for it, and which kind
of suite measures it. The report, ``summary.csv``, compare, history and ``distbench list`` read
these declarations; a column declared nowhere still gets a neutral one (:func:`metric_for`).
"""

from __future__ import annotations

from dataclasses import dataclass

HIGHER, LOWER = "higher", "lower"
CONSENSUS, TRANSACTIONS = "consensus", "transactions"

THROUGHPUT, LATENCY, CONSISTENCY, CONTENTION, AVAILABILITY, COST, OTHER = (
    "Throughput", "Latency", "Consistency", "Contention", "Availability", "Cost", "Other metrics")
FAMILIES = (THROUGHPUT, LATENCY, CONSISTENCY, CONTENTION, AVAILABILITY, COST, OTHER)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str            # short, for table rows and axis labels: "p99 latency"
    unit: str             # display unit after scaling: "ms", "ops/s", "%"; a count says what it counts
    better: str | None    # HIGHER, LOWER or None (no "best" mark, never a regression)
    family: str           # the report section it belongs to
    meaning: str = ""     # one line: what the column measures
    scale: float = 1.0    # display value = raw value * scale (fractions shown as %)
    headline: bool = True  # shown in the family's main table (else only under "All metrics")
    kind: str | None = None  # the only suite kind that measures it; None for both. Reports of
                             # the other kind never show it.
    threshold: float | None = None  # the gate judges it by default: a change counts beyond this
                                    # fraction of the baseline's mean ...
    floor: float = 0.0    # ... and beyond this absolute size (in the runs.csv unit)
    decides: bool = False  # a passing gate must show it not worse (else it is only watched)

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


_M = Metric
_ABORTED = "aborted attempts: "
# Gate thresholds: throughput and p50 are stable across seeds; tails, failover and unavailability
# move more with a single event. A failover time is one event per run, a coin flip of which node
# wins the election: on the quickstart its spread per seed is 20-40% of its mean (measured), so
# ruling out a 10% change would take a hundred seeds or more: it is watched, not decided.
METRICS: tuple[Metric, ...] = (
    _M("throughput_ops_s", "throughput", "ops/s", HIGHER, THROUGHPUT,
       "operations completed OK in the window ÷ its length (simulated seconds)",
       threshold=0.05, decides=True),
    _M("ops_committed", "operations committed", "ops", HIGHER, THROUGHPUT,
       "operations completed OK in the window", headline=False),
    _M("ops_failed", "operations failed", "ops", LOWER, THROUGHPUT,
       "operations given up after workload.retries re-sends", headline=False),
    _M("ops_outstanding", "operations unanswered at the end", "ops", LOWER, THROUGHPUT,
       "operations invoked in the window and still unanswered at the end", headline=False),
    _M("outstanding_age_ms_mean", "mean age of unanswered operations", "ms", LOWER, THROUGHPUT,
       "mean age at the end of the operations still unanswered (a backlog shows here)", headline=False),
    _M("outstanding_age_ms_max", "max age of unanswered operations", "ms", LOWER, THROUGHPUT,
       "age at the end of the oldest operation still unanswered", headline=False),
    _M("latency_mean_ms", "mean latency", "ms", LOWER, LATENCY,
       "mean latency from the intended start to the OK reply, retries included", headline=False),
    _M("latency_p50_ms", "p50 latency", "ms", LOWER, LATENCY,
       "median latency from the intended start to the OK reply", threshold=0.05, floor=0.01, decides=True),
    _M("latency_p95_ms", "p95 latency", "ms", LOWER, LATENCY, "95th percentile latency", headline=False),
    _M("latency_p99_ms", "p99 latency", "ms", LOWER, LATENCY, "99th percentile latency",
       threshold=0.10, floor=0.05, decides=True),
    _M("latency_p999_ms", "p99.9 latency", "ms", LOWER, LATENCY, "99.9th percentile latency"),
    _M("latency_max_ms", "max latency", "ms", LOWER, LATENCY, "the slowest completed operation",
       headline=False),
    # Consistency anomalies of the client history (harness/checkers/anomalies.py says exactly how)
    _M("stale_read_share", "stale reads", "%", LOWER, CONSISTENCY,
       "reads returning a value older than a write that completed before the read began ÷ reads",
       scale=100.0, kind=CONSENSUS),
    _M("staleness_versions_mean", "mean staleness in versions", "writes", LOWER, CONSISTENCY,
       "over stale reads: writes of the key the read missed (invoked after its value's write "
       "completed, completed before the read began)", kind=CONSENSUS),
    _M("staleness_versions_p99", "p99 staleness in versions", "writes", LOWER, CONSISTENCY,
       "99th percentile of staleness_versions over stale reads", headline=False, kind=CONSENSUS),
    _M("staleness_ms_mean", "mean staleness", "ms", LOWER, CONSISTENCY,
       "over stale reads: how long before the read began its value had been overwritten",
       kind=CONSENSUS),
    _M("staleness_ms_p99", "p99 staleness", "ms", LOWER, CONSISTENCY,
       "99th percentile of staleness_ms over stale reads", headline=False, kind=CONSENSUS),
    _M("nonlinearizable_share", "non-linearizable reads", "%", LOWER, CONSISTENCY,
       "reads no linearization can place (value not written before the read ended, or "
       "overwritten in every linearization before it began) ÷ reads", scale=100.0, kind=CONSENSUS),
    _M("monotonic_read_violations", "monotonic-read violations", "reads", LOWER, CONSISTENCY,
       "reads returning a value older than one the same client had read from the key before",
       kind=CONSENSUS),
    _M("read_your_writes_violations", "read-your-writes violations", "reads", LOWER, CONSISTENCY,
       "reads returning a value older than the same client's completed write of the key",
       kind=CONSENSUS),
    _M("abort_rate", "abort rate", "%", LOWER, CONTENTION,
       "aborted attempts ÷ attempts (consensus: client attempts that timed out)", scale=100.0,
       threshold=0.10, floor=0.005),
    _M("conflict_rate", "conflict rate", "%", LOWER, CONTENTION,
       "attempts that met at least one conflict ÷ attempts", scale=100.0, kind=TRANSACTIONS,
       threshold=0.10, floor=0.005),
    _M("retries_per_txn", "retries per txn", "retries/txn", LOWER, CONTENTION,
       "(attempts - 1) summed over the transactions that ended ÷ those transactions", kind=TRANSACTIONS),
    _M("lock_wait_ms_mean", "mean lock wait", "ms", LOWER, CONTENTION,
       "mean time a lock request queued behind a conflicting lock, until grant or abort",
       headline=False, kind=TRANSACTIONS),
    _M("twopc_ms_mean", "mean 2PC duration", "ms", LOWER, CONTENTION,
       "mean time from the client's commit request to the outcome", headline=False, kind=TRANSACTIONS),
    _M("in_doubt_ms", "time in doubt", "ms", LOWER, CONTENTION,
       "participant-time prepared but not yet knowing the decision", headline=False, kind=TRANSACTIONS),
    _M("blocked_ms", "time blocked", "ms", LOWER, CONTENTION,
       "the part of in_doubt_ms a live participant waited for an overdue decision", headline=False,
       kind=TRANSACTIONS),
    _M("blocked_ms_max", "longest blocked stretch", "ms", LOWER, CONTENTION,
       "the longest single blocked stretch (one participant, one transaction)", headline=False,
       kind=TRANSACTIONS),
    _M("aborts_conflict", "aborts: conflict", "attempts", LOWER, CONTENTION,
       _ABORTED + "refused a lock, died (wait_die) or wounded (wound_wait)", headline=False,
       kind=TRANSACTIONS),
    _M("aborts_deadlock", "aborts: deadlock", "attempts", LOWER, CONTENTION,
       _ABORTED + "victim of a waits-for cycle", headline=False, kind=TRANSACTIONS),
    _M("aborts_validation", "aborts: validation", "attempts", LOWER, CONTENTION,
       _ABORTED + "OCC validation failed", headline=False, kind=TRANSACTIONS),
    _M("aborts_timeout", "aborts: timeout", "attempts", LOWER, CONTENTION,
       _ABORTED + "a lock wait, an idle transaction or the client's timeout ran out", headline=False,
       kind=TRANSACTIONS),
    _M("aborts_failure", "aborts: failure", "attempts", LOWER, CONTENTION,
       _ABORTED + "a crash or lost state", headline=False, kind=TRANSACTIONS),
    _M("txn_attempts", "transaction attempts", "attempts", None, CONTENTION,
       "attempts (the denominator of the abort and conflict rates)", headline=False, kind=TRANSACTIONS),
    _M("leader_changes", "leader changes", "count", LOWER, AVAILABILITY,
       "leaderships won in the window (the run's first election never counts)", kind=CONSENSUS),
    _M("failover_ms_mean", "mean failover time", "ms", LOWER, AVAILABILITY,
       "mean time from a fault that hit the leader until a newer leader was elected",
       kind=CONSENSUS, threshold=0.10, floor=5.0),
    _M("predicted_throughput_ops_s", "predicted throughput", "ops/s", None, THROUGHPUT,
       "a live run's throughput as the simulator predicts it (live.predict)", headline=False, kind=CONSENSUS),
    _M("predicted_latency_p50_ms", "predicted p50 latency", "ms", None, LATENCY,
       "a live run's median latency as the simulator predicts it (live.predict)", headline=False,
       kind=CONSENSUS),
    _M("predicted_latency_p99_ms", "predicted p99 latency", "ms", None, LATENCY,
       "a live run's 99th percentile latency as the simulator predicts it (live.predict)",
       headline=False, kind=CONSENSUS),
    _M("predicted_failover_ms_mean", "predicted mean failover time", "ms", None, AVAILABILITY,
       "a live run's mean failover time as the simulator predicts it (live.predict)", headline=False,
       kind=CONSENSUS),
    _M("failover_ms_max", "max failover time", "ms", LOWER, AVAILABILITY,
       "the longest failover until a newer leader was elected", headline=False, kind=CONSENSUS),
    _M("failover_heard_ms_mean", "mean failover time until a majority heard the new leader", "ms", LOWER,
       AVAILABILITY, "mean time from a fault that hit the leader until a majority heard the new leader",
       headline=False, kind=CONSENSUS),
    _M("failover_commit_ms_mean", "mean failover time until the first commit", "ms", LOWER,
       AVAILABILITY, "mean time from a fault that hit the leader until an operation completed again",
       headline=False, kind=CONSENSUS),
    _M("failover_commit_ms_max", "max failover time until the first commit", "ms", LOWER,
       AVAILABILITY, "the longest time from a fault that hit the leader until an operation completed",
       headline=False, kind=CONSENSUS),
    _M("unavailable_ms", "time unavailable", "ms", LOWER, AVAILABILITY,
       "time covered by gaps between completed operations longer than metrics.unavailable_gap",
       threshold=0.10, floor=5.0),
    _M("unavailable_ms_fault", "time unavailable after a fault", "ms", LOWER, AVAILABILITY,
       "unavailable_ms whose gap followed a fault", headline=False),
    _M("unavailable_ms_heal", "time unavailable after a heal", "ms", LOWER, AVAILABILITY,
       "unavailable_ms whose gap followed a heal, restart or restore", headline=False),
    _M("unavailable_ms_leader_change", "time unavailable after a leader change", "ms", LOWER,
       AVAILABILITY, "unavailable_ms whose gap followed an election or step-down", headline=False,
       kind=CONSENSUS),
    _M("unavailable_ms_other", "time unavailable from other causes", "ms", LOWER, AVAILABILITY,
       "unavailable_ms whose gap followed no fault, heal or leader change", headline=False),
    _M("messages_per_op", "messages per op", "msgs/op", LOWER, COST,
       "messages put on the network in the window ÷ ops_committed", threshold=0.05),
    _M("bytes_per_op", "bytes per op", "B/op", LOWER, COST,
       "bytes put on the network in the window ÷ ops_committed", headline=False),
    _M("leader_cpu_utilization", "leader CPU utilisation", "%", LOWER, COST,
       "the leader's busy fraction of the time someone led", scale=100.0, kind=CONSENSUS),
    _M("retransmissions_per_op", "retransmissions per op", "msgs/op", LOWER, COST,
       "replication messages re-sent under replication.retransmit ÷ ops_committed", headline=False,
       kind=CONSENSUS),
    _M("transport_retransmissions_per_op", "transport retransmissions per op", "msgs/op", LOWER, COST,
       "copies the stream transport re-sent (after its timeout, by RACK or by a tail-loss probe) ÷ "
       "ops_committed; 0 with network.transport: datagram", headline=False),
    _M("repairs_per_op", "gap repairs per op", "msgs/op", LOWER, COST,
       "messages sent to fill a gap a replica reported ÷ ops_committed", headline=False, kind=CONSENSUS),
    _M("loss_blocked_share", "follower time blocked behind a lost message", "%", LOWER, COST,
       "share of follower time holding messages behind a lost one, unable to acknowledge them",
       scale=100.0, headline=False, kind=CONSENSUS),
    _M("write_skew_per_1k_txn", "write skew", "per 1k txn", LOWER, CONTENTION,
       "serialization-graph cycles (strongly connected groups of committed transactions) per "
       "1000 committed transactions: the anomalies snapshot isolation allows",
       kind=TRANSACTIONS),
    _M("quiescent_checks", "quiescent balance checks", "count", None, OTHER,
       "bank workload: total-balance checks at a quiescent point", headline=False, kind=TRANSACTIONS),
    _M("drain_s", "drain after the run", "s", None, OTHER,
       "simulated time the post-run drain took before the final checks", headline=False,
       kind=TRANSACTIONS),
)
METRICS_BY_KEY = {m.key: m for m in METRICS}

# Columns of runs.csv that are neither parameters nor metrics.
ID_COLUMNS = ("suite", "kind", "run_id", "protocol", "seed", "safety", "safety_detail")
# Numeric columns that describe the harness, not the protocol: never compared.
NOT_COMPARED = ("wall_s", "sim_events")

ABORT_CAUSES = tuple(m.key for m in METRICS if m.key.startswith("aborts_"))


def metric_for(column: str) -> Metric:
    """The declaration of a known metric, or a neutral one for an unknown column, its unit read
    from the end of its name, before a statistic ("gc_pause_ms_max": "gc pause max", ms)."""
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
