"""Multi-version snapshot isolation, as a partition's strategy.

Versions
    Every committed write of a key is kept as a version with its commit timestamp
    (``versions[key]``, oldest first, seeded with the version before the first write seen).
    A transaction reads, at every partition, the newest version no newer than its snapshot
    (its timestamp, :mod:`implementations.txn.timestamped`), so it sees one consistent state of
    the whole store, and neither waits for nor blocks a writer that is still executing.

Commit timestamps
    A one-phase commit takes the next tick of the partition's clock. A two-phase commit takes the
    one its coordinator proposed in ``Prepare`` (its clock's next tick, above the snapshot it
    gave the transaction). A partition that already served a read of one of the written keys at
    a snapshot at or above that timestamp (``read_ts``) votes no: that reader missed the write.

First committer wins
    At validation (commit, or prepare) a write of a key fails (reason validation) when a version
    newer than the snapshot was committed, or another transaction holds the key's *intent*
    (validated, decision pending). Passing validation takes the intents, released at the
    decision.

Reads and in-doubt commits
    A read of a key whose intent's commit timestamp is at or below the reader's snapshot must
    know whether that write commits: it waits for the decision (as Clock-SI does). That is the
    only wait: a read-only transaction never waits for a lock and never fails validation.

Garbage
    Versions superseded before ``retention`` ago are dropped (on the housekeeping tick), and an
    attempt whose snapshot is older than that is refused (reason timeout: "snapshot too old").

Serializable SI (``serializable: true``)
    The rw-antidependency tracker of :mod:`.ssi` is told of every read, validation and outcome.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mypy_extensions import mypyc_attr

from harness.kinds.transactions.contract import FAILURE, TIMEOUT, VALIDATION, Store
from implementations.mvcc.ssi import RWTracker
from implementations.txn.concurrency import GRANTED
from implementations.txn.records import PREPARED, ParticipantTxn
from implementations.txn.timestamped import TimestampedCC

__all__ = ["SnapshotCC"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class SnapshotCC(TimestampedCC):
    """``versions``: key -> [(commit_ts, value, version)]; ``read_ts``: key -> the greatest
    snapshot that read it; ``floor``: the oldest snapshot still served; ``ssi``: the
    rw-antidependency tracker (Serializable SI) or None."""

    def __init__(self, partition: Any, retention: float, serializable: bool = False):
        super().__init__(partition)
        self.retention = retention
        self.versions: dict[int, list[tuple[int, int, int]]] = {}
        self.read_ts: dict[int, int] = {}
        self.floor = 0
        self.superseded: deque[tuple[int, int]] = deque()  # (commit_ts, key), for the garbage
        self.ssi: RWTracker | None = RWTracker() if serializable else None

    def begin(self, t: ParticipantTxn) -> None:
        super().begin(t)
        if self.ssi is not None:
            self.ssi.begin(t)

    def _too_old(self, t: ParticipantTxn) -> int:
        return self.forgotten(t) or (TIMEOUT if t.snapshot < self.floor else 0)

    def access(self, t: ParticipantTxn, kind: int, key: int, now: float) -> int:
        reason = self._too_old(t)
        if reason:
            return reason
        s = t.snapshot
        w = self.intents.get(key)
        if w is not None and w is not t and w.commit_ts <= s:
            return self._wait(t, key, now)  # it may commit inside t's snapshot: learn its fate
        if self.ssi is not None:
            newer = [version for ts, _, version in self.versions.get(key, ()) if ts > s]
            if w is not None and w is not t:
                newer.append(w.tid)
            reason = self.ssi.read(t, key, newer)
            if reason:
                return reason
        if self.read_ts.get(key, 0) < s:
            self.read_ts[key] = s
        return GRANTED

    def read(self, t: ParticipantTxn, key: int, store: Store) -> tuple[int, int]:
        chain = self.versions.get(key)
        if chain is not None:
            s = t.snapshot
            for i in range(len(chain) - 1, -1, -1):
                ts, value, version = chain[i]
                if ts <= s:
                    return value, version
        return store.get(key)

    def commit_timestamp(self, now: float) -> int:
        return self.clock.tick(now)

    def validate(self, t: ParticipantTxn) -> int:
        if t.commit_ts:
            self.clock.observe(t.commit_ts)
        else:
            t.commit_ts = self.clock.tick(self.partition.ctx.now)
        reason = self._too_old(t)
        if reason:
            return reason
        if t.writes and t.commit_ts <= self.restart_ts:
            return FAILURE  # the reads this partition served before its restart are forgotten
        intents, versions, read_ts = self.intents, self.versions, self.read_ts
        for key in t.writes:
            w = intents.get(key)
            chain = versions.get(key)
            if ((w is not None and w is not t) or (chain and chain[-1][0] > t.snapshot)
                    or read_ts.get(key, 0) >= t.commit_ts):
                t.conflict = True
                return VALIDATION
        if self.ssi is not None:
            reason = self.ssi.validate(t)
            if reason:
                t.conflict = True
                return reason
        self.recover(t)
        return 0

    def recover(self, t: ParticipantTxn) -> None:
        """Take ``t``'s intents (after validating, or found prepared in the log), and seed the
        chain of each key it writes with the version before."""
        store, versions, intents = self.partition.store, self.versions, self.intents
        for key in t.writes:
            intents[key] = t
            if key not in versions:
                value, version = store.get(key)
                versions[key] = [(0, value, version)]
        if self.ssi is not None and t.state == PREPARED:  # found in the log at a restart
            self.ssi.recover(t)

    def restored(self, tid: int, writes: list[tuple[int, int]], ts: int) -> None:
        store, versions = self.partition.store, self.versions
        self.clock.observe(ts)
        for key, value in writes:
            chain = versions.get(key)
            if chain is None:
                old, version = store.get(key)
                chain = versions[key] = [(0, old, version)]
            chain.append((ts, value, tid))
            self.superseded.append((ts, key))

    def commit(self, t: ParticipantTxn) -> None:
        versions, ts, tid = self.versions, t.commit_ts, t.tid
        for key, value in t.writes.items():
            versions[key].append((ts, value, tid))
            self.superseded.append((ts, key))
        if self.ssi is not None:
            self.ssi.commit(t)
        self._release(t)

    def abort(self, t: ParticipantTxn) -> None:
        self._unqueue(t)
        if self.ssi is not None:
            self.ssi.abort(t)
        self._release(t)

    def tick(self, now: float) -> None:
        """Drop the versions superseded before ``retention`` ago; refuse older snapshots."""
        floor = self.clock.physical(now - self.retention)
        if floor <= self.floor:
            return
        self.floor = floor
        superseded, versions = self.superseded, self.versions
        while superseded and superseded[0][0] < floor:
            _, key = superseded.popleft()
            chain = versions[key]
            keep = len(chain) - 1
            while keep > 0 and chain[keep][0] > floor:
                keep -= 1
            if keep:
                del chain[:keep]
        if self.ssi is not None:
            self.ssi.prune(floor)
