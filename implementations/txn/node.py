"""The partition node every transaction protocol runs: presumed-abort two-phase commit over a
concurrency control of the protocol's choice, as a sans-I/O node.

Every partition plays two roles (as in Deneva): *participant* for the keys it stores
(:mod:`~implementations.txn.participant`), and *coordinator* for the transactions whose first
operation is one of its keys, their "home" (:mod:`~implementations.txn.coordinator`). This node
hands each input to its role and answers the world's questions
(:class:`~harness.kinds.transactions.contract.TransactionNode`). What differs between protocols
is the concurrency control it is built with (:meth:`PartitionNode.make_cc`): 2PL's
``LockingCC`` or OCC's ``OptimisticCC``. A transaction that spans partitions needs atomic commit
whichever is picked, so ``2pl`` and ``occ`` use this commit protocol with its default settings,
and ``2pc`` exposes its knobs.

Recovery
    A restarted node replays its log (:mod:`~implementations.txn.log`): committed writes are
    re-installed in log order; a prepared transaction without a commit record is *in doubt*: it
    re-takes its locks (2PL) or validation locks (OCC) and asks its coordinator until it hears
    the decision (one this node coordinated is decided at once from its own log). A coordinator
    re-sends ``Decision(commit)`` for every decided transaction without an end record; one it
    does not know is aborted (presumed abort). Each incarnation logs a new *epoch*; ``Prepare``
    carries it, so a participant still prepared from an older round of a re-run transaction
    votes no.

Durability of reads
    The host holds every output until all earlier persists are durable, so a transaction that read
    a write whose commit record is still being flushed cannot commit (or even be answered) before
    that record is on disk; locks are therefore released as soon as the commit record is issued
    (early lock release with group commit).

Observations (``ctx.observe``) for the checkers and metrics: ``"commit"`` with a
:class:`~harness.kinds.transactions.contract.CommitObs` per partition commit; ``"lock_wait"``
with a wait's duration (a request that queued and was answered later; one settled in the same
step -- the requester is the deadlock victim, or gets the victim's lock at once -- never
waited); ``"in_doubt"`` with ``(tid, prepared_at, overdue_at, resolved_at)`` for every prepared
participant, ``overdue_at`` being when it started asking for the decision (infinite for the
coordinator's own participant): the time past it is the ``blocked_ms`` column, the whole of it
``in_doubt_ms``.
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.contract import Context
from harness.kinds.transactions.contract import (
    COMMITTED, FAILURE, AbortRequest, CommitRequest, Inquiry, OpRequest, Store, TransactionNode,
)
from implementations.txn.concurrency import ConcurrencyControl
from implementations.txn.coordinator import Coordinator
from implementations.txn.log import (
    Aborted, Committed, CommittedAlone, Decided, Ended, EpochStarted, Prepared, PreparedAborted,
)
from implementations.txn.messages import Ack, Decision, PeerQuery, PeerReply, Prepare, Query, Vote
from implementations.txn.participant import Participant

__all__ = ["PartitionNode", "TICK"]

TICK = 0.005  # the housekeeping timer: timeouts and re-sends are checked this often


@mypyc_attr(allow_interpreted_subclasses=True)  # each protocol's node, and tests, subclass it
class PartitionNode(TransactionNode):
    """One partition: participant for its keys, coordinator for the transactions homed here.
    Subclasses supply the concurrency control with :meth:`make_cc`."""

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: Any, options: Any,
                 store: Store | None = None):
        self.id = node_id
        self.nodes = nodes
        self.options = options
        self.participant = Participant(node_id, options, store if store is not None else Store())
        self.coordinator = Coordinator(node_id, options, self.participant)
        self.participant.cc = self.make_cc(options)

    def make_cc(self, options: Any) -> ConcurrencyControl:
        """The concurrency control of this partition, built over ``self.participant``."""
        raise NotImplementedError

    # -- the Node interface ----------------------------------------------------------------------
    def start(self, ctx: Context, stable: list[Any]) -> None:
        p = self.participant
        p.ctx = ctx
        p.booted = ctx.now
        p.cc.started(ctx.now)
        if stable:
            self._recover(ctx, stable)
        p.epoch += 1
        ctx.persist(EpochStarted(p.epoch))
        ctx.set_timer("tick", TICK)

    def on_request(self, ctx: Context, request: Any) -> None:
        t = type(request)
        if t is OpRequest:
            self.participant.op(ctx, request)
        elif t is CommitRequest:
            self.coordinator.commit_request(ctx, request)
        elif t is AbortRequest:
            self.participant.abort_request(ctx, request)
        elif t is Inquiry:
            self.coordinator.inquiry(ctx, request)
        else:
            raise TypeError(f"{type(self).__name__}: unexpected request {request!r}")

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        t = type(msg)
        if t is Prepare:
            self.participant.on_prepare(ctx, src, msg)
        elif t is Vote:
            self.coordinator.on_vote(ctx, src, msg)
        elif t is Decision:
            self.participant.on_decision(ctx, src, msg)
        elif t is Ack:
            self.coordinator.on_ack(ctx, src, msg)
        elif t is Query:
            self.coordinator.on_query(ctx, src, msg)
        elif t is PeerQuery:
            self.participant.on_peer_query(ctx, src, msg, self.coordinator.decided.get(msg.tid))
        elif t is PeerReply:
            self.participant.on_peer_reply(ctx, src, msg)
        else:
            raise TypeError(f"{type(self).__name__}: unexpected message {msg!r}")

    def on_timer(self, ctx: Context, name: str) -> None:
        now = ctx.now
        self.participant.tick(ctx, now)
        self.coordinator.tick(ctx, now)
        self.participant.cc.tick(now)
        ctx.set_timer("tick", TICK)

    # -- what the world may ask (TransactionNode) --------------------------------------------------
    def committed(self) -> Store:
        return self.participant.store

    def idle(self) -> bool:
        return not self.participant.txns and not self.coordinator.commits

    def in_doubt(self) -> list[tuple[int, int]]:
        return self.participant.in_doubt()

    def collecting_votes(self, tid: int) -> bool:
        return self.coordinator.collecting_votes(tid)

    def coordinating(self) -> bool:
        return bool(self.coordinator.commits)

    def settled(self) -> bool:
        return not self.coordinator.commits and self.participant.nothing_prepared()

    # -- recovery ------------------------------------------------------------------------------------
    def _recover(self, ctx: Context, stable: list[Any]) -> None:
        p, c = self.participant, self.coordinator
        store, done, decided, cc = p.store, p.done, c.decided, p.cc
        prepared: dict[int, Prepared] = {}
        unfinished: dict[int, tuple[int, ...]] = {}
        for rec in stable:
            kind = type(rec)
            if kind is CommittedAlone:
                cc.restored(rec.tid, rec.writes, rec.ts)
                for k, v in rec.writes:
                    store.install(k, v, rec.tid)
                done[rec.tid] = decided[rec.tid] = COMMITTED
            elif kind is Prepared:
                prepared[rec.tid] = rec
            elif kind is Committed:
                record = prepared.pop(rec.tid, None)
                if record is not None:
                    cc.restored(rec.tid, record.writes, record.ts)
                    for k, v in record.writes:
                        store.install(k, v, rec.tid)
                done[rec.tid] = COMMITTED
            elif kind is PreparedAborted:
                prepared.pop(rec.tid, None)
                done[rec.tid] = FAILURE
            elif kind is Decided:
                decided[rec.tid] = COMMITTED
                unfinished[rec.tid] = rec.participants
            elif kind is Ended:
                unfinished.pop(rec.tid, None)
            elif kind is Aborted:
                decided[rec.tid] = FAILURE
            elif kind is EpochStarted:
                p.epoch = rec.epoch
        now = ctx.now
        for record in prepared.values():
            p.recover_prepared(record, now)
        for tid, t in list(p.txns.items()):
            if t.coordinator == self.id:  # coordinated here: the decision is in this log, or never was
                if decided.get(tid) == COMMITTED:
                    p.commit_prepared(ctx, t)
                else:
                    decided[tid] = FAILURE
                    p.abort_prepared(ctx, t, FAILURE)
        for tid, participants in unfinished.items():
            c.resume(tid, participants, now)
