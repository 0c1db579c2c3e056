"""The sans-I/O contract between a protocol and whatever runs it.

A protocol node never touches sockets, clocks, threads or random numbers of its own: it reacts to
inputs (``start``, ``on_message``, ``on_timer``, ``on_request``) and acts only through the
:class:`Context` it is handed. The simulator (``harness.engine.node.NodeHost``) and the scripted test
network (``harness.engine.scripted.ScriptedCluster``) are two such contexts; a real network runtime would
be a third. Protocols register themselves by name with :func:`register`, which is all it takes to
make one selectable from a suite (``protocol: <name>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from harness.message import Message  # noqa: F401  (part of the contract; its own module, see there)


class Context:
    """What a protocol node may do. Implemented by every runtime; documented here once.

    Attributes available to the node: ``node_id`` (int), ``nodes`` (tuple of all node ids,
    including its own) and ``now`` (simulated seconds, read-only).
    """

    node_id: int
    nodes: tuple[int, ...]
    now: float

    def send(self, dst: int, msg: Any) -> None:
        """Send ``msg`` to node ``dst``. ``msg.size`` (bytes) is charged to network and CPU."""
        raise NotImplementedError

    def set_timer(self, name: str, delay: float) -> None:
        """Arm timer ``name`` to fire after ``delay`` seconds, replacing an armed one of that name."""
        raise NotImplementedError

    def cancel_timer(self, name: str) -> None:
        raise NotImplementedError

    def persist(self, record: Any) -> None:
        """Append ``record`` to stable storage. It survives a crash only once its fsync completes;
        every output issued after this call, in this handler or a later one, waits for that fsync
        (write-ahead discipline). Outputs issued before it (in the same handler) do not: that is
        how a leader writes to its disk in parallel with its followers."""
        raise NotImplementedError

    def reply(self, request: Any, result: Any) -> None:
        """Answer a client request (see ``workloads.kv.Reply`` for the consensus result type)."""
        raise NotImplementedError

    def random(self) -> float:
        """A uniform float in [0, 1) from this node's deterministic stream."""
        raise NotImplementedError

    def charge(self, seconds: float) -> None:
        """Occupy this node's CPU ``seconds`` longer for work the handler does beyond handling its
        input (a deadlock search, say), so that the work is paid for like any message: it delays
        the handler's later outputs and every input queued behind it. ``seconds`` is scaled like
        every other cost (a slowed node pays more). A runtime with no CPU model ignores it."""

    # Observations for checkers and metrics. They cost nothing in the model.
    def became_leader(self, term: int) -> None:
        """This node now leads ``term`` (a Raft term or a Paxos ballot number) and can serve."""
        raise NotImplementedError

    def applied(self, index: int, command: Any) -> None:
        """This node applied ``command`` (or a no-op, ``None``) at log ``index`` (1-based, the same
        on every replica) to its state machine."""
        raise NotImplementedError

    def applied_many(self, first: int, commands: Any) -> None:
        """``applied`` for each of ``commands`` at indices ``first, first + 1, ...``: one call
        for a run of commands, which a runtime may check as one."""
        for i, command in enumerate(commands, first):
            self.applied(i, command)

    def observe(self, event: str, value: Any) -> None:
        """A protocol-specific observation, e.g. ``"commit"`` with what a transaction read and
        wrote here. Like the others it is seen only once every earlier persist is durable (and
        never if the node crashes before). A runtime with no use for it may ignore it."""


class Node:
    """Base class of a protocol replica. Subclasses implement the four handlers."""

    def start(self, ctx: Context, stable: list[Any]) -> None:
        """Boot (``stable`` empty) or restart after a crash: ``stable`` holds the records that had
        been made durable with ``ctx.persist``, in order. Everything else was lost."""
        raise NotImplementedError

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        raise NotImplementedError

    def on_timer(self, ctx: Context, name: str) -> None:
        raise NotImplementedError

    def on_request(self, ctx: Context, request: Any) -> None:
        raise NotImplementedError


class Options(BaseModel):
    """Base for a protocol's own options (the ``protocols.<name>:`` section of a suite)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplicationOptions(BaseModel):
    """Knobs every replication protocol honours identically, so comparisons are like with like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = 64
    batch_delay: float = 0.0
    pipeline: int = 8
    election_timeout: float = 0.150
    election_timeout_max: float | None = None  # None: 2 x election_timeout
    heartbeat: float = 0.050
    retransmit: float | None = None  # None: the heartbeat interval
    reorder_wait: float = 0.001  # a missing earlier replication message is asked for after this

    @property
    def election_range(self) -> tuple[float, float]:
        """The interval a randomised election timeout is drawn from."""
        return self.election_timeout, self.election_timeout_max or 2 * self.election_timeout


@dataclass(frozen=True)
class ProtocolSpec:
    """A registered protocol: how to build a replica and which options it accepts."""

    name: str
    kind: str  # "consensus" or "transactions"
    factory: Callable[..., Node]
    options: type[Options] = Options
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


_REGISTRY: dict[str, ProtocolSpec] = {}


def register(name: str, *, kind: str, options: type[Options] = Options,
             description: str = "", aliases: tuple[str, ...] = ()) -> Callable[[type], type]:
    """Class decorator: make ``cls`` available to suites as ``protocol: <name>`` (or an alias).

    ``cls(node_id, nodes, replication, options, state_machine)`` must build a :class:`Node`.
    """

    def wrap(cls: type) -> type:
        _REGISTRY[name] = ProtocolSpec(name, kind, cls, options,
                                       description or (cls.__doc__ or "").strip().split("\n")[0], aliases)
        cls.protocol_name = name
        return cls

    return wrap


def registry() -> dict[str, ProtocolSpec]:
    """All registered protocols, loading the built-in implementations first."""
    import implementations  # noqa: F401  (registers the built-ins on import)

    return _REGISTRY


def get(name: str) -> ProtocolSpec:
    return registry()[name]
