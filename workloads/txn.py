"""Transaction workloads (YCSB-style, bank transfers) and the clients that run them.

Placement
    Key ``k`` lives on partition ``k % P``. A transaction's first key is drawn from the key
    distribution (``workloads.keys.KeyChooser``) and fixes its *home* partition; with probability
    ``multi_partition`` (and P > 1) it also spans ``partitions_per_txn - 1`` other partitions,
    chosen uniformly. Every other key is drawn from the same distribution and moved to the
    partition its operation is assigned to (``k - k % P + p``), which keeps the skew: the hot
    keys of each partition are the globally hot keys' neighbours. Keys within a transaction are
    distinct; the suite's validation makes sure every partition has enough keys for that (and
    a generator asked for more distinct keys than a partition has raises instead of looping).

YCSB
    ``ops`` operations; a transaction is read-only with probability ``read_only_ratio``, else
    each operation is a read with probability ``read_ratio`` and a read-modify-write otherwise
    (the value written is the attempt's id: every version is distinct). Operations of a
    multi-partition transaction go round-robin over its partitions, home first.

Bank (SmallBank-like)
    Accounts start at ``initial_balance``. A transaction is a *balance* check (read two accounts,
    ``balance_ratio``), an *amalgamate* (set account a to 0, add its old balance to b;
    ``amalgamate_ratio``) or a *transfer* of 1..``amount_max`` from a to b (the rest). None of
    them changes the total balance; the checker verifies that it never changes. With
    ``writecheck_ratio``, a share of them are SmallBank's *WriteCheck*: a check of
    1..``amount_max`` drawn on account a is honoured when a and a second account b of the same
    customer together cover it (the client reads both first), and paid into a payee account c
    (a bounced check moves nothing). Two checks drawn on a and on b at once, each covered by the
    sum the other is about to spend, is the write skew snapshot isolation lets through.

Clients
    Closed loop (one transaction at a time per client, optional think time) or open loop
    (Poisson arrivals, several transactions in flight, latency from the intended start). A client
    is a network endpoint with no CPU cost. It sends operations one at a time, then the commit
    request to the home partition. Each operation tells its partition how many earlier ones of
    the attempt ran there and which partition epoch answered them, and the commit request names
    every participant's epoch (a partition that lost the attempt in a crash then aborts it; see
    ``implementations.txn.participant``). An abort (an ``Outcome`` from a participant or from the
    coordinator) ends the attempt: the client tells the other partitions it used
    (``AbortRequest``), waits ``min(base * 2^n, cap)`` plus up to ``jitter`` of that again, n
    being the number of *earlier* aborts of the transaction (``base`` after the first abort,
    ``2 * base`` after the second, ...), and retries with a new attempt id, up to ``retries``
    times. The transaction keeps its first attempt's timestamp (its priority under wait_die /
    wound_wait). An attempt's timestamp, for protocols that use one, comes with the first reply
    and goes with every later operation (``OpRequest.snapshot``).
    A timeout while executing aborts the attempt (reason timeout); a timeout while committing
    sends an ``Inquiry`` to the coordinator instead (never a second commit request), so an
    attempt is committed at most once and a new attempt starts only after the previous one is
    known to have aborted. Latency runs from the transaction's start to the commit answer,
    retries included. For every attempt it sees commit, a client reports the version of each
    key it read and the keys it wrote (``stats.acked``): the checker compares them with what the
    partitions committed.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from harness.engine.sim import Simulator
from harness.kinds.transactions.contract import (
    ADD, COMMITTED, READ, TIMEOUT, WRITE, AbortRequest, CommitRequest, Inquiry, OpReply,
    OpRequest, Outcome, make_tid,
)
from workloads.keys import KeyChooser
from workloads.pacing import PacedClient, Timeouts

__all__ = ["PREV", "Cheque", "YCSBGenerator", "BankGenerator", "TxnClient", "generator_for",
           "place"]

PREV = "prev"
"""An operation argument meaning "the value the previous operation returned"."""


class Cheque:
    """An operation argument: ``sign`` times ``amount`` when the values the attempt has read so
    far add up to at least ``amount``, else 0 (the check bounces)."""

    __slots__ = ("amount", "sign")

    def __init__(self, amount: int, sign: int):
        self.amount = amount
        self.sign = sign

    def value(self, funds: int) -> int:
        return self.sign * self.amount if funds >= self.amount else 0

INF = math.inf


def place(key: int, partition: int, partitions: int, keys: int) -> int:
    """The key nearest below ``key`` (or above, at the end of the keyspace) on ``partition``."""
    k = key - key % partitions + partition
    if k >= keys:
        k -= partitions
    return k


class _Generator:
    def __init__(self, w: Any, keys: int, partitions: int):
        if keys < partitions:
            raise ValueError(f"{keys} keys cannot fill {partitions} partitions")
        self.w = w
        self.keys = keys
        self.partitions = partitions
        self.chooser = KeyChooser(w.distribution, keys)
        self.mp = w.multi_partition if partitions > 1 else 0.0

    def next(self, rng: Any) -> list[tuple[int, int, Any]]:
        """The operations ``(kind, key, argument)`` of the next transaction."""
        raise NotImplementedError

    def _partitions(self, rng: Any, home: int, wanted: int) -> list[int]:
        parts = [home]
        if self.mp and rng.random() < self.mp:
            others = [p for p in range(self.partitions) if p != home]
            parts += rng.sample(others, min(wanted, self.partitions) - 1)
        return parts

    def _key(self, rng: Any, partition: int, used: set[int]) -> int:
        P, n, chooser = self.partitions, self.keys, self.chooser
        for _ in range(16):
            k = place(chooser.next(rng), partition, P, n)
            if k not in used:
                return k
        k = place(rng.randrange(n), partition, P, n)
        for _ in range((n - partition + P - 1) // P):  # a tiny partition: probe its keys in order
            if k not in used:
                return k
            k = (k + P) if k + P < n else partition
        raise ValueError(f"partition {partition} has no key left for this transaction "
                         f"({len(used)} used of {n} keys over {P} partitions)")


class YCSBGenerator(_Generator):
    def __init__(self, w: Any, partitions: int):
        super().__init__(w, w.keys, partitions)

    def next(self, rng: Any) -> list[tuple[int, int, Any]]:
        w = self.w
        first = self.chooser.next(rng)
        parts = self._partitions(rng, first % self.partitions, min(w.partitions_per_txn, w.ops))
        read_only = w.read_only_ratio and rng.random() < w.read_only_ratio
        used = {first}
        ops: list[tuple[int, int, Any]] = []
        n = len(parts)
        for i in range(w.ops):
            key = first if i == 0 else self._key(rng, parts[i % n], used)
            used.add(key)
            if read_only or rng.random() < w.read_ratio:
                ops.append((READ, key, 0))
            else:
                ops.append((WRITE, key, None))  # the value: the attempt's id
        return ops


class BankGenerator(_Generator):
    def __init__(self, w: Any, partitions: int):
        super().__init__(w, w.accounts, partitions)

    def next(self, rng: Any) -> list[tuple[int, int, Any]]:
        w = self.w
        a = self.chooser.next(rng)
        parts = self._partitions(rng, a % self.partitions, 2)
        b = self._key(rng, parts[-1], {a})
        r = rng.random()
        if r < w.balance_ratio:
            return [(READ, a, 0), (READ, b, 0)]
        if r < w.balance_ratio + w.amalgamate_ratio:
            return [(WRITE, a, 0), (ADD, b, PREV)]
        if r < w.balance_ratio + w.amalgamate_ratio + w.writecheck_ratio:
            c = self._key(rng, parts[0], {a, b})
            cheque = rng.randint(1, w.amount_max)
            return [(READ, a, 0), (READ, b, 0), (ADD, a, Cheque(cheque, -1)),
                    (ADD, c, Cheque(cheque, 1))]
        amount = rng.randint(1, w.amount_max)
        return [(ADD, a, -amount), (ADD, b, amount)]


def generator_for(w: Any, partitions: int) -> _Generator:
    return BankGenerator(w, partitions) if w.type == "bank" else YCSBGenerator(w, partitions)


# -- clients -------------------------------------------------------------------------------------
EXEC, COMMIT, BACKOFF = 0, 1, 2


class _Txn:
    __slots__ = ("seq", "ops", "invoke", "ts", "attempt", "tid", "idx", "touched", "parts",
                 "phase", "conflict", "commit_sent", "last_value", "step", "inquiries", "aborts",
                 "ran", "seen", "wrote", "snapshot", "funds", "resends")

    def __init__(self, seq: int, ops: list, invoke: float, ts: int):
        self.seq = seq
        self.ops = ops
        self.invoke = invoke
        self.ts = ts
        self.attempt = 0
        self.tid = 0
        self.idx = 0
        self.touched: set[int] = set()
        self.parts: tuple[int, ...] = ()
        self.phase = EXEC
        self.conflict = False
        self.commit_sent = 0.0
        self.last_value = 0
        self.step = 0
        self.inquiries = 0
        self.aborts = 0
        self.ran: dict[int, list[int]] = {}  # partition -> [operations answered, its epoch]
        self.seen: dict[int, int] = {}       # key -> version read (first)
        self.wrote: list[int] = []           # keys written
        self.snapshot = 0                    # the attempt's timestamp (0: none)
        self.funds = 0                       # the sum of the values it read
        self.resends = 0                     # operations re-sent after a timeout (forward recovery)


class TxnClient(PacedClient):
    """One transaction client. ``stats`` receives ``attempt(t, reason, conflict)``,
    ``commit_phase(t, seconds)``, ``finished(t, retries)`` and ``acked(tid, reads, writes)``
    (the versions read and keys written by an attempt it saw commit); ``metrics`` (a
    ``harness.metrics.Metrics``) the latency of committed transactions and the given-up ones."""

    def __init__(self, sim: Simulator, net: Any, endpoint: int, partitions: int, workload: Any,
                 generator: _Generator, stats: Any, metrics: Any, rate: float | None,
                 horizon: float):
        self.sim = sim
        self.net = net
        self.endpoint = endpoint
        self.P = partitions
        self.w = workload
        self.gen = generator
        self.stats = stats
        self.metrics = metrics
        self.rate = rate
        self.horizon = horizon  # the end of the measured run
        self.resend = False  # re-send a timed-out operation instead of aborting (forward recovery)
        self.rng = sim.rng(f"client/{endpoint}")
        self.vsize = getattr(workload, "value_size", 8)
        self.seq = 0
        self.by_tid: dict[int, _Txn] = {}
        self.live: dict[int, _Txn] = {}  # seq -> transactions not finished (incl. backing off)
        self._dispatch: dict[type, Callable[[int, Any], None]] = {
            OpReply: self._on_reply, Outcome: self._on_outcome}
        self.timeouts = Timeouts(sim, workload.timeout, self._timeout, self._current)
        net.attach(endpoint, self._receive, [INF])

    @property
    def in_flight(self) -> int:
        return len(self.live)

    def unanswered(self) -> list[float]:
        """Start times of the transactions not finished yet."""
        return [tx.invoke for tx in self.live.values()]

    # -- generating -------------------------------------------------------------------------
    def _issue(self, _: Any = None) -> None:
        if self.stopped:
            return
        self.seq += 1
        now = self.sim.now
        ts = (int(now * 1e9) << 24) | ((self.endpoint & 0xFFF) << 12) | (self.seq & 0xFFF)
        tx = self.live[self.seq] = _Txn(self.seq, self.gen.next(self.rng), now, ts)
        self._attempt(tx)

    def _attempt(self, tx: _Txn) -> None:
        tx.attempt += 1
        tx.tid = tid = make_tid(self.endpoint, tx.seq, tx.attempt)
        self.by_tid[tid] = tx
        tx.idx = 0
        tx.touched = set()
        tx.ran = {}
        tx.seen = {}
        tx.wrote = []
        tx.snapshot = 0
        tx.funds = 0
        tx.resends = 0
        tx.phase = EXEC
        tx.conflict = False
        tx.inquiries = 0
        self._send_op(tx)

    def _send_op(self, tx: _Txn) -> None:
        kind, key, arg = tx.ops[tx.idx]
        if arg is None:
            arg = tx.tid
        elif arg is PREV:
            arg = tx.last_value
        elif isinstance(arg, Cheque):
            arg = arg.value(tx.funds)
        p = key % self.P
        tx.touched.add(p)
        prior, epoch = tx.ran.get(p) or (0, 0)
        now = self.sim.now
        home = tx.ops[0][1] % self.P
        self.net.send(self.endpoint, p, OpRequest(self.endpoint, tx.tid, tx.ts, tx.idx, kind, key,
                                                  arg, self.vsize, prior, epoch, tx.snapshot, home),
                      now, 0)
        self._arm(tx)

    def _arm(self, tx: _Txn) -> None:
        tx.step += 1
        self.timeouts.add((tx.tid, tx.step))

    def _commit(self, tx: _Txn) -> None:
        tx.phase = COMMIT
        now = self.sim.now
        tx.commit_sent = now
        tx.parts = tuple(sorted(tx.touched))
        epochs = tuple(tx.ran[p][1] for p in tx.parts)
        home = tx.ops[0][1] % self.P
        self.net.send(self.endpoint, home, CommitRequest(self.endpoint, tx.tid, tx.parts, epochs),
                      now, 0)
        self._arm(tx)

    # -- outcomes --------------------------------------------------------------------------
    def _receive(self, src: int, msg: Any) -> None:
        self._dispatch[type(msg)](src, msg)

    def _on_reply(self, src: int, m: OpReply) -> None:
        tx = self.by_tid.get(m.tid)
        if tx is None or tx.phase != EXEC or m.index != tx.idx:
            return  # late, duplicated, or for an attempt already over
        if m.conflict:
            tx.conflict = True
        kind, key, _ = tx.ops[tx.idx]
        p = key % self.P
        ran = tx.ran.get(p)
        if ran is None:
            tx.ran[p] = [1, m.epoch]
        else:
            ran[0] += 1
        tx.seen.setdefault(key, m.version)
        if m.snapshot and not tx.snapshot:
            tx.snapshot = m.snapshot
        if kind != READ:
            tx.wrote.append(key)
        else:
            tx.funds += m.value
        tx.last_value = m.value
        tx.idx += 1
        if tx.idx < len(tx.ops):
            self._send_op(tx)
        else:
            self._commit(tx)

    def _on_outcome(self, src: int, m: Outcome) -> None:
        tx = self.by_tid.get(m.tid)
        if tx is None:
            return
        if m.reason == COMMITTED:
            if tx.phase == COMMIT:
                self._committed(tx)
        else:
            self._aborted(tx, m.reason, m.conflict, src if tx.phase == EXEC else None)

    def _current(self, item: tuple[int, int]) -> bool:
        """Is step ``item`` (tid, step) of an attempt still the one awaited?"""
        tx = self.by_tid.get(item[0])
        return tx is not None and tx.step == item[1]

    def _timeout(self, item: tuple[int, int]) -> None:
        tid = item[0]
        tx = self.by_tid[tid]
        if tx.phase == EXEC:
            if self.resend and tx.resends < self.w.retries:
                tx.resends += 1
                self._send_op(tx)  # the same operation of the same attempt
                return
            self._aborted(tx, TIMEOUT, False, -1)
            return
        tx.inquiries += 1
        if tx.inquiries > self.w.retries:  # the outcome stays unknown
            del self.by_tid[tid]
            self._give_up(tx)
            return
        now = self.sim.now
        home = tx.ops[0][1] % self.P
        self.net.send(self.endpoint, home, Inquiry(self.endpoint, tid, tx.parts), now, 0)
        self._arm(tx)

    def _committed(self, tx: _Txn) -> None:
        del self.by_tid[tx.tid]
        now = self.sim.now
        stats = self.stats
        stats.acked(tx.tid, list(tx.seen.items()), tx.wrote)
        if now <= self.horizon:
            stats.attempt(now, COMMITTED, tx.conflict)
            stats.commit_phase(now, now - tx.commit_sent)
            stats.finished(now, tx.attempt - 1)
            self.metrics.completed(tx.invoke, now)
        self._done(tx)

    def _aborted(self, tx: _Txn, reason: int, conflict: bool, tell: int | None) -> None:
        """Attempt over. ``tell``: None if the coordinator told the participants, else the
        partition that already knows (-1: none) -- the others get an AbortRequest."""
        del self.by_tid[tx.tid]
        now = self.sim.now
        if now <= self.horizon:
            self.stats.attempt(now, reason, conflict or tx.conflict)
            if tx.phase == COMMIT:
                self.stats.commit_phase(now, now - tx.commit_sent)
        if tell is not None:
            abort = AbortRequest(self.endpoint, tx.tid)
            for p in tx.touched:
                if p != tell:
                    self.net.send(self.endpoint, p, abort, now, 0)
        if self.stopped or tx.aborts >= self.w.retries:
            self._give_up(tx)
            return
        w = self.w
        # n = earlier aborts: base after the first abort, 2 * base after the second, ...
        delay = min(w.backoff_base * (1 << min(tx.aborts, 40)), w.backoff_cap)
        delay += self.rng.random() * w.backoff_jitter * delay
        tx.aborts += 1
        tx.phase = BACKOFF
        self.sim.at(now + delay, self._retry, tx)

    def _retry(self, tx: _Txn) -> None:
        if self.stopped:
            self._give_up(tx)
        else:
            self._attempt(tx)

    def _give_up(self, tx: _Txn) -> None:
        now = self.sim.now
        if now <= self.horizon:
            self.metrics.gave_up(tx.invoke)
            self.stats.finished(now, tx.attempt - 1)
        self._done(tx)

    def _done(self, tx: _Txn) -> None:
        del self.live[tx.seq]
        self._next()
