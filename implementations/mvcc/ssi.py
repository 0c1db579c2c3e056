"""Serializable snapshot isolation (Cahill, Röhm & Fekete, SIGMOD 2008) at one partition.

Every non-serializable execution of snapshot isolation has a *pivot*: a transaction with an
rw-antidependency in (a concurrent transaction read what it overwrote) and one out (it read what
a concurrent transaction overwrote). The tracker records, per transaction, whether it has an
in-edge and an out-edge (``rw_in``, ``rw_out``: Cahill's inConflict and outConflict), from:

* a read that skips a version newer than the reader's snapshot, or an intent that will commit
  after it: reader -rw-> that writer;
* a validating writer that finds a concurrent reader of a key it writes (the reader's SIREAD
  record): reader -rw-> writer.

and aborts (reason validation) the transaction still running that would complete a pivot: the
validating transaction itself when it has both edges, or the reader or writer whose new edge
makes an already validated transaction a pivot.

Across partitions
    A partition sees only the edges of its own keys. A transaction that spans several partitions
    may have its other edge on another one, so it is treated as if it had it: it fails
    validation with any rw-antidependency here, and a new edge to or from it once validated
    aborts the running party. Sound (no pivot commits unseen), at the price of more aborts for
    multi-partition transactions than a global conflict graph would cost.

Records are dropped once committed before the partition's snapshot floor: no transaction it
still serves is concurrent with them.
"""

from __future__ import annotations

from collections import deque

from harness.kinds.transactions.contract import VALIDATION
from implementations.txn.records import ParticipantTxn

__all__ = ["RWTracker", "Record"]

ACTIVE, VALIDATED, COMMITTED, ABORTED = 0, 1, 2, 3


class Record:
    """One transaction at this partition: its snapshot, commit timestamp (once validated), state,
    edges, whether it spans partitions, and the keys it read (its SIREAD records)."""

    __slots__ = ("tid", "snapshot", "commit_ts", "state", "rw_in", "rw_out", "multi", "keys")

    def __init__(self, tid: int, snapshot: int):
        self.tid = tid
        self.snapshot = snapshot
        self.commit_ts = 0
        self.state = ACTIVE
        self.rw_in = False
        self.rw_out = False
        self.multi = False
        self.keys: set[int] = set()


class RWTracker:
    """``records``: tid -> :class:`Record` (live ones and recently committed ones);
    ``sireads``: key -> the records that read it."""

    __slots__ = ("records", "sireads", "done")

    def __init__(self) -> None:
        self.records: dict[int, Record] = {}
        self.sireads: dict[int, list[Record]] = {}
        self.done: deque[Record] = deque()  # committed, in commit order: pruned from the left

    def begin(self, t: ParticipantTxn) -> None:
        self.records[t.tid] = Record(t.tid, t.snapshot)

    def read(self, t: ParticipantTxn, key: int, newer: list[int]) -> int:
        """``t`` reads ``key``, skipping the versions (or the intent) of the writers ``newer``:
        an edge ``t -rw-> w`` to each. VALIDATION if one would complete a validated pivot."""
        r = self.records[t.tid]
        records = self.records
        writers = []
        for tid in newer:
            w = records.get(tid)
            if w is None or (w.state != ACTIVE and (w.rw_out or w.multi)):
                return VALIDATION  # forgotten (be safe), or it would become a pivot
            writers.append(w)
        for w in writers:
            w.rw_in = True
            r.rw_out = True
        if key not in r.keys:
            r.keys.add(key)
            self.sireads.setdefault(key, []).append(r)
        return 0

    def validate(self, t: ParticipantTxn) -> int:
        """``t`` validates, about to commit at ``t.commit_ts``: its in-edges from the concurrent
        readers of the keys it writes, then the pivot check."""
        r = self.records[t.tid]
        r.commit_ts = t.commit_ts
        r.multi = len(t.participants) > 1
        readers = []
        sireads = self.sireads
        for key in t.writes:
            for u in sireads.get(key, ()):
                if u is r or u.state == ABORTED:
                    continue
                if u.state == COMMITTED and u.commit_ts <= t.snapshot:
                    continue  # committed before t began: not concurrent
                if u.state != ACTIVE and (u.rw_in or u.multi):
                    return VALIDATION  # u would become a pivot after its own check
                readers.append(u)
        rw_in = r.rw_in or bool(readers)
        if rw_in and r.rw_out:
            return VALIDATION  # t is the pivot
        if r.multi and (rw_in or r.rw_out):
            return VALIDATION  # its other edge may be on another partition
        for u in readers:
            u.rw_out = True
        r.rw_in = rw_in
        r.state = VALIDATED
        return 0

    def recover(self, t: ParticipantTxn) -> None:
        """``t`` was found prepared in the log: its edges are unknown, so assume both."""
        r = self.records[t.tid] = Record(t.tid, 0)
        r.commit_ts, r.state, r.rw_in, r.rw_out, r.multi = t.commit_ts, VALIDATED, True, True, True
        for key in t.reads:
            r.keys.add(key)
            self.sireads.setdefault(key, []).append(r)

    def commit(self, t: ParticipantTxn) -> None:
        r = self.records.get(t.tid)
        if r is not None:
            r.state = COMMITTED
            r.commit_ts = t.commit_ts
            self.done.append(r)

    def abort(self, t: ParticipantTxn) -> None:
        r = self.records.pop(t.tid, None)
        if r is not None:
            r.state = ABORTED
            self._forget(r)

    def prune(self, floor: int) -> None:
        """Forget the transactions committed before ``floor``."""
        done, records = self.done, self.records
        while done and done[0].commit_ts < floor:
            r = done.popleft()
            records.pop(r.tid, None)
            self._forget(r)

    def _forget(self, r: Record) -> None:
        sireads = self.sireads
        for key in r.keys:
            readers = sireads.get(key)
            if readers is not None:
                readers.remove(r)
                if not readers:
                    del sireads[key]
        r.keys.clear()
