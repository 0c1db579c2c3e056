"""Judging a protocol that promises atomicity in the end and no isolation (Saga, TCC:
:data:`~harness.kinds.transactions.contract.ATOMIC_IN_THE_END`), and measuring what it gives up.

The promise (a violation fails the run's safety)
    Once the run has drained, every transaction is settled the same way at every partition it
    touched -- confirmed everywhere or undone everywhere -- and nothing is half done anywhere (no
    step unsettled, no confirmation undelivered, no amount frozen that no transaction will
    release); a transaction its client saw commit is undone nowhere; and the bank total is the
    initial one at the end and at every quiescent point (checked by
    :class:`~harness.checkers.serializability.TxnChecker`).

The anomalies (measured, never failed)
    ``dirty_reads``: reads by one transaction of a key whose value held another transaction's
    step that was later undone (one per read and undone transaction). ``lost_updates``: updates
    one transaction made to a key on top of another's step that was later undone -- each one a
    compensation restoring the key's earlier value would have erased (the bank's compensation
    moves the amount back instead, so the total survives; the update was still made on a value
    that did not last). ``invariant_exposure_ms``: the time within the measured window during
    which the sum of the committed balances differed from the initial total, as the partitions'
    durable changes (``"moved"`` observations) show it.
"""

from __future__ import annotations

from typing import Any, Iterable

from harness.kinds.transactions.contract import tid_str

__all__ = ["Settlement"]

CONFIRMED, UNDONE = 1, 2


class Settlement:
    """Collects the partitions' settlements and balance changes of a run (window
    ``[warmup, end]``); :meth:`verdicts` judges the promise, :meth:`columns` the anomalies."""

    __slots__ = ("warmup", "end", "outcomes", "spanned", "_first", "mixed", "dirty_reads", "lost_updates",
                 "moves")

    def __init__(self, warmup: float, end: float):
        self.warmup = warmup
        self.end = end
        self.outcomes: dict[int, int] = {}  # tid -> CONFIRMED | UNDONE bits seen
        self.spanned: set[int] = set()  # tids settled at two partitions or more
        self._first: dict[int, int] = {}  # tid -> the partition it was first settled at
        self.mixed = ""
        self.dirty_reads = 0
        self.lost_updates = 0
        self.moves: list[tuple[float, int]] = []  # (time, change of the committed total)

    def settled(self, node: int, tid: int, confirmed: bool, t: float) -> None:
        seen = self.outcomes.get(tid, 0) | (CONFIRMED if confirmed else UNDONE)
        self.outcomes[tid] = seen
        if self._first.setdefault(tid, node) != node:
            self.spanned.add(tid)
        if seen == CONFIRMED | UNDONE and not self.mixed:
            self.mixed = (f"atomicity in the end: {tid_str(tid)} confirmed at one partition and "
                          f"undone at another ({'confirmed' if confirmed else 'undone'} at "
                          f"partition {node}, t={t:.6f}s)")

    def undone_seen(self, reads: int, writes: int) -> None:
        self.dirty_reads += reads
        self.lost_updates += writes

    def moved(self, t: float, delta: int) -> None:
        self.moves.append((t, delta))

    def exposure(self) -> float:
        """Seconds within the window during which the committed total was off. (The partitions'
        observations arrive in each one's own order: sorted here.)"""
        offset, since, exposed = 0, 0.0, 0.0
        for t, delta in sorted(self.moves):
            if offset:
                exposed += max(0.0, min(t, self.end) - max(since, self.warmup))
            offset += delta
            since = t
        if offset:
            exposed += max(0.0, self.end - max(since, self.warmup))
        return exposed

    def verdicts(self, acked: Iterable[int], unsettled: list[tuple[int, str]]) -> list[tuple[str, str]]:
        """``acked``: the attempts a client saw commit; ``unsettled``: (partition, what) still
        half done after the drain."""
        if self.mixed:
            return [("violation", self.mixed)]
        for tid in acked:
            if self.outcomes.get(tid, 0) & UNDONE:
                return [("violation", f"atomicity in the end: {tid_str(tid)} was undone, but its "
                                      "client saw it commit")]
        if unsettled:
            node, what = unsettled[0]
            more = f" (and {len(unsettled) - 1} more)" if len(unsettled) > 1 else ""
            return [("violation", f"atomicity in the end: after the drain, at partition {node}, "
                                  f"{what}{more}")]
        return [("ok", "")]

    def columns(self, committed: int) -> dict[str, Any]:
        per = 1000 / committed if committed else 0.0
        return {"dirty_reads_per_1k_txn": self.dirty_reads * per,
                "lost_updates_per_1k_txn": self.lost_updates * per,
                "invariant_exposure_ms": self.exposure() * 1000}
