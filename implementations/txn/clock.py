"""A partition's hybrid logical clock (Kulkarni et al., 2014): the timestamps of the protocols
that order transactions by time (``mvcc-si``, ``tso``).

Why a clock on every partition rather than a timestamp service on one node: it needs no extra
round trip per transaction and no single node that every transaction must reach, so the
comparison with 2PL and OCC (which have neither) stays about the algorithm. A timestamp is one
integer: the physical time in nanoseconds shifted left by 16 bits, plus a logical counter.
:meth:`tick` gives a timestamp greater than every one this clock gave or :meth:`observe` d; every
timestamp a partition receives (an attempt's snapshot, a proposed commit timestamp) is observed,
so a partition's next commit timestamp is above every snapshot it has served. The physical part
is the partition's ``ctx.now``: the simulator's clocks agree, so timestamps track real time.
"""

from __future__ import annotations

__all__ = ["HybridClock", "LOGICAL_BITS"]

LOGICAL_BITS = 16


class HybridClock:
    """``last``: the greatest timestamp given or observed."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = 0

    @staticmethod
    def physical(now: float) -> int:
        """The timestamp of the physical time ``now``, with a zero counter."""
        return int(now * 1e9) << LOGICAL_BITS

    def tick(self, now: float) -> int:
        """A new timestamp: the physical time, or one more than the last if that is not less."""
        ts = self.physical(now)
        if ts <= self.last:
            ts = self.last + 1
        self.last = ts
        return ts

    def observe(self, ts: int) -> None:
        """A timestamp from elsewhere: the next :meth:`tick` is above it."""
        if ts > self.last:
            self.last = ts
