"""Clock faults: a node's clock is off by a ``skew`` and runs fast or slow by a ``drift`` rate
(a misconfigured or unsynchronised NTP client, a faulty oscillator, a VM restored from a
snapshot) until it is set right again.

What the node sees (:meth:`harness.engine.node.NodeHost.set_clock`): from the fault on, its
``ctx.now`` reads ``t + skew + drift * (t - t0)`` at true time ``t`` (``t0``: the fault's
start), so its clock jumps by ``skew`` and then gains ``drift`` seconds per second. Its timers
count elapsed time at the clock's rate: a timer armed for ``d`` fires after ``d / (1 + drift)``
of true time (a node 10% fast, ``drift: 0.1``, times out 9% early), and a timer armed before
the fault fires when the node's clock has counted down what it had left. The skew moves no
timer (timers count elapsed time, as on a monotonic clock), but a protocol that compares
``ctx.now`` with a deadline it computed before the jump sees it. When the fault ends the clock
reads true time again (a step, as NTP's is when the offset is large) and its rate is 1. The
clock is the node's hardware: a crash and restart keep it. Everything recorded -- the history,
events, metrics -- is in true time; only the protocol is misled.

Rate section ``faults.clock``: one clock fault every ``mtbf`` lasting ``duration``, with the
section's ``skew`` and ``drift``. Schedule action: ``clock`` (``skew``, ``drift``; without
``for`` the clock stays off until the run ends).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, Strict

from harness.faults.kind import Action, Kind, Role, Section, Style
from harness.units import PositiveDuration, SignedDuration, format_duration

# Seconds gained per second; above -1 so the clock still moves forward.
Drift = Annotated[float, Strict(), Field(gt=-1.0)]


class ClockFaults(Section):
    """Random clock faults: one every ``mtbf``, each lasting ``duration``."""

    mtbf: PositiveDuration
    duration: PositiveDuration
    skew: SignedDuration = 0.0
    drift: Drift = 0.0
    target: Role = "any"


class Clock(Kind):
    name = "clock"
    rate = ClockFaults
    step = {"skew": (SignedDuration, 0.0), "drift": (Drift, 0.0)}
    actions = {"clock": Action(params=("skew", "drift"))}
    events = {"clock": "fault", "sync": "heal"}
    styles = {"clock": Style("clock off", "#17becf", ends=("sync",))}
    drain_rank = 1

    def __init__(self, nemesis: Any):
        super().__init__(nemesis)
        self.off: dict[int, int] = {}  # node -> the number of the fault that set its clock off
        self._faults = 0

    def start(self, rate: ClockFaults) -> None:
        self.nemesis.later(self.nemesis.gap(rate.mtbf), self._rate)

    def inject(self, action: str, nodes: list[int], step: Any) -> None:
        self.set_off(nodes, step.skew, step.drift, step.for_)

    def drain(self) -> None:
        for node, fault in list(self.off.items()):
            self._sync((node, fault))

    def set_off(self, nodes: list[int], skew: float, drift: float, length: float | None) -> None:
        nemesis = self.nemesis
        if nemesis.stopped:
            return
        for node in nodes:
            if node in self.off:
                continue
            self._faults += 1
            self.off[node] = self._faults
            nemesis.hosts[node].set_clock(skew, drift)
            nemesis.event(node, "clock", f"skew {format_duration(skew)} drift {drift:+g}", length)
            if length is not None:
                nemesis.later(length, self._sync, (node, self._faults))

    def _sync(self, item: tuple[int, int]) -> None:
        node, fault = item
        if self.off.get(node) != fault:
            return  # set right already (a drain)
        del self.off[node]
        self.nemesis.hosts[node].set_clock(0.0, 0.0)
        self.nemesis.event(node, "sync", "", None)

    def _rate(self, _: Any = None) -> None:
        nemesis = self.nemesis
        rate = nemesis.cfg.clock
        nodes = nemesis.resolve(rate.target)
        if nemesis.await_role("clock", rate.target, nodes, self._rate, None):
            return
        if nodes:
            self.set_off(nodes, rate.skew, rate.drift, rate.duration)
        nemesis.later(rate.duration + nemesis.gap(rate.mtbf), self._rate)
