"""The participant role of a partition: it runs operations on its keys, votes, applies decisions
and, in doubt, asks for them.

Execution
    The client sends operations one at a time to the key's partition (``OpRequest``). The
    participant creates the transaction on first contact, asks its concurrency control for
    access (2PL: a lock, possibly waiting or aborting per the deadlock policy; OCC: nothing) and
    answers ``OpReply`` with the value read and its version (writes return the old value; they
    are buffered in the transaction and installed only at commit) and its epoch. A participant
    aborts a transaction on its own when it is wounded, chosen as a deadlock victim, waits too
    long for a lock (``lock_timeout``) or hears nothing for ``idle_timeout``; the client learns
    it from an unprompted ``Outcome``.

Lost state
    Each operation says how many earlier operations of its attempt ran at this partition and
    in which epoch. A partition that no longer knows an attempt that ran operations here (it
    crashed and restarted since), or knows it only from this incarnation while the client's
    earlier operations ran in an older one (a late duplicate re-created it), aborts it (reason
    failure) and remembers that: the attempt's earlier reads, writes and locks here are gone,
    and committing the rest would apply half a transaction. The commit request carries every
    participant's epoch for the same reason: a participant in another epoch votes no.

Voting and deciding
    On ``Prepare`` a participant validates (OCC), logs :class:`~implementations.txn.log.Prepared`
    with its write and read sets and votes; a second ``Prepare`` of the same round gets the same
    vote. ``Decision(commit)`` installs the writes, logs ``Committed`` and acknowledges (again
    for a duplicate); ``Decision(abort)`` of a prepared transaction logs ``PreparedAborted``, so
    that a restart does not find it in doubt again. Anything about a finished transaction is
    answered from the ``done`` table.

Blocking and termination
    A prepared participant asks its coordinator (``Query``) every ``resolve_interval`` until it
    hears the decision; while the coordinator is down it is blocked, holding its locks. With
    ``termination: cooperative`` a participant in doubt for ``termination_timeout`` also asks
    the other participants (``PeerQuery``): one that committed or aborted tells it, and one that
    has not voted yet aborts and says so (it will vote no). When every participant voted yes
    they all stay blocked until the coordinator returns: that is 2PC's blocking, and it shows.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from mypy_extensions import mypyc_attr

from harness.contract import Context
from harness.kinds.transactions.contract import (
    ADD, COMMITTED, CONFLICT, DEADLOCK, FAILURE, TIMEOUT, VALIDATION, WRITE, AbortRequest,
    CommitObs, CommitRequest, OpReply, OpRequest, Outcome, Store, tid_logical,
)
from implementations.txn.concurrency import GRANTED, WAIT, ConcurrencyControl
from implementations.txn.log import Committed, CommittedAlone, Prepared, PreparedAborted
from implementations.txn.messages import (
    Ack, Decision, PeerQuery, PeerReply, Prepare, Query, Vote,
)
from implementations.txn.options import setting
from implementations.txn.records import ACTIVE, PREPARED, ParticipantTxn

__all__ = ["Participant", "CONFLICTS"]

CONFLICTS = frozenset((CONFLICT, DEADLOCK, VALIDATION))
"""Abort reasons that are conflicts (the outcome says so)."""


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class Participant:
    """A partition's participant role: its transactions (``txns``), the outcome of finished ones
    (``done``: tid -> COMMITTED or abort reason), the latest attempt seen of each client
    transaction (``latest``), its committed ``store`` and its concurrency control (``cc``).

    The concurrency control uses :meth:`transactions`, :meth:`is_active`, :meth:`abort_active`,
    :meth:`lock_granted`, ``store`` and ``ctx`` (see :mod:`implementations.txn.concurrency`).
    The node sets ``ctx``, ``epoch`` and ``booted`` at every start.
    """

    cc: ConcurrencyControl  # set by the node once built over this participant
    ctx: Context

    def __init__(self, node_id: int, options: Any, store: Store):
        self.id = node_id
        self.store = store
        self.lock_timeout: float = setting(options, "lock_timeout")
        self.idle_timeout: float = setting(options, "idle_timeout")
        self.resolve_interval: float = setting(options, "resolve_interval")
        self.cooperative = setting(options, "termination") == "cooperative"
        self.termination_timeout: float = setting(options, "termination_timeout")
        self.txns: dict[int, ParticipantTxn] = {}
        self.done: dict[int, int] = {}
        self.latest: dict[int, int] = {}
        self.epoch = 0
        self.booted = 0.0

    # -- what the concurrency control may ask -----------------------------------------------------
    def transactions(self) -> Iterable[ParticipantTxn]:
        """Every transaction live here, active or prepared."""
        return self.txns.values()

    def is_active(self, t: ParticipantTxn) -> bool:
        """``t`` is live and unprepared here (not aborted meanwhile)."""
        return t.state == ACTIVE and self.txns.get(t.tid) is t

    def lock_granted(self, t: ParticipantTxn) -> None:
        """``t``'s queued lock request was granted: run the operation that waited for it."""
        req = t.pending
        if req is None:
            return  # granted while its own request was being decided: it never waited
        ctx = self.ctx
        ctx.observe("lock_wait", ctx.now - t.wait_since)
        t.pending = None
        self._execute(ctx, t, req)

    def abort_active(self, t: ParticipantTxn, reason: int, notify: bool = True) -> None:
        """Abort the unprepared ``t`` here (releasing everything) and, with ``notify``, tell its
        client."""
        ctx = self.ctx
        if t.wait is not None and t.pending is not None:  # a wait that had begun ends here
            ctx.observe("lock_wait", ctx.now - t.wait_since)
        del self.txns[t.tid]
        self.done[t.tid] = reason
        self.cc.abort(t)
        if notify and t.request is not None:
            ctx.reply(t.request, Outcome(t.tid, reason, t.conflict or reason in CONFLICTS))

    # -- execution ----------------------------------------------------------------------------------
    def op(self, ctx: Context, req: OpRequest) -> None:
        tid = req.tid
        t = self.txns.get(tid)
        if t is None:
            outcome = self.done.get(tid)
            if outcome is not None:  # finished here: a late copy, or a dead attempt's next op
                if outcome != COMMITTED:
                    ctx.reply(req, Outcome(tid, outcome))
                return
            if req.prior:  # it ran operations here that this incarnation never saw: lost
                self.done[tid] = FAILURE
                ctx.reply(req, Outcome(tid, FAILURE))
                return
            t = self.txns[tid] = ParticipantTxn(tid, req.ts, req.client, ctx.now)
            t.snapshot = req.snapshot
            self.cc.begin(t)
            self._supersede(tid)
        elif t.state != ACTIVE or req.index < t.next_index or t.pending is not None:
            return  # a duplicate
        elif req.prior and (req.prior != t.ops or req.epoch != self.epoch):
            # Re-created here by a late duplicate after a crash erased the attempt: the reads
            # the client saw (and its locks) were in another incarnation.
            t.request = req
            self.abort_active(t, FAILURE)
            return
        t.last_seen = ctx.now
        t.request = req
        r = self.cc.access(t, req.kind, req.key, ctx.now)
        if r == GRANTED:
            self._execute(ctx, t, req)
        elif r == WAIT:
            t.pending = req
        else:
            self.abort_active(t, r)

    def _supersede(self, tid: int) -> None:
        """A client starts attempt n+1 only once attempt n is over: an older attempt still
        active here is a leftover (its abort request was lost) and must not block the new one."""
        logical = tid_logical(tid)
        old = self.latest.get(logical)
        self.latest[logical] = tid
        if old is not None and old < tid:
            t = self.txns.get(old)
            if t is not None and t.state == ACTIVE:
                self.abort_active(t, TIMEOUT, notify=False)

    def _execute(self, ctx: Context, t: ParticipantTxn, req: OpRequest) -> None:
        key = req.key
        writes = t.writes
        if key in writes:
            old = writes[key]
        else:
            old, version = self.cc.read(t, key, self.store)
            if key not in t.reads:
                t.reads[key] = version
        kind = req.kind
        if kind == WRITE:
            writes[key] = req.arg
        elif kind == ADD:
            writes[key] = old + req.arg
        t.next_index = req.index + 1
        t.ops += 1
        ctx.reply(req, OpReply(t.tid, req.index, old, t.conflict, req.vsize, t.reads[key],
                               self.epoch, t.snapshot))

    def abort_request(self, ctx: Context, req: AbortRequest) -> None:
        t = self.txns.get(req.tid)
        if t is None:
            self.done.setdefault(req.tid, TIMEOUT)  # so that a late operation cannot revive it
        elif t.state == ACTIVE:
            self.abort_active(t, TIMEOUT, notify=False)

    # -- commit ---------------------------------------------------------------------------------------
    def commit_alone(self, ctx: Context, req: CommitRequest) -> Outcome:
        """One-phase commit of a transaction that ran only here: validate, install, log, release.
        Returns the answer for the client."""
        tid = req.tid
        t = self.txns.get(tid)
        if (t is None or t.state != ACTIVE or t.pending is not None
                or self._lost(t, req.participants, req.epochs)):
            reason = self.done.get(tid) or FAILURE
            if t is not None and t.state == ACTIVE:
                self.abort_active(t, reason, notify=False)
            return Outcome(tid, reason)
        reason = self.cc.validate(t)
        if reason:
            self.abort_active(t, reason, notify=False)
            return Outcome(tid, reason, True)
        store = self.store
        installs = [(k, store.install(k, v, tid), v) for k, v in t.writes.items()]
        if installs:
            ctx.persist(CommittedAlone(tid, list(t.writes.items()), t.commit_ts))
        del self.txns[tid]
        self.done[tid] = COMMITTED
        self.cc.commit(t)
        ctx.observe("commit", CommitObs(tid, (self.id,), list(t.reads.items()), installs))
        return Outcome(tid, COMMITTED)

    def prepare(self, ctx: Context, tid: int, epoch: int, coordinator: int,
                participants: tuple[int, ...], epochs: tuple[int, ...] = (), ts: int = 0) -> int:
        """Vote on ``tid``: COMMITTED (yes, durably prepared) or the reason for no. ``epochs``:
        the participants' epochs the client's operations ran in (see ``_lost``); ``ts``: the
        commit timestamp the coordinator proposes (0: none)."""
        t = self.txns.get(tid)
        if t is None:
            outcome = self.done.get(tid)
            if outcome is None:  # never heard of it (or forgot it in a crash): never will
                self.done[tid] = outcome = FAILURE
            return outcome
        if t.state == PREPARED:
            if t.epoch == epoch:
                return COMMITTED  # a re-sent Prepare: same vote
            self.abort_prepared(ctx, t, FAILURE)  # a new round: the old one was presumed aborted
            return FAILURE
        if t.pending is not None or self._lost(t, participants, epochs):
            self.abort_active(t, FAILURE, notify=False)
            return FAILURE
        t.commit_ts, t.participants = ts, participants
        reason = self.cc.validate(t)
        if reason:
            self.abort_active(t, reason, notify=False)
            return reason
        t.state = PREPARED
        t.epoch, t.coordinator = epoch, coordinator
        t.prepared_at = t.last_query = ctx.now
        ctx.persist(Prepared(tid, coordinator, epoch, participants, list(t.writes.items()),
                             list(t.reads.items()), ctx.now, t.commit_ts))
        return COMMITTED

    def _lost(self, t: ParticipantTxn, participants: tuple[int, ...],
              epochs: tuple[int, ...]) -> bool:
        """Whether the active ``t`` is not the one the client ran here: its operations ran in
        another epoch of this partition (``t`` was re-created by a late duplicate after a
        crash). An active transaction lives only in memory, so it belongs to this epoch."""
        if not epochs:
            return False
        try:
            return epochs[participants.index(self.id)] != self.epoch
        except ValueError:
            return True  # the client never ran anything here

    def commit_prepared(self, ctx: Context, t: ParticipantTxn) -> None:
        tid = t.tid
        store = self.store
        installs = [(k, store.install(k, v, tid), v) for k, v in t.writes.items()]
        ctx.persist(Committed(tid))
        del self.txns[tid]
        self.done[tid] = COMMITTED
        self.cc.commit(t)
        self._resolved(ctx, t)
        ctx.observe("commit", CommitObs(tid, t.participants, list(t.reads.items()), installs))

    def commit_if_prepared(self, ctx: Context, tid: int) -> None:
        """The commit decision, taken here by this node as coordinator."""
        t = self.txns.get(tid)
        if t is not None and t.state == PREPARED:
            self.commit_prepared(ctx, t)

    def abort_prepared(self, ctx: Context, t: ParticipantTxn, reason: int) -> None:
        ctx.persist(PreparedAborted(t.tid))
        del self.txns[t.tid]
        self.done[t.tid] = reason
        self.cc.abort(t)
        self._resolved(ctx, t)

    def _resolved(self, ctx: Context, t: ParticipantTxn) -> None:
        """Report how long ``t`` was in doubt here, and from when on this (live) node was blocked
        waiting for an overdue decision: ``resolve_interval`` after preparing, or after the
        restart that found it in doubt; never when this node coordinates it."""
        overdue = (max(t.prepared_at + self.resolve_interval, self.booted)
                   if t.coordinator != self.id else math.inf)
        ctx.observe("in_doubt", (t.tid, t.prepared_at, overdue, ctx.now))

    def abort_local(self, ctx: Context, tid: int, reason: int) -> None:
        """The abort decision (or an abort learnt otherwise), whatever ``tid``'s state here."""
        t = self.txns.get(tid)
        if t is None:
            self.done.setdefault(tid, reason)
        elif t.state == ACTIVE:
            self.abort_active(t, reason, notify=False)
        else:
            self.abort_prepared(ctx, t, reason)

    # -- messages from the coordinator and the other participants -------------------------------------
    def on_prepare(self, ctx: Context, src: int, m: Prepare) -> None:
        ctx.send(src, Vote(m.tid, m.epoch, self.prepare(ctx, m.tid, m.epoch, m.coord,
                                                        m.participants, m.epochs, m.ts)))

    def on_decision(self, ctx: Context, src: int, m: Decision) -> None:
        tid = m.tid
        if m.commit:
            self.commit_if_prepared(ctx, tid)
            if self.done.get(tid) == COMMITTED:
                ctx.send(src, Ack(tid))
        else:
            self.abort_local(ctx, tid, FAILURE)

    def on_peer_query(self, ctx: Context, src: int, m: PeerQuery, decided: int | None) -> None:
        """Another participant in doubt asks; ``decided`` is this node's decision as coordinator
        of ``m.tid``, if any."""
        tid = m.tid
        outcome = decided
        if outcome is None:
            outcome = self.done.get(tid)
        if outcome is None:
            t = self.txns.get(tid)
            if t is not None and t.state == PREPARED:
                ctx.send(src, PeerReply(tid, None))  # uncertain too
                return
            self.abort_local(ctx, tid, FAILURE)  # not voted yet: abort now, vote no later
            outcome = FAILURE
        ctx.send(src, PeerReply(tid, COMMITTED if outcome == COMMITTED else FAILURE))

    def on_peer_reply(self, ctx: Context, src: int, m: PeerReply) -> None:
        t = self.txns.get(m.tid)
        if t is None or t.state != PREPARED or m.state is None:
            return
        if m.state == COMMITTED:
            self.commit_prepared(ctx, t)
        else:
            self.abort_prepared(ctx, t, FAILURE)

    # -- housekeeping -------------------------------------------------------------------------------
    def tick(self, ctx: Context, now: float) -> None:
        """Abort what waited or idled too long; ask about what is in doubt."""
        txns = self.txns
        if not txns:
            return
        for t in list(txns.values()):
            if txns.get(t.tid) is not t:
                continue  # aborted by an earlier abort in this sweep
            if t.state == ACTIVE:
                if t.wait is not None:
                    if now - t.wait_since > self.lock_timeout:
                        self.abort_active(t, TIMEOUT)
                elif now - t.last_seen > self.idle_timeout:
                    self.abort_active(t, TIMEOUT)
            elif now - t.last_query >= self.resolve_interval and t.coordinator != self.id:
                t.last_query = now
                ctx.send(t.coordinator, Query(t.tid, t.epoch))
                if self.cooperative and now - t.prepared_at >= self.termination_timeout:
                    ask = PeerQuery(t.tid)
                    for p in t.participants:
                        if p != self.id and p != t.coordinator:
                            ctx.send(p, ask)

    def in_doubt(self) -> list[tuple[int, int]]:
        """(tid, coordinator) of every transaction prepared here."""
        return [(tid, t.coordinator) for tid, t in self.txns.items() if t.state == PREPARED]

    def nothing_prepared(self) -> bool:
        return all(t.state == ACTIVE for t in self.txns.values())

    def recover_prepared(self, record: Prepared, now: float) -> ParticipantTxn:
        """Re-create a transaction found prepared, without a decision, in the log: in doubt."""
        t = ParticipantTxn(record.tid, 0, -1, now)
        t.state = PREPARED
        t.writes = dict(record.writes)
        t.reads = dict(record.reads)
        t.coordinator, t.epoch = record.coordinator, record.epoch
        t.participants, t.prepared_at = record.participants, record.at
        t.commit_ts = record.ts
        t.last_query = -1e9  # ask at the first tick
        self.txns[record.tid] = t
        self.cc.recover(t)
        return t
