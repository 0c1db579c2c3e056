"""Basic timestamp ordering (Bernstein & Goodman), as a partition's strategy.

Every attempt has a timestamp (:mod:`implementations.txn.timestamped`); the execution must be
equivalent to running the attempts in timestamp order. Each key keeps the greatest timestamp
that read it (``rts``) and that wrote its committed version (``wts``).

Reads
    An attempt older than the key's committed version (``ts < wts``) is too late: it aborts
    (reason conflict). One younger than the key's pending write (an *intent*: an older attempt
    wrote it and has not been decided) waits for that write's decision, as it must read it.
    Otherwise it reads the committed version and raises ``rts``.
Writes
    Every write reads first (the transactions contract's writes are read-modify-writes), then:
    an attempt older than a read already served (``ts < rts``) is too late (reason conflict);
    otherwise it takes the key's intent until its decision, buffering the value. Writes are
    installed at commit, in timestamp order per key (a younger writer waited for the intent).
    Thomas' write rule (skip an obsolete write instead of aborting) never applies here: a
    write's own read of the key already refused it.

Waits go only from younger to older attempts, so there is no deadlock. After a restart the
forgotten ``rts`` of every key is taken to be the restart time: older attempts are refused.
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.kinds.transactions.contract import CONFLICT, READ
from implementations.txn.concurrency import GRANTED
from implementations.txn.records import ParticipantTxn
from implementations.txn.timestamped import TimestampedCC

__all__ = ["TimestampOrderingCC"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class TimestampOrderingCC(TimestampedCC):
    """``rts``, ``wts``: key -> the greatest timestamp that read it, and that wrote its
    committed version."""

    def __init__(self, partition: Any):
        super().__init__(partition)
        self.rts: dict[int, int] = {}
        self.wts: dict[int, int] = {}

    def access(self, t: ParticipantTxn, kind: int, key: int, now: float) -> int:
        reason = self.forgotten(t)
        if reason:
            return reason
        ts = t.snapshot
        if ts < self.wts.get(key, 0):
            t.conflict = True
            return CONFLICT  # too late to read: a younger attempt's write is committed
        w = self.intents.get(key)
        if w is not None and w is not t and w.snapshot < ts:
            return self._wait(t, key, now)  # an older write pending: read it once decided
        rts = self.rts.get(key, 0)
        if kind != READ:
            if ts < rts:
                t.conflict = True
                return CONFLICT  # too late to write: a younger attempt read the key
            self.intents[key] = t
        if rts < ts:
            self.rts[key] = ts
        return GRANTED

    def validate(self, t: ParticipantTxn) -> int:
        t.commit_ts = t.snapshot  # logged: the order of the versions it installs
        return 0

    def commit(self, t: ParticipantTxn) -> None:
        wts, ts = self.wts, t.snapshot
        for key in t.writes:
            if wts.get(key, 0) < ts:
                wts[key] = ts
        self._release(t)

    def abort(self, t: ParticipantTxn) -> None:
        self._unqueue(t)
        self._release(t)

    def recover(self, t: ParticipantTxn) -> None:
        """Re-take the intents of a transaction found prepared in the log."""
        t.snapshot = t.commit_ts
        for key in t.writes:
            self.intents[key] = t

    def restored(self, tid: int, writes: list[tuple[int, int]], ts: int) -> None:
        self.clock.observe(ts)
        wts = self.wts
        for key, _ in writes:
            if wts.get(key, 0) < ts:
                wts[key] = ts
