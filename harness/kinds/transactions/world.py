"""The transactions world (``kind: transactions``): partitions, transaction clients, faults, checks.

``cluster.partitions`` partition nodes (ids ``0..P-1``; ``cluster.nodes`` is refused) run the
suite's transaction protocol on :class:`~harness.engine.node.NodeHost` s -- the same CPU, fsync and
group-commit cost model as the consensus replicas -- over the same network. Clients (endpoints
``P..``) come from :mod:`workloads.txn`. The :class:`~harness.faults.nemesis.Nemesis` applies every
fault kind; its targets ``coordinator`` (a node between prepare and decision of a transaction
for which another node has already prepared) and ``participant`` (a node prepared, in doubt,
for another node's transaction, and coordinating none at the moment) are provided here; a
fault aimed at one waits (up to 1 s) for a node to hold the role, and is otherwise skipped (a
``skipped`` event says so).

A run has three phases: warm-up, the measured window ``[warmup, duration]`` (the metrics), and a
*drain*: clients stop starting transactions, the nemesis heals, restores and restarts everything,
and the simulation goes on (at most ``DRAIN`` seconds) until no transaction is in flight, so that
the checkers see every participant recovered and every in-doubt transaction resolved.

Columns (besides the kind-neutral ones of :class:`~harness.metrics.Metrics`; see docs/transactions.md,
"Transactions")
    throughput_ops_s, ops_committed: committed transactions; latency_*: first attempt's start (the
    intended start in open loop) to the commit answer, retries included (a transaction still
    unfinished at the end counts in ops_outstanding and outstanding_age_ms_*, not here); ops_failed:
    transactions given up (retries exhausted, or outcome never learned); abort_rate: aborted
    attempts / attempts; conflict_rate: attempts that met a conflict / attempts;
    aborts_<reason>: aborted attempts per reason; retries_per_txn; lock_wait_ms_mean (per lock
    wait); twopc_ms_mean (commit request to answer, client side); in_doubt_ms (participant-time
    in doubt, within the window, the normal commit window included); blocked_ms (the part of it
    spent waiting for an overdue decision from another node: a coordinator crash) and
    blocked_ms_max (the longest such blocked stretch); messages_per_op and bytes_per_op (per
    committed transaction); quiescent_checks (bank invariant checks at quiescent points: the
    world looks for one every QUIESCENT_POLL and checks at most every QUIESCENT_GAP);
    write_skew_per_1k_txn (the serializability checker's anomaly count per 1000 committed
    transactions of the whole run; the safety verdict judges the protocol's own promise).
    A protocol that promises atomicity in the end (Saga, TCC) is judged by
    :mod:`harness.checkers.settlement` instead and adds its anomalies: dirty_reads_per_1k_txn,
    lost_updates_per_1k_txn and invariant_exposure_ms.
"""

from __future__ import annotations

import math
from typing import Any

from harness.checkers.consensus import combine
from harness.checkers.serializability import TxnChecker
from harness.checkers.settlement import Settlement
from harness.checkers.verdicts import qualify
from harness.engine.world import World
from harness.faults.nemesis import Role
from harness.kinds.transactions.contract import ATOMIC_IN_THE_END, SERIALIZABLE, Store, tid_str
from harness.kinds.transactions.stats import TxnStats
from workloads.txn import TxnClient, generator_for

__all__ = ["TransactionWorld", "DRAIN"]

DRAIN = 10.0        # seconds of simulated time the drain may take at most
LONG_DOUBT = 0.05   # in-doubt periods at least this long are listed in events.csv
QUIESCENT_POLL = 0.00025  # bank workload: how often the world looks for a quiescent point ...
QUIESCENT_GAP = 0.01      # ... and the least time between two balance checks


class _Observer:
    """Routes the partitions' observations to the checker, the counters and the event log."""

    __slots__ = ("checker", "stats", "events", "partitions", "settlement")

    def __init__(self, checker: TxnChecker, stats: TxnStats, events: list, partitions: int,
                 settlement: Settlement):
        self.checker = checker
        self.stats = stats
        self.events = events
        self.partitions = partitions
        self.settlement = settlement

    def observe(self, node: int, event: str, value: Any, t: float) -> None:
        node %= self.partitions  # a replicated partition's host speaks for its group
        if event == "commit":
            # the very observation a group's new leader already vouched for (commit_replay), now
            # told by the old leader, which learned that its record was applied: one commit
            if self.checker.commits.get((node, value.tid)) is not value:
                self.checker.commit(node, value, t)
        elif event == "commit_replay":  # a group's new leader vouching for a replicated commit
            if (node, value.tid) not in self.checker.commits:
                self.checker.commit(node, value, t)
        elif event == "replicated":
            self.stats.replicated(t, *value)
        elif event == "lock_wait":
            self.stats.waited(t, value)
        elif event == "moved":
            self.settlement.moved(t, value)
        elif event == "settled":
            self.settlement.settled(node, value[0], value[1], t)
        elif event == "undone_seen":
            self.settlement.undone_seen(*value)
        elif event == "in_doubt":
            tid, start, overdue, end = value
            self.stats.doubted(start, overdue, end)
            if end - start >= LONG_DOUBT:
                blocked = end - overdue
                detail = (f"{tid_str(tid)} in doubt here until decided, blocked for the last "
                          f"{blocked * 1000:.1f} ms (decision overdue)" if blocked > 0 else
                          f"{tid_str(tid)} in doubt here until decided (not blocked)")
                self.events.append((end, node, "in-doubt", detail, (end - start) * 1000))

    def restarted(self, node: int) -> None:
        pass

    def leader(self, node: int, term: int, t: float) -> None:
        pass

    def applied(self, node: int, index: int, command: Any, t: float) -> None:
        pass


class TransactionWorld(World):
    """A partitioned transactional key-value store under a transaction workload."""

    def __init__(self, cfg: Any, seed: int):
        super().__init__(cfg, seed)
        P = cfg.cluster.partitions
        self.partitions = P
        n = P * cfg.group_size()
        w = cfg.workload
        self.bank = w.type == "bank"
        initial = w.initial_balance if self.bank else 0
        self.checker = TxnChecker(initial, w.accounts if self.bank else None, P)
        self.stats = TxnStats(cfg.warmup, cfg.duration, self.checker)
        self.settlement = Settlement(cfg.warmup, cfg.duration)
        self._build(n, w.clients, lambda: Store(initial),
                    _Observer(self.checker, self.stats, self.metrics.events, P, self.settlement))
        generator = generator_for(w, P)
        rate = self.client_rate()
        self.clients = [TxnClient(self.sim, self.net, n + c, P, w, generator, self.stats, self.metrics,
                                  rate, cfg.duration) for c in range(w.clients)]
        self.drained = 0.0

    # -- nemesis targets -----------------------------------------------------------------------
    def fault_roles(self) -> dict[str, Role]:
        return {"coordinator": Role(self._coordinators, passing=True),
                "participant": Role(self._participants, passing=True)}

    def _serving(self) -> list[Any]:
        """The host running each partition now (None: none alive does): the partition's node,
        or the leader of its replicated group."""
        if len(self.hosts) == self.partitions:
            return [h if h.alive else None for h in self.hosts]
        serving: list[Any] = [None] * self.partitions
        for h in self.hosts:
            if h.alive and h.replica.leading() and serving[h.node_id % self.partitions] is None:
                serving[h.node_id % self.partitions] = h
        return serving

    def _coordinators(self) -> list[int]:
        """Nodes between prepare and decision of a transaction for which another node has
        already prepared (so that crashing one now leaves a participant in doubt); for
        replicated partitions, the coordinating group's leader."""
        serving = self._serving()
        found = set()
        for g, h in enumerate(serving):
            if h is not None:
                for tid, c in h.replica.in_doubt():
                    lead = serving[c]
                    if (c != g and lead is not None and lead.node_id not in found
                            and lead.replica.collecting_votes(tid)):
                        found.add(lead.node_id)
        return sorted(found)

    def _participants(self) -> list[int]:
        """Nodes prepared, in doubt, for another node's transaction, and coordinating no
        two-phase commit at that moment (every node coordinates the transactions homed on it:
        crashing one that is would leave its own participants blocked too -- those already
        prepared, and those its Prepares are about to reach -- and mix the two kinds of crash)."""
        return [h.node_id for g, h in enumerate(self._serving())
                if h is not None and not h.replica.coordinating()
                and any(c != g for _, c in h.replica.in_doubt())]

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg, sim = self.cfg, self.sim
        self._start()
        self.checker.isolation = self.hosts[0].replica.isolation()
        if self.hosts[0].replica.resends_operations():
            for client in self.clients:
                client.resend = True
        if self.bank:
            self._last_quiescent = -math.inf
            sim.at(QUIESCENT_POLL, self._quiescent)
        sim.run(cfg.duration)
        row = self._close()
        self._drain()
        row.update(self.stats.columns())
        if self.checker.isolation == ATOMIC_IN_THE_END:
            row.update(self.settlement.columns(len(self.checker.acked_tids)))
        row.update(self._check())
        row["drain_s"] = self.drained
        row["sim_events"] = sim.events_processed
        return row

    def _quiescent(self, _: Any = None) -> None:
        """Check the bank total at a quiescent point -- every node up, nothing prepared and
        nothing being coordinated anywhere, so every commit is fully applied or not at all --
        whenever there is one: the world looks every QUIESCENT_POLL and checks at most every
        QUIESCENT_GAP (``quiescent_checks`` counts the checks; under heavy multi-partition
        load there may be few)."""
        sim, cfg = self.sim, self.cfg
        now = sim.now
        if now > cfg.duration:
            return
        sim.at(now + QUIESCENT_POLL, self._quiescent)
        if now - self._last_quiescent < QUIESCENT_GAP:
            return
        hosts = self._serving()
        for h in hosts:  # the cheap test first: a two-phase commit is being coordinated
            if h is None or h.replica.coordinating():
                return
        if all(h.replica.settled() for h in hosts):
            self._last_quiescent = now
            stores = [h.replica.committed() for h in hosts]
            P = len(stores)
            total = sum(stores[k % P].get(k)[0] for k in range(cfg.workload.accounts))
            self.checker.quiescent_total(now, total)

    def _drain(self) -> None:
        sim = self.sim
        for client in self.clients:
            client.stop()
        self.nemesis.stop()
        start = sim.now
        end = start + DRAIN
        while sim.now < end:
            sim.run(min(sim.now + 0.02, end))
            if all(c.in_flight == 0 for c in self.clients) and all(
                    h.alive and h.replica.idle() for h in self.hosts) and all(
                    h is not None for h in self._serving()):
                break
        for host in self.hosts:
            host.settle(math.inf)
        self.drained = sim.now - start

    def _check(self) -> dict[str, Any]:
        serving = self._serving()
        in_doubt = {(g, tid) for g, h in enumerate(serving) if h is not None
                    for tid, _ in h.replica.in_doubt()}
        stores = [h.replica.committed() if h is not None else Store(self.checker.initial)
                  for h in serving]
        verdicts = self.checker.verdicts(stores, in_doubt)
        if self.checker.isolation == ATOMIC_IN_THE_END:
            unsettled = [(h.node_id, what) for h in self.hosts if h.alive for what in h.replica.unsettled()]
            verdicts += self.settlement.verdicts(self.checker.acked_tids, unsettled)
        safety = combine(*verdicts)
        committed = len(self.checker.first)
        detail = (f"{committed} committed transactions, {len(self.checker.commits)} partition "
                  f"commits checked")
        if self.checker.isolation == ATOMIC_IN_THE_END:
            detail = (f"{len(self.checker.acked_tids)} committed transactions, "
                      f"{len(self.settlement.outcomes)} settled at every partition")
        if self.bank:
            detail += f"; bank total checked at {len(self.checker.quiescent)} quiescent points"
        if self.checker.isolation != SERIALIZABLE:
            detail += f"; judged against {self.checker.isolation}"
        skew = self.checker.write_skew * 1000 / committed if committed else 0.0
        if self.checker.isolation == ATOMIC_IN_THE_END:
            spanned = bool(self.settlement.spanned)
            committed = len(self.checker.acked_tids)
        else:
            spanned = any(len(obs.participants) > 1 for obs in self.checker.commits.values())
        safety = qualify(safety, self._unexercised(committed, spanned))
        if safety.startswith("unknown"):
            return {"safety": "unknown", "safety_detail": safety, "quiescent_checks": len(self.checker.quiescent),
                    "write_skew_per_1k_txn": skew}
        return {"safety": safety, "safety_detail": detail if safety.startswith("ok") else safety,
                "quiescent_checks": len(self.checker.quiescent), "write_skew_per_1k_txn": skew}

    def _unexercised(self, committed: int, spanned: bool) -> list[str]:
        """The checks this run gave nothing to judge: no transaction committed; none committed
        (or, for Saga and TCC, settled) across partitions, where there are several (atomicity
        had nothing to judge; with a single partition there is nothing to have)."""
        if not committed:
            return ["0 transactions committed"]
        if self.cfg.cluster.partitions > 1 and not spanned:
            return ["no multi-partition transaction committed"]
        return []
