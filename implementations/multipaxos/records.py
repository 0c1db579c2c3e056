"""Multi-Paxos's durable records, each persisted before the promise / accepted reply that
depends on it, and replayed by ``MultiPaxosNode.start``."""

from __future__ import annotations

from implementations.multipaxos.messages import INT

__all__ = ["CHOSEN", "PromiseRecord", "AcceptRecord"]

CHOSEN = (1 << 63) - 1  # the ballot of a promised entry its acceptor knows is chosen


class PromiseRecord:
    __slots__ = ("ballot", "size")

    def __init__(self, ballot: int):
        self.ballot = ballot
        self.size = INT

    def __repr__(self) -> str:
        return f"PromiseRecord({self.ballot})"


class AcceptRecord:
    """``value`` accepted at ``(slot, ballot)``; ``commit`` is what the leader of ``ballot``
    declared chosen when it sent the accept (every slot below it), so that a restarted replica
    can relearn most of the chosen prefix from its own disk."""

    __slots__ = ("slot", "ballot", "value", "vbytes", "commit", "size")

    def __init__(self, slot: int, ballot: int, value: tuple | None, vbytes: int, commit: int):
        self.slot = slot
        self.ballot = ballot
        self.value = value
        self.vbytes = vbytes
        self.commit = commit
        self.size = 3 * INT + vbytes

    def __repr__(self) -> str:
        return (f"AcceptRecord(slot={self.slot}, ballot={self.ballot}, {self.value!r}, "
                f"commit={self.commit})")
