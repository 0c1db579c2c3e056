"""Strict two-phase locking's concurrency control: shared/exclusive locks held until commit or
abort, four deadlock policies.

Locks
    A read takes S, a write (always read-modify-write) takes X; a reader that later writes
    upgrades (granted at once when it is the only holder, else queued at the front). Requests
    queue FIFO: a new S request does not overtake a queued X. Every lock is released only when
    the transaction commits (after its commit record is issued) or aborts. A transaction never
    waits at two places: operations are sent one at a time.

Deadlock policies (``t`` requests a lock held, or queued for, by ``b``; ``ts``: a transaction's
first-attempt start, kept across retries so that an aborted transaction gets older, not starved)
    no_wait     any conflict aborts ``t`` (reason conflict).
    wait_die    ``t`` waits if it is older than every blocker, else it dies (conflict).
    wound_wait  ``t`` wounds (aborts, reason conflict) every younger blocker that is not
                prepared, then takes the lock or waits for the older ones.
    detect      ``t`` waits; the waits-for graph of this partition is searched from ``t`` and
                every cycle loses its youngest member (reason deadlock; ties by id). Cycles
                across partitions are not visible to one partition: the ``lock_timeout``
                backstop (reason timeout) breaks them.
A prepared transaction (2PC, in doubt) is never wounded or chosen as a victim; it never waits.

Deadlock detection (``DeadlockDetectOptions``)
    When to search: ``on_wait`` (default) searches from every request that starts waiting, as
    InnoDB does (``innodb_deadlock_detect``); ``periodic`` leaves waits alone and every
    ``detect_interval`` searches from every waiter, as SQL Server's lock monitor does (every 5 s
    by default, down to 100 ms while it keeps finding deadlocks). PostgreSQL is in between: a
    waiter searches once, after ``deadlock_timeout`` (1 s). What it costs: the search is not free
    -- it is what makes DL_DETECT collapse at high contention in Yu et al., "Staring into the
    Abyss" (VLDB 2014) -- so every waits-for edge it examines charges ``detect_cost_per_edge``
    of CPU to the partition (``ctx.charge``), delaying the replies of the handler that searched
    and every input queued behind it. The default, 1 us an edge, is a lock-table probe (a hash
    lookup, a latch, a few cache misses) against the 20 us ``cpu_per_message`` of a whole request.
"""

from __future__ import annotations

from typing import Any, Iterable, cast

from mypy_extensions import mypyc_attr

from harness.kinds.transactions.contract import CONFLICT, DEADLOCK, READ
from implementations.txn.concurrency import GRANTED, WAIT, ConcurrencyControl
from implementations.txn.locks import S, X, Lock, take_locks
from implementations.txn.options import DeadlockDetectOptions
from implementations.txn.records import ParticipantTxn

__all__ = ["LockingCC", "POLICIES"]

POLICIES = ("no_wait", "wait_die", "wound_wait", "detect")


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class LockingCC(ConcurrencyControl):
    """The lock table of one partition and its deadlock policy. Its ``partition`` (the
    participant role, or anything offering what :mod:`implementations.txn.concurrency` lists) is
    told when a queued request is granted (``lock_granted``) and does the aborting
    (``abort_active``)."""

    __slots__ = ("partition", "policy", "locks", "waiting", "_on_conflict", "periodic",
                 "interval", "edge_cost", "edges", "next_sweep")

    def __init__(self, partition: Any, policy: str = "wait_die", options: Any = None):
        if policy not in POLICIES:
            raise ValueError(f"unknown deadlock policy {policy!r}")
        if not isinstance(options, DeadlockDetectOptions):
            options = DeadlockDetectOptions()  # type: ignore[call-arg]  # (every field has a default)
        self.partition = partition
        self.policy = policy
        self.locks: dict[int, Lock] = {}
        self.waiting: dict[int, ParticipantTxn] = {}
        self.periodic = policy == "detect" and options.detect == "periodic"
        self.interval = options.detect_interval
        self.edge_cost = options.detect_cost_per_edge
        self.edges = 0          # waits-for edges examined by every search so far
        self.next_sweep = 0.0   # periodic: the first tick at or after this searches
        self._on_conflict = {"no_wait": self._no_wait, "wait_die": self._wait_die,
                          "wound_wait": self._wound_wait,
                          "detect": self._enqueue if self.periodic else self._detect}[policy]

    # -- the concurrency-control interface --------------------------------------------------------
    def begin(self, t: ParticipantTxn) -> None:
        pass

    def access(self, t: ParticipantTxn, kind: int, key: int, now: float) -> int:
        """GRANTED, WAIT (queued; ``partition.lock_granted`` follows) or an abort reason for ``t``."""
        mode = S if kind == READ else X
        held = t.held.get(key, 0)
        if held >= mode:
            return GRANTED
        lock = self.locks.get(key)
        if lock is None:
            lock = self.locks[key] = Lock()
            lock.grant(t, key, mode)
            return GRANTED
        if (held or not lock.queue) and lock.compatible(t, mode):
            lock.grant(t, key, mode)
            return GRANTED
        t.conflict = True
        return self._on_conflict(t, lock, key, mode, held, now)

    def validate(self, t: ParticipantTxn) -> int:
        return 0  # every lock is already held

    def commit(self, t: ParticipantTxn) -> None:
        self._release_all(t)

    def abort(self, t: ParticipantTxn) -> None:
        self._release_all(t)

    def recover(self, t: ParticipantTxn) -> None:
        """Re-take the locks of a transaction found prepared in the log (they were compatible
        before the crash, so nothing else can hold them now)."""
        take_locks(self.locks, t)

    def tick(self, now: float) -> None:
        if self.periodic and now >= self.next_sweep:
            self.next_sweep = now + self.interval
            self._sweep()

    # -- policies ------------------------------------------------------------------------------
    def _no_wait(self, t: ParticipantTxn, lock: Lock, key: int, mode: int, held: int, now: float) -> int:
        return CONFLICT

    def _wait_die(self, t: ParticipantTxn, lock: Lock, key: int, mode: int, held: int, now: float) -> int:
        ts = t.ts
        for b in self._blockers(t, lock, mode, held):
            if b.ts < ts:
                return CONFLICT  # someone older is in the way: die
        return self._enqueue(t, lock, key, mode, held, now)

    def _wound_wait(self, t: ParticipantTxn, lock: Lock, key: int, mode: int, held: int, now: float) -> int:
        ts = t.ts
        for b in self._blockers(t, lock, mode, held):
            if b.ts > ts and self.partition.is_active(b):
                self.partition.abort_active(b, CONFLICT)  # wound the younger one
        lock = self.locks.get(key) or self.locks.setdefault(key, Lock())
        if (held or not lock.queue) and lock.compatible(t, mode):
            lock.grant(t, key, mode)
            return GRANTED
        return self._enqueue(t, lock, key, mode, held, now)

    def _detect(self, t: ParticipantTxn, lock: Lock, key: int, mode: int, held: int, now: float) -> int:
        self._enqueue(t, lock, key, mode, held, now)
        while t.wait is not None:
            cycle = self._search(t)
            if cycle is None:
                return WAIT
            victim = max(cycle, key=lambda u: (u.ts, u.tid))
            if victim is t:
                return DEADLOCK
            self.partition.abort_active(victim, DEADLOCK)
        return GRANTED  # the victim's locks went to t

    def _sweep(self) -> None:
        """The periodic search: from every waiter, until no cycle passes through it."""
        for t in list(self.waiting.values()):
            while t.wait is not None:
                cycle = self._search(t)
                if cycle is None:
                    break
                self.partition.abort_active(max(cycle, key=lambda u: (u.ts, u.tid)), DEADLOCK)

    def _search(self, start: ParticipantTxn) -> list[ParticipantTxn] | None:
        """``find_cycle``, paid for: the edges it examined, at ``detect_cost_per_edge`` each."""
        before = self.edges
        cycle = self.find_cycle(start)
        if self.edge_cost:
            self.partition.ctx.charge((self.edges - before) * self.edge_cost)
        return cycle

    # -- queues and the waits-for graph -----------------------------------------------------
    @staticmethod
    def _conflicting(t: ParticipantTxn, lock: Lock, mode: int, ahead: Iterable[ParticipantTxn]) -> list[ParticipantTxn]:
        """Who ``t``, wanting ``mode`` on ``lock``, waits for: the holders whose lock conflicts,
        and the requests in ``ahead`` (queued before it) that conflict."""
        x = lock.exclusive
        out = [h for h in lock.holders.values() if h is not t and (mode == X or h.tid == x)]
        out.extend(w for w in ahead if mode == X or w.wait_mode == X)
        return out

    def _blockers(self, t: ParticipantTxn, lock: Lock, mode: int, upgrade: int) -> list[ParticipantTxn]:
        """Who ``t`` would wait for if queued now: at the back of the queue, or at its front for
        an upgrade."""
        return self._conflicting(t, lock, mode, () if upgrade else lock.queue)

    def waits_for(self, u: ParticipantTxn) -> list[ParticipantTxn]:
        """Queued-up ``u``'s edges in the waits-for graph, compressed for the cycle search: the
        conflicting holders, and the conflicting requests ahead of it back to the nearest
        exclusive one, which itself waits for everything further ahead. Reachability, and so
        every cycle, is kept, while a queue of n waiters costs O(n) edges instead of O(n^2)."""
        lock = self.locks[cast(int, u.wait)]
        out = self._conflicting(u, lock, u.wait_mode, ())
        queue, exclusive = lock.queue, u.wait_mode == X
        for j in range(queue.index(u) - 1, -1, -1):
            w = queue[j]
            if exclusive or w.wait_mode == X:
                out.append(w)
            if w.wait_mode == X:
                break
        return out

    def find_cycle(self, start: ParticipantTxn) -> list[ParticipantTxn] | None:
        """A cycle of the waits-for graph through ``start`` (iterative DFS), or None. Counts the
        edges it examines in ``edges``."""
        path = [start]
        on_path = {start.tid}
        finished: set[int] = set()
        edges = self.waits_for(start)
        self.edges += len(edges)
        stack = [iter(edges)]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                u = path.pop()
                on_path.discard(u.tid)
                finished.add(u.tid)
                continue
            if nxt is start:
                return list(path)
            if nxt.wait is None or nxt.tid in on_path or nxt.tid in finished:
                continue
            path.append(nxt)
            on_path.add(nxt.tid)
            edges = self.waits_for(nxt)
            self.edges += len(edges)
            stack.append(iter(edges))
        return None

    def _enqueue(self, t: ParticipantTxn, lock: Lock, key: int, mode: int, upgrade: int, now: float) -> int:
        t.wait, t.wait_mode, t.wait_since = key, mode, now
        if upgrade:
            lock.queue.appendleft(t)
        else:
            lock.queue.append(t)
        self.waiting[t.tid] = t
        return WAIT

    def _grant_queued(self, key: int, lock: Lock) -> None:
        queue = lock.queue
        while queue:
            u = queue[0]
            if not lock.compatible(u, u.wait_mode):
                break
            queue.popleft()
            lock.grant(u, key, u.wait_mode)
            u.wait = None
            del self.waiting[u.tid]
            self.partition.lock_granted(u)

    def _release_all(self, t: ParticipantTxn) -> None:
        locks = self.locks
        if t.wait is not None:
            key = t.wait
            lock = locks[key]
            lock.queue.remove(t)
            del self.waiting[t.tid]
            t.wait = None
            self._grant_queued(key, lock)
            if not lock.holders and not lock.queue:
                del locks[key]
        for key in t.held:
            lock = locks[key]
            lock.release(t)
            self._grant_queued(key, lock)
            if not lock.holders and not lock.queue:
                del locks[key]
        t.held.clear()
