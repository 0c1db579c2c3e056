"""A message-by-message network for scripted protocol tests (in the spirit of etcd-io/raft's tests).

Nothing happens unless the test says so: messages wait in ``pending`` until delivered or dropped,
timers fire only when the test fires them, persists are durable at once. A test can isolate a
node, crash and restart it, and read every reply and observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from harness.protocol import Context, Node


@dataclass
class Envelope:
    src: int
    dst: int
    msg: Any


@dataclass
class Observations:
    leaders: list[tuple[int, int]] = field(default_factory=list)  # (term, node)
    applied: dict[int, list[tuple[int, Any]]] = field(default_factory=dict)  # node -> [(index, cmd)]
    replies: list[tuple[int, Any, Any]] = field(default_factory=list)  # (node, request, result)
    observed: list[tuple[int, str, Any]] = field(default_factory=list)  # (node, event, value)
    charged: list[tuple[int, float]] = field(default_factory=list)  # (node, seconds): ctx.charge


class ScriptedContext(Context):
    def __init__(self, cluster: "ScriptedCluster", node_id: int):
        self.cluster = cluster
        self.node_id = node_id
        self.nodes = cluster.nodes
        self.now = cluster.now  # kept equal to the cluster's clock (ScriptedCluster.now)
        self.timers: dict[str, float] = {}
        self.stable: list[Any] = []
        self._draws = 0

    def send(self, dst: int, msg: Any) -> None:
        self.cluster.pending.append(Envelope(self.node_id, dst, msg))

    def set_timer(self, name: str, delay: float) -> None:
        self.timers[name] = self.cluster.now + delay

    def cancel_timer(self, name: str) -> None:
        self.timers.pop(name, None)

    def persist(self, record: Any) -> None:
        self.stable.append(record)

    def reply(self, request: Any, result: Any) -> None:
        self.cluster.obs.replies.append((self.node_id, request, result))

    def random(self) -> float:
        # Deterministic and node-specific, so scripted elections do not tie.
        self._draws += 1
        return ((self.node_id * 7919 + self._draws * 104729) % 1000) / 1000.0

    def became_leader(self, term: int) -> None:
        self.cluster.obs.leaders.append((term, self.node_id))

    def applied(self, index: int, command: Any) -> None:
        self.cluster.obs.applied.setdefault(self.node_id, []).append((index, command))

    def observe(self, event: str, value: Any) -> None:
        self.cluster.obs.observed.append((self.node_id, event, value))

    def charge(self, seconds: float) -> None:
        self.cluster.obs.charged.append((self.node_id, seconds))


class ScriptedCluster:
    """``factory(node_id, nodes)`` builds each replica; the test drives everything else."""

    def __init__(self, factory: Callable[[int, tuple[int, ...]], Node], n: int):
        self.factory = factory
        self.nodes = tuple(range(n))
        self._now = 0.0
        self.pending: list[Envelope] = []
        self.obs = Observations()
        self.isolated: set[int] = set()
        self.crashed: set[int] = set()
        self.ctx = {i: ScriptedContext(self, i) for i in self.nodes}
        self.replicas = {i: factory(i, self.nodes) for i in self.nodes}
        for i in self.nodes:
            self.replicas[i].start(self.ctx[i], [])

    @property
    def now(self) -> float:
        """The test's clock; setting it sets every context's ``now`` (a plain attribute, as the
        compiled contract declares it)."""
        return self._now

    @now.setter
    def now(self, t: float) -> None:
        self._now = t
        for ctx in self.ctx.values():
            ctx.now = t

    # -- driving ---------------------------------------------------------------------------
    def fire(self, node: int, timer: str) -> None:
        """Fire ``timer`` at ``node`` now (whether or not it is armed)."""
        if node in self.crashed:
            return
        self.ctx[node].timers.pop(timer, None)
        self.replicas[node].on_timer(self.ctx[node], timer)

    def request(self, node: int, request: Any) -> None:
        if node not in self.crashed:
            self.replicas[node].on_request(self.ctx[node], request)

    def deliver(self, where: Callable[[Envelope], bool] = lambda e: True) -> int:
        """Deliver the pending messages matching ``where`` once (in send order); return how many."""
        batch = [e for e in self.pending if where(e)]
        self.pending = [e for e in self.pending if not where(e)]
        for e in batch:
            if e.src in self.isolated or e.dst in self.isolated or e.dst in self.crashed:
                continue
            self.replicas[e.dst].on_message(self.ctx[e.dst], e.src, e.msg)
        return len(batch)

    def deliver_all(self, max_rounds: int = 1000) -> None:
        """Deliver until no message is pending (messages to isolated or crashed nodes are lost)."""
        for _ in range(max_rounds):
            if not self.pending:
                return
            self.deliver()
        raise AssertionError("messages still flowing after max_rounds")

    def drop(self, where: Callable[[Envelope], bool] = lambda e: True) -> int:
        dropped = [e for e in self.pending if where(e)]
        self.pending = [e for e in self.pending if not where(e)]
        return len(dropped)

    def isolate(self, node: int) -> None:
        self.isolated.add(node)

    def heal(self) -> None:
        self.isolated.clear()

    def crash(self, node: int) -> None:
        self.crashed.add(node)
        self.pending = [e for e in self.pending if e.dst != node]

    def restart(self, node: int) -> None:
        """Rebuild ``node`` from its durable records only."""
        self.crashed.discard(node)
        old = self.ctx[node]
        ctx = self.ctx[node] = ScriptedContext(self, node)
        ctx.stable = list(old.stable)
        self.replicas[node] = self.factory(node, self.nodes)
        self.replicas[node].start(ctx, list(ctx.stable))

    # -- reading ---------------------------------------------------------------------------
    def leader(self) -> int | None:
        """The node that most recently announced leadership, if any."""
        return self.obs.leaders[-1][1] if self.obs.leaders else None

    def messages(self, kind: type | None = None) -> list[Envelope]:
        return [e for e in self.pending if kind is None or isinstance(e.msg, kind)]
