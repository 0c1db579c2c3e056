"""Pauses: a node stops handling anything for a while and then carries on with its state and
timers as they were (a stop-the-world GC pause, a SIGSTOP, a VM migration).

While paused (see :meth:`harness.engine.node.NodeHost.pause`) the node serves nothing: messages
and client requests that arrive are held in arrival order, as a stopped process's socket
buffers hold them, and timers that come due are held with them, as an event loop finds its
expired deadlines at once when it runs again; on resume it serves them all, in that order, as
if they had just arrived, with nothing lost. Its disk carries on (fsyncs in flight complete).
Handlers are not pre-empted: the input in service when the pause begins, and any the CPU had
already accepted, complete. A paused leader sends nothing, so its followers may elect another;
resuming, it still believes it leads until it hears the newer term. A crash during a pause
loses what was held with the rest of its memory.

Rate section ``faults.pause``: one pause every ``mtbf`` lasting ``duration``. Schedule action:
``pause`` (``for`` required: a pause always ends; a run's drain ends it early).
"""

from __future__ import annotations

from typing import Any

from harness.faults.kind import Action, Kind, Role, Section, Style, lasting
from harness.units import PositiveDuration


class PauseFaults(Section):
    """Random pauses: one every ``mtbf``, each lasting ``duration``."""

    mtbf: PositiveDuration
    duration: PositiveDuration
    target: Role = "any"


class Pause(Kind):
    name = "pause"
    rate = PauseFaults
    actions = {"pause": Action(needs_for=True)}
    events = {"pause": "fault", "resume": "heal"}
    styles = {"pause": Style("pause", "#7f7f7f", ends=("resume",))}
    drain_rank = 3

    def __init__(self, nemesis: Any):
        super().__init__(nemesis)
        self.paused: dict[int, int] = {}  # node -> the incarnation paused

    def start(self, rate: PauseFaults) -> None:
        self.nemesis.later(self.nemesis.gap(rate.mtbf), self._rate)

    def inject(self, action: str, nodes: list[int], step: Any) -> None:
        self.pause(nodes, step.for_)

    def drain(self) -> None:
        for node, incarnation in list(self.paused.items()):
            self._resume((node, incarnation))

    @staticmethod
    def step_of(event: str, node: int | str, detail: str, length: float | None) -> dict[str, Any]:
        return lasting({"action": "pause", "target": [node]}, length)

    def pause(self, nodes: list[int], length: float) -> None:
        nemesis = self.nemesis
        if nemesis.stopped:
            return
        for node in nodes:
            host = nemesis.hosts[node]
            if not host.alive or self.paused.get(node) == host.incarnation:
                continue
            nemesis.silenced([node], "pause")
            host.pause()
            nemesis.event(node, "pause", "", length)
            self.paused[node] = host.incarnation
            nemesis.later(length, self._resume, (node, host.incarnation))

    def _resume(self, item: tuple[int, int]) -> None:
        node, incarnation = item
        if self.paused.get(node) != incarnation:
            return  # resumed already (a drain)
        del self.paused[node]
        host = self.nemesis.hosts[node]
        if host.alive and host.incarnation == incarnation:  # else a crash ended the pause
            host.resume()
            self.nemesis.event(node, "resume", "", None)

    def _rate(self, _: Any = None) -> None:
        nemesis = self.nemesis
        rate = nemesis.cfg.pause
        nodes = nemesis.resolve(rate.target)
        if nemesis.await_role("pause", rate.target, nodes, self._rate, None):
            return
        if nodes:
            self.pause(nodes, rate.duration)
        nemesis.later(rate.duration + nemesis.gap(rate.mtbf), self._rate)
