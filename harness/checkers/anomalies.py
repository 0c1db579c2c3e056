"""How often a key-value history departs from linearizability, measured rather than failed: the
rates a user weighs against throughput and latency when a protocol promises less (a ZooKeeper
local read, a Dynamo read at ``one``). Computed from the client history of every consensus run
over the reads invoked in the measurement window (facts from :mod:`harness.checkers.registers`;
strict real-time comparisons, so events at one instant count as concurrent):

``stale_read_share``
    reads whose value is older than a write that completed before the read began (a write
    invoked after the read's own write completed) ÷ reads. A read of 0 is stale once any write
    of its key completed before it began.
``staleness_versions_mean`` / ``_p99``
    over the stale reads: how many such writes (invoked after the read's write completed,
    completed before the read began) the read missed.
``staleness_ms_mean`` / ``_p99``
    over the stale reads: how long before the read began its value had been overwritten (the
    first completion of such a write).
``nonlinearizable_share``
    reads that no linearization can place ÷ reads: their value was never written (or only after
    the read), or was overwritten before the read began by a write ``w'`` that started after the
    read's value was known to be in place (its write completed, or a read returned it) and was
    itself known to be in place (completed, or read) before the read began. It counts every
    stale read plus the reads that follow a newer read of a concurrent write; it is a lower
    bound of the reads not linearizable, exact for the single-read anomalies.
``monotonic_read_violations``
    reads that returned a value definitely older than one the same client had read from the
    same key before (an earlier read of that client that completed before this one began
    returned a write invoked after this read's value was known to be in place, or this read
    returned the initial value after a written one).
``read_your_writes_violations``
    reads that returned a value definitely older than a write of the same key the same client
    had completed before the read began.
"""

from __future__ import annotations

import numpy as np

from harness.checkers.registers import Reads, prev_max


def measure(reads: Reads, since: float) -> dict[str, float]:
    """The anomaly columns over the reads invoked at or after ``since`` (NaN shares and
    staleness when there is no such read or no stale one; counts are then 0)."""
    window = reads.t_inv >= since
    n = int(window.sum())
    stale = reads.stale & window
    versions, ms = _staleness(reads, np.flatnonzero(stale))
    nan = float("nan")
    return {
        "stale_read_share": int(stale.sum()) / n if n else nan,
        "staleness_versions_mean": float(versions.mean()) if len(versions) else nan,
        "staleness_versions_p99": float(np.percentile(versions, 99)) if len(versions) else nan,
        "staleness_ms_mean": float(ms.mean()) if len(ms) else nan,
        "staleness_ms_p99": float(np.percentile(ms, 99)) if len(ms) else nan,
        "nonlinearizable_share": int(((reads.gone | reads.thin_air) & window).sum()) / n if n else nan,
        "monotonic_read_violations": int((_monotonic(reads) & window).sum()),
        "read_your_writes_violations": int((_own_writes(reads) & window).sum()),
    }


def _staleness(reads: Reads, stale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Versions missed and ms since overwritten, per stale read. The versions are counted key
    by key, comparing the key's stale reads with its ok writes a block at a time: the cost grows
    with stale reads × writes of their key, in numpy."""
    ms = (reads.t_inv[stale] - reads.stale_since[stale]) * 1e3
    versions = np.zeros(len(stale))
    if not len(stale):
        return versions, ms
    ok = np.flatnonzero(reads.w_ok)
    ok = ok[np.argsort(reads.w_key[ok], kind="stable")]
    w_key = reads.w_key[ok]
    src = reads.src[stale]
    after = np.where(src >= 0, reads.w_ret[np.maximum(src, 0)], -np.inf)  # its write completed
    before = reads.t_inv[stale]
    r_key = reads.key[stale]
    order = np.argsort(r_key, kind="stable")
    cuts = np.flatnonzero(np.diff(r_key[order])) + 1
    for mine in np.split(order, cuts):
        k = r_key[mine[0]]
        writes = ok[np.searchsorted(w_key, k, "left"):np.searchsorted(w_key, k, "right")]
        inv, ret = reads.w_inv[writes], reads.w_ret[writes]
        step = max(1, BLOCK // max(len(writes), 1))
        for start in range(0, len(mine), step):
            part = mine[start:start + step]
            missed = (inv > after[part, None]) & (ret < before[part, None])
            versions[part] = missed.sum(axis=1)
    return versions, ms


BLOCK = 1 << 20  # comparisons per block of _staleness


def _monotonic(reads: Reads) -> np.ndarray:
    """Per read: an earlier read of the same client and key, completed before it began,
    returned a write invoked after this read's value was known to be in place."""
    seg_r = _session_key(reads.client, reads.key)
    has = reads.src >= 0
    newer = np.where(has, reads.w_inv[np.maximum(reads.src, 0)], -np.inf) if len(reads.w_inv) \
        else np.full(len(reads), -np.inf)
    seen = prev_max(seg_r, reads.t_ret, newer, seg_r, reads.t_inv)
    return reads.src_vis < seen


def _own_writes(reads: Reads) -> np.ndarray:
    """Per read: the same client completed a write of the key, invoked after this read's value
    was known to be in place, before the read began."""
    ok = reads.w_ok
    mine = prev_max(_session_key(reads.w_client[ok], reads.w_key[ok]), reads.w_ret[ok],
                    reads.w_inv[ok], _session_key(reads.client, reads.key), reads.t_inv)
    return reads.src_vis < mine


def _session_key(client: np.ndarray, key: np.ndarray) -> np.ndarray:
    """One integer per (client, key) pair."""
    return (client.astype(np.int64) << 40) ^ key.astype(np.int64)
