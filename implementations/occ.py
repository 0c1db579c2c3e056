"""Optimistic concurrency control: read phase, validation, write phase. Registered as ``occ``.

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
    Install the buffered writes as new versions (by ``PartitionNode``), release, and (backward)
    record the write set under the next commit number. Records older than every active
    transaction's start are pruned on the housekeeping tick.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mypy_extensions import mypyc_attr

from harness.protocol import ProtocolSpec
from implementations.options import OCCOptions
from implementations.twopc import GRANTED, PartitionNode
from implementations.txncore import ACTIVE, VALIDATION, X, Lock, PTxn, take_locks

__all__ = ["OptimisticCC", "OCC", "OCCOptions"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class OptimisticCC:
    __slots__ = ("node", "silo", "tn", "log", "plocks")

    def __init__(self, node: Any, validation: str = "backward"):
        if validation not in ("backward", "silo"):
            raise ValueError(f"unknown validation {validation!r}")
        self.node = node
        self.silo = validation == "silo"
        self.tn = 0                                         # committed writers so far
        self.log: deque[tuple[int, frozenset[int]]] = deque()  # (tn, write set), backward only
        self.plocks: dict[int, Lock] = {}                   # validation locks

    def begin(self, t: PTxn) -> None:
        t.start_tn = self.tn

    def access(self, t: PTxn, kind: int, key: int, now: float) -> int:
        return GRANTED

    def validate(self, t: PTxn) -> int:
        """0 and the validation locks taken, or VALIDATION."""
        plocks = self.plocks
        if plocks:
            for key in t.reads:
                lock = plocks.get(key)
                if lock is not None and lock.x and lock.x != t.tid:
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
                get = self.node.store.get
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

    def commit(self, t: PTxn) -> None:
        self._release(t)
        if t.writes:
            self.tn += 1
            if not self.silo:
                self.log.append((self.tn, frozenset(t.writes)))

    def abort(self, t: PTxn) -> None:
        self._release(t)

    def recover(self, t: PTxn) -> None:
        """Take ``t``'s validation locks (after validating, or found prepared in the log)."""
        take_locks(self.plocks, t)

    def tick(self, now: float) -> None:
        log = self.log
        if not log:
            return
        active = [t.start_tn for t in self.node.txns.values() if t.state == ACTIVE]
        oldest = min(active) if active else self.tn
        while log and log[0][0] <= oldest:
            log.popleft()

    def _release(self, t: PTxn) -> None:
        if t.held:
            plocks = self.plocks
            for key in t.held:
                lock = plocks[key]
                lock.release(t)
                if not lock.holders:
                    del plocks[key]
            t.held.clear()


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class OCC(PartitionNode):
    """OCC; multi-partition transactions commit with 2PC (default settings)."""

    def make_cc(self, options: Any) -> OptimisticCC:
        return OptimisticCC(self, options.validation)


# A constant rather than the decorator, as for Raft (see there).
SPEC = ProtocolSpec("occ", "transactions", OCC, OCCOptions,
                    "optimistic concurrency control (read, validate, write); backward or Silo-style")
