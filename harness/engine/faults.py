"""The nemesis: injects crashes, partitions and slow nodes from rates and explicit schedules.

Rates are renewal processes drawn from the run's ``faults`` random stream (exponential by
default, so "mtbf: 10s" means a fault every 10 s on average). Schedules are timelines in
simulated time. Every fault is an event (time, node, kind, detail, duration) and a window
during which the run counts as "under fault" for ``unavailable_ms``; a fault that hits the
current leader starts a failover measurement.
"""

from __future__ import annotations

import math
from typing import Any

INF = math.inf
ROLE_POLL, ROLE_WAIT = 0.0005, 1.0  # a step on a world's role waits up to 1 s for a holder


class Nemesis:
    def __init__(self, sim: Any, net: Any, hosts: list[Any], metrics: Any, faults: Any):
        self.sim = sim
        self.net = net
        self.hosts = hosts
        self.n = len(hosts)
        self.metrics = metrics
        self.cfg = faults
        self.rng = sim.rng("faults")
        self.cuts: list[tuple[list[tuple[int, int]], list[float]]] = []
        self.slowed: dict[int, list[float]] = {}
        self.crashed: dict[int, list[float]] = {}
        # Extra named targets a world provides (e.g. 2PC's "coordinator"): name -> candidate nodes.
        self.roles: dict[str, Any] = {}
        self._role_since: dict[str, float] = {}
        self.stopped = False

    def start(self) -> None:
        cfg = self.cfg
        for step in cfg.schedule:
            self.sim.at(step.at, self._scheduled, step)
        if cfg.crash:
            if cfg.crash.target == "any":
                for node in range(self.n):
                    self._later(self._gap(cfg.crash.mtbf, cfg.crash.dist), self._crash_rate, node)
            else:
                self._later(self._gap(cfg.crash.mtbf, cfg.crash.dist), self._crash_rate, None)
        if cfg.partition:
            self._later(self._gap(cfg.partition.mtbf), self._partition_rate)
        if cfg.slow:
            self._later(self._gap(cfg.slow.mtbf), self._slow_rate)

    def _gap(self, mean: float, dist: str = "exponential") -> float:
        """A time between faults (or a repair time) with the given mean."""
        return self.rng.expovariate(1.0 / mean) if dist == "exponential" else mean

    def _later(self, delay: float, fn: Any, arg: Any = None) -> None:
        self.sim.at(self.sim.now + delay, fn, arg)

    # -- targets ---------------------------------------------------------------------------
    def _alive(self) -> list[int]:
        return [h.node_id for h in self.hosts if h.alive]

    def resolve(self, target: Any) -> list[int]:
        """Node ids for a target: leader, follower, any, an id or a list of ids."""
        if isinstance(target, int):
            return [target]
        if isinstance(target, (list, tuple)):
            return list(target)
        role = self.roles.get(target)
        if role is not None:
            pool = [n for n in role() if self.hosts[n].alive]
            return [self.rng.choice(pool)] if pool else []
        leader = self.metrics.leader_node
        alive = self._alive()
        if target == "leader":
            return [leader] if leader is not None and leader in alive else []
        pool = [n for n in alive if n != leader] if target == "follower" else alive
        return [self.rng.choice(pool)] if pool else []

    # -- actions -------------------------------------------------------------------------------
    def stop(self) -> None:
        """No new faults from now on; heal, restore and restart everything (a run's drain)."""
        self.stopped = True
        self.heal()
        self.restore()
        self.restart(list(self.crashed))

    def crash(self, nodes: list[int], length: float | None) -> None:
        if self.stopped:
            return
        for node in nodes:
            host = self.hosts[node]
            if not host.alive:
                continue
            t = self.sim.now
            if node == self.metrics.leader_node:
                self.metrics.leader_lost(t, "crash")
            host.crash()
            window = [t, INF]
            self._event(node, "crash", "", length)
            self.crashed[node] = window
            if length is not None:
                self._later(length, self._restart_one, node)

    def _restart_one(self, node: int) -> None:
        window = self.crashed.pop(node, None)
        if window is None:
            return
        window[1] = self.sim.now
        self.hosts[node].restart()
        self._event(node, "restart", "", None)

    def restart(self, nodes: list[int]) -> None:
        for node in nodes:
            self._restart_one(node)

    def cut(self, group: list[int], length: float | None, one_way: bool, kind: str) -> None:
        group_set = set(group)
        rest = set(range(self.n)) - group_set
        if not group_set or not rest or self.stopped:
            return
        leader = self.metrics.leader_node
        majority = self.n // 2 + 1
        leader_side = group_set if leader in group_set else rest
        # one way or both, the leader keeps two-way contact only with its own side
        if leader is not None and len(leader_side) < majority:
            self.metrics.leader_lost(self.sim.now, kind)
        pairs = self.net.cut(group_set, rest, one_way)
        window = [self.sim.now, INF]
        self.cuts.append((pairs, window))
        detail = ",".join(map(str, sorted(group_set))) + (" -> " if one_way else " | ") + \
            ",".join(map(str, sorted(rest)))
        self._event(group[0] if len(group) == 1 else "-", kind, detail, length)
        if length is not None:
            self._later(length, self._heal_one, (pairs, window))

    def _heal_one(self, item: tuple[list[tuple[int, int]], list[float]]) -> None:
        pairs, window = item
        if window[1] != INF:
            return
        self.net.restore(pairs)
        window[1] = self.sim.now
        self._event("-", "heal", "", None)

    def heal(self) -> None:
        for cut in list(self.cuts):
            self._heal_one(cut)

    def slow(self, nodes: list[int], factor: float, length: float | None) -> None:
        if self.stopped:
            return
        for node in nodes:
            if node in self.slowed:
                continue
            self.hosts[node].slow = factor
            window = [self.sim.now, INF]
            self.slowed[node] = window
            self._event(node, "slow", f"x{factor:g}", length)
            if length is not None:
                self._later(length, self._restore_one, node)

    def _restore_one(self, node: int) -> None:
        window = self.slowed.pop(node, None)
        if window is None:
            return
        self.hosts[node].slow = 1.0
        window[1] = self.sim.now
        self._event(node, "restore", "", None)

    def restore(self, nodes: list[int] | None = None) -> None:
        for node in list(self.slowed) if nodes is None else nodes:
            self._restore_one(node)

    # -- schedules and rates ---------------------------------------------------------------
    def _scheduled(self, step: Any) -> None:
        action, length = step.action, step.for_
        if action == "heal":
            self.heal()
            return
        if action == "restore":
            self.restore(None if step.target == "any" else self.resolve(step.target))
            return
        if action == "restart":
            self.restart(list(self.crashed) if step.target == "any" else self.resolve(step.target))
            return
        nodes = self.resolve(step.target)
        if not nodes and step.target in self.roles and self.sim.now < step.at + ROLE_WAIT:
            self._later(ROLE_POLL, self._scheduled, step)  # a transient role: wait for a holder
            return
        if not nodes:
            self._event("-", action, f"skipped: no {step.target} to target", None)
            return
        if action == "crash":
            self.crash(nodes, length)
        elif action == "isolate":
            for node in nodes:
                self.cut([node], length, step.one_way, "isolate")
        elif action == "partition":
            self.cut(nodes, length, step.one_way, "partition")
        elif action == "slow":
            self.slow(nodes, step.factor, length)

    def _crash_rate(self, node: int | None) -> None:
        cfg = self.cfg.crash
        targets = [node] if node is not None else self.resolve(cfg.target)
        if self._await_role("crash", cfg.target, targets, self._crash_rate, node):
            return
        length = 0.0
        if targets and self.hosts[targets[0]].alive:
            length = self._gap(cfg.mttr, cfg.dist)
            self.crash(targets, length)
        gap = self._gap(cfg.mtbf, cfg.dist)
        if cfg.jitter:  # (no draw without it: existing suites keep their random streams)
            gap += cfg.jitter * self.rng.random()
        self._later(length + gap, self._crash_rate, node)

    def _partition_rate(self, _: Any = None) -> None:
        cfg = self.cfg.partition
        n, rng = self.n, self.rng
        if cfg.kind == "isolate-leader":
            group = self.resolve("leader")
            kind = "isolate"
        elif cfg.kind == "majority-minority":
            group = rng.sample(range(n), (n - 1) // 2)
            kind = "partition"
        else:
            group = rng.sample(range(n), rng.randint(1, max(1, n // 2)))
            kind = "partition"
        if group:
            self.cut(group, cfg.duration, cfg.one_way, kind)
        self._later(cfg.duration + self._gap(cfg.mtbf), self._partition_rate)

    def _slow_rate(self, _: Any = None) -> None:
        cfg = self.cfg.slow
        nodes = self.resolve(cfg.target)
        if self._await_role("slow", cfg.target, nodes, self._slow_rate, None):
            return
        if nodes:
            self.slow(nodes, cfg.factor, cfg.duration)
        self._later(cfg.duration + self._gap(cfg.mtbf), self._slow_rate)

    def _await_role(self, process: str, target: Any, found: list[int], fn: Any, arg: Any) -> bool:
        """A rate's turn came while no node holds the world role it targets: poll for one (up
        to ROLE_WAIT) rather than skip the fault. True when a retry was scheduled; when the wait
        is over the turn is skipped, and an event says so."""
        if found or target not in self.roles:
            self._role_since.pop(process, None)
            return False
        since = self._role_since.setdefault(process, self.sim.now)
        if self.sim.now - since < ROLE_WAIT:
            self._later(ROLE_POLL, fn, arg)
            return True
        self._role_since.pop(process, None)
        if not self.stopped:
            self._event("-", process, f"skipped: no {target} to target", None)
        return False

    def _event(self, node: Any, kind: str, detail: str, length: float | None) -> None:
        self.metrics.events.append((self.sim.now, node, kind, detail,
                                    length * 1000 if length is not None else None))

