"""What a partition writes to its log (``ctx.persist``), one record class per event, replayed in
order by recovery (:meth:`implementations.txn.node.PartitionNode.start`)."""

from __future__ import annotations

from harness.kinds.transactions.contract import tid_str

__all__ = ["EpochStarted", "CommittedAlone", "Prepared", "Committed", "PreparedAborted",
           "Decided", "Ended", "Aborted"]


class EpochStarted:
    """A new incarnation of the partition (every start)."""

    __slots__ = ("epoch",)

    def __init__(self, epoch: int):
        self.epoch = epoch

    def __repr__(self) -> str:
        return f"EpochStarted({self.epoch})"


class CommittedAlone:
    """Participant and coordinator: a one-phase commit and its ``writes`` (key, value) (none is
    logged for a read-only one), at commit timestamp ``ts`` (0: the protocol uses none)."""

    __slots__ = ("tid", "writes", "ts")

    def __init__(self, tid: int, writes: list[tuple[int, int]], ts: int = 0):
        self.tid = tid
        self.writes = writes
        self.ts = ts

    def __repr__(self) -> str:
        return f"CommittedAlone({tid_str(self.tid)} {self.writes})"


class Prepared:
    """Participant: voted yes on ``tid`` at ``at``, for ``coordinator`` in its ``epoch``, with
    its write set and read set (key, value) and (key, version), and the commit timestamp ``ts``
    it would commit at (0: the protocol uses none): enough to re-take its locks and wait for the
    decision after a crash."""

    __slots__ = ("tid", "coordinator", "epoch", "participants", "writes", "reads", "at", "ts")

    def __init__(self, tid: int, coordinator: int, epoch: int, participants: tuple[int, ...],
                 writes: list[tuple[int, int]], reads: list[tuple[int, int]], at: float,
                 ts: int = 0):
        self.tid = tid
        self.coordinator = coordinator
        self.epoch = epoch
        self.participants = participants
        self.writes = writes
        self.reads = reads
        self.at = at
        self.ts = ts

    def __repr__(self) -> str:
        return f"Prepared({tid_str(self.tid)} for {self.coordinator} e{self.epoch})"


class Committed:
    """Participant: the prepared ``tid`` committed (its writes are those it prepared)."""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.tid = tid

    def __repr__(self) -> str:
        return f"Committed({tid_str(self.tid)})"


class PreparedAborted:
    """Participant: the prepared ``tid`` aborted. Presumed abort needs no abort record for
    correctness, but without one a restart would find it in doubt again."""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.tid = tid

    def __repr__(self) -> str:
        return f"PreparedAborted({tid_str(self.tid)})"


class Decided:
    """Coordinator: decided to commit ``tid`` on ``participants``."""

    __slots__ = ("tid", "participants")

    def __init__(self, tid: int, participants: tuple[int, ...]):
        self.tid = tid
        self.participants = participants

    def __repr__(self) -> str:
        return f"Decided({tid_str(self.tid)} on {list(self.participants)})"


class Ended:
    """Coordinator: every participant acknowledged the commit of ``tid``."""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.tid = tid

    def __repr__(self) -> str:
        return f"Ended({tid_str(self.tid)})"


class Aborted:
    """Coordinator: ``tid`` is aborted for good (an inquiry about an attempt it did not know),
    so that a late copy of its commit request cannot revive it after a crash."""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.tid = tid

    def __repr__(self) -> str:
        return f"Aborted({tid_str(self.tid)})"
