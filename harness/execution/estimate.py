"""What a run will cost, from its config alone: operations, simulator events, memory, wall time.

A rough model, calibrated on real runs (docs/running.md, "Estimates, guardrails and limits"), good to a small
factor: enough to refuse a suite whose runs plainly cannot fit the machine (a billion clients, a
thousand hours, a trillion requests per second) before it eats the memory, and to tell a user
how long a suite will take. It never changes what a run does.

* Operations: open loop, ``rate × duration`` arrivals. Closed loop, ``clients / round trip``
  per second (a round trip: the network hops, an fsync and the CPU of one operation, plus
  think time), at most the capacity of the busiest node (consensus: the leader's CPU per
  request and reply; transactions: the partitions' CPU per operation).
* Events: a constant per operation (consensus: ``1.5 + nodes``, doubled in open loop, where
  batches are small; transactions: ``4 + 4 × operations per transaction``), plus timers.
* Memory: the history and the latency record of every operation (the checkers need the whole
  history), the clients' state, and, in an open loop past capacity, the backlog of queued requests.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from harness.engine.network import mean_latency

# Calibration (2-core development machine, shared; the measurements are in docs/running.md).
EVENTS_PER_SECOND = 30_000          # simulator events per wall-clock second, one core
BASE_MEMORY = 30 * 2**20            # a run's fixed cost beyond the interpreter
MEMORY_PER_CLIENT = 32 * 2**10      # a client session: its random streams, endpoint, state
MEMORY_PER_OP = 768                 # consensus: one operation in the history and the metrics
MEMORY_PER_TXN_OP = 512             # transactions: per operation of a transaction
MEMORY_PER_BACKLOG = 3.5 * 2**10    # open loop past capacity: one request queued and never served
QUIESCENT_POLL = 0.00025            # bank: the world looks for a quiescent point this often

# The most runs a suite may have unless the user passes --force: counted before the matrix is
# expanded, so a typo (1,000 seeds on a five-key matrix: 20 M runs) is refused at once instead of
# filling memory. Expanding a suite holds every run's config in memory and in its manifest
# (~4 KiB a run: 100,000 runs are ~0.4 GiB and seconds before the first run starts), and at the
# smallest runs measured (a few seconds each) 100,000 runs are days of a two-core machine; a
# larger sweep is rare enough to ask for --force (and is better split into suites).
MAX_RUNS = 100_000


@dataclass(frozen=True)
class Estimate:
    """The estimated cost of one run (memory in bytes, split into what the clients and what the
    operations take; capacity and offered load in operations per second)."""

    ops: float
    events: float
    memory: float
    wall_s: float
    client_memory: float
    op_memory: float
    capacity: float
    offered: float


def _rate(cost: float) -> float:
    """Operations per second a CPU cost per operation allows (unbounded when it costs nothing)."""
    return 1.0 / cost if cost > 0 else math.inf


def estimate(cfg: Any) -> Estimate:
    """The cost of one run of config ``cfg`` (a :class:`harness.suite.run.RunConfig`)."""
    w, c = cfg.workload, cfg.cluster
    hop = mean_latency(cfg.network.latency) + c.relay + c.cpu_per_message + c.cpu_per_send
    size = getattr(w, "value_size", 64) + 64
    if cfg.kind == "transactions":
        per_txn = getattr(w, "ops", 2 if w.type == "bank" else 8)
        nodes = c.partitions
        round_trip = per_txn * 2 * hop + 2 * hop + c.fsync
        capacity = nodes * _rate(per_txn * (c.cpu_per_message + c.cpu_per_send + 2 * size * c.cpu_per_byte)
                                 + 2 * (c.cpu_per_message + c.cpu_per_send))
        events_per_op = 4 + 4 * per_txn
        op_memory_each = MEMORY_PER_TXN_OP * per_txn
    else:
        nodes = c.nodes
        round_trip = 4 * hop + c.fsync
        capacity = _rate(c.cpu_per_message + c.cpu_per_send + 2 * size * c.cpu_per_byte)
        events_per_op = 1.5 + nodes
        op_memory_each = MEMORY_PER_OP
    duration = cfg.duration
    backlog = 0.0
    if w.mode == "open":
        offered = w.rate
        ops = offered * duration
        events_per_op *= 2
        backlog = max(0.0, offered - capacity) * duration
    else:
        offered = w.clients / (round_trip + w.think_time)
        ops = min(offered, capacity) * duration
    timers = duration * nodes / max(getattr(cfg.replication, "heartbeat", 0.05), 1e-6)
    if cfg.kind == "transactions" and w.type == "bank":
        timers += duration / QUIESCENT_POLL
    events = ops * events_per_op + timers + 4 * w.clients
    client_memory = w.clients * MEMORY_PER_CLIENT
    op_memory = min(ops, offered * duration) * op_memory_each + backlog * MEMORY_PER_BACKLOG
    memory = BASE_MEMORY + client_memory + op_memory
    return Estimate(ops=ops, events=events, memory=memory, wall_s=events / EVENTS_PER_SECOND,
                    client_memory=client_memory, op_memory=op_memory, capacity=capacity,
                    offered=offered)


def extrapolate(sample: list[Any], runs: int) -> tuple[float, float]:
    """(wall seconds of ``runs`` runs on one core, the largest memory of one run), from the
    configs of a sample of matrix points: a suite too large to expand is costed without it."""
    estimates = [estimate(cfg) for cfg in sample]
    return (runs * sum(e.wall_s for e in estimates) / len(estimates), max(e.memory for e in estimates))


def physical_memory() -> float:
    """Bytes of RAM of this machine (a generous guess when the platform does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16.0 * 2**30


def size(n: float) -> str:
    """Bytes for people: 930 MiB, 28 TiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 10 else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.0f} PiB"


def count(n: float) -> str:
    """Counts for people: 140k, 3.6M, 2.1e+13."""
    if n >= 1e12:
        return f"{n:.1e}"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{unit}" if n < 10 * div else f"{n / div:.0f}{unit}"
    return f"{n:.0f}"


def duration(s: float) -> str:
    """Wall time for people: 12 s, 4 min, 3.2 h, 41 days, 2.0e+05 years."""
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    if s < 730 * 86400:
        return f"{s / 86400:.0f} days"
    return f"{s / 86400 / 365:.1e} years"


def _plain(value: float) -> str:
    return f"{value:.3g}" if value < 1e6 else f"{value:.2e}"


def _span(seconds: float) -> str:
    """Simulated time as a user writes it: 2380 s is 39.7m, 3.6e6 s is 1000h."""
    for unit, scale in (("h", 3600), ("m", 60)):
        if seconds >= 2 * scale:
            v = seconds / scale
            return f"{v:.0f}{unit}" if v >= 100 else f"{v:.3g}{unit}"
    return f"{seconds:.3g}s"


def refusal(cfg: Any, est: Estimate, ram: float) -> str | None:
    """None when one run of ``cfg`` fits in ``ram``; otherwise "<key>: <why>; <what would fit>"."""
    if est.memory <= ram:
        return None
    room = max(ram - BASE_MEMORY, 0.0)
    w = cfg.workload
    machine = f"this machine has {size(ram)}"
    if est.client_memory >= est.op_memory:
        fit = max(int((room - est.op_memory) // MEMORY_PER_CLIENT), 0)
        return (f"workload.clients: {w.clients} clients need ~{size(est.memory)} of memory per run "
                f"({machine}); at most ~{fit} would fit (~{size(MEMORY_PER_CLIENT)} per client)")
    scale = max(room - est.client_memory, 0.0) / est.op_memory
    what = f"~{count(est.ops)} operations need ~{size(est.memory)} of memory per run ({machine})"
    if w.mode == "open" and w.rate / max(est.capacity, 1.0) >= cfg.duration / 10.0:
        return (f"workload.rate: {_plain(w.rate)}/s for {_span(cfg.duration)}: {what}, and the cluster serves "
                f"~{count(est.capacity)}/s at most; at most ~{_plain(w.rate * scale)}/s would fit")
    fit = cfg.duration * scale
    return (f"duration: {_span(cfg.duration)} at ~{count(min(est.offered, est.capacity))} operations/s: "
            f"{what}; at most ~{_span(fit)} would fit")


def by_point(suite: Any) -> list[tuple[list[Any], Estimate]]:
    """(runs of a matrix point, its estimate) per point of ``suite``: seeds of a point cost the same."""
    points: dict[int, list[Any]] = {}
    for spec in suite.runs():
        points.setdefault(int(spec.run_id[1:5]), []).append(spec)
    return [(specs, estimate(specs[0].config)) for specs in points.values()]


def suite_refusal(suite: Any, estimates: list[tuple[list[Any], Estimate]], ram: float) -> str | None:
    """Why the first point of ``suite`` whose runs cannot fit in ``ram`` is refused (naming the key,
    and the run when the suite has a matrix), or None."""
    for specs, est in estimates:
        why = refusal(specs[0].config, est, ram)
        if why:
            return why + (f" (run {specs[0].run_id})" if suite.matrix else "")
    return None


def too_many(sample: list[Any], runs: int, jobs: int) -> str:
    """How long and how large a suite too large to expand would be, from a sample of its points."""
    wall, memory = extrapolate(sample, runs)
    cores = min(jobs, runs)
    return (f"~{duration(wall / cores)} on {cores} core{'s' if cores > 1 else ''}, up to ~{size(memory)} per run "
            f"(estimated from {len(sample)} of its points)")


def plan(estimates: list[tuple[list[Any], Estimate]], jobs: int) -> list[str]:
    """What each matrix point of a suite will cost (at most 40 lines; beyond, the largest of the
    rest), then the whole suite on ``jobs`` cores: what ``distbench validate`` prints."""
    lines = ["estimate per run (a model good to a small factor; see docs/running.md):"]
    shown = estimates if len(estimates) <= 40 else estimates[:30]
    for point, est in shown:
        ids = point[0].run_id if len(point) == 1 else f"{point[0].run_id}..{point[-1].run_id.split('-')[-1]}"
        params = " ".join(f"{k}={v}" for k, v in point[0].params.items() if k != "protocol")
        lines.append(f"  {ids:<16} {point[0].config.protocol:<12} {params}  ~{count(est.ops)} ops, "
                     f"~{count(est.events)} events, ~{size(est.memory)}, ~{duration(est.wall_s)}")
    if len(shown) < len(estimates):
        point, est = max(estimates[len(shown):], key=lambda pe: pe[1].memory)
        lines.append(f"  ... {len(estimates) - len(shown)} more matrix points; the largest of them, "
                     f"{point[0].run_id}: ~{count(est.ops)} ops, ~{count(est.events)} events, ~{size(est.memory)}, "
                     f"~{duration(est.wall_s)}")
    runs = sum(len(point) for point, _ in estimates)
    total = sum(est.wall_s * len(point) for point, est in estimates)
    events = sum(est.events * len(point) for point, est in estimates)
    peak = max(est.memory for _, est in estimates)
    parallel = max(1, min(jobs, runs))
    lines.append(f"suite: {runs_text(runs)}, ~{count(events)} events, ~{duration(total / parallel)} on {parallel} "
                 f"core{'s' if parallel > 1 else ''}, up to ~{size(peak)} per run "
                 f"(~{size(peak * parallel)} with {parallel} in parallel; this machine has {size(physical_memory())})")
    return lines


def runs_text(n: int) -> str:
    """``1 run``, ``2 runs``."""
    return f"{n} run" if n == 1 else f"{n} runs"
