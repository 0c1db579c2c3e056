"""Optimistic concurrency control, as a partition's strategy: read phase, validation, write phase.

Read phase
    Operations never wait: a read returns the committed value and records its version; a write
    is buffered in the transaction (read-modify-write: the old version is recorded as read).

Validation (at commit, or at prepare under 2PC), two schemes (``protocols.occ.validation``)
    backward (default; Kung & Robinson's serial validation)
        Each partition numbers its committed writers; a transaction remembers the number current
        at its first operation here and fails if any writer committed since then wrote a key it
        read -- even one it read after that commit (the classic scheme's false positives).
    silo (Tu et al., SOSP 2013)
        Lock the write set, then check that every key read still has the version read: only a
        real overwrite fails.
    Both also fail against transactions that validated here and are still waiting for their
    commit decision (2PC): a read of a key such a transaction will write, or a write of a key it
    read or will write. Passing validation takes those *validation locks* (S on reads, X on
    writes; never waited for), held until the decision, which is what keeps validations at
    different partitions serializable together. In one-phase commit, validation and the write
    phase run in the same step, so they are released at once.

Write phase
    Install the buffered writes as new versions (by the participant), release, and (backward)
    record the write set under the next commit number. Records older than every active
    transaction's start are pruned on the housekeeping tick.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mypy_extensions import mypyc_attr

from harness.kinds.transactions.contract import VALIDATION
from implementations.txn.concurrency import GRANTED, ConcurrencyControl
from implementations.txn.locks import X, Lock, take_locks
from implementations.txn.records import ACTIVE, ParticipantTxn

__all__ = ["OptimisticCC"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class OptimisticCC(ConcurrencyControl):
    """Validation over a partition's committed writers (``tn`` so far; their write sets in ``log``,
    backward only) and its validation locks (``plocks``). ``partition`` is the participant role,
    or anything offering what :mod:`implementations.txn.concurrency` lists."""

    __slots__ = ("partition", "silo", "tn", "log", "plocks")

    def __init__(self, partition: Any, validation: str = "backward"):
        if validation not in ("backward", "silo"):
            raise ValueError(f"unknown validation {validation!r}")
        self.partition = partition
        self.silo = validation == "silo"
        self.tn = 0                                         # committed writers so far
        self.log: deque[tuple[int, frozenset[int]]] = deque()  # (tn, write set), backward only
        self.plocks: dict[int, Lock] = {}                   # validation locks

    def begin(self, t: ParticipantTxn) -> None:
        t.start_tn = self.tn

    def access(self, t: ParticipantTxn, kind: int, key: int, now: float) -> int:
        return GRANTED

    def validate(self, t: ParticipantTxn) -> int:
        """0 and the validation locks taken, or VALIDATION."""
        plocks = self.plocks
        if plocks:
            for key in t.reads:
                lock = plocks.get(key)
                if lock is not None and lock.exclusive and lock.exclusive != t.tid:
                    t.conflict = True
                    return VALIDATION
            for key in t.writes:
                lock = plocks.get(key)
                if lock is not None and not lock.compatible(t, X):
                    t.conflict = True
                    return VALIDATION
        reads = t.reads
        if reads:
            if self.silo:
                get = self.partition.store.get
                for key, version in reads.items():
                    if get(key)[1] != version:
                        t.conflict = True
                        return VALIDATION
            else:
                start = t.start_tn
                for tn, keys in reversed(self.log):
                    if tn <= start:
                        break
                    if not keys.isdisjoint(reads):
                        t.conflict = True
                        return VALIDATION
        self.recover(t)
        return 0

    def commit(self, t: ParticipantTxn) -> None:
        self._release(t)
        if t.writes:
            self.tn += 1
            if not self.silo:
                self.log.append((self.tn, frozenset(t.writes)))

    def abort(self, t: ParticipantTxn) -> None:
        self._release(t)

    def recover(self, t: ParticipantTxn) -> None:
        """Take ``t``'s validation locks (after validating, or found prepared in the log)."""
        take_locks(self.plocks, t)

    def tick(self, now: float) -> None:
        log = self.log
        if not log:
            return
        active = [t.start_tn for t in self.partition.transactions() if t.state == ACTIVE]
        oldest = min(active) if active else self.tn
        while log and log[0][0] <= oldest:
            log.popleft()

    def _release(self, t: ParticipantTxn) -> None:
        if t.held:
            plocks = self.plocks
            for key in t.held:
                lock = plocks[key]
                lock.release(t)
                if not lock.holders:
                    del plocks[key]
            t.held.clear()
