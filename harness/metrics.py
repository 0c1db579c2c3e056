"""Streaming run metrics every kind of run shares: latency histogram, throughput, outstanding
operations, unavailability and the time series. A kind that measures more (consensus:
leadership and failover, :mod:`harness.kinds.consensus.metrics`) extends :class:`Metrics`.

Memory stays bounded whatever the run length: latencies go into an HDR histogram (3 significant
digits, 1 us .. 1 h), the time series keeps only the current bucket's samples, and per-operation
state lives in the history (columnar) and the clients (outstanding operations only).

Measurement window ``[warmup, end]``: operations *invoked* in it feed the latency histogram when
they complete, and ``ops_failed``; those still unanswered at the end are reported apart
(``ops_outstanding`` and their ages), never mixed into the latencies of completed ones, so an
overloaded run shows its backlog without distorting the distribution; operations *completed* in it count for
throughput; attempts *sent* in it for ``abort_rate``.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from harness import faults

US = 1_000_000
BUFFERED = 1 << 16  # latencies buffered before they go into the histogram
# What an outage is attributed to: the kind of the event (events.csv) that preceded it.
CAUSE_OF = {**faults.CAUSES, "leader": "leader_change", "stepped-down": "leader_change"}
CAUSES = ("fault", "heal", "leader_change", "other")
CAUSE_HORIZON = 1.0  # seconds: an event longer before a gap is not taken for its cause


class Metrics:
    """Fed by the clients (``completed``, ``attempt``...) and the nemesis (``events``); read once,
    by ``finish``, for the run's ``runs.csv`` columns."""

    def __init__(self, warmup: float, bucket: float, gap: float):
        self.warmup = warmup
        self.bucket = bucket
        self.gap = gap
        self._hist = HdrHistogram(1, 3600 * US, 3)
        self._recorded = array("d")  # latencies (s) not yet in the histogram: filled in bulk
        self.attempts = 0
        self.timeouts = 0
        self.failed = 0
        self.committed = 0
        self.outstanding = 0
        self.outstanding_age = 0.0  # summed
        self.outstanding_age_max = 0.0
        self.events: list[tuple[float, int | str, str, str, float | None]] = []
        # A kind's metrics set this to be told of the next completion (``next_completion``).
        self.awaiting_completion = False
        # availability
        self._last_done = 0.0
        self.gaps: list[tuple[float, float]] = []
        # time series
        self.series: list[tuple[float, float, float, float, int | None, float]] = []
        self._bucket_index = 0
        self._bucket_end = bucket
        self._bucket_lat = array("d")  # latencies of the operations completed in the bucket

    # -- client side -----------------------------------------------------------------------
    def completed(self, invoke: float, done: float) -> None:
        if done >= self._bucket_end:
            self._roll(done)
        latency = done - invoke
        self._bucket_lat.append(latency)
        if invoke >= self.warmup:
            recorded = self._recorded
            recorded.append(latency)
            if len(recorded) >= BUFFERED:
                self._fill()
        if done >= self.warmup:
            self.committed += 1
        if done - self._last_done > self.gap:
            self.gaps.append((self._last_done, done))
        self._last_done = done
        if self.awaiting_completion:
            self.awaiting_completion = False
            self.next_completion(done)

    def next_completion(self, t: float) -> None:
        """The first operation completed (at ``t``) since ``awaiting_completion`` was set."""

    def gave_up(self, invoke: float) -> None:
        if invoke >= self.warmup:
            self.failed += 1

    def unfinished(self, invoke: float, end: float) -> None:
        """An operation still unanswered at ``end``: counted with its age, apart from the latencies."""
        if invoke >= self.warmup:
            age = end - invoke
            self.outstanding += 1
            self.outstanding_age += age
            self.outstanding_age_max = max(self.outstanding_age_max, age)

    def attempt(self, sent: float) -> None:
        if sent >= self.warmup:
            self.attempts += 1

    def timed_out(self, sent: float) -> None:
        if sent >= self.warmup:
            self.timeouts += 1

    @property
    def hist(self) -> HdrHistogram:
        """The latency histogram (us)."""
        if self._recorded:
            self._fill()
        return self._hist

    def _fill(self) -> None:
        """Record the buffered latencies, once per distinct value: recording one value is far
        slower than appending it to an array, and a histogram does not depend on the order.
        Each value is ``max(1, int(seconds * US))`` as for a single value: the same product,
        truncated toward zero."""
        recorded, self._recorded = self._recorded, array("d")
        us = np.maximum((np.frombuffer(recorded, dtype=np.float64) * US).astype(np.int64), 1)
        values, counts = np.unique(us, return_counts=True)
        record = self._hist.record_value
        for value, count in zip(values.tolist(), counts.tolist()):
            record(value, count)

    # -- time series ---------------------------------------------------------------------
    def _roll(self, t: float) -> None:
        """Close every bucket that ends at or before ``t``."""
        while t >= self._bucket_end:
            start = round(self._bucket_index * self.bucket, 9)
            lat = self._bucket_lat
            if lat:
                p50, p99 = np.percentile(np.frombuffer(lat, dtype=float), [50, 99]) * 1000
            else:
                p50 = p99 = float("nan")
            leader, leaderless = self.lane(start, self._bucket_end)
            self.series.append((start, len(lat) / self.bucket, p50, p99, leader, leaderless))
            self._bucket_lat = array("d")
            self._bucket_index += 1
            self._bucket_end = (self._bucket_index + 1) * self.bucket

    def lane(self, lo: float, hi: float) -> tuple[int | None, float]:
        """The leader lane of the bucket ``[lo, hi)`` (``timeseries.csv``'s ``leader`` and
        ``leaderless_ms``): empty here, where nobody leads."""
        return None, float("nan")

    def finish(self, end: float) -> dict[str, Any]:
        """Close the books at ``end`` and return the metric columns (units in the names)."""
        self._roll(end * (1 + 1e-12))  # the last bucket ends at ``end`` up to rounding
        if end - self._last_done > self.gap:
            self.gaps.append((self._last_done, end))
        outage = self._unavailability(end)
        window = max(end - self.warmup, 1e-12)
        h = self.hist
        n = h.get_total_count()
        values, counts = self._buckets()
        cumulative = np.cumsum(np.array(counts, dtype=np.int64))

        def pct(p: float) -> float:  # hdrh's get_value_at_percentile (p > 0)
            if not n:
                return float("nan")
            i = int(np.searchsorted(cumulative, h.get_target_count_at_percentile(p)))
            return values[i] / 1000

        # hdrh's get_mean_value: exact integer sum, then one division
        total = sum(c * h._hdr_median_equiv_value(v) for v, c in zip(values, counts))
        return {
            "throughput_ops_s": self.committed / window,
            "latency_mean_ms": float(total) / n / 1000 if n else float("nan"),
            "latency_p50_ms": pct(50),
            "latency_p95_ms": pct(95),
            "latency_p99_ms": pct(99),
            "latency_p999_ms": pct(99.9),
            "latency_max_ms": h.get_max_value() / 1000 if n else float("nan"),
            "ops_committed": self.committed,
            "ops_failed": self.failed,
            "ops_outstanding": self.outstanding,
            "outstanding_age_ms_mean": self.outstanding_age / self.outstanding * 1000
            if self.outstanding else float("nan"),
            "outstanding_age_ms_max": self.outstanding_age_max * 1000 if self.outstanding else float("nan"),
            "abort_rate": self.timeouts / self.attempts if self.attempts else 0.0,
            **outage,
        }

    def _unavailability(self, end: float) -> dict[str, float]:
        """``unavailable_ms``: the gaps between completed operations longer than the threshold,
        wherever they fall in the window, and the same split by the cause that preceded each
        gap (``unavailable_ms_<cause>``); each gap is also logged as an ``unavailable`` event."""
        total = dict.fromkeys(CAUSES, 0.0)
        causes = sorted((t, kind, node) for t, node, kind, _, _ in self.events if kind in CAUSE_OF)
        for a, b in self.gaps:
            lo, hi = max(a, self.warmup), min(b, end)
            if hi <= lo:
                continue
            cause, why = _cause(causes, a - CAUSE_HORIZON, a + self.gap)
            total[cause] += hi - lo
            self.events.append((hi, "-", "unavailable", f"{cause}: {why}", (hi - lo) * 1000))
        row = {"unavailable_ms": sum(total.values()) * 1000}
        row.update({f"unavailable_ms_{c}": v * 1000 for c, v in total.items()})
        return row

    def latency_histogram(self) -> list[tuple[float, int]]:
        """(latency_ms, count) for every distinct recorded value, for CDFs."""
        values, counts = self._buckets()
        return [(v / 1000, c) for v, c in zip(values, counts)]

    def _buckets(self) -> tuple[list[int], list[int]]:
        """The histogram's non-empty buckets in value order: the value each stands for (its
        highest equivalent value, as hdrh's recorded iterator reports it) and its count. hdrh
        walks all its buckets (23552) in Python for each percentile, the mean and an iteration;
        NumPy finds the non-empty ones at once and hdrh converts only those."""
        h = self.hist
        counts = np.ctypeslib.as_array(h.counts)[:h.counts_len]
        index = np.flatnonzero(counts)
        return ([h.get_highest_equivalent_value(h.get_value_from_index(i)) for i in index.tolist()],
                counts[index].tolist())


def _cause(causes: list[tuple[float, str, Any]], lo: float, hi: float) -> tuple[str, str]:
    """The cause of a gap: the last fault or heal in ``[lo, hi]`` (``hi``: when the gap became
    one), else the last leader change there, else "other". A heal beats the leader change it
    provokes (a rejoining node deposing the leader)."""
    recent = [c for c in causes if lo <= c[0] <= hi]
    found = [c for c in recent if CAUSE_OF[c[1]] != "leader_change"] or recent
    if not found:
        return "other", "no fault, heal or leader change before it"
    t, kind, node = found[-1]
    return CAUSE_OF[kind], f"after {kind} ({node}) at {t:.3f}s"

