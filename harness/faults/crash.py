"""Crashes: a node loses its memory, timers and unflushed writes; ``restart`` boots it again
from what it had made durable (see :meth:`harness.engine.node.NodeHost.crash`).

Rate section ``faults.crash``: one crash every ``mtbf`` (per node with ``target: any``, else of
the node holding the target role), each repaired after ``mttr``. Schedule actions: ``crash``
(with ``for``: restarted after that long) and ``restart`` (``any``: every crashed node).
"""

from __future__ import annotations

from typing import Any, Literal

from harness.faults.kind import Action, Kind, Role, Section, Style, lasting
from harness.units import Duration, PositiveDuration


class CrashFaults(Section):
    """Random crashes: one every ``mtbf``, each repaired after ``mttr``."""

    mtbf: PositiveDuration
    mttr: PositiveDuration
    dist: Literal["exponential", "constant"] = "exponential"
    target: Role = "any"
    jitter: Duration = 0.0  # each time between crashes lengthened by a uniform draw in [0, jitter)


class Crash(Kind):
    name = "crash"
    rate = CrashFaults
    actions = {"crash": Action(), "restart": Action(heals=True)}
    events = {"crash": "fault", "restart": "heal"}
    styles = {"crash": Style("crash", "#d62728", ends=("restart",))}
    drain_rank = 2  # last: restarted nodes boot into a healed, restored cluster

    def __init__(self, nemesis: Any):
        super().__init__(nemesis)
        self.crashed: list[int] = []  # in the order they crashed

    def start(self, rate: CrashFaults) -> None:
        nemesis = self.nemesis
        if rate.target == "any":
            for node in range(nemesis.n):
                nemesis.later(nemesis.gap(rate.mtbf, rate.dist), self._rate, node)
        else:
            nemesis.later(nemesis.gap(rate.mtbf, rate.dist), self._rate, None)

    def inject(self, action: str, nodes: list[int], step: Any) -> None:
        self.crash(nodes, step.for_)

    def heal(self, action: str, step: Any) -> None:
        self.restart(list(self.crashed) if step.target == "any" else self.nemesis.resolve(step.target))

    def drain(self) -> None:
        self.restart(list(self.crashed))

    @staticmethod
    def step_of(event: str, node: int | str, detail: str, length: float | None) -> dict[str, Any]:
        return lasting({"action": "crash", "target": [node]}, length)

    def crash(self, nodes: list[int], length: float | None) -> None:
        nemesis = self.nemesis
        if nemesis.stopped:
            return
        for node in nodes:
            host = nemesis.hosts[node]
            if not host.alive:
                continue
            nemesis.silenced([node], "crash")  # before: the world reads the host as it was
            host.crash()
            nemesis.event(node, "crash", "", length)
            self.crashed.append(node)
            if length is not None:
                nemesis.later(length, self._restart_one, node)

    def restart(self, nodes: list[int]) -> None:
        for node in nodes:
            self._restart_one(node)

    def _restart_one(self, node: int) -> None:
        if node not in self.crashed:
            return
        self.crashed.remove(node)
        self.nemesis.hosts[node].restart()
        self.nemesis.event(node, "restart", "", None)

    def _rate(self, node: int | None) -> None:
        nemesis = self.nemesis
        rate = nemesis.cfg.crash
        targets = [node] if node is not None else nemesis.resolve(rate.target)
        if nemesis.await_role("crash", rate.target, targets, self._rate, node):
            return
        length = 0.0
        if targets and nemesis.hosts[targets[0]].alive:
            length = nemesis.gap(rate.mttr, rate.dist)
            self.crash(targets, length)
        gap = nemesis.gap(rate.mtbf, rate.dist)
        if rate.jitter:  # (no draw without it: existing suites keep their random streams)
            gap += rate.jitter * nemesis.rng.random()
        nemesis.later(length + gap, self._rate, node)
