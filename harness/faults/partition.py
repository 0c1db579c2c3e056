"""Network partitions: links between two groups of nodes cut (both ways, or ``one_way`` from the
group to the rest) until ``heal``.

Rate section ``faults.partition``: one partition every ``mtbf`` lasting ``duration``; ``kind``
``random`` (a random group of at most half the nodes), ``majority-minority`` or
``isolate-leader``. Schedule actions: ``isolate`` (each target node alone), ``partition`` (the
target nodes as one group, cut off from the rest) and ``heal`` (every cut).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import StrictBool

from harness.faults.kind import Action, Kind, Section, Style, lasting
from harness.units import PositiveDuration


class PartitionFaults(Section):
    mtbf: PositiveDuration
    duration: PositiveDuration
    kind: Literal["random", "isolate-leader", "majority-minority"] = "random"
    one_way: StrictBool = False


class _Cut:
    """The links one partition cut, while it lasts."""

    __slots__ = ("pairs", "open")

    def __init__(self, pairs: list[tuple[int, int]]):
        self.pairs, self.open = pairs, True


class Partition(Kind):
    name = "partition"
    rate = PartitionFaults
    step = {"one_way": (StrictBool, False)}
    actions = {"isolate": Action(params=("one_way",)), "partition": Action(params=("one_way",)),
               "heal": Action(heals=True)}
    events = {"isolate": "fault", "partition": "fault", "heal": "heal"}
    styles = {"partition": Style("partition", "#6a3d9a", ends=("heal",), per_node=False),
              "isolate": Style("isolation", "#6a3d9a", ends=("heal",))}
    drain_rank = 0  # first: the network heals before nodes come back

    def __init__(self, nemesis: Any):
        super().__init__(nemesis)
        self.cuts: list[_Cut] = []

    def start(self, rate: PartitionFaults) -> None:
        self.nemesis.later(self.nemesis.gap(rate.mtbf), self._rate)

    def inject(self, action: str, nodes: list[int], step: Any) -> None:
        if action == "isolate":
            for node in nodes:
                self.cut([node], step.for_, step.one_way, "isolate")
        else:
            self.cut(nodes, step.for_, step.one_way, "partition")

    def heal(self, action: str, step: Any) -> None:
        self.heal_all()

    def drain(self) -> None:
        self.heal_all()

    @staticmethod
    def step_of(event: str, node: int | str, detail: str, length: float | None) -> dict[str, Any]:
        one_way = " -> " in detail
        group = [int(n) for n in detail.split(" -> " if one_way else " | ")[0].split(",")]
        return lasting({"action": event, "target": group, **({"one_way": True} if one_way else {})},
                       length)

    def cut(self, group: list[int], length: float | None, one_way: bool, kind: str) -> None:
        nemesis = self.nemesis
        group_set = set(group)
        rest = set(range(nemesis.n)) - group_set
        if not group_set or not rest or nemesis.stopped:
            return
        # one way or both, a node keeps two-way contact only with its own side
        majority = nemesis.n // 2 + 1
        nemesis.silenced([node for side in (group_set, rest) if len(side) < majority
                          for node in sorted(side)], kind)
        cut = _Cut(nemesis.net.cut(group_set, rest, one_way))
        self.cuts.append(cut)
        detail = ",".join(map(str, sorted(group_set))) + (" -> " if one_way else " | ") + \
            ",".join(map(str, sorted(rest)))
        nemesis.event(group[0] if len(group) == 1 else "-", kind, detail, length)
        if length is not None:
            nemesis.later(length, self._heal_one, cut)

    def heal_all(self) -> None:
        for cut in list(self.cuts):
            self._heal_one(cut)

    def _heal_one(self, cut: _Cut) -> None:
        if not cut.open:
            return
        cut.open = False
        self.cuts.remove(cut)
        self.nemesis.net.restore(cut.pairs)
        self.nemesis.event("-", "heal", "", None)

    def _rate(self, _: Any = None) -> None:
        nemesis = self.nemesis
        rate = nemesis.cfg.partition
        n, rng = nemesis.n, nemesis.rng
        if rate.kind == "isolate-leader":
            group = nemesis.resolve("leader")
            kind = "isolate"
        elif rate.kind == "majority-minority":
            group = rng.sample(range(n), (n - 1) // 2)
            kind = "partition"
        else:
            group = rng.sample(range(n), rng.randint(1, max(1, n // 2)))
            kind = "partition"
        if group:
            self.cut(group, rate.duration, rate.one_way, kind)
        nemesis.later(rate.duration + nemesis.gap(rate.mtbf), self._rate)
