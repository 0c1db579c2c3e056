"""A partition's hybrid logical clock (Kulkarni et al., 2014): the timestamps of the protocols
that order transactions by time (``mvcc-si``, ``tso``).

Why a clock on every partition rather than a timestamp service on one node: it needs no extra
round trip per transaction and no single node that every transaction must reach, so the
comparison with 2PL and OCC (which have neither) stays about the algorithm. A timestamp is one
integer: the physical time in nanoseconds, then a logical counter (``LOGICAL_BITS``), then the
partition's id (``NODE_BITS``), so that no two partitions ever give the same timestamp: ordering
protocols assume distinct timestamps, and two partitions' clocks at the same instant (a clock
running slow makes it likely) would otherwise tie (CockroachDB's HLC timestamps are likewise
unique only with the node id beside them). :meth:`tick` gives a timestamp greater than every one this clock gave or :meth:`observe` d; every
timestamp a partition receives (an attempt's snapshot, a proposed commit timestamp) is observed,
so a partition's next commit timestamp is above every snapshot it has served. The physical part
is the partition's ``ctx.now``: the simulator's clocks agree, so timestamps track real time.
"""

from __future__ import annotations

__all__ = ["HybridClock", "LOGICAL_BITS", "NODE_BITS"]

LOGICAL_BITS = 12  # 4096 timestamps per nanosecond and partition
NODE_BITS = 10     # up to 1024 partitions; a run of 2,000 s still fits in 63 bits


class HybridClock:
    """``last``: the greatest timestamp given or observed; ``node``: the partition's id."""

    __slots__ = ("last", "node")

    def __init__(self, node: int) -> None:
        self.last = 0
        self.node = node

    @staticmethod
    def physical(now: float) -> int:
        """The timestamp of the physical time ``now``, below every one given at ``now``."""
        return int(now * 1e9) << (LOGICAL_BITS + NODE_BITS)

    def tick(self, now: float) -> int:
        """A new timestamp, this partition's: at the physical time, or the next one after the
        last if that is not less."""
        clock = self.physical(now) >> NODE_BITS
        last = self.last >> NODE_BITS
        if clock <= last:
            clock = last + 1
        ts = (clock << NODE_BITS) | self.node
        self.last = ts
        return ts

    def observe(self, ts: int) -> None:
        """A timestamp from elsewhere: the next :meth:`tick` is above it."""
        if ts > self.last:
            self.last = ts
