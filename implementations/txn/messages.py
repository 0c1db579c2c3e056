"""The two-phase commit's messages between partitions (a coordinator and its participants)."""

from __future__ import annotations

from harness.kinds.transactions.contract import COMMITTED, REASONS, tid_str
from harness.message import Message

__all__ = ["Prepare", "Vote", "Decision", "Ack", "Query", "PeerQuery", "PeerReply"]

_H = Message.HEADER


class Prepare(Message):
    """coordinator -> participant. ``epoch`` is the coordinator's incarnation number: a
    participant prepared in an older epoch whose coordinator re-runs the commit knows the old
    round was presumed aborted. ``epochs``: the participants' epochs that ran the operations,
    from the commit request (a participant in another epoch lost them: it votes no). ``ts``:
    the commit timestamp the coordinator chose, for protocols that order by timestamp (0:
    none, and no bytes on the wire)."""

    __slots__ = ("tid", "epoch", "coord", "participants", "epochs", "ts")

    def __init__(self, tid: int, epoch: int, coord: int, participants: tuple[int, ...],
                 epochs: tuple[int, ...] = (), ts: int = 0):
        self.tid = tid
        self.epoch = epoch
        self.coord = coord
        self.participants = participants
        self.epochs = epochs
        self.ts = ts
        self.size = _H + 16 + 8 * len(participants) + (8 if ts else 0)

    def __repr__(self) -> str:
        return f"Prepare({tid_str(self.tid)} e{self.epoch})"


class Vote(Message):
    __slots__ = ("tid", "epoch", "reason")

    def __init__(self, tid: int, epoch: int, reason: int):
        self.size = _H + 16
        self.tid = tid
        self.epoch = epoch
        self.reason = reason  # COMMITTED (0) = yes, else no and why

    @property
    def yes(self) -> bool:
        return self.reason == COMMITTED

    def __repr__(self) -> str:
        return f"Vote({tid_str(self.tid)} {'yes' if self.yes else 'no: ' + REASONS[self.reason]})"


class Decision(Message):
    """coordinator -> participant (or a peer's answer under cooperative termination)."""

    __slots__ = ("tid", "commit")

    def __init__(self, tid: int, commit: bool):
        self.size = _H + 9
        self.tid = tid
        self.commit = commit

    def __repr__(self) -> str:
        return f"Decision({tid_str(self.tid)} {'commit' if self.commit else 'abort'})"


class Ack(Message):
    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.size = _H + 8
        self.tid = tid

    def __repr__(self) -> str:
        return f"Ack({tid_str(self.tid)})"


class Query(Message):
    """in-doubt participant -> coordinator: decided yet?"""

    __slots__ = ("tid", "epoch")

    def __init__(self, tid: int, epoch: int):
        self.size = _H + 16
        self.tid = tid
        self.epoch = epoch

    def __repr__(self) -> str:
        return f"Query({tid_str(self.tid)} e{self.epoch})"


class PeerQuery(Message):
    """in-doubt participant -> other participants (cooperative termination)."""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.size = _H + 8
        self.tid = tid

    def __repr__(self) -> str:
        return f"PeerQuery({tid_str(self.tid)})"


class PeerReply(Message):
    """``state``: COMMITTED, FAILURE (aborted, or will vote no) or None (prepared: uncertain too)."""

    __slots__ = ("tid", "state")

    def __init__(self, tid: int, state: int | None):
        self.size = _H + 9
        self.tid = tid
        self.state = state

    def __repr__(self) -> str:
        return f"PeerReply({tid_str(self.tid)} {'uncertain' if self.state is None else REASONS[self.state]})"
