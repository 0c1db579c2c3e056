"""What the concurrency controls that order transactions by timestamp share (``mvcc-si``,
``tso``): the partition's hybrid logical clock, each attempt's timestamp, the write *intents*
of transactions that may still commit, and the readers queued behind them.

Timestamps
    An attempt's first operation reaches its home partition with no timestamp: the home gives it
    one (:meth:`TimestampedCC.begin`), the client carries it to every later operation, and every
    partition observes it. See :mod:`implementations.txn.clock`.

Intents and waits
    ``intents[key]`` is the transaction whose write of ``key`` may still commit (MVCC: from
    validation to decision; timestamp ordering: from the write to the decision). A strategy
    answers WAIT to an access that must see that write's fate first, and queues it; when the
    intent is released every queued access is asked again (:meth:`TimestampedCC._release`) and
    is granted, queued again or aborted.

Restarts
    What a strategy keeps in memory about reads is gone after a crash. The partition therefore
    refuses (reason failure) any attempt whose timestamp is older than its restart
    (``restart_ts``): whatever that attempt could conflict with was forgotten.
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.kinds.transactions.contract import FAILURE
from implementations.txn.clock import HybridClock
from implementations.txn.concurrency import GRANTED, WAIT, ConcurrencyControl
from implementations.txn.records import ParticipantTxn

__all__ = ["TimestampedCC"]


@mypyc_attr(allow_interpreted_subclasses=True)
class TimestampedCC(ConcurrencyControl):
    """The clock, the intents (key -> transaction) and the queues (key -> waiting
    transactions) of one partition; ``partition`` is the participant role."""

    def __init__(self, partition: Any):
        self.partition = partition
        self.clock = HybridClock(partition.id)
        self.intents: dict[int, ParticipantTxn] = {}
        self.waiting: dict[int, list[ParticipantTxn]] = {}
        self.restart_ts = 0

    def begin(self, t: ParticipantTxn) -> None:
        if t.snapshot:
            self.clock.observe(t.snapshot)
        else:
            t.snapshot = self.clock.tick(self.partition.ctx.now)

    def started(self, now: float) -> None:
        self.restart_ts = self.clock.physical(now)
        self.clock.observe(self.restart_ts)

    def forgotten(self, t: ParticipantTxn) -> int:
        """FAILURE when ``t`` began before this partition's restart, else 0."""
        return FAILURE if t.snapshot < self.restart_ts else 0

    def _wait(self, t: ParticipantTxn, key: int, now: float) -> int:
        """Queue ``t`` behind ``key``'s intent."""
        if t.pending is None:  # not re-queued after a release: the wait starts now
            t.wait_since = now
        t.wait = key
        t.conflict = True
        self.waiting.setdefault(key, []).append(t)
        return WAIT

    def _unqueue(self, t: ParticipantTxn) -> None:
        key = t.wait
        if key is not None:
            queue = self.waiting.get(key)
            if queue is not None and t in queue:
                queue.remove(t)
                if not queue:
                    del self.waiting[key]
            t.wait = None

    def _release(self, t: ParticipantTxn) -> None:
        """Drop ``t``'s intents and ask again every access queued behind them."""
        intents = self.intents
        for key in t.writes:
            if intents.get(key) is t:
                del intents[key]
                queue = self.waiting.pop(key, None)
                if queue:
                    self._retry(key, queue)

    def _retry(self, key: int, queue: list[ParticipantTxn]) -> None:
        p = self.partition
        now = p.ctx.now
        for u in queue:
            if u.wait != key or not p.is_active(u):
                continue
            u.wait = None
            r = self.access(u, u.pending.kind, key, now)
            if r == GRANTED:
                p.lock_granted(u)
            elif r != WAIT:
                u.wait = key  # the wait ends in an abort: it is measured as one
                p.abort_active(u, r)
