"""What a key-value history says about each read, for the checkers of models weaker than
linearizability and for the anomaly measures: which write a read's value came from, and which
later writes had definitely overwritten it before the read began.

It relies on what the KV workload guarantees: every write writes a value of its own (the
command's uid), and 0 is the initial value of every key. A *write* is a put or a cas that
swapped; an indeterminate (``info``) put or cas may have taken effect at any time after its
invocation; a failed one never did. A *read* is a get that completed ok (a cas that did not swap
is not counted as a read).

Real-time facts, each strict (events at the same instant count as concurrent):

``vis(w)``
    the earliest moment ``w`` is known to have taken effect: its completion, or the completion
    of an earlier read that returned its value (an ``info`` write has only the latter).
``stale_since(w)``
    the earliest completion of an ok write of the same key invoked after ``w`` completed: from
    then on ``w``'s value is older than a completed write (``inf`` if never; for the initial
    value, the first completion of any ok write of the key).
``gone_since(w)``
    the earliest ``vis(w')`` of a write ``w'`` of the same key invoked after ``vis(w)``: from
    then on every linearization has overwritten ``w``'s value (``<= stale_since(w)``).

All of it is O(n log n) in numpy: sorts and segmented scans, no Python loop per operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.history import CAS, GET, INFO, OK, PENDING, PUT, History

INITIAL = -1    # source of a read of 0: the initial value
NO_WRITE = -2   # source of a read of a value no write of that key wrote


@dataclass
class Reads:
    """The ok reads of a history (op indices ``op``) with their sources, and the writes."""

    op: np.ndarray        # op index of each read, in invocation order
    key: np.ndarray
    client: np.ndarray
    t_inv: np.ndarray
    t_ret: np.ndarray
    src: np.ndarray       # index into the write arrays, INITIAL or NO_WRITE
    future: np.ndarray    # bool: the source write was invoked after the read completed
    stale_since: np.ndarray  # of the source (inf for NO_WRITE)
    gone_since: np.ndarray   # of the source (inf for NO_WRITE)
    src_vis: np.ndarray      # vis of the source (-inf for INITIAL, inf for NO_WRITE)
    w_op: np.ndarray      # writes: op index
    w_key: np.ndarray
    w_client: np.ndarray
    w_inv: np.ndarray
    w_ret: np.ndarray     # inf for an info write
    w_ok: np.ndarray      # bool: completed ok
    w_vis: np.ndarray

    def __len__(self) -> int:
        return len(self.op)

    @property
    def thin_air(self) -> np.ndarray:
        """Reads of a value no write of that key wrote, or wrote only after the read ended."""
        return (self.src == NO_WRITE) | self.future

    @property
    def stale(self) -> np.ndarray:
        """Reads of a value older than a write that completed before the read began."""
        return self.stale_since < self.t_inv

    @property
    def gone(self) -> np.ndarray:
        """Reads no linearization can place: their value was overwritten, in every
        linearization, before they began."""
        return self.gone_since < self.t_inv


def next_min(seg_d: np.ndarray, t_d: np.ndarray, v_d: np.ndarray,
             seg_q: np.ndarray, t_q: np.ndarray) -> np.ndarray:
    """For each query q: the least ``v_d[d]`` over the ``d`` with ``seg_d[d] == seg_q[q]`` and
    ``t_d[d] > t_q[q]`` (``inf`` if none)."""
    return _scan(seg_d, t_d, v_d, seg_q, t_q, after=True)


def prev_max(seg_d: np.ndarray, t_d: np.ndarray, v_d: np.ndarray,
             seg_q: np.ndarray, t_q: np.ndarray) -> np.ndarray:
    """For each query q: the greatest ``v_d[d]`` over the ``d`` with ``seg_d[d] == seg_q[q]``
    and ``t_d[d] < t_q[q]`` (``-inf`` if none)."""
    return -_scan(seg_d, t_d, -np.asarray(v_d, dtype=np.float64), seg_q, t_q, after=False)


def _scan(seg_d, t_d, v_d, seg_q, t_q, after: bool) -> np.ndarray:
    """Segmented running minimum of ``v_d``, read at the queries: over the later entries
    (``after``) or the earlier ones, ties in time excluded. Values are replaced by their ranks
    and each segment offset above the ones scanned after it, so one ``minimum.accumulate``
    never carries a minimum across segments."""
    nd, nq = len(t_d), len(t_q)
    if nq == 0:
        return np.zeros(0)
    if nd == 0:
        return np.full(nq, np.inf)
    v_d = np.asarray(v_d, dtype=np.float64)
    sorted_v = np.sort(v_d)
    rank = np.searchsorted(sorted_v, v_d).astype(np.int64)
    none = nd  # rank of "no entry"
    seg = np.concatenate((seg_d, seg_q))
    t = np.concatenate((t_d, t_q))
    # at equal times a query comes after the entries when scanning later ones (so they are
    # excluded) and before them when scanning earlier ones
    is_q = np.concatenate((np.zeros(nd, np.int8), np.ones(nq, np.int8)))
    tie = is_q if after else 1 - is_q
    order = np.lexsort((tie, t, seg))
    val = np.concatenate((rank, np.full(nq, none, np.int64)))[order]
    seg_sorted = seg[order]
    # segment number along the scan, increasing in the scan's direction
    seg_no = np.concatenate(([0], np.cumsum(seg_sorted[1:] != seg_sorted[:-1])))
    width = none + 1
    if after:  # scan from the end: segments met first must sit above those met later
        keyed = val + seg_no * width
        acc = np.minimum.accumulate(keyed[::-1])[::-1] - seg_no * width
    else:
        top = int(seg_no[-1]) if len(seg_no) else 0
        keyed = val + (top - seg_no) * width
        acc = np.minimum.accumulate(keyed) - (top - seg_no) * width
    out_rank = np.empty(nd + nq, np.int64)
    out_rank[order] = acc
    q_rank = out_rank[nd:]
    result = np.full(nq, np.inf)
    found = q_rank < none
    result[found] = sorted_v[q_rank[found]]
    return result


def reads_of(history: History) -> Reads:
    """The reads of ``history`` with their sources (see the module docstring). Pending ops are
    taken as info."""
    op = np.frombuffer(history.op, dtype=np.int8)
    status = np.frombuffer(history.status, dtype=np.int8)
    key = np.frombuffer(history.key, dtype=np.int64)
    value = np.frombuffer(history.value, dtype=np.int64)
    result = np.frombuffer(history.result, dtype=np.int64)
    client = np.frombuffer(history.client, dtype=np.int32)
    t_inv = np.frombuffer(history.t_invoke, dtype=np.float64)
    t_ret = np.where(status == PENDING, np.inf, np.frombuffer(history.t_return, dtype=np.float64))
    unknown = (status == INFO) | (status == PENDING)
    is_write = ((op == PUT) & ((status == OK) | unknown)) | \
               ((op == CAS) & (((status == OK) & (result != 0)) | unknown))
    w = np.flatnonzero(is_write)
    r = np.flatnonzero((op == GET) & (status == OK))
    w_key, w_val, w_inv, w_ret = key[w], value[w], t_inv[w], t_ret[w]
    w_ok = status[w] == OK
    r_key, r_val, r_inv, r_ret = key[r], result[r], t_inv[r], t_ret[r]

    # source: the write of that value (values are unique per write), on the same key
    src = np.full(len(r), NO_WRITE, dtype=np.int64)
    if len(w):
        by_val = np.argsort(w_val, kind="stable")
        pos = np.minimum(np.searchsorted(w_val[by_val], r_val), len(w) - 1)
        cand = by_val[pos]
        src = np.where((w_val[cand] == r_val) & (w_key[cand] == r_key), cand, NO_WRITE)
    src[r_val == 0] = INITIAL
    has = src >= 0
    s = np.maximum(src, 0)
    future = has & (w_inv[s] > r_ret) if len(w) else np.zeros(len(r), bool)

    # vis: completion, or the first completion of a read of it (reads from the future excluded)
    w_vis = w_ret.copy()
    seen = has & ~future
    np.minimum.at(w_vis, src[seen], r_ret[seen])

    okw = np.flatnonzero(w_ok)
    # stale_since: first completion of an ok write invoked after this write completed
    w_stale = next_min(w_key[okw], w_inv[okw], w_ret[okw], w_key, w_ret)
    init_stale = next_min(w_key[okw], w_inv[okw], w_ret[okw], r_key, np.full(len(r), -np.inf))
    # gone_since: first vis of a write invoked after this write became visible
    w_gone = next_min(w_key, w_inv, w_vis, w_key, w_vis)
    init_gone = next_min(w_key, w_inv, w_vis, r_key, np.full(len(r), -np.inf))

    stale_since = np.where(src == INITIAL, init_stale, np.inf)
    gone_since = np.where(src == INITIAL, init_gone, np.inf)
    src_vis = np.where(src == INITIAL, -np.inf, np.inf)
    if len(w):
        stale_since = np.where(has, w_stale[s], stale_since)
        gone_since = np.where(has, w_gone[s], gone_since)
        src_vis = np.where(has, w_vis[s], src_vis)
    return Reads(r, r_key, client[r], r_inv, r_ret, src, future, stale_since, gone_since, src_vis,
                 w, w_key, client[w], w_inv, w_ret, w_ok, w_vis)
