"""The messages and log records of the protocols whose operations take effect at each partition
at once (Saga, TCC: :mod:`implementations.txn.stepwise`): a partition's *part* of an attempt is
settled later -- confirmed or undone -- by the decision of the attempt's home partition."""

from __future__ import annotations

from harness.kinds.transactions.contract import tid_str
from harness.message import Message

__all__ = ["Settle", "SettleAck", "Ask", "StepTaken", "PartSettled", "HomeDecided", "HomeEnded"]

_H = Message.HEADER


class Settle(Message):
    """home -> a partition with a part of ``tid``: confirm it (``commit``) or undo it."""

    __slots__ = ("tid", "commit")

    def __init__(self, tid: int, commit: bool):
        self.size = _H + 9
        self.tid = tid
        self.commit = commit

    def __repr__(self) -> str:
        return f"Settle({tid_str(self.tid)} {'confirm' if self.commit else 'undo'})"


class SettleAck(Message):
    """partition -> home: its part of ``tid`` is settled (the home stops re-sending)."""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.size = _H + 8
        self.tid = tid

    def __repr__(self) -> str:
        return f"SettleAck({tid_str(self.tid)})"


class Ask(Message):
    """partition -> home: my part of ``tid`` has gone quiet; what became of it?"""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.size = _H + 8
        self.tid = tid

    def __repr__(self) -> str:
        return f"Ask({tid_str(self.tid)})"


class StepTaken:
    """Log: operation ``index`` of ``tid`` (home ``home``) took effect here on ``key``: ``delta``
    is the amount it moves (applied at once by Saga, frozen or pending under TCC), ``value``
    what it answered."""

    __slots__ = ("tid", "home", "index", "key", "delta", "value")

    def __init__(self, tid: int, home: int, index: int, key: int, delta: int, value: int):
        self.tid = tid
        self.home = home
        self.index = index
        self.key = key
        self.delta = delta
        self.value = value

    def __repr__(self) -> str:
        return f"StepTaken({tid_str(self.tid)}[{self.index}] k={self.key} {self.delta:+d})"


class PartSettled:
    """Log: this partition's part of ``tid`` was confirmed (``commit``) or undone."""

    __slots__ = ("tid", "commit")

    def __init__(self, tid: int, commit: bool):
        self.tid = tid
        self.commit = commit

    def __repr__(self) -> str:
        return f"PartSettled({tid_str(self.tid)} {'confirmed' if self.commit else 'undone'})"


class HomeDecided:
    """Log: the home decided ``tid`` (confirm on ``participants``, or undo)."""

    __slots__ = ("tid", "commit", "participants")

    def __init__(self, tid: int, commit: bool, participants: tuple[int, ...]):
        self.tid = tid
        self.commit = commit
        self.participants = participants

    def __repr__(self) -> str:
        return f"HomeDecided({tid_str(self.tid)} {'confirm' if self.commit else 'undo'})"


class HomeEnded:
    """Log: every participant acknowledged the confirmation of ``tid``."""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.tid = tid

    def __repr__(self) -> str:
        return f"HomeEnded({tid_str(self.tid)})"
