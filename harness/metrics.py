"""Streaming run metrics: latency histogram, throughput, time series, leadership and failover.

Memory stays bounded whatever the run length: latencies go into an HDR histogram (3 significant
digits, 1 us .. 1 h), the time series keeps only the current bucket's samples, and per-operation
state lives in the history (columnar) and the clients (outstanding operations only).

Measurement window ``[warmup, end]``: operations *invoked* in it feed the latency histogram when
they complete, and ``ops_failed``; those still unanswered at the end are reported apart
(``ops_outstanding`` and their ages), never mixed into the latencies of completed ones, so an
overloaded run shows its backlog without distorting the distribution; operations *completed* in it count for
throughput; attempts *sent* in it for ``abort_rate``; leader elections, failovers and leader CPU
in it for the leadership columns.
"""

from __future__ import annotations

import bisect
from array import array
from typing import Any, Callable

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
        self.retransmits = 0
        self.repairs = 0
        self.loss_blocked = 0.0  # seconds, summed over followers, inside the window
        self.events: list[tuple[float, int | str, str, str, float | None]] = []
        # leadership
        self.leader_node: int | None = None
        self.leader_term = -1
        self.leader_elections = 0   # in the window, the very first election of the run excluded
        self._elected = False
        self.leader_log: tuple[list[float], list[int | None]] = ([], [])  # for the time series
        self.majority = 1  # of the replicas (set by a consensus world)
        self.replicas = 1
        self.led = False  # the world has a leader (a consensus world says so)
        self.failovers: list[float] = []  # fault -> a newer leader elected
        self.failovers_heard: list[float] = []  # fault -> a majority heard from that leader
        self.failovers_commit: list[float] = []  # fault -> the first operation completed after it
        self._failover_from: float | None = None
        self._heard_from: float | None = None  # a failover whose new leader a majority has not heard
        self._commit_from: float | None = None  # a failover whose first commit is still to come
        self._heard: set[int] = set()  # replicas that heard from the leader of leader_term
        self._busy: Callable[[int, float], float] = lambda node, t: 0.0
        self._lead_since = 0.0
        self._lead_busy0 = 0.0
        self.lead_time = 0.0
        self.lead_busy = 0.0
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
        if self._commit_from is not None:
            self._failover_step(self.failovers_commit, self._commit_from, done, "first commit")
            self._commit_from = None

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

    # -- protocol observations ---------------------------------------------------------------
    def observe(self, node: int, event: str, value: Any, t: float) -> None:
        """``retransmit``: a leader re-sent ``value`` replication messages nobody acknowledged.
        ``repair``: a leader sent ``value`` messages to fill a gap a replica reported.
        ``loss_blocked``: a follower has just filled a gap that outlived the reorder
        tolerance (a lost message); it held the replication messages behind it, unable to
        acknowledge them, for ``value`` seconds.
        ``heard_leader``: a replica accepted a first message from the leader of term ``value``.
        ``stepped_down``: the leader of term ``value`` stopped leading (the cluster is leaderless
        until the next election)."""
        if event == "retransmit":
            if t >= self.warmup:
                self.retransmits += value
        elif event == "repair":
            if t >= self.warmup:
                self.repairs += value
        elif event == "loss_blocked":
            if t > self.warmup:
                self.loss_blocked += t - max(t - value, self.warmup)
        elif event == "heard_leader":
            if value == self.leader_term and node != self.leader_node:
                self._heard.add(node)
                if self._heard_from is not None and len(self._heard) + 1 >= self.majority:
                    self._failover_step(self.failovers_heard, self._heard_from, t, "majority heard")
                    self._heard_from = None
        elif event == "stepped_down":
            if value == self.leader_term and node == self.leader_node:
                self._close_lead(t)
                self._set_leader(None, t)
                self.events.append((t, node, "stepped-down", f"term {value}", None))

    def _failover_step(self, into: list[float], start: float, t: float, what: str) -> None:
        if start >= self.warmup:
            into.append(t - start)
        self.events.append((t, "-", "failover-" + what.replace(" ", "-"), what, (t - start) * 1000))

    # -- leadership ------------------------------------------------------------------------
    def watch_cpu(self, busy: Callable[[int, float], float]) -> None:
        """``busy(node, t)``: CPU seconds ``node`` had spent by time ``t``."""
        self._busy = busy

    def _set_leader(self, node: int | None, t: float) -> None:
        self.leader_node = node
        self.leader_log[0].append(t)
        self.leader_log[1].append(node)

    def leader(self, node: int, term: int, t: float) -> None:
        if term <= self.leader_term:
            return  # a stale announcement (a deposed leader re-elected in an old term cannot happen)
        self._close_lead(t)
        if self._elected and t >= self.warmup:
            self.leader_elections += 1
        self._elected = True
        self.leader_term = term
        self._set_leader(node, t)
        self._heard = set()
        self._lead_since, self._lead_busy0 = t, self._busy(node, t)
        self.events.append((t, node, "leader", f"term {term}", None))
        if self._failover_from is not None:
            start = self._failover_from
            self._failover_from = None
            self._heard_from = self._commit_from = start
            if self.majority <= 1:
                self._failover_step(self.failovers_heard, start, t, "majority heard")
                self._heard_from = None
            if start >= self.warmup:
                self.failovers.append(t - start)
            self.events.append((t, node, "failover", "new leader established", (t - start) * 1000))

    def leader_lost(self, t: float, why: str) -> None:
        """A fault hit the current leader: time the failover until a newer leader is elected."""
        if self.leader_node is None or self._failover_from is not None:
            return
        self._failover_from = t
        self._heard_from = self._commit_from = None  # the previous failover's steps end here
        if why == "crash":
            self._close_lead(t)
            self._set_leader(None, t)

    def _close_lead(self, t: float) -> None:
        node = self.leader_node
        if node is not None and t > self.warmup:
            self.lead_time += t - max(self._lead_since, self.warmup)
            self.lead_busy += self._busy(node, t) - self._lead_busy0
        self._lead_since = t
        if node is not None:
            self._lead_busy0 = self._busy(node, t)

    def begin_measurement(self, t: float) -> None:
        """Called at the end of warm-up: leader CPU accounting restarts here."""
        if self.leader_node is not None:
            self._lead_since, self._lead_busy0 = t, self._busy(self.leader_node, t)

    # -- time series ---------------------------------------------------------------------
    def _roll(self, t: float) -> None:
        """Close every bucket that ends at or before ``t``."""
        times, leaders = self.leader_log
        while t >= self._bucket_end:
            start = round(self._bucket_index * self.bucket, 9)
            at_end = bisect.bisect_right(times, self._bucket_end) - 1
            leader = leaders[at_end] if at_end >= 0 else None
            lat = self._bucket_lat
            if lat:
                p50, p99 = np.percentile(np.frombuffer(lat, dtype=float), [50, 99]) * 1000
            else:
                p50 = p99 = float("nan")
            none = self._leaderless(start, self._bucket_end) * 1000 if self.led else float("nan")
            self.series.append((start, len(lat) / self.bucket, p50, p99, leader, none))
            self._bucket_lat = array("d")
            self._bucket_index += 1
            self._bucket_end = (self._bucket_index + 1) * self.bucket

    def _leaderless(self, lo: float, hi: float) -> float:
        """Seconds of ``[lo, hi)`` with no leader (before the first election, after a crash or a
        step-down until the next election): every stretch, however short."""
        times, leaders = self.leader_log
        k = bisect.bisect_right(times, lo) - 1
        current = leaders[k] if k >= 0 else None
        since, total = lo, 0.0
        for k in range(k + 1, bisect.bisect_left(times, hi)):
            if current is None:
                total += times[k] - since
            current, since = leaders[k], times[k]
        if current is None:
            total += hi - since
        return total

    def finish(self, end: float) -> dict[str, Any]:
        """Close the books at ``end`` and return the metric columns (units in the names)."""
        self._roll(end * (1 + 1e-12))  # the last bucket ends at ``end`` up to rounding
        self._close_lead(end)
        if self._failover_from is not None:  # never recovered: count it up to the end
            start = self._failover_from
            if start >= self.warmup:
                self.failovers.append(end - start)
            self.events.append((end, "-", "failover", "no new leader before the end", (end - start) * 1000))
            self._heard_from = self._commit_from = start
        if self._heard_from is not None:
            self._failover_step(self.failovers_heard, self._heard_from, end, "majority heard")
        if self._commit_from is not None:
            self._failover_step(self.failovers_commit, self._commit_from, end, "first commit")
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
            "retransmissions_per_op": self.retransmits / max(self.committed, 1),
            "repairs_per_op": self.repairs / max(self.committed, 1),
            "loss_blocked_share": self.loss_blocked / (window * max(self.replicas - 1, 1)),
            "leader_changes": self.leader_elections,
            "failover_ms_mean": float(np.mean(self.failovers)) * 1000 if self.failovers else float("nan"),
            "failover_ms_max": max(self.failovers) * 1000 if self.failovers else float("nan"),
            "failover_heard_ms_mean": _mean_ms(self.failovers_heard),
            "failover_commit_ms_mean": _mean_ms(self.failovers_commit),
            "failover_commit_ms_max": max(self.failovers_commit) * 1000 if self.failovers_commit else float("nan"),
            **outage,
            # min: a leadership starts inside the handler that won it, whose CPU is charged whole
            "leader_cpu_utilization": min(1.0, self.lead_busy / self.lead_time) if self.lead_time else float("nan"),
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


def _mean_ms(values: list[float]) -> float:
    return float(np.mean(values)) * 1000 if values else float("nan")
