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
    """The schedule steps that wait for a message; ``fire(step, sender, t)`` injects one. Taps
    the network while any is waiting, and lets go of it when the last has fired."""

    def __init__(self, net: Any, nodes: int, at: Callable[[float, Callable[..., None], Any], None],
                 fire: Callable[[Any, int], None]):
        self.net = net
        self.nodes = nodes
        self.at = at
        self.fire = fire
        self.waiting: list[tuple[Any, Trigger]] = []

    def add(self, step: Any) -> None:
        self.waiting.append((step, Trigger.parse(step.after)))
        self.net.tap = self._sent

    def _sent(self, src: int, dst: int, msg: Any, depart: float) -> None:
        if src >= self.nodes:  # a client's request: clients are not fault targets
            return
        for entry in list(self.waiting):
            step, trigger = entry
            if step.at <= depart and trigger.matches(msg):
                self.waiting.remove(entry)
                self.at(depart, self._fire, (step, src))
        if not self.waiting:
            self.net.tap = None

    def _fire(self, item: tuple[Any, int]) -> None:
        self.fire(*item)
