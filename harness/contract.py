"""The sans-I/O contract's two classes, :class:`Context` and :class:`Node`, re-exported by
:mod:`harness.protocol` (which documents the contract and keeps the registry). They have a module
of their own so that the compiled build compiles them (README, "Performance"): the node host
then calls a compiled protocol's handlers, and the protocol its context, as native calls rather
than Python method lookups. Interpreted subclasses -- protocols of your own, the scripted test
cluster's context -- are allowed; in the compiled build what they send must derive from
:class:`~harness.message.Message`, and a runtime's ``node_id``, ``nodes`` and ``now`` must be
plain attributes (compiled code reads them from the instance: a property is not seen)."""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.message import Message


@mypyc_attr(allow_interpreted_subclasses=True)
class Context:
    """What a protocol node may do. Implemented by every runtime; documented here once.

    Attributes available to the node: ``node_id`` (int), ``nodes`` (tuple of all node ids,
    including its own) and ``now`` (simulated seconds, read-only).
    """

    node_id: int
    nodes: tuple[int, ...]
    now: float

    def send(self, dst: int, msg: Message) -> None:
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

    def reply(self, request: Any, result: Message) -> None:
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


@mypyc_attr(allow_interpreted_subclasses=True)
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
