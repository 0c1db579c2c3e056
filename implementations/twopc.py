"""Two-phase commit (presumed abort) over partitions running 2PL or OCC, as a sans-I/O node.

Every partition node plays two roles (as in Deneva): *participant* for the keys it stores, and
*coordinator* for the transactions whose first operation is one of its keys (their "home").
``PartitionNode`` is shared by every transaction protocol; what differs is the concurrency
control object it is built with (``make_cc``): :class:`implementations.twopl.LockingCC` or
:class:`implementations.occ.OptimisticCC`. The protocols registered are

* ``2pl`` (and ``2pl-nowait``, ``2pl-waitdie``, ``2pl-woundwait``, ``2pl-detect``) and ``occ``:
  the concurrency control families; a transaction that spans partitions needs atomic commit
  whichever you pick, so it uses this module's 2PC with its default settings;
* ``2pc``: the same node with the commit protocol's knobs exposed (participants 2PL or OCC, the
  one-phase fast path, the termination protocol, timeouts).

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

Commit (the home partition coordinates)
    *One phase*: the client's ``CommitRequest`` names only the home partition: validate (OCC),
    install, log ``("commit1", tid, writes)``, release, reply. *Two phases*: ``Prepare`` to the
    other participants while the local participant prepares; a participant validates (OCC),
    logs ``("prepare", ...)`` with its write set and votes; with every vote yes the coordinator
    logs ``("decide", tid, participants)`` and only then sends ``Decision(commit)`` and the client
    reply (every output waits for the fsync); participants install, log ``("commit", tid)`` and
    ``Ack``; with every ack the coordinator logs ``("end", tid)``. A no vote (or no vote within
    ``vote_timeout``, Prepares re-sent every ``retransmit``) aborts: nothing is logged (presumed
    abort: the coordinator logs nothing), ``Decision(abort)`` goes out once; a prepared
    participant logs ``("pabort", tid)`` so that a restart does not find it in doubt again.

Idempotence
    Duplicated or re-sent messages never apply anything twice: a participant answers a second
    ``Prepare`` of the same round with the same vote, a ``Decision(commit)`` for a transaction it
    already committed with another ``Ack``, and anything about a finished transaction from its
    ``done`` table. The client never re-sends a commit: after a timeout it sends ``Inquiry``,
    which the coordinator answers from its decisions; an attempt it does not know is aborted for
    good (logged, so a late copy of the commit request cannot revive it after a crash).

Recovery
    A restarted node replays its log: committed writes are re-installed in log order; a prepared
    transaction without a commit record is *in doubt*: it re-takes its locks (2PL) or validation
    locks (OCC) and asks its coordinator (``Query``, every ``resolve_interval``) until it hears the
    decision. A coordinator re-sends ``Decision(commit)`` for every decided transaction without an
    end record; one it does not know is aborted (presumed abort). Each incarnation logs a new
    *epoch*; ``Prepare`` carries it, so a participant still prepared from an older round of a
    re-run transaction votes no.

Blocking and termination
    While the coordinator is down its prepared participants are blocked, holding their locks:
    the time they spend in doubt past ``resolve_interval`` (when they start asking) is the
    ``blocked_ms`` column; all of their in-doubt time, the normal commit window included, is
    ``in_doubt_ms``. With
    ``termination: cooperative`` a participant in doubt for ``termination_timeout`` also asks the
    other participants (``PeerQuery``): one that committed or aborted tells it, and one that has
    not voted yet aborts and says so (it will vote no). When every participant voted yes they all
    stay blocked until the coordinator returns: that is 2PC's blocking, and it shows.

Durability of reads
    The host holds every output until all earlier persists are durable, so a transaction that read
    a write whose commit record is still being flushed cannot commit (or even be answered) before
    that record is on disk; locks are therefore released as soon as the commit record is issued
    (early lock release with group commit).

Observations (``ctx.observe``) for the checkers and metrics: ``"commit"`` with a
:class:`~implementations.txncore.CommitObs` per partition commit; ``"lock_wait"`` with a wait's
duration (a request that queued and was answered later; one settled in the same step -- the
requester is the deadlock victim, or gets the victim's lock at once -- never waited);
``"in_doubt"`` with ``(tid, prepared_at, overdue_at, resolved_at)`` for every prepared
participant, ``overdue_at`` being when it started asking for the decision (infinite for the
coordinator's own participant).
"""

from __future__ import annotations

import math
from typing import Any

from mypy_extensions import mypyc_attr

from harness.protocol import Context, Node, Options, ProtocolSpec
from implementations.options import TwoPCOptions
from implementations.txncore import (
    ACTIVE, COMMITTED, CONFLICT, DEADLOCK, FAILURE, PREPARED, TIMEOUT, VALIDATION, Ack,
    AbortRequest, CommitObs, CommitRequest, Decision, Inquiry, OpReply,
    OpRequest, Outcome, PeerQuery, PeerReply, Prepare, PTxn, Query, Store, Vote, ADD, WRITE,
    tid_logical,
)

__all__ = ["PartitionNode", "TwoPC", "TwoPCOptions", "CTxn", "GRANTED", "WAIT", "PREPARING", "COMMITTING"]

GRANTED, WAIT = 0, -1  # results of ``cc.access`` besides an abort reason (> 0)

_CONFLICTS = frozenset((CONFLICT, DEADLOCK, VALIDATION))
PREPARING, COMMITTING = 0, 1


_DEFAULTS = {name: f.default for name, f in TwoPCOptions.model_fields.items()}
TICK = 0.005  # the housekeeping timer: timeouts and re-sends are checked this often


class CTxn:
    """A transaction this node coordinates with two phases."""

    __slots__ = ("tid", "request", "parts", "epochs", "waiting", "phase", "started", "last_send")

    def __init__(self, tid: int, request: Any, parts: tuple[int, ...], now: float,
                 epochs: tuple[int, ...] = ()):
        self.tid = tid
        self.request = request
        self.parts = parts
        self.epochs = epochs  # the participants' epochs named by the commit request
        self.waiting: set[int] = set(parts)
        self.phase = PREPARING
        self.started = now
        self.last_send = now


@mypyc_attr(allow_interpreted_subclasses=True)  # each protocol's node, and tests, subclass it
class PartitionNode(Node):
    """One partition: participant for its keys, coordinator for the transactions homed here.
    Subclasses supply the concurrency control with :meth:`make_cc`."""

    ctx: Context  # the runtime, from start() on: the concurrency control calls back without one

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: Any, options: Options,
                 store: Store | None = None):
        self.id = node_id
        self.nodes = nodes
        self.options = options
        self.store = store if store is not None else Store()
        get = lambda name: getattr(options, name, _DEFAULTS[name])  # noqa: E731
        self.lock_timeout = get("lock_timeout")
        self.one_phase = get("one_phase")
        self.cooperative = get("termination") == "cooperative"
        self.termination_timeout = get("termination_timeout")
        self.vote_timeout = get("vote_timeout")
        self.retransmit = get("retransmit")
        self.resolve_interval = get("resolve_interval")
        self.idle_timeout = get("idle_timeout")
        self.cc = self.make_cc(options)
        self.txns: dict[int, PTxn] = {}      # participant: live transactions
        self.done: dict[int, int] = {}       # participant: tid -> COMMITTED or abort reason
        self.latest: dict[int, int] = {}     # participant: (client, seq) -> latest attempt seen
        self.coord: dict[int, CTxn] = {}     # coordinator: two-phase commits in progress
        self.decided: dict[int, int] = {}    # coordinator: tid -> COMMITTED or abort reason
        self.epoch = 0
        self.booted = 0.0

    def make_cc(self, options: Any) -> Any:
        raise NotImplementedError

    # -- the Node interface ----------------------------------------------------------------------
    def start(self, ctx: Context, stable: list[Any]) -> None:
        self.ctx = ctx
        self.booted = ctx.now
        if stable:
            self._recover(ctx, stable)
        self.epoch += 1
        ctx.persist(("epoch", self.epoch))
        ctx.set_timer("tick", TICK)

    def on_request(self, ctx: Context, request: Any) -> None:
        t = type(request)
        if t is OpRequest:
            self._op(ctx, request)
        elif t is CommitRequest:
            self._commit_request(ctx, request)
        elif t is AbortRequest:
            self._abort_request(ctx, request)
        elif t is Inquiry:
            self._inquiry(ctx, request)
        else:
            raise TypeError(f"{type(self).__name__}: unexpected request {request!r}")

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        t = type(msg)
        if t is Prepare:
            self._on_prepare(ctx, src, msg)
        elif t is Vote:
            self._on_vote(ctx, src, msg)
        elif t is Decision:
            self._on_decision(ctx, src, msg)
        elif t is Ack:
            self._on_ack(ctx, src, msg)
        elif t is Query:
            self._on_query(ctx, src, msg)
        elif t is PeerQuery:
            self._on_peer_query(ctx, src, msg)
        elif t is PeerReply:
            self._on_peer_reply(ctx, src, msg)
        else:
            raise TypeError(f"{type(self).__name__}: unexpected message {msg!r}")

    def on_timer(self, ctx: Context, name: str) -> None:
        self._tick(ctx)
        ctx.set_timer("tick", TICK)

    def idle(self) -> bool:
        """No transaction in progress here, as participant or coordinator."""
        return not self.txns and not self.coord

    def settled(self) -> bool:
        """No commit half done here: nothing prepared, nothing being coordinated."""
        return not self.coord and all(t.state == ACTIVE for t in self.txns.values())

    def prepared_for_others(self) -> int:
        """Transactions prepared here, in doubt, whose coordinator is another node."""
        return sum(1 for t in self.txns.values() if t.state == PREPARED and t.coord != self.id)

    # -- participant: execution ------------------------------------------------------------------
    def _op(self, ctx: Context, req: OpRequest) -> None:
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
            t = self.txns[tid] = PTxn(tid, req.ts, req.client, ctx.now)
            self.cc.begin(t)
            self._supersede(tid)
        elif t.state != ACTIVE or req.index < t.next_index or t.pending is not None:
            return  # a duplicate
        elif req.prior and (req.prior != t.ops or req.epoch != self.epoch):
            # Re-created here by a late duplicate after a crash erased the attempt: the reads
            # the client saw (and its locks) were in another incarnation.
            t.request = req
            self._kill(t, FAILURE)
            return
        t.last_seen = ctx.now
        t.request = req
        r = self.cc.access(t, req.kind, req.key, ctx.now)
        if r == GRANTED:
            self._execute(ctx, t, req)
        elif r == WAIT:
            t.pending = req
        else:
            self._kill(t, r)

    def _supersede(self, tid: int) -> None:
        """A client starts attempt n+1 only once attempt n is over: an older attempt still
        active here is a leftover (its abort request was lost) and must not block the new one."""
        logical = tid_logical(tid)
        old = self.latest.get(logical)
        self.latest[logical] = tid
        if old is not None and old < tid:
            t = self.txns.get(old)
            if t is not None and t.state == ACTIVE:
                self._kill(t, TIMEOUT, notify=False)

    def _execute(self, ctx: Context, t: PTxn, req: OpRequest) -> None:
        key = req.key
        writes = t.writes
        if key in writes:
            old = writes[key]
        else:
            old, version = self.store.get(key)
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
                               self.epoch))

    def _granted(self, t: PTxn) -> None:
        """Called by the concurrency control when ``t``'s queued lock request is granted."""
        req = t.pending
        if req is None:
            return  # granted while its own request was being decided: it never waited
        ctx = self.ctx
        ctx.observe("lock_wait", ctx.now - t.wait_since)
        t.pending = None
        self._execute(ctx, t, req)

    def _kill(self, t: PTxn, reason: int, notify: bool = True) -> None:
        """Abort an unprepared transaction here (releasing everything) and tell its client."""
        ctx = self.ctx
        if t.wait is not None and t.pending is not None:  # a wait that had begun ends here
            ctx.observe("lock_wait", ctx.now - t.wait_since)
        del self.txns[t.tid]
        self.done[t.tid] = reason
        self.cc.abort(t)
        if notify and t.request is not None:
            ctx.reply(t.request, Outcome(t.tid, reason, t.conflict or reason in _CONFLICTS))

    def _abort_request(self, ctx: Context, req: AbortRequest) -> None:
        t = self.txns.get(req.tid)
        if t is None:
            self.done.setdefault(req.tid, TIMEOUT)  # so that a late operation cannot revive it
        elif t.state == ACTIVE:
            self._kill(t, TIMEOUT, notify=False)

    # -- participant: commit -------------------------------------------------------------------
    def _prepare(self, ctx: Context, tid: int, epoch: int, coord: int,
                 parts: tuple[int, ...], epochs: tuple[int, ...] = ()) -> int:
        """Vote on ``tid``: COMMITTED (yes, durably prepared) or the reason for no. ``epochs``:
        the participants' epochs the client's operations ran in (see ``_lost``)."""
        t = self.txns.get(tid)
        if t is None:
            outcome = self.done.get(tid)
            if outcome is None:  # never heard of it (or forgot it in a crash): never will
                self.done[tid] = outcome = FAILURE
            return outcome
        if t.state == PREPARED:
            if t.epoch == epoch:
                return COMMITTED  # a re-sent Prepare: same vote
            self._abort_prepared(ctx, t, FAILURE)  # a new round: the old one was presumed aborted
            return FAILURE
        if t.pending is not None or self._lost(t, parts, epochs):
            self._kill(t, FAILURE, notify=False)
            return FAILURE
        reason = self.cc.validate(t)
        if reason:
            self._kill(t, reason, notify=False)
            return reason
        t.state = PREPARED
        t.epoch, t.coord, t.participants = epoch, coord, parts
        t.prepared_at = t.last_query = ctx.now
        ctx.persist(("prepare", tid, coord, epoch, parts, list(t.writes.items()),
                     list(t.reads.items()), ctx.now))
        return COMMITTED

    def _lost(self, t: PTxn, parts: tuple[int, ...], epochs: tuple[int, ...]) -> bool:
        """Whether the active ``t`` is not the one the client ran here: its operations ran in
        another epoch of this partition (``t`` was re-created by a late duplicate after a
        crash). An active transaction lives only in memory, so it belongs to this epoch."""
        if not epochs:
            return False
        try:
            return epochs[parts.index(self.id)] != self.epoch
        except ValueError:
            return True  # the client never ran anything here

    def _commit_prepared(self, ctx: Context, t: PTxn) -> None:
        tid = t.tid
        store = self.store
        installs = [(k, store.install(k, v, tid), v) for k, v in t.writes.items()]
        ctx.persist(("commit", tid))
        del self.txns[tid]
        self.done[tid] = COMMITTED
        self.cc.commit(t)
        self._resolved(ctx, t)
        ctx.observe("commit", CommitObs(tid, t.participants, list(t.reads.items()), installs))

    def _abort_prepared(self, ctx: Context, t: PTxn, reason: int) -> None:
        # Presumed abort needs no abort record for correctness, but without one a restart would
        # find every aborted prepare in the log in doubt again (and lock its keys until asked).
        ctx.persist(("pabort", t.tid))
        del self.txns[t.tid]
        self.done[t.tid] = reason
        self.cc.abort(t)
        self._resolved(ctx, t)

    def _resolved(self, ctx: Context, t: PTxn) -> None:
        """Report how long ``t`` was in doubt here, and from when on this (live) node was blocked
        waiting for an overdue decision: ``resolve_interval`` after preparing, or after the
        restart that found it in doubt; never when this node coordinates it."""
        overdue = (max(t.prepared_at + self.resolve_interval, self.booted)
                   if t.coord != self.id else math.inf)
        ctx.observe("in_doubt", (t.tid, t.prepared_at, overdue, ctx.now))

    def _abort_local(self, ctx: Context, tid: int, reason: int) -> None:
        t = self.txns.get(tid)
        if t is None:
            self.done.setdefault(tid, reason)
        elif t.state == ACTIVE:
            self._kill(t, reason, notify=False)
        else:
            self._abort_prepared(ctx, t, reason)

    def _on_prepare(self, ctx: Context, src: int, m: Prepare) -> None:
        ctx.send(src, Vote(m.tid, m.epoch, self._prepare(ctx, m.tid, m.epoch, m.coord,
                                                         m.participants, m.epochs)))

    def _on_decision(self, ctx: Context, src: int, m: Decision) -> None:
        tid = m.tid
        if m.commit:
            t = self.txns.get(tid)
            if t is not None and t.state == PREPARED:
                self._commit_prepared(ctx, t)
            if self.done.get(tid) == COMMITTED:
                ctx.send(src, Ack(tid))
        else:
            self._abort_local(ctx, tid, FAILURE)

    def _on_peer_query(self, ctx: Context, src: int, m: PeerQuery) -> None:
        tid = m.tid
        outcome = self.decided.get(tid)
        if outcome is None:
            outcome = self.done.get(tid)
        if outcome is None:
            t = self.txns.get(tid)
            if t is not None and t.state == PREPARED:
                ctx.send(src, PeerReply(tid, None))  # uncertain too
                return
            self._abort_local(ctx, tid, FAILURE)  # not voted yet: abort now, vote no later
            outcome = FAILURE
        ctx.send(src, PeerReply(tid, COMMITTED if outcome == COMMITTED else FAILURE))

    def _on_peer_reply(self, ctx: Context, src: int, m: PeerReply) -> None:
        t = self.txns.get(m.tid)
        if t is None or t.state != PREPARED or m.state is None:
            return
        if m.state == COMMITTED:
            self._commit_prepared(ctx, t)
        else:
            self._abort_prepared(ctx, t, FAILURE)

    # -- coordinator -------------------------------------------------------------------------------
    def _commit_request(self, ctx: Context, req: CommitRequest) -> None:
        tid = req.tid
        outcome = self.decided.get(tid)
        if outcome is not None:
            ctx.reply(req, Outcome(tid, outcome))
            return
        c = self.coord.get(tid)
        if c is not None:
            c.request = req  # a copy: the answer will come
            return
        parts = req.participants
        me = self.id
        if self.one_phase and len(parts) == 1 and parts[0] == me:
            self._one_phase(ctx, req)
            return
        c = self.coord[tid] = CTxn(tid, req, parts, ctx.now, req.epochs)
        prepare = Prepare(tid, self.epoch, me, parts, req.epochs)
        for p in parts:
            if p != me:
                ctx.send(p, prepare)
        if me in c.waiting:
            c.waiting.discard(me)
            vote = self._prepare(ctx, tid, self.epoch, me, parts, req.epochs)
            if vote != COMMITTED:
                self._decide_abort(ctx, c, vote)
                return
        if not c.waiting:
            self._decide_commit(ctx, c)

    def _one_phase(self, ctx: Context, req: CommitRequest) -> None:
        tid = req.tid
        t = self.txns.get(tid)
        if (t is None or t.state != ACTIVE or t.pending is not None
                or self._lost(t, req.participants, req.epochs)):
            reason = self.done.get(tid) or FAILURE
            if t is not None and t.state == ACTIVE:
                self._kill(t, reason, notify=False)
            self.decided[tid] = reason
            ctx.reply(req, Outcome(tid, reason))
            return
        reason = self.cc.validate(t)
        if reason:
            self._kill(t, reason, notify=False)
            self.decided[tid] = reason
            ctx.reply(req, Outcome(tid, reason, True))
            return
        store = self.store
        installs = [(k, store.install(k, v, tid), v) for k, v in t.writes.items()]
        if installs:
            ctx.persist(("commit1", tid, list(t.writes.items())))
        del self.txns[tid]
        self.done[tid] = self.decided[tid] = COMMITTED
        self.cc.commit(t)
        ctx.observe("commit", CommitObs(tid, (self.id,), list(t.reads.items()), installs))
        ctx.reply(req, Outcome(tid, COMMITTED))

    def _decide_commit(self, ctx: Context, c: CTxn) -> None:
        tid, me = c.tid, self.id
        ctx.persist(("decide", tid, c.parts))
        self.decided[tid] = COMMITTED
        c.phase = COMMITTING
        c.waiting = {p for p in c.parts if p != me}
        c.last_send = ctx.now
        decision = Decision(tid, True)
        for p in c.waiting:
            ctx.send(p, decision)
        t = self.txns.get(tid)
        if t is not None and t.state == PREPARED:
            self._commit_prepared(ctx, t)
        ctx.reply(c.request, Outcome(tid, COMMITTED))
        if not c.waiting:
            self._end(ctx, c)

    def _decide_abort(self, ctx: Context, c: CTxn, reason: int) -> None:
        tid, me = c.tid, self.id
        self.decided[tid] = reason
        del self.coord[tid]
        decision = Decision(tid, False)
        for p in c.parts:
            if p != me:
                ctx.send(p, decision)
        if me in c.parts:
            self._abort_local(ctx, tid, reason)
        ctx.reply(c.request, Outcome(tid, reason, reason in _CONFLICTS))

    def _end(self, ctx: Context, c: CTxn) -> None:
        ctx.persist(("end", c.tid))
        del self.coord[c.tid]

    def _on_vote(self, ctx: Context, src: int, m: Vote) -> None:
        c = self.coord.get(m.tid)
        if c is None or c.phase != PREPARING or m.epoch != self.epoch:
            outcome = self.decided.get(m.tid)
            if m.yes and (outcome is not None or m.epoch != self.epoch):
                ctx.send(src, Decision(m.tid, outcome == COMMITTED))
            return
        if not m.yes:
            self._decide_abort(ctx, c, m.reason)
            return
        c.waiting.discard(src)
        if not c.waiting:
            self._decide_commit(ctx, c)

    def _on_ack(self, ctx: Context, src: int, m: Ack) -> None:
        c = self.coord.get(m.tid)
        if c is not None and c.phase == COMMITTING:
            c.waiting.discard(src)
            if not c.waiting:
                self._end(ctx, c)

    def _on_query(self, ctx: Context, src: int, m: Query) -> None:
        tid = m.tid
        outcome = self.decided.get(tid)
        if outcome is None:
            if tid in self.coord:
                if m.epoch == self.epoch:
                    return  # still collecting votes: the decision will come
            else:
                self.decided[tid] = outcome = FAILURE  # presumed abort
        ctx.send(src, Decision(tid, outcome == COMMITTED))

    def _inquiry(self, ctx: Context, req: Inquiry) -> None:
        tid = req.tid
        outcome = self.decided.get(tid)
        if outcome is not None:
            ctx.reply(req, Outcome(tid, outcome))
            return
        if tid in self.coord:
            return  # in progress: the answer will come
        # The commit request never arrived, or this node forgot it in a crash: abort for good.
        self.decided[tid] = FAILURE
        ctx.persist(("abort", tid))
        decision = Decision(tid, False)
        for p in req.participants:
            if p != self.id:
                ctx.send(p, decision)
        if self.id in req.participants:
            self._abort_local(ctx, tid, FAILURE)
        ctx.reply(req, Outcome(tid, FAILURE))

    # -- housekeeping --------------------------------------------------------------------------------
    def _tick(self, ctx: Context) -> None:
        now = ctx.now
        if self.txns:
            txns = self.txns
            for t in list(txns.values()):
                if txns.get(t.tid) is not t:
                    continue  # aborted by an earlier kill in this sweep
                if t.state == ACTIVE:
                    if t.wait is not None:
                        if now - t.wait_since > self.lock_timeout:
                            self._kill(t, TIMEOUT)
                    elif now - t.last_seen > self.idle_timeout:
                        self._kill(t, TIMEOUT)
                elif now - t.last_query >= self.resolve_interval and t.coord != self.id:
                    t.last_query = now
                    ctx.send(t.coord, Query(t.tid, t.epoch))
                    if self.cooperative and now - t.prepared_at >= self.termination_timeout:
                        ask = PeerQuery(t.tid)
                        for p in t.participants:
                            if p != self.id and p != t.coord:
                                ctx.send(p, ask)
        if self.coord:
            for c in list(self.coord.values()):
                if c.phase == PREPARING:
                    if now - c.started > self.vote_timeout:
                        self._decide_abort(ctx, c, FAILURE)
                    elif now - c.last_send >= self.retransmit:
                        c.last_send = now
                        prepare = Prepare(c.tid, self.epoch, self.id, c.parts, c.epochs)
                        for p in c.waiting:
                            ctx.send(p, prepare)
                elif now - c.last_send >= self.retransmit:
                    c.last_send = now
                    decision = Decision(c.tid, True)
                    for p in c.waiting:
                        ctx.send(p, decision)
        self.cc.tick(now)

    # -- recovery ------------------------------------------------------------------------------------
    def _recover(self, ctx: Context, stable: list[Any]) -> None:
        store, done, decided = self.store, self.done, self.decided
        prepared: dict[int, tuple] = {}
        unfinished: dict[int, tuple[int, ...]] = {}
        for rec in stable:
            kind = rec[0]
            if kind == "commit1":
                _, tid, writes = rec
                for k, v in writes:
                    store.install(k, v, tid)
                done[tid] = decided[tid] = COMMITTED
            elif kind == "prepare":
                prepared[rec[1]] = rec
            elif kind == "commit":
                tid = rec[1]
                p = prepared.pop(tid, None)
                if p is not None:
                    for k, v in p[5]:
                        store.install(k, v, tid)
                done[tid] = COMMITTED
            elif kind == "pabort":
                prepared.pop(rec[1], None)
                done[rec[1]] = FAILURE
            elif kind == "decide":
                decided[rec[1]] = COMMITTED
                unfinished[rec[1]] = rec[2]
            elif kind == "end":
                unfinished.pop(rec[1], None)
            elif kind == "abort":
                decided[rec[1]] = FAILURE
            elif kind == "epoch":
                self.epoch = rec[1]
        now = ctx.now
        for tid, (_, _, coord, epoch, parts, writes, reads, at) in prepared.items():
            t = PTxn(tid, 0, -1, now)
            t.state = PREPARED
            t.writes = dict(writes)
            t.reads = dict(reads)
            t.coord, t.epoch, t.participants, t.prepared_at = coord, epoch, parts, at
            t.last_query = -1e9  # ask at the first tick
            self.txns[tid] = t
            self.cc.recover(t)
        for tid, t in list(self.txns.items()):
            if t.coord == self.id:  # I coordinated it: the decision is in my own log, or never was
                if decided.get(tid) == COMMITTED:
                    self._commit_prepared(ctx, t)
                else:
                    decided[tid] = FAILURE
                    self._abort_prepared(ctx, t, FAILURE)
        for tid, parts in unfinished.items():
            c = self.coord[tid] = CTxn(tid, None, parts, now)
            c.phase = COMMITTING
            c.waiting = {p for p in parts if p != self.id}
            c.last_send = -1e9  # re-send the decision at the first tick


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class TwoPC(PartitionNode):
    """Two-phase commit across partitions; participants run 2PL (default) or OCC."""

    def make_cc(self, options: Any) -> Any:
        if options.participants == "occ":
            from implementations.occ import OptimisticCC
            return OptimisticCC(self, options.validation)
        from implementations.twopl import LockingCC
        return LockingCC(self, options.deadlock, options)


# A constant rather than the decorator, as for Raft (see there).
SPEC = ProtocolSpec("2pc", "transactions", TwoPC, TwoPCOptions,
                    "two-phase commit (presumed abort, one-phase fast path) over 2PL or OCC participants")
