"""Shared (S) and exclusive (X) locks: 2PL's lock table, and OCC's validation locks."""

from __future__ import annotations

from collections import deque

from implementations.txn.records import ParticipantTxn

__all__ = ["S", "X", "Lock", "take_locks"]

S, X = 1, 2


class Lock:
    """One key's lock: ``holders`` (tid -> transaction; the mode is ``holder.held[key]``), the
    tid of the ``exclusive`` holder (0 when none) and a FIFO ``queue`` of waiting transactions
    (upgrades at its front)."""

    __slots__ = ("holders", "exclusive", "queue")

    def __init__(self) -> None:
        self.holders: dict[int, ParticipantTxn] = {}
        self.exclusive = 0
        self.queue: deque[ParticipantTxn] = deque()

    def compatible(self, t: ParticipantTxn, mode: int) -> bool:
        """Whether ``t`` could hold ``mode`` alongside the current holders (queue ignored)."""
        if mode == S:
            return self.exclusive == 0 or self.exclusive == t.tid
        holders = self.holders
        n = len(holders)
        return n == 0 or (n == 1 and t.tid in holders)

    def grant(self, t: ParticipantTxn, key: int, mode: int) -> None:
        self.holders[t.tid] = t
        if mode == X:
            self.exclusive = t.tid
        t.held[key] = mode

    def release(self, t: ParticipantTxn) -> None:
        del self.holders[t.tid]
        if self.exclusive == t.tid:
            self.exclusive = 0


def take_locks(table: dict[int, Lock], t: ParticipantTxn) -> None:
    """Grant ``t`` X on every key it writes and S on every other key it read, in ``table``
    (2PL's lock table, or OCC's validation locks). Only for locks known to be free for it: a
    transaction found prepared in the log at recovery (its locks were compatible before the
    crash), or one that has just passed OCC validation."""
    for key in t.writes:
        (table.get(key) or table.setdefault(key, Lock())).grant(t, key, X)
    for key in t.reads:
        if key not in t.writes:
            (table.get(key) or table.setdefault(key, Lock())).grant(t, key, S)
