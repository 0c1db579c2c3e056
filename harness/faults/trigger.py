"""Faults triggered by what a node says, not by the clock: ``faults.schedule[].after``.

The classic hazards of consensus and commit protocols sit at instants random faults rarely hit:
a voter that crashes right after granting its vote, an acceptor right after its promise, a
leader cut off right after phase 1. A step with ``after: "Vote granted=True"`` waits, from its
``at`` on, for the first message of that type (with those field values) that a node sends, and
injects its fault as that message leaves: on the sender, or on the step's ``target`` when it
names one. Matching by class name and fields keeps the nemesis ignorant of every protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Trigger:
    """A message class name and the ``field=value`` pairs (compared as text) a message must show."""

    type_name: str
    fields: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Trigger:
        words = text.split()
        if not words or "=" in words[0]:
            raise ValueError("expected a message type, then optional field=value pairs")
        pairs = []
        for word in words[1:]:
            key, eq, value = word.partition("=")
            if not eq or not key:
                raise ValueError("expected field=value pairs after the message type")
            pairs.append((key, value))
        return cls(words[0], tuple(pairs))

    def matches(self, msg: Any) -> bool:
        return type(msg).__name__ == self.type_name and all(
            str(getattr(msg, key, None)) == value for key, value in self.fields)


class Triggers:
    """The schedule steps that wait for a message; ``fire(step, sender, dst, msg)`` injects one.
    ``hold(step)`` is how long the step holds the message that fires it (a delay; 0 for other
    faults). Taps the network while any is waiting, and lets go of it when the last has fired."""

    def __init__(self, net: Any, nodes: int, at: Callable[[float, Callable[..., None], Any], None],
                 fire: Callable[[Any, int, int, Any], None], hold: Callable[[Any], float]):
        self.net = net
        self.nodes = nodes
        self.at = at
        self.fire = fire
        self.hold = hold
        self.waiting: list[tuple[Any, Trigger | None, tuple[int, ...] | None]] = []

    def add(self, step: Any, senders: tuple[int, ...] | None = None) -> None:
        """Wait for the step's ``after`` message (any message when it has none) sent by one of
        ``senders`` (any node when None)."""
        trigger = Trigger.parse(step.after) if step.after is not None else None
        self.waiting.append((step, trigger, senders))
        self.net.tap = self._sent

    def _sent(self, src: int, dst: int, msg: Any, depart: float) -> float:
        if src >= self.nodes:  # a client's request: clients are not fault targets
            return 0.0
        held = 0.0
        for entry in list(self.waiting):
            step, trigger, senders = entry
            if (step.at <= depart and (senders is None or src in senders)
                    and (trigger is None or trigger.matches(msg))):
                self.waiting.remove(entry)
                held = max(held, self.hold(step))
                self.at(depart, self._fire, (step, src, dst, msg))
        if not self.waiting:
            self.net.tap = None
        return held

    def _fire(self, item: tuple[Any, int, int, Any]) -> None:
        self.fire(*item)
