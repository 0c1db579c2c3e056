"""Slow nodes: every CPU cost of a node multiplied by ``factor`` (a noisy neighbour, thermal
throttling) until ``restore``.

Rate section ``faults.slow``: one slow-down every ``mtbf`` lasting ``duration``. Schedule
actions: ``slow`` (``factor``, default 10) and ``restore`` (``any``: every slow node).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, Strict

from harness.faults.kind import Action, Kind, Role, Section, Style, lasting
from harness.units import PositiveDuration

Factor = Annotated[float, Strict(), Field(ge=1.0)]


class SlowFaults(Section):
    mtbf: PositiveDuration
    duration: PositiveDuration
    factor: Factor = 10.0
    target: Role = "any"


class Slow(Kind):
    name = "slow"
    rate = SlowFaults
    step = {"factor": (Factor, 10.0)}
    actions = {"slow": Action(params=("factor",)), "restore": Action(heals=True)}
    events = {"slow": "fault", "restore": "heal"}
    styles = {"slow": Style("slow node", "#b8860b", ends=("restore",))}
    drain_rank = 1

    def __init__(self, nemesis: Any):
        super().__init__(nemesis)
        self.slowed: list[int] = []  # in the order they were slowed

    def start(self, rate: SlowFaults) -> None:
        self.nemesis.later(self.nemesis.gap(rate.mtbf), self._rate)

    def inject(self, action: str, nodes: list[int], step: Any) -> None:
        self.slow(nodes, step.factor, step.for_)

    def heal(self, action: str, step: Any) -> None:
        self.restore(list(self.slowed) if step.target == "any" else self.nemesis.resolve(step.target))

    def drain(self) -> None:
        self.restore(list(self.slowed))

    @staticmethod
    def step_of(event: str, node: int | str, detail: str, length: float | None) -> dict[str, Any]:
        return lasting({"action": "slow", "target": [node], "factor": float(detail.removeprefix("x"))},
                       length)

    def slow(self, nodes: list[int], factor: float, length: float | None) -> None:
        nemesis = self.nemesis
        if nemesis.stopped:
            return
        for node in nodes:
            if node in self.slowed:
                continue
            nemesis.hosts[node].slow = factor
            self.slowed.append(node)
            nemesis.event(node, "slow", f"x{factor:g}", length)
            if length is not None:
                nemesis.later(length, self._restore_one, node)

    def restore(self, nodes: list[int]) -> None:
        for node in nodes:
            self._restore_one(node)

    def _restore_one(self, node: int) -> None:
        if node not in self.slowed:
            return
        self.slowed.remove(node)
        self.nemesis.hosts[node].slow = 1.0
        self.nemesis.event(node, "restore", "", None)

    def _rate(self, _: Any = None) -> None:
        nemesis = self.nemesis
        rate = nemesis.cfg.slow
        nodes = nemesis.resolve(rate.target)
        if nemesis.await_role("slow", rate.target, nodes, self._rate, None):
            return
        if nodes:
            self.slow(nodes, rate.factor, rate.duration)
        nemesis.later(rate.duration + nemesis.gap(rate.mtbf), self._rate)
