"""A consensus run's metrics: the kind-neutral ones (:class:`harness.metrics.Metrics`) plus
leadership, failover and the cost of replication, from what the replicas report
(``became_leader`` and the ``observe`` events of :mod:`harness.kinds.consensus`) and the faults
the nemesis says hit the leader.

Leadership is optional: a protocol that declares itself leaderless (``ProtocolSpec.leaderless``:
none of its nodes ever reports leading) gets no leadership numbers made up -- ``leader_changes``,
the failover columns and leader CPU are NaN and the time series' leader lane is empty, as in a
kind without a leader. A protocol with a leader that never elects one shows just that: no leader
changes, leaderless all along.

Measurement window ``[warmup, end]``: leader elections, failovers and leader CPU in it count.
"""

from __future__ import annotations

import bisect
from typing import Any, Callable

import numpy as np

from harness.metrics import Metrics

NAN = float("nan")


class ConsensusMetrics(Metrics):
    def __init__(self, warmup: float, bucket: float, gap: float, replicas: int, led: bool = True):
        super().__init__(warmup, bucket, gap)
        self.led = led  # the protocol has a leader (else leadership columns are NaN)
        self.replicas = replicas
        self.majority = replicas // 2 + 1
        self.retransmits = 0
        self.repairs = 0
        self.loss_blocked = 0.0  # seconds, summed over followers, inside the window
        self.leader_node: int | None = None  # who leads now, as far as the observations tell
        self.leader_term = -1
        self.leader_elections = 0   # in the window, the very first election of the run excluded
        self._elected = False       # a first leader (whose election is no change of leader)
        self.leader_log: tuple[list[float], list[int | None]] = ([], [])  # for the time series
        self.failovers: list[float] = []  # fault -> a newer leader elected
        self.failovers_heard: list[float] = []  # fault -> a majority heard from that leader
        self.failovers_commit: list[float] = []  # fault -> the first operation completed after it
        self._failover_from: float | None = None
        self.silenced_leader: int | None = None  # a leader a fault silenced, still leading (not
        # crashed, not stepped down, no newer leader): the failover ends if it comes back
        self._heard_from: float | None = None  # a failover whose new leader a majority has not heard
        self._commit_from: float | None = None  # a failover whose first commit is still to come
        self._heard: set[int] = set()  # replicas that heard from the leader of leader_term
        self._busy: Callable[[int, float], float] = lambda node, t: 0.0
        self._lead_since = 0.0
        self._lead_busy0 = 0.0
        self.lead_time = 0.0
        self.lead_busy = 0.0

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
                self.silenced_leader = None
                self._close_lead(t)
                self._set_leader(None, t)
                self.events.append((t, node, "stepped-down", f"term {value}", None))

    def _failover_step(self, into: list[float], start: float, t: float, what: str) -> None:
        if start >= self.warmup:
            into.append(t - start)
        self.events.append((t, "-", "failover-" + what.replace(" ", "-"), what, (t - start) * 1000))

    def _await_commit(self, start: float | None) -> None:
        """Time the failover that began at ``start`` until the next completed operation."""
        self._commit_from = start
        self.awaiting_completion = start is not None

    def next_completion(self, t: float) -> None:
        if self._commit_from is not None:
            self._failover_step(self.failovers_commit, self._commit_from, t, "first commit")
            self._commit_from = None

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
        self.silenced_leader = None
        if self._failover_from is not None:
            start = self._failover_from
            self._failover_from = None
            self._heard_from = start
            self._await_commit(start)
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
        self._heard_from = None  # the previous failover's steps end here
        self._await_commit(None)
        if why == "crash":
            self._close_lead(t)
            self._set_leader(None, t)
        else:
            self.silenced_leader = self.leader_node

    def leader_back(self, t: float) -> None:
        """The fault that silenced the leader has healed before a newer leader was elected: the
        same leader runs again with two-way contact to a majority that never stopped following
        its term. The failover ends here, all three of its end points: the leader is back (as a
        newer one would be elected), a majority can hear it with nothing to re-establish, and
        the first operation completed from now on ends the first-commit step."""
        start, leader = self._failover_from, self.silenced_leader
        if start is None or leader is None:
            return
        self._failover_from = None
        self.silenced_leader = None
        if start >= self.warmup:
            self.failovers.append(t - start)
        self.events.append((t, leader, "failover", "same leader back", (t - start) * 1000))
        self._failover_step(self.failovers_heard, start, t, "majority heard")
        self._await_commit(start)

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
    def lane(self, lo: float, hi: float) -> tuple[int | None, float]:
        """The leader at the bucket's end, and the milliseconds of it without one."""
        if not self.led:
            return None, NAN
        times, leaders = self.leader_log
        at_end = bisect.bisect_right(times, hi) - 1
        return (leaders[at_end] if at_end >= 0 else None), self._leaderless(lo, hi) * 1000

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
        """The kind-neutral columns, then replication cost and leadership (NaN for a leaderless
        protocol)."""
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
        row = super().finish(end)
        window = max(end - self.warmup, 1e-12)
        ops = max(self.committed, 1)
        row.update({
            "retransmissions_per_op": self.retransmits / ops,
            "repairs_per_op": self.repairs / ops,
            "loss_blocked_share": self.loss_blocked / (window * max(self.replicas - 1, 1)),
            "leader_changes": self.leader_elections if self.led else NAN,
            "failover_ms_mean": _mean_ms(self.failovers),
            "failover_ms_max": max(self.failovers) * 1000 if self.failovers else NAN,
            "failover_heard_ms_mean": _mean_ms(self.failovers_heard),
            "failover_commit_ms_mean": _mean_ms(self.failovers_commit),
            "failover_commit_ms_max": max(self.failovers_commit) * 1000 if self.failovers_commit else NAN,
            # min: a leadership starts inside the handler that won it, whose CPU is charged whole
            "leader_cpu_utilization": min(1.0, self.lead_busy / self.lead_time) if self.lead_time else NAN,
        })
        return row


def _mean_ms(values: list[float]) -> float:
    return float(np.mean(values)) * 1000 if values else NAN
