"""What a fault kind declares: the contract every module of :mod:`harness.faults` keeps.

A fault kind is one module: its rate section (``faults.<name>``, a :class:`Section`), the
schedule actions it performs (:class:`Action`), how it injects them and heals them, the events
it writes to ``events.csv`` and what an outage after each is attributed to, and how charts draw
its fault windows (:class:`Style`). The nemesis dispatches over the kinds; the suite schema,
``distbench list``, the report's styles and the metrics' cause map read their declarations, so
adding a kind touches nothing else. (Jepsen's combined nemesis is built the same way: a package
per fault with its generator, its nemesis, its final heal and its colour in charts.)

This module imports no other part of distbench but the suite's field types (a leaf), so the
schema can import the kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from harness.suite.fields import Section, selector

if TYPE_CHECKING:
    from harness.faults.nemesis import Nemesis


# Whom a fault hits: any live node, a node holding a role the world provides (a kind of run
# names its roles; the suite checks a role fits the kind), or node ids.
Role = Literal["any", "leader", "follower", "coordinator", "participant"]
Target = Annotated[Role | tuple[int, ...], selector("any", "leader", "follower", "coordinator",
                                                    "participant")]


@dataclass(frozen=True)
class Action:
    """A schedule action (``faults.schedule[].action``).

    ``heals``: it undoes the kind's faults (``restart``, ``heal``): no ``for``, and it is never
    skipped for want of a target. ``needs_for``: a fault of this action must say how long it
    lasts. ``params``: the kind's step keys (``Kind.step``) this action takes. ``holds``: it
    acts on a message, not a node: the network holds the message that fires it for ``for``
    (``Kind.held`` is told of it); its ``target`` names the senders whose message it waits for."""

    heals: bool = False
    needs_for: bool = False
    params: tuple[str, ...] = ()
    holds: bool = False


@dataclass(frozen=True)
class Style:
    """How charts draw the window of a fault that an event of this kind starts: its legend label,
    its colour, the event kinds that end it when its length is not known, and whether it is a
    node's fault (ended by an event of the same node)."""

    label: str
    colour: str
    ends: tuple[str, ...]
    per_node: bool = True


class Kind:
    """One fault kind. Subclasses declare the class attributes and implement what the nemesis
    calls; an instance lives for one run and keeps that run's faults of this kind."""

    name: ClassVar[str]                      # its rate section: faults.<name>
    rate: ClassVar[type[Section]]            # the model of that section
    step: ClassVar[dict[str, Any]] = {}      # step keys of its actions: name -> (type, default)
    actions: ClassVar[dict[str, Action]]     # the schedule actions it performs, in listing order
    events: ClassVar[dict[str, str]]         # event kinds it writes -> "fault" or "heal" (the
    #                                          cause an outage right after one is attributed to)
    styles: ClassVar[dict[str, Style]]       # event kinds that start a fault window -> chart style
    drain_rank: ClassVar[int]                # at a run's drain kinds heal in this order

    def __init__(self, nemesis: Nemesis):
        self.nemesis = nemesis

    def start(self, rate: Any) -> None:
        """Start the renewal process of the suite's rate section ``rate``."""
        raise NotImplementedError

    def inject(self, action: str, nodes: list[int], step: Any) -> None:
        """Perform the scheduled ``step`` (an action that is not a heal) on ``nodes``."""
        raise NotImplementedError

    def heal(self, action: str, step: Any) -> None:
        """Perform the scheduled heal ``step``."""
        raise NotImplementedError

    def held(self, step: Any, src: int, dst: int, msg: Any) -> None:
        """The network holds ``msg`` (from ``src`` to ``dst``) for a ``holds`` action's ``step``."""
        raise NotImplementedError

    def drain(self) -> None:
        """End every fault of this kind (a run's drain); nothing for faults that end on their own."""

    @staticmethod
    def step_of(event: str, node: int | str, detail: str, length: float | None) -> dict[str, Any]:
        """The schedule step (``faults.schedule[]`` keys but ``at``) that performs again the fault
        one of this kind's fault events records: explicit node ids, the same length (``for``)
        and parameters. It is how a fault a rate drew becomes a fault of a schedule."""
        raise NotImplementedError


def lasting(step: dict[str, Any], length: float | None) -> dict[str, Any]:
    """``step`` with ``for: length`` when the fault was to end on its own."""
    return step if length is None else {**step, "for": length}
