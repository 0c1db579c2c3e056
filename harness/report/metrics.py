"""How the report presents metric families and parameters: section titles and blurbs, which
parameters express offered load, which fixed settings chart subtitles name. What each metric and
parameter *is* (label, unit, direction, quantity) is declared in :mod:`harness.catalog`.
"""

from __future__ import annotations

from harness.catalog.metrics import AVAILABILITY, CONSISTENCY, CONTENTION, COST, LATENCY, OTHER, THROUGHPUT


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
    CONSISTENCY: ("What the reads returned, measured against linearizability whatever the protocol "
                  "promises (a run fails safety only when it breaks its own promise): stale reads "
                  "returned a value older than a write that completed before they began; staleness "
                  "says by how many such writes and since how long; non-linearizable reads are "
                  "those no linearization can place; the session columns count reads going back "
                  "on what the same client had read or written. A column that is zero in every "
                  "run is shown only under All metrics."),
    CONTENTION: "How often transactions abort and why.",
    AVAILABILITY: ("Leader changes, failover time (from a fault that hit the leader until a newer "
                   "leader was elected) and time unavailable (commit gaps anywhere in the window, each "
                   "attributed to the fault, heal or leader change before it)."),
    COST: "What each operation costs in messages and bytes.",
    OTHER: "Further numeric columns found in runs.csv.",
}

# Parameters that express offered load: sweeping one of them earns a latency–throughput chart.
LOAD_PARAM_LEAVES = ("rate", "clients", "load", "offered_load", "target_rate", "concurrency",
                     "outstanding", "ops_per_s", "target_throughput")

# Fixed parameters worth naming in chart subtitles, in this order, when not swept.
HEADLINE_FIXED = (
    "cluster.nodes", "workload.clients", "workload.rate", "workload.distribution.type",
    "workload.distribution.theta", "workload.read_ratio", "workload.write_ratio",
    "workload.txn_size", "network.loss", "network.latency.mean", "duration",
)


def is_load_param(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in LOAD_PARAM_LEAVES
