"""What every kind of run shares: the simulator, the network, the nodes, the nemesis, the
metrics and the measurement window. A kind's world (:mod:`harness.kinds`) adds its state
machine, its clients, its checks and what it measures beyond :class:`~harness.metrics.Metrics`.
"""

from __future__ import annotations

from typing import Any, Callable

from harness import protocol
from harness.faults.nemesis import Nemesis, Role
from harness.metrics import Metrics
from harness.engine.network import Network
from harness.engine.node import NodeHost
from harness.engine.sim import Simulator


class World:
    """Subclasses call ``_build`` once their observer exists, then set ``self.clients``."""

    clients: list[Any]

    def __init__(self, cfg: Any, seed: int):
        self.cfg = cfg
        self.sim = Simulator(seed)
        self.metrics = self._metrics(cfg)
        self._measured_from = (0, 0)
        self._by_type_from: dict[type, int] = {}
        self._retransmitted_from = 0

    def _build(self, n: int, clients: int, make_state: Callable[[], Any], observer: Any) -> None:
        """The network, ``n`` nodes hosting the suite's protocol over ``make_state()``, and the
        nemesis; client endpoints are ``n .. n + clients - 1``."""
        cfg, sim = self.cfg, self.sim
        self.net = Network(sim, cfg.network, n, clients, cfg.cluster.relay)
        spec = protocol.get(cfg.protocol)
        options = cfg.options_for(cfg.protocol)
        replication = cfg.replication_options()
        nodes = tuple(range(n))

        def factory(i: int) -> Callable[[], Any]:
            return lambda: spec.factory(i, nodes, replication, options, make_state())

        self.hosts = [NodeHost(sim, self.net, i, nodes, cfg.cluster, factory(i), observer) for i in nodes]
        self.nemesis = Nemesis(sim, self.net, self.hosts, cfg.faults, self.fault_roles(), self)

    # -- the nemesis: whom roles name, and what it tells the world ----------------------------
    def fault_roles(self) -> dict[str, Role]:
        """The roles a suite's faults may target in this kind of run (none but ``any`` here)."""
        return {}

    def on_silenced(self, t: float, nodes: list[int], why: str) -> None:
        """A fault is about to stop ``nodes`` or cut them off from a majority (a kind with a
        leader starts a failover measurement when one leads)."""

    def on_fault(self, t: float, node: int | str, kind: str, detail: str,
                 duration_ms: float | None) -> None:
        self.metrics.events.append((t, node, kind, detail, duration_ms))

    def _metrics(self, cfg: Any) -> Metrics:
        """What this kind measures (a kind measuring more returns a subclass)."""
        return Metrics(cfg.warmup, cfg.metrics.bucket, cfg.metrics.unavailable_gap)

    def client_rate(self) -> float | None:
        """Each client's Poisson rate in open loop (None in closed loop)."""
        w = self.cfg.workload
        return w.rate / w.clients if w.mode == "open" else None

    def _start(self) -> None:
        for client in self.clients:
            client.start()
        self.nemesis.start()
        self.sim.at(self.cfg.warmup, self._begin_measurement)

    def _begin_measurement(self, _: Any = None) -> None:
        self._measured_from = (self.net.messages, self.net.bytes)
        self._by_type_from = dict(self.net.by_type)
        self._retransmitted_from = self.net.retransmitted

    def _close(self) -> dict[str, Any]:
        """The metric columns at the end of the window: held observations released, operations
        still unanswered counted with their age, network cost per committed operation."""
        end = self.cfg.duration
        for host in self.hosts:
            host.settle(end)
        for client in self.clients:
            for invoke in client.unanswered():
                self.metrics.unfinished(invoke, end)
        row = self.metrics.finish(end)
        ops = max(row["ops_committed"], 1)
        row["messages_per_op"] = (self.net.messages - self._measured_from[0]) / ops
        row["bytes_per_op"] = (self.net.bytes - self._measured_from[1]) / ops
        row["messages_per_op_by_type"] = self._by_type(ops)
        row["transport_retransmissions_per_op"] = (self.net.retransmitted - self._retransmitted_from) / ops
        return row

    def _by_type(self, ops: int) -> str:
        """Messages per committed operation, by message class, in the window: says where a
        difference in ``messages_per_op`` comes from (e.g. ``AppendReply=2.00 Request=1.00``)."""
        before = self._by_type_from
        counts = {cls.__name__: n - before.get(cls, 0) for cls, n in self.net.by_type.items()}
        return " ".join(f"{name}={n / ops:.3g}" for name, n in sorted(counts.items()) if n)
