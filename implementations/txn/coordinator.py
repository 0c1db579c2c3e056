"""The coordinator role of a partition: it commits the transactions homed on it (whose first
operation is one of its keys), with presumed-abort two-phase commit.

*One phase*: the client's ``CommitRequest`` names only this partition: its participant commits
alone. *Two phases*: ``Prepare`` to the other participants while the local participant prepares;
with every vote yes the coordinator logs :class:`~implementations.txn.log.Decided` and only then
sends ``Decision(commit)`` and the client's answer (every output waits for the fsync); with every
``Ack`` it logs ``Ended``. A no vote (or no vote within ``vote_timeout``, Prepares re-sent every
``retransmit``) aborts: nothing is logged (presumed abort), ``Decision(abort)`` goes out once.

The client never re-sends a commit: after a timeout it sends ``Inquiry``, which is answered from
the decisions; an attempt this node does not know is aborted for good (logged ``Aborted``, so a
late copy of the commit request cannot revive it after a crash). A participant's ``Query`` about
a transaction it does not know is answered abort (presumed abort).
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.contract import Context
from harness.kinds.transactions.contract import COMMITTED, FAILURE, CommitRequest, Inquiry, Outcome
from implementations.txn.log import Aborted, Decided, Ended
from implementations.txn.messages import Ack, Decision, Prepare, Query, Vote
from implementations.txn.options import setting
from implementations.txn.participant import CONFLICTS, Participant
from implementations.txn.records import COMMITTING, VOTING, CoordinatedTxn

__all__ = ["Coordinator"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class Coordinator:
    """A partition's coordinator role: the two-phase commits in progress (``commits``) and every
    decision taken (``decided``: tid -> COMMITTED or abort reason). Its own participant role
    (``participant``) takes part like any other, without messages; it also keeps the node's
    epoch, which Prepares carry."""

    def __init__(self, node_id: int, options: Any, participant: Participant):
        self.id = node_id
        self.participant = participant
        self.one_phase: bool = setting(options, "one_phase")
        self.vote_timeout: float = setting(options, "vote_timeout")
        self.retransmit: float = setting(options, "retransmit")
        self.commits: dict[int, CoordinatedTxn] = {}
        self.decided: dict[int, int] = {}

    def commit_request(self, ctx: Context, req: CommitRequest) -> None:
        tid = req.tid
        outcome = self.decided.get(tid)
        if outcome is not None:
            ctx.reply(req, Outcome(tid, outcome))
            return
        c = self.commits.get(tid)
        if c is not None:
            c.request = req  # a copy: the answer will come
            return
        participants = req.participants
        me = self.id
        if self.one_phase and len(participants) == 1 and participants[0] == me:
            answer = self.participant.commit_alone(ctx, req)
            self.decided[tid] = answer.reason
            ctx.reply(req, answer)
            return
        ts = self.participant.cc.commit_timestamp(ctx.now)
        c = self.commits[tid] = CoordinatedTxn(tid, req, participants, ctx.now, req.epochs, ts)
        epoch = self.participant.epoch
        prepare = Prepare(tid, epoch, me, participants, req.epochs, ts)
        for p in participants:
            if p != me:
                ctx.send(p, prepare)
        if me in c.awaiting:
            c.awaiting.discard(me)
            vote = self.participant.prepare(ctx, tid, epoch, me, participants, req.epochs, ts)
            if vote != COMMITTED:
                self._decide_abort(ctx, c, vote)
                return
        if not c.awaiting:
            self._decide_commit(ctx, c)

    def _decide_commit(self, ctx: Context, c: CoordinatedTxn) -> None:
        tid, me = c.tid, self.id
        ctx.persist(Decided(tid, c.participants))
        self.decided[tid] = COMMITTED
        c.phase = COMMITTING
        c.awaiting = {p for p in c.participants if p != me}
        c.last_sent = ctx.now
        decision = Decision(tid, True)
        for p in c.awaiting:
            ctx.send(p, decision)
        self.participant.commit_if_prepared(ctx, tid)
        ctx.reply(c.request, Outcome(tid, COMMITTED))
        if not c.awaiting:
            self._end(ctx, c)

    def _decide_abort(self, ctx: Context, c: CoordinatedTxn, reason: int) -> None:
        tid, me = c.tid, self.id
        self.decided[tid] = reason
        del self.commits[tid]
        decision = Decision(tid, False)
        for p in c.participants:
            if p != me:
                ctx.send(p, decision)
        if me in c.participants:
            self.participant.abort_local(ctx, tid, reason)
        ctx.reply(c.request, Outcome(tid, reason, reason in CONFLICTS))

    def _end(self, ctx: Context, c: CoordinatedTxn) -> None:
        ctx.persist(Ended(c.tid))
        del self.commits[c.tid]

    def on_vote(self, ctx: Context, src: int, m: Vote) -> None:
        epoch = self.participant.epoch
        c = self.commits.get(m.tid)
        if c is None or c.phase != VOTING or m.epoch != epoch:
            outcome = self.decided.get(m.tid)
            if m.yes and (outcome is not None or m.epoch != epoch):
                ctx.send(src, Decision(m.tid, outcome == COMMITTED))
            return
        if not m.yes:
            self._decide_abort(ctx, c, m.reason)
            return
        c.awaiting.discard(src)
        if not c.awaiting:
            self._decide_commit(ctx, c)

    def on_ack(self, ctx: Context, src: int, m: Ack) -> None:
        c = self.commits.get(m.tid)
        if c is not None and c.phase == COMMITTING:
            c.awaiting.discard(src)
            if not c.awaiting:
                self._end(ctx, c)

    def on_query(self, ctx: Context, src: int, m: Query) -> None:
        tid = m.tid
        outcome = self.decided.get(tid)
        if outcome is None:
            if tid in self.commits:
                if m.epoch == self.participant.epoch:
                    return  # still collecting votes: the decision will come
            else:
                self.decided[tid] = outcome = FAILURE  # presumed abort
        ctx.send(src, Decision(tid, outcome == COMMITTED))

    def inquiry(self, ctx: Context, req: Inquiry) -> None:
        tid = req.tid
        outcome = self.decided.get(tid)
        if outcome is not None:
            ctx.reply(req, Outcome(tid, outcome))
            return
        if tid in self.commits:
            return  # in progress: the answer will come
        # The commit request never arrived, or this node forgot it in a crash: abort for good.
        self.decided[tid] = FAILURE
        ctx.persist(Aborted(tid))
        decision = Decision(tid, False)
        for p in req.participants:
            if p != self.id:
                ctx.send(p, decision)
        if self.id in req.participants:
            self.participant.abort_local(ctx, tid, FAILURE)
        ctx.reply(req, Outcome(tid, FAILURE))

    def tick(self, ctx: Context, now: float) -> None:
        """Abort what lacks votes after ``vote_timeout``; re-send what is unanswered."""
        if not self.commits:
            return
        for c in list(self.commits.values()):
            if c.phase == VOTING:
                if now - c.started > self.vote_timeout:
                    self._decide_abort(ctx, c, FAILURE)
                elif now - c.last_sent >= self.retransmit:
                    c.last_sent = now
                    prepare = Prepare(c.tid, self.participant.epoch, self.id, c.participants,
                                      c.epochs, c.ts)
                    for p in c.awaiting:
                        ctx.send(p, prepare)
            elif now - c.last_sent >= self.retransmit:
                c.last_sent = now
                decision = Decision(c.tid, True)
                for p in c.awaiting:
                    ctx.send(p, decision)

    def resume(self, tid: int, participants: tuple[int, ...], now: float) -> None:
        """After a restart: ``tid`` was decided commit but not every participant acknowledged;
        re-send the decision at the first tick."""
        c = self.commits[tid] = CoordinatedTxn(tid, None, participants, now)
        c.phase = COMMITTING
        c.awaiting = {p for p in participants if p != self.id}
        c.last_sent = -1e9

    def collecting_votes(self, tid: int) -> bool:
        c = self.commits.get(tid)
        return c is not None and c.phase == VOTING
