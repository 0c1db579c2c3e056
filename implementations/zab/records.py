"""ZAB's stable records (``ctx.persist``), replayed in order by ``ZabNode.start``: ZooKeeper's
``acceptedEpoch`` and ``currentEpoch`` files and its transaction log."""

from __future__ import annotations

__all__ = ["EpochRecord", "LogRecord"]


class EpochRecord:
    """acceptedEpoch (the last NEWEPOCH acknowledged) and currentEpoch (the last NEWLEADER
    acknowledged) changed; persisted before the acknowledgement that depends on it."""

    __slots__ = ("accepted", "current")

    def __init__(self, accepted: int, current: int):
        self.accepted = accepted
        self.current = current

    def __repr__(self) -> str:
        return f"EpochRecord(accepted={self.accepted}, current={self.current})"


class LogRecord:
    """The history becomes ``history[:first] + entries`` (``zxids``, ``cmds``): an append, a
    TRUNC followed by a DIFF, or a SNAP (``first`` = 1). Persisted before it is acknowledged."""

    __slots__ = ("first", "zxids", "cmds")

    def __init__(self, first: int, zxids: list, cmds: list):
        self.first = first
        self.zxids = zxids
        self.cmds = cmds

    def __repr__(self) -> str:
        return f"LogRecord(first={self.first}, n={len(self.zxids)})"
