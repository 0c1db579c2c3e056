"""The consensus world (``kind: consensus``): ``cluster.nodes`` replicas of one protocol behind a
replicated key-value store, KV clients, the nemesis, and the consensus checkers (election
safety, log agreement, durability, linearizability)."""

from __future__ import annotations

from typing import Any

from harness import protocol
from harness.checkers import anomalies
from harness.checkers.consensus import (Durability, ElectionSafety, LogAgreement, ReplicaObserver,
                                         combine)
from harness.checkers.consistency import check_eventual, check_regular, check_sequential
from harness.checkers.linearizability import check_linearizability
from harness.checkers.registers import Reads, reads_of
from harness.engine.world import World
from harness.faults import CAUSES
from harness.faults.nemesis import Role
from harness.history import History
from harness.kinds.consensus.contract import LINEARIZABLE, REGULAR, SEQUENTIAL, promise
from harness.kinds.consensus.metrics import ConsensusMetrics
from workloads.clients import KVClient
from workloads.keys import KeyChooser
from workloads.kv import KVStateMachine


class ConsensusWorld(World):
    """A replicated key-value store: ``cluster.nodes`` replicas of one protocol and KV clients."""

    metrics: ConsensusMetrics

    def __init__(self, cfg: Any, seed: int):
        super().__init__(cfg, seed)
        n = cfg.cluster.nodes
        w = cfg.workload
        self.history = History()
        self.election, self.log, self.durability = ElectionSafety(), LogAgreement(), Durability()
        self._build(n, w.clients, KVStateMachine, ReplicaObserver(self.election, self.log, self.metrics))
        spec = protocol.registry().get(cfg.protocol)  # None: a program of the user's (live)
        self.leaderless = spec is not None and spec.leaderless
        # what the run is judged against, asked of a node built as the run's are (a live run's
        # nodes are processes): a program of the user's is judged as linearizable
        self.promised = LINEARIZABLE if spec is None else promise(spec.factory(
            0, tuple(range(n)), cfg.replication_options(), cfg.options_for(cfg.protocol), KVStateMachine()))
        self.metrics.watch_cpu(lambda node, t: self.hosts[node].busy_at(t))
        keys = KeyChooser(w.distribution, w.keys)
        rate = self.client_rate()
        self.clients = [KVClient(self.sim, self.net, n + c, n, w, keys, self.metrics, self.history, rate,
                                 self.durability.acked_write) for c in range(w.clients)]

    def _metrics(self, cfg: Any) -> ConsensusMetrics:
        spec = protocol.registry().get(cfg.protocol)  # None: a program of the user's (live), unobserved
        return ConsensusMetrics(cfg.warmup, cfg.metrics.bucket, cfg.metrics.unavailable_gap, cfg.cluster.nodes,
                                led=spec is not None and not spec.leaderless)

    def fault_roles(self) -> dict[str, Role]:
        """``leader``: the node the metrics last saw elected (none after it crashed or stepped
        down); ``follower``: any other."""
        n, metrics = self.cfg.cluster.nodes, self.metrics
        return {"leader": Role(lambda: [] if metrics.leader_node is None else [metrics.leader_node], single=True),
                "follower": Role(lambda: [i for i in range(n) if i != metrics.leader_node])}

    def on_silenced(self, t: float, nodes: list[int], why: str) -> None:
        """A fault is about to stop ``nodes`` or cut them off from a majority: when one leads,
        a failover measurement starts."""
        if self.metrics.leader_node in nodes:
            self.metrics.leader_lost(t, why)

    def on_fault(self, t: float, node: int | str, kind: str, detail: str,
                 duration_ms: float | None) -> None:
        """After a heal, a silenced leader that runs again in two-way contact with a majority
        ends its failover (see :meth:`ConsensusMetrics.leader_back`)."""
        super().on_fault(t, node, kind, detail, duration_ms)
        leader = self.metrics.silenced_leader
        if leader is not None and CAUSES.get(kind) == "heal" and self._serving(leader):
            self.metrics.leader_back(t)

    def _serving(self, node: int) -> bool:
        """``node`` runs (not crashed, not paused) and has two-way contact with a majority."""
        host = self.hosts[node]
        if not host.alive or host.paused:
            return False
        blocked = self.net.blocked
        reach = sum(1 for peer in range(self.cfg.cluster.nodes) if peer != node
                    and (node, peer) not in blocked and (peer, node) not in blocked)
        return reach + 1 >= self.metrics.majority

    def _begin_measurement(self, _: Any = None) -> None:
        super()._begin_measurement()
        self.metrics.begin_measurement(self.sim.now)

    def run(self) -> dict[str, Any]:
        self._start()
        self.sim.run(self.cfg.duration)
        return self._judge()

    def _judge(self, observed: bool = True) -> dict[str, Any]:
        """The row at the end of the window, with the verdicts: the checkers of the replicas'
        observations (unless a live run has none), the client history against the protocol's
        promise, and the anomaly measures. A leaderless protocol that applied nothing keeps no
        agreed log: log agreement and durability-in-the-log do not apply to it."""
        cfg = self.cfg
        row = self._close()
        self.history.finish()
        reads = reads_of(self.history)
        model = self.promised
        logged = observed and not (self.leaderless and len(self.log) == 0)
        verdicts: list[Any] = [self.election.verdict()] if observed else []
        if logged:
            verdicts += [self.log.verdict(), self.durability.verdict(self.log)]
        judged = self._judge_history(model, reads, observed) if cfg.checkers.linearizability else None
        if judged is not None:
            verdicts.append(judged)
        row["safety"] = combine(*verdicts)
        if judged is None:
            row["safety_detail"] = ("linearizability" if model == LINEARIZABLE else model) + " not checked"
        else:
            row["safety_detail"] = "" if model == LINEARIZABLE else \
                f"judged as {model} (the protocol's promise)"
        if row["safety"].startswith("unknown"):
            row["safety_detail"] = row["safety"]
            row["safety"] = "unknown"
        row.update(anomalies.measure(reads, cfg.warmup))
        row["sim_events"] = self.sim.events_processed
        return row

    def _judge_history(self, model: str, reads: Reads, observed: bool) -> Any:
        """The client history's verdict against ``model``."""
        if model == LINEARIZABLE:
            return check_linearizability(self.history, self.cfg.checkers.budget)
        if model == SEQUENTIAL:
            if not observed:
                return "unknown", "sequential consistency is judged against the agreed log, not observed"
            return check_sequential(self.history, self.log.uids, reads)
        if model == REGULAR:
            return check_regular(self.history, reads)
        return check_eventual(self.history, reads)
