"""Checkers of the consistency models weaker than linearizability that a replication protocol may
promise (:mod:`harness.kinds.consensus.contract`), each on a key-value client history. Each
returns ``(status, detail)`` like the other checkers; a violation's detail starts with the
model's name.

``eventual`` (:func:`check_eventual`)
    No read out of thin air: every read returns 0 (the initial value) or the value of a put or
    cas of the same key that was not refused and was invoked before the read completed.
``regular`` (:func:`check_regular`)
    Eventual, and per key Lamport's regular register with many writers: a read returns the value
    of a write that was not overwritten, before the read began, by a write that completed before
    it began and had been invoked after the read's write completed. So a read may return any
    write concurrent with it, or any of the latest writes completed before it, never an older one.
``sequential`` (:func:`check_sequential`)
    ZooKeeper's guarantee, judged against the agreed log, which is the order of writes: every
    write acknowledged as a swap (or not) did so when the log is replayed; writes take effect in
    the log in an order that respects real time (linearizable writes); and each client's
    operations, in the order it issued them, can be placed at non-decreasing points of the log:
    a write at its index, a read at any point where its value is the key's current one. That
    rules out a read of a value older than one the same client already read or wrote (monotonic
    reads, read-your-writes), a read of a value written after the read completed, and a client's
    write taking effect before its earlier operations.

Each is O(n log n) over the history, the sequential check plus a pass over the log.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.checkers.registers import INITIAL, NO_WRITE, Reads, reads_of
from harness.history import CAS, GET, OK, History
from workloads.kv import OP_NAMES

__all__ = ["check_eventual", "check_regular", "check_sequential"]

Verdict = tuple[str, str]


def _read(h: History, i: int) -> str:
    return (f"client {h.client[i]}'s get of key {h.key[i]} "
            f"[{h.t_invoke[i]:.6f}s, {h.t_return[i]:.6f}s] returned {h.result[i]}")


def _thin_air(model: str, h: History, reads: Reads) -> Verdict | None:
    bad = np.flatnonzero(reads.thin_air)
    if not len(bad):
        return None
    j = int(bad[0])
    why = ("a value no write of that key wrote" if reads.src[j] == NO_WRITE else
           f"a value whose write was invoked only at {reads.w_inv[reads.src[j]]:.6f}s")
    return "violation", (f"{model}: {_read(h, int(reads.op[j]))}, {why} "
                         f"({len(bad)} such reads)")


def check_eventual(history: History, reads: Reads | None = None) -> Verdict:
    reads = reads_of(history) if reads is None else reads
    return _thin_air("eventual", history, reads) or \
        ("ok", f"{len(reads)} reads each returned a written value")


def check_regular(history: History, reads: Reads | None = None) -> Verdict:
    reads = reads_of(history) if reads is None else reads
    bad = _thin_air("regular", history, reads)
    if bad:
        return bad
    stale = np.flatnonzero(reads.stale)
    if len(stale):
        j = int(stale[0])
        old = "the initial value" if reads.src[j] == INITIAL else "a value"
        return "violation", (f"regular: {_read(history, int(reads.op[j]))}, {old} overwritten by "
                             f"a write completed at {reads.stale_since[j]:.6f}s, before the read "
                             f"began ({len(stale)} such reads)")
    return "ok", f"{len(reads)} reads each returned a current or concurrent write"


def check_sequential(history: History, log_uids: Any, reads: Reads | None = None) -> Verdict:
    """``log_uids``: the agreed applied sequence (uid per log index; anything not the uid of a
    put or cas of ``history`` -- a no-op, a get -- is passed over)."""
    reads = reads_of(history) if reads is None else reads
    bad = _thin_air("sequential", history, reads)
    if bad:
        return bad
    h = history
    n = len(h)
    op, key, value, expected = h.op, h.key, h.value, h.expected
    writer = {value[i]: i for i in range(n) if op[i] != GET}  # a write's value is its uid
    at = [0] * n        # log index of each put/cas (0: not in the log)
    next_write: dict[int, int] = {}  # op index of a write -> log index of the key's next write
    first_write: dict[int, int] = {}  # key -> log index of its first write
    current: dict[int, int] = {}      # key -> value during the replay
    current_op: dict[int, int] = {}   # key -> op index of the write of that value
    wrote: set[int] = set()           # op indices of the puts and cas that change the value
    for index, uid in enumerate(log_uids, 1):
        i = writer.get(uid)
        if i is None or at[i]:
            continue
        at[i] = index
        k = key[i]
        swapped = op[i] != CAS or current.get(k, 0) == expected[i]
        if op[i] == CAS and h.status[i] == OK and bool(h.result[i]) != swapped:
            return "violation", (f"sequential: client {h.client[i]}'s cas of key {k} was "
                                 f"acknowledged as {'a swap' if h.result[i] else 'no swap'} but "
                                 f"at log index {index} it {'swaps' if swapped else 'does not swap'}")
        if swapped:
            wrote.add(i)
            prev = current_op.get(k)
            if prev is None:
                first_write[k] = index
            else:
                next_write[prev] = index
            current[k], current_op[k] = value[i], i
    bad = _writes_in_real_time(h, at)
    if bad:
        return bad
    return _sessions(h, reads, at, wrote, next_write, first_write)


def _writes_in_real_time(h: History, at: list[int]) -> Verdict | None:
    """A write placed in the log after another must not have completed before that one was
    invoked."""
    logged = sorted((at[i], i) for i in range(len(at)) if at[i])
    earliest_end = float("inf")
    later = -1
    for _, i in reversed(logged):
        if h.t_invoke[i] > earliest_end:
            return "violation", (f"sequential: client {h.client[i]}'s {OP_NAMES[h.op[i]]} of key "
                                 f"{h.key[i]} invoked at {h.t_invoke[i]:.6f}s is at log index "
                                 f"{at[i]}, after client {h.client[later]}'s {OP_NAMES[h.op[later]]} "
                                 f"(index {at[later]}) that completed at {h.t_return[later]:.6f}s")
        if h.status[i] == OK and h.t_return[i] < earliest_end:
            earliest_end, later = h.t_return[i], i
    return None


def _sessions(h: History, reads: Reads, at: list[int], wrote: set[int],
              next_write: dict[int, int], first_write: dict[int, int]) -> Verdict:
    """Place each client's operations, in issue order, at non-decreasing log points
    (greedily at the earliest point each allows)."""
    inf = float("inf")
    window: dict[int, tuple[int, float]] = {}  # read op index -> (first, last) log point allowed
    for j in range(len(reads)):
        s = int(reads.src[j])
        i = int(reads.op[j])
        if s == INITIAL:
            window[i] = (0, first_write.get(h.key[i], inf) - 1)
        else:
            w = int(reads.w_op[s])
            if w not in wrote:  # read a write the log never took, or a cas that does not swap
                where = "a cas that does not swap in" if at[w] else "a write that is not in"
                return "violation", f"sequential: {_read(h, i)}, the value of {where} the agreed log"
            window[i] = (at[w], next_write.get(w, inf) - 1)
    point: dict[int, tuple[int, int]] = {}  # client -> (log point reached, op that reached it)
    for i in range(len(h)):
        c = h.client[i]
        lo, by = point.get(c, (0, -1))
        if i in window:
            first, last = window[i]
            if max(lo, first) > last:
                return "violation", (f"sequential: {_read(h, i)}, overwritten at log index "
                                     f"{last + 1}, but the client's earlier "
                                     f"{OP_NAMES[h.op[by]]} of key {h.key[by]} already placed it "
                                     f"at index {lo}")
            point[c] = (max(lo, first), by if lo >= first else i)
        elif at[i]:
            if at[i] <= lo:
                return "violation", (f"sequential: client {c}'s {OP_NAMES[h.op[i]]} of key "
                                     f"{h.key[i]} is at log index {at[i]}, before its earlier "
                                     f"{OP_NAMES[h.op[by]]} of key {h.key[by]} (index {lo})")
            point[c] = (at[i], i)
    return "ok", f"{len(reads)} reads in per-client order against a log of {max(at, default=0)} entries"
