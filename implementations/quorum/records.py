"""The quorum store's stable records (``ctx.persist``), replayed in order by ``QuorumNode.start``.
A replica persists a version before acknowledging it, as Cassandra does with
``commitlog_sync: batch`` (its default, ``periodic``, acknowledges before the fsync)."""

from __future__ import annotations

__all__ = ["Stored", "Hint", "HintDone", "Boot"]


class Stored:
    """A version of ``key`` this node keeps: ``value`` (``size`` bytes) stamped ``(ts, origin)``."""

    __slots__ = ("key", "value", "size", "ts", "origin")

    def __init__(self, key: int, value: int, size: int, ts: float, origin: int):
        self.key = key
        self.value = value
        self.size = size
        self.ts = ts
        self.origin = origin

    def __repr__(self) -> str:
        return f"Stored(k={self.key} v={self.value} @{self.ts:g}/{self.origin})"


class Hint:
    """Hint ``hint``: the version in ``version`` is owed to node ``target`` (hinted handoff)."""

    __slots__ = ("hint", "target", "version")

    def __init__(self, hint: int, target: int, version: Stored):
        self.hint = hint
        self.target = target
        self.version = version

    def __repr__(self) -> str:
        return f"Hint(#{self.hint} for {self.target} {self.version!r})"


class HintDone:
    """Hint ``hint`` was acknowledged by the node it was owed to: forget it after a restart."""

    __slots__ = ("hint",)

    def __init__(self, hint: int):
        self.hint = hint

    def __repr__(self) -> str:
        return f"HintDone(#{self.hint})"


class Boot:
    """The node started (booted or restarted): the number of these records makes its operation
    ids unique across restarts, so an answer meant for an earlier incarnation matches nothing."""

    __slots__ = ("boot",)

    def __init__(self, boot: int):
        self.boot = boot

    def __repr__(self) -> str:
        return f"Boot({self.boot})"
