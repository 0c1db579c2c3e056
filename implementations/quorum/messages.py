"""The quorum store's messages between nodes (clients speak :mod:`workloads.kv`). ``op`` is the
sender's id for what it waits on (a write, a read, a read repair, a hint), echoed in the answer.
A version travels as (value, ``vsize`` bytes, stamp ``ts``/``origin``); a read answer carries
the stamp, which is what a Cassandra digest lets a coordinator compare. The class names appear in
results (``messages_per_op_by_type``)."""

from __future__ import annotations

from harness.message import Message

__all__ = ["Mutation", "MutationAck", "Read", "ReadResult"]

HEADER = Message.HEADER
STAMP = 12  # a timestamp and the coordinator's id


class Mutation(Message):
    """Store this version of ``key`` (a write, a read repair or a hint's replay); ``hint_for``
    >= 0: the receiver stands in for that replica (sloppy quorum) and owes it the version."""

    __slots__ = ("op", "key", "value", "vsize", "ts", "origin", "hint_for")

    def __init__(self, op: int, key: int, value: int, vsize: int, ts: float, origin: int,
                 hint_for: int = -1):
        self.op = op
        self.key = key
        self.value = value
        self.vsize = vsize
        self.ts = ts
        self.origin = origin
        self.hint_for = hint_for
        self.size = HEADER + STAMP + vsize

    def __repr__(self) -> str:
        return f"Mutation(#{self.op} k={self.key} v={self.value} @{self.ts:g}/{self.origin})"


class MutationAck(Message):
    """The version of :class:`Mutation` ``op`` is durable here."""

    __slots__ = ("op",)

    def __init__(self, op: int):
        self.op = op
        self.size = HEADER


class Read(Message):
    """Send me your version of ``key``."""

    __slots__ = ("op", "key")

    def __init__(self, op: int, key: int):
        self.op = op
        self.key = key
        self.size = HEADER


class ReadResult(Message):
    """The answer to :class:`Read` ``op``: this node's version of ``key`` (stamp 0/-1 and value
    0: it has none)."""

    __slots__ = ("op", "key", "value", "vsize", "ts", "origin")

    def __init__(self, op: int, key: int, value: int, vsize: int, ts: float, origin: int):
        self.op = op
        self.key = key
        self.value = value
        self.vsize = vsize
        self.ts = ts
        self.origin = origin
        self.size = HEADER + STAMP + vsize
