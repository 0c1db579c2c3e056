"""Delays: one message is held on the wire for a while, then delivered -- after messages sent
later, by its sender or by others (an asynchronous network promises no bound on delay and no
order between messages).

It is the message-level fault of the classic hazards: a vote request delivered after its
candidate stepped down, an old leader's Accept delivered after a newer ballot's Prepare. A
schedule step ``{at, action: delay, after: 'Accept', for: 50ms}`` holds the first Accept a node
sends from ``at`` on for 50 ms; without ``after`` it holds the next message of any type; a
``target`` of node ids names the senders whose message it waits for. A sender that crashes
while its message is held loses it with the rest of its output.

Rate section ``faults.delay``: every ``mtbf``, the next message the target node sends is held
for ``duration``. Schedule action: ``delay`` (``for`` required).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.faults.kind import Action, Kind, Role, Section, Style
from harness.units import PositiveDuration


class DelayFaults(Section):
    """Random delays: every ``mtbf``, the next message a node sends is held for ``duration``."""

    mtbf: PositiveDuration
    duration: PositiveDuration
    target: Role = "any"


@dataclass(frozen=True)
class _Turn:
    """A rate's turn, waiting as a schedule step does for the next message of its node."""

    at: float
    for_: float
    action: str = "delay"
    after: str | None = None


class Delay(Kind):
    name = "delay"
    rate = DelayFaults
    actions = {"delay": Action(needs_for=True, holds=True)}
    events = {"delay": "fault", "delivered": "heal"}
    styles = {"delay": Style("delayed message", "#17becf", ends=("delivered",))}
    drain_rank = 4

    def start(self, rate: DelayFaults) -> None:
        self.nemesis.later(self.nemesis.gap(rate.mtbf), self._rate)

    def inject(self, action: str, nodes: list[int], step: Any) -> None:
        """A step without ``after``: from now on, wait for the next message ``nodes`` send."""
        self.nemesis.triggers.add(step, tuple(nodes))

    def held(self, step: Any, src: int, dst: int, msg: Any) -> None:
        nemesis = self.nemesis
        nemesis.event(src, "delay", f"{type(msg).__name__} to {dst}", step.for_)
        nemesis.later(step.for_, self._delivered, src)

    def _delivered(self, src: int) -> None:
        self.nemesis.event(src, "delivered", "", None)

    @staticmethod
    def step_of(event: str, node: int | str, detail: str, length: float | None) -> dict[str, Any]:
        return {"action": "delay", "target": [node], "after": detail.split()[0], "for": length}

    def _rate(self, _: Any = None) -> None:
        nemesis = self.nemesis
        if nemesis.stopped:
            return
        rate = nemesis.cfg.delay
        nodes = nemesis.resolve(rate.target)
        if nemesis.await_role("delay", rate.target, nodes, self._rate, None):
            return
        if nodes:
            nemesis.triggers.add(_Turn(nemesis.sim.now, rate.duration), tuple(nodes))
        nemesis.later(rate.duration + nemesis.gap(rate.mtbf), self._rate)
