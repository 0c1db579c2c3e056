"""Pauses: a node stops handling anything for a while and then carries on with its state and
timers as they were (a stop-the-world GC pause, a SIGSTOP, a VM migration).

The node host is a single-server queue (see :mod:`harness.engine.node`); a pause is that server
unavailable for ``for``, from the end of the input in service (handlers are not pre-empted):
messages and client requests that arrive meanwhile queue in arrival order, as a stopped
process's socket buffers hold them; timers that come due fire when it resumes, as an event loop
finds its expired deadlines at once when it runs again; the disk carries on, so fsyncs in flight
complete; nothing is lost. A paused leader sends nothing, so its followers may elect another;
resuming, it still believes it leads until it hears the newer term. The paused time counts as
busy CPU (as a GC pause does). A pause always ends on its own: it has a length, never a heal.

Rate section ``faults.pause``: one pause every ``mtbf`` lasting ``duration``. Schedule action:
``pause`` (``for`` required).
"""

from __future__ import annotations

from typing import Any

from harness.faults.kind import Action, Kind, Role, Section, Style
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

    def pause(self, nodes: list[int], length: float) -> None:
        nemesis = self.nemesis
        if nemesis.stopped:
            return
        for node in nodes:
            host = nemesis.hosts[node]
            if not host.alive or self.paused.get(node) == host.incarnation:
                continue
            nemesis.silenced([node], "pause")
            resume = host.pause(length)
            nemesis.event(node, "pause", "", length)
            self.paused[node] = host.incarnation
            nemesis.sim.at(resume, self._resumed, (node, host.incarnation))

    def _resumed(self, item: tuple[int, int]) -> None:
        node, incarnation = item
        if self.paused.get(node) != incarnation:
            return
        del self.paused[node]
        host = self.nemesis.hosts[node]
        if host.alive and host.incarnation == incarnation:  # else a crash ended the pause
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
