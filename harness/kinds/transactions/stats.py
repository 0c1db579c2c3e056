"""Transaction counters of a transactions run (``kind: transactions``), fed by its clients and
partitions, turned into the kind's ``runs.csv`` columns (see
:mod:`harness.kinds.transactions.world`)."""

from __future__ import annotations

import math
from typing import Any

from harness.checkers.serializability import TxnChecker
from harness.kinds.transactions.contract import REASONS

NAN = math.nan


class TxnStats:
    """Transaction counters over the measured window (attempts that *ended* in it)."""

    __slots__ = ("warmup", "end", "checker", "attempts", "aborted", "conflicts", "reasons",
                 "txns", "retries", "commit_time", "commits", "lock_wait", "lock_waits",
                 "in_doubt", "blocked", "blocked_max", "replication")

    def __init__(self, warmup: float, end: float, checker: TxnChecker):
        self.warmup = warmup
        self.end = end
        self.checker = checker
        self.attempts = self.aborted = self.conflicts = self.txns = self.retries = 0
        self.reasons = [0] * len(REASONS)
        self.commit_time = 0.0
        self.commits = 0
        self.lock_wait = 0.0
        self.lock_waits = 0
        self.in_doubt = 0.0
        self.blocked = 0.0
        self.blocked_max = 0.0
        self.replication: dict[str, list[float]] = {}  # phase -> [seconds, records]

    # -- from the clients -----------------------------------------------------------------------
    def attempt(self, t: float, reason: int, conflict: bool) -> None:
        if t >= self.warmup:
            self.attempts += 1
            if reason:
                self.aborted += 1
                self.reasons[reason] += 1
            if conflict:
                self.conflicts += 1

    def commit_phase(self, t: float, seconds: float) -> None:
        if t >= self.warmup:
            self.commit_time += seconds
            self.commits += 1

    def finished(self, t: float, retries: int) -> None:
        if t >= self.warmup:
            self.txns += 1
            self.retries += retries

    def acked(self, tid: int, reads: Any = None, writes: Any = None) -> None:
        self.checker.acked(tid, reads, writes)

    # -- from the partitions ------------------------------------------------------------------
    def waited(self, t: float, seconds: float) -> None:
        if self.warmup <= t <= self.end:
            self.lock_wait += seconds
            self.lock_waits += 1

    def doubted(self, start: float, overdue: float, end: float) -> None:
        """A participant was in doubt from ``start`` to ``end``, blocked (waiting for an overdue
        decision) from ``overdue`` on. Counted within the measured window."""
        lo, hi = self.warmup, self.end
        inside = min(end, hi) - max(start, lo)
        if inside > 0:
            self.in_doubt += inside
        blocked = min(end, hi) - max(overdue, lo)
        if blocked > 0:
            self.blocked += blocked
            if end - overdue > self.blocked_max:
                self.blocked_max = end - overdue

    def replicated(self, t: float, phase: str, seconds: float) -> None:
        """A replicated partition's ``phase`` record ("prepare", "commit") took ``seconds`` from
        proposal to being applied by its group."""
        if self.warmup <= t <= self.end:
            total = self.replication.setdefault(phase, [0.0, 0])
            total[0] += seconds
            total[1] += 1

    def columns(self) -> dict[str, Any]:
        n = self.attempts
        row: dict[str, Any] = {
            "abort_rate": self.aborted / n if n else 0.0,
            "conflict_rate": self.conflicts / n if n else 0.0,
        }
        for reason in range(1, len(REASONS)):
            row[f"aborts_{REASONS[reason]}"] = self.reasons[reason]
        row["retries_per_txn"] = self.retries / self.txns if self.txns else 0.0
        row["lock_wait_ms_mean"] = self.lock_wait / self.lock_waits * 1000 if self.lock_waits else NAN
        row["twopc_ms_mean"] = self.commit_time / self.commits * 1000 if self.commits else NAN
        row["in_doubt_ms"] = self.in_doubt * 1000
        row["blocked_ms"] = self.blocked * 1000
        row["blocked_ms_max"] = self.blocked_max * 1000
        for phase, (seconds, records) in sorted(self.replication.items()):  # replicated runs only
            row[f"replicate_{phase}_ms_mean"] = seconds / records * 1000
        row["txn_attempts"] = n
        return row
