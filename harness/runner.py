"""One run: build the simulated world for a resolved config and seed, run it, measure, check.

A run is a pure function of (config, seed, code): everything random draws from streams derived
from the seed, so the result (except ``wall_s``) is identical bit for bit on every replay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from harness import protocol
from harness.checkers.consensus import Durability, ElectionSafety, LogAgreement, combine
from harness.checkers.linearizability import check_linearizability
from harness.faults import Nemesis
from harness.history import History
from harness.metrics import Metrics
from harness.network import Network
from harness.node import NodeHost
from harness.sim import Simulator
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


class _Observer:
    """Routes the replicas' observations to the safety checkers and the metrics."""

    __slots__ = ("election", "log", "metrics")

    def __init__(self, election: ElectionSafety, log: LogAgreement, metrics: Metrics):
        self.election = election
        self.log = log
        self.metrics = metrics

    def leader(self, node: int, term: int, t: float) -> None:
        self.election.observe(term, node, t)
        self.metrics.leader(node, term, t)

    def applied(self, node: int, index: int, command: Any, t: float) -> None:
        self.log.applied(node, index, -1 if command is None else command.uid, t)

    def restarted(self, node: int) -> None:
        self.log.restarted(node)


class ConsensusWorld:
    """A replicated key-value store: ``cluster.nodes`` replicas of one protocol and KV clients."""

    def __init__(self, cfg: Any, seed: int):
        self.cfg = cfg
        self.sim = sim = Simulator(seed)
        n = cfg.cluster.nodes
        w = cfg.workload
        self.metrics = Metrics(cfg.warmup, cfg.metrics.bucket, cfg.metrics.unavailable_gap)
        self.history = History()
        self.election, self.log, self.durability = ElectionSafety(), LogAgreement(), Durability()
        self.metrics.acked = self.durability.acked_write
        observer = _Observer(self.election, self.log, self.metrics)
        self.net = Network(sim, cfg.network, n, w.clients)
        spec = protocol.get(cfg.protocol)
        options = cfg.options_for(cfg.protocol)
        replication = cfg.replication_options()
        nodes = tuple(range(n))

        def factory(i: int) -> Any:
            return lambda: spec.factory(i, nodes, replication, options, KVStateMachine())

        self.hosts = [NodeHost(sim, self.net, i, nodes, cfg.cluster, factory(i), observer) for i in nodes]
        self.metrics.watch_cpu(lambda node, t: self.hosts[node].busy_at(t))
        keys = KeyChooser(w.distribution, w.keys)
        rate = w.rate / w.clients if w.mode == "open" else None
        self.clients = [KVClient(sim, self.net, n + c, n, w, keys, self.metrics, self.history, rate)
                        for c in range(w.clients)]
        self.nemesis = Nemesis(sim, self.net, self.hosts, self.metrics, cfg.faults)
        self._measured_from = (0, 0)

    def run(self) -> dict[str, Any]:
        cfg, sim = self.cfg, self.sim
        for client in self.clients:
            client.start()
        self.nemesis.start()
        sim.at(cfg.warmup, self._begin_measurement)
        sim.run(cfg.duration)
        return self._collect()

    def _begin_measurement(self, _: Any = None) -> None:
        self._measured_from = (self.net.messages, self.net.bytes)
        self.metrics.begin_measurement(self.sim.now)

    def _collect(self) -> dict[str, Any]:
        cfg = self.cfg
        for host in self.hosts:
            host.settle(cfg.duration)
        for client in self.clients:
            for invoke in client.unanswered():
                self.metrics.unfinished(invoke, cfg.duration)
        self.history.finish()
        row = self.metrics.finish(cfg.duration, self.nemesis.fault_windows(cfg.duration))
        ops = max(row["ops_committed"], 1)
        row["messages_per_op"] = (self.net.messages - self._measured_from[0]) / ops
        row["bytes_per_op"] = (self.net.bytes - self._measured_from[1]) / ops
        lin = (check_linearizability(self.history, cfg.checkers.budget)
               if cfg.checkers.linearizability else None)
        verdicts = [self.election.verdict(), self.log.verdict(), self.durability.verdict(self.log)]
        if lin is not None:
            verdicts.append(lin)
        row["safety"] = combine(*verdicts)
        row["safety_detail"] = "" if lin is not None else "linearizability not checked"
        if row["safety"].startswith("unknown"):
            row["safety_detail"] = row["safety"]
            row["safety"] = "unknown"
        row["sim_events"] = self.sim.events_processed
        return row


from harness.txn_world import TransactionWorld  # noqa: E402  (transactions: its own module)

WORLDS: dict[str, type] = {"consensus": ConsensusWorld, "transactions": TransactionWorld}


def identity(spec: Any, suite: str) -> dict[str, Any]:
    """The leading ``runs.csv`` columns of a run: who it is and the value of every swept key,
    resolved (numbers in seconds, per second, bytes), not as written."""
    row: dict[str, Any] = {"suite": suite, "kind": spec.config.kind, "run_id": spec.run_id,
                           "protocol": spec.config.protocol, "seed": spec.seed}
    resolved = spec.config.to_dict()
    for key, written in spec.params.items():
        if key != "protocol":
            value: Any = resolved
            for part in key.split("."):
                value = value.get(part, written) if isinstance(value, dict) else written
            if isinstance(value, (dict, list)):  # a swept section: its compact YAML, as written
                value = yaml.safe_dump(written, default_flow_style=True, sort_keys=False,
                                       width=1 << 16).strip() if written else "none"
            row[key] = value
    return row


def run(spec: Any, suite: str) -> RunResult:
    """Execute one :class:`harness.config.RunSpec` and return its results."""
    started = time.perf_counter()
    world = WORLDS[spec.config.kind](spec.config, spec.seed)
    metrics = world.run()
    row = identity(spec, suite)
    row.update(metrics)
    row["wall_s"] = time.perf_counter() - started
    events = [{"run_id": spec.run_id, "time_s": t, "node": node, "kind": kind, "detail": detail,
               "duration_ms": dur} for t, node, kind, detail, dur in sorted(world.metrics.events, key=lambda e: e[0])]
    series = [{"run_id": spec.run_id, "time_s": t, "throughput_ops_s": thr, "latency_p50_ms": p50,
               "latency_p99_ms": p99, "leader": leader} for t, thr, p50, p99, leader in world.metrics.series]
    latencies = [{"run_id": spec.run_id, "latency_ms": ms, "count": c}
                 for ms, c in world.metrics.latency_histogram()]
    return RunResult(row, events, series, latencies)
