"""One run: build the simulated world for a resolved config and seed, run it, measure, check.

A run is a pure function of (config, seed, code): everything random draws from streams derived
from the seed, so the result (except ``wall_s``) is identical bit for bit on every replay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from harness.checkers.consensus import (Durability, ElectionSafety, LogAgreement, ReplicaObserver,
                                         combine)
from harness.checkers.linearizability import check_linearizability
from harness.faults.nemesis import Role
from harness.history import History
from harness.live.world import live
from harness.worlds.transactions import TransactionWorld
from harness.worlds.base import World
from workloads.clients import KVClient
from workloads.keys import KeyChooser
from workloads.kv import KVStateMachine


@dataclass
class RunResult:
    """What one run produced: the ``runs.csv`` row and its rows in the other result files."""

    row: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    timeseries: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[dict[str, Any]] = field(default_factory=list)


class ConsensusWorld(World):
    """A replicated key-value store: ``cluster.nodes`` replicas of one protocol and KV clients."""

    def __init__(self, cfg: Any, seed: int):
        super().__init__(cfg, seed)
        n = cfg.cluster.nodes
        w = cfg.workload
        self.history = History()
        self.metrics.majority = n // 2 + 1
        self.metrics.replicas = n
        self.metrics.led = True
        self.election, self.log, self.durability = ElectionSafety(), LogAgreement(), Durability()
        self._build(n, w.clients, KVStateMachine, ReplicaObserver(self.election, self.log, self.metrics))
        keys = KeyChooser(w.distribution, w.keys)
        rate = self.client_rate()
        self.clients = [KVClient(self.sim, self.net, n + c, n, w, keys, self.metrics, self.history, rate,
                                 self.durability.acked_write) for c in range(w.clients)]

    def fault_roles(self) -> dict[str, Role]:
        """``leader``: the node the metrics last saw elected (none after it crashed or stepped
        down); ``follower``: any other."""
        n, metrics = self.cfg.cluster.nodes, self.metrics
        return {"leader": Role(lambda: [] if metrics.leader_node is None else [metrics.leader_node], single=True),
                "follower": Role(lambda: [i for i in range(n) if i != metrics.leader_node])}

    def run(self) -> dict[str, Any]:
        self._start()
        self.sim.run(self.cfg.duration)
        return self._judge()

    def _judge(self, observed: bool = True) -> dict[str, Any]:
        """The row at the end of the window, with the verdicts: the checkers of the replicas'
        observations (unless a live run has none) and linearizability of the client history."""
        cfg = self.cfg
        row = self._close()
        self.history.finish()
        lin = (check_linearizability(self.history, cfg.checkers.budget)
               if cfg.checkers.linearizability else None)
        verdicts = [self.election.verdict(), self.log.verdict(), self.durability.verdict(self.log)] \
            if observed else []
        if lin is not None:
            verdicts.append(lin)
        row["safety"] = combine(*verdicts)
        row["safety_detail"] = "" if lin is not None else "linearizability not checked"
        if row["safety"].startswith("unknown"):
            row["safety_detail"] = row["safety"]
            row["safety"] = "unknown"
        row["sim_events"] = self.sim.events_processed
        return row


WORLDS: dict[str, type] = {"consensus": ConsensusWorld, "transactions": TransactionWorld}


def identity(spec: Any, suite: str) -> dict[str, Any]:
    """The leading ``runs.csv`` columns of a run: who it is and the value of every swept key,
    resolved (numbers in seconds, per second, bytes), not as written."""
    row: dict[str, Any] = {"suite": suite, "kind": spec.config.kind, "run_id": spec.run_id,
                           "protocol": spec.config.protocol, "seed": spec.seed}
    resolved = spec.config.to_dict()
    for key, written in spec.params.items():
        if key in getattr(spec, "labelled", ()):  # a labelled value (or contender): its label
            row[key] = written
        elif key != "protocol":
            value: Any = resolved
            for part in key.split("."):
                value = value.get(part, written) if isinstance(value, dict) else written
            if isinstance(value, (dict, list)):  # a swept section: its compact YAML, as written
                value = yaml.safe_dump(written, default_flow_style=True, sort_keys=False,
                                       width=1 << 16).strip() if written else "none"
            row[key] = value
    return row


def run(spec: Any, suite: str, on_world: Callable[[Any], None] | None = None) -> RunResult:
    """Execute one :class:`harness.config.RunSpec` and return its results. ``on_world`` is
    given the world once built (to watch its simulator's progress)."""
    started = time.perf_counter()
    kind = WORLDS[spec.config.kind]
    world = (live(kind) if spec.config.mode == "live" else kind)(spec.config, spec.seed)
    if on_world is not None:
        on_world(world)
    metrics = world.run()
    row = identity(spec, suite)
    row.update(metrics)
    row["wall_s"] = time.perf_counter() - started
    events = [{"run_id": spec.run_id, "time_s": t, "node": node, "kind": kind, "detail": detail,
               "duration_ms": dur} for t, node, kind, detail, dur in sorted(world.metrics.events, key=lambda e: e[0])]
    series = [{"run_id": spec.run_id, "time_s": t, "throughput_ops_s": thr, "latency_p50_ms": p50,
               "latency_p99_ms": p99, "leader": leader, "leaderless_ms": none}
              for t, thr, p50, p99, leader, none in world.metrics.series]
    latencies = [{"run_id": spec.run_id, "latency_ms": ms, "count": c}
                 for ms, c in world.metrics.latency_histogram()]
    return RunResult(row, events, series, latencies)
