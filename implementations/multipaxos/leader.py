"""Phase 2 as the leader of one ballot runs it: the batching window it proposes through
(``implementations.replication.batching``, as the Raft leader), the proposals not yet chosen,
the answers of each acceptor, the quorum check over its followers
(``implementations.replication.progress``), heartbeats and retransmission, and lease reads.

Lease reads (``read: lease``; ``implementations.replication.lease``, as the Raft leader)
    Every heartbeat is a lease round (:class:`~implementations.multipaxos.messages.LeaseHeartbeat`).
    A GET is answered from the leader's state machine at once once every slot below the first
    this leader proposed is applied (what earlier ballots chose is then all there) and while
    the lease holds; otherwise it waits for both, and is redirected if the leader steps down.

Loss
    An accept a follower has not answered for a whole ``replication.retransmit`` interval (the
    heartbeat by default) is re-sent to it, checked every interval -- the policy the Raft
    leader follows too (``implementations.replication.liveness``). There is no fast retransmit:
    on a network that reorders, answers to later slots do not mean an accept was lost -- until
    they have said so for ``replication.reorder_wait`` (:meth:`Leader._answer_gap`). A lost
    answer is made good almost as a Raft leader's is: every answer (to an accept or a heartbeat)
    also says up to which slot the acceptor holds every slot, as a Raft follower's reply carries
    its match index. The leader counts an answer for earlier slots only if their accepts left
    ``reorder_wait`` or more before the one answered (else their own answers may just be late:
    reordering alone must not turn per-slot answers into cumulative ones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.contract import Context
from implementations.multipaxos.messages import (Accept, Accepted, Heartbeat, HeartbeatAck,
                                                 LeaseHeartbeat, LeaseHeartbeatAck, batch_bytes)
from implementations.multipaxos.records import AcceptRecord
from implementations.replication.batching import BatchWindow
from implementations.replication.lease import Lease
from implementations.replication.progress import Followers
from workloads.kv import Request

if TYPE_CHECKING:
    from implementations.multipaxos.node import MultiPaxosNode

__all__ = ["Leader", "Proposal"]


class Proposal:
    """A slot's proposed ``value`` (``size`` bytes), the acceptors that accepted it (a mask of
    node bits, the leader's own included) and when its accept was last sent."""

    __slots__ = ("value", "acks", "sent_at", "size")

    def __init__(self, value: Any, acks: int, sent_at: float, size: int):
        self.value = value
        self.acks = acks
        self.sent_at = sent_at
        self.size = size


class Leader:
    """What a Multi-Paxos node keeps while it leads one ballot, and phase 2 as it runs it."""

    __slots__ = ("node", "ballot", "bit", "bits", "peer_bits", "majority", "rto", "reorder_wait",
                 "heartbeat_interval", "followers", "progress", "window", "proposals", "next_slot",
                 "answer_slots", "highest_answered", "answer_gap", "lease", "reads", "base")

    def __init__(self, node: MultiPaxosNode, next_slot: int):
        self.node = node
        self.ballot = node.ballot
        self.bit = node.bit
        self.bits = node.bits
        self.peer_bits = node.peer_bits
        self.majority = node.majority
        self.rto = node.rto
        self.reorder_wait = node.reorder_wait
        self.heartbeat_interval = node.heartbeat_interval
        self.followers = Followers(node.peers, 0, node.majority)  # (for the quorum check)
        self.progress = self.followers.by_id
        self.window = BatchWindow(node.batch_size, node.batch_delay, node.pipeline)
        self.proposals: dict[int, Proposal] = {}  # by slot, in slot order: proposed, not chosen
        self.next_slot = next_slot
        self.answer_slots: set[int] = set()  # slots holding requests this leader must answer
        self.highest_answered: dict[int, int] = {}  # peer -> highest slot it answered
        self.answer_gap: dict[int, int] = {}  # peer -> an earlier slot is unanswered below this
        length = node.lease_length
        self.lease = None if length is None else Lease(node.peers, node.majority, length)
        self.reads: list[Request] = []  # lease reads waiting for the lease or the base
        self.base = next_slot  # lease reads wait until every slot below is applied

    # -- proposing ------------------------------------------------------------------------------
    def propose(self, ctx: Context) -> None:
        """Propose queued requests, one batch per slot, while the pipeline window has room
        (re-proposals of a new leader count too)."""
        window = self.window
        proposals = self.proposals
        while (batch := window.take(ctx, len(proposals))) is not None:
            value = tuple(batch)
            slot = self.next_slot
            self.next_slot = slot + 1
            self.answer_slots.add(slot)
            self.send_accept(ctx, slot, value, batch_bytes(value))
        window.settle(ctx)

    def send_accept(self, ctx: Context, slot: int, value: Any, vbytes: int) -> None:
        node = self.node
        b = self.ballot
        msg = Accept(b, slot, value, len(node.log), vbytes)
        for p in node.peers:
            ctx.send(p, msg)
        # Parallel write: the accepts leave before our own acceptance is persisted, and we count
        # ourselves at once. Every output that could reveal the slot as chosen (a reply, a
        # commit index, a catch-up) is issued after this persist and so waits for its fsync.
        rec = AcceptRecord(slot, b, value, vbytes, msg.commit)
        ctx.persist(rec)
        node.accepted[slot] = rec
        self.proposals[slot] = Proposal(value, self.bit, ctx.now, vbytes)
        if self.majority == 1:
            self._chosen(ctx, slot)

    # -- answers --------------------------------------------------------------------------------
    def on_accepted(self, ctx: Context, src: int, m: Accepted) -> None:
        if m.ballot != self.ballot:
            return
        bit = self.bits[src]
        self.progress[src].active = True
        slot = m.slot
        p = self.proposals.get(slot)
        sent = -1.0
        if p is not None:
            sent = p.sent_at
            if not p.acks & bit:
                self._answered(ctx, slot, p, bit)
        self._answer_gap(ctx, src, slot, m.upto, sent)

    def on_heartbeat_ack(self, ctx: Context, src: int, m: HeartbeatAck) -> None:
        if m.ballot != self.ballot:
            return
        lease = self.lease
        if lease is not None and isinstance(m, LeaseHeartbeatAck):
            if lease.answer(src, m.rid) and self.reads:
                self.serve_reads(ctx)
        bit = self.bits[src]
        self.progress[src].active = True
        answered = [(s, p) for s, p in self.proposals.items() if s < m.upto and not p.acks & bit]
        for s, p in answered:  # answers to accepts whose own answer was lost
            self._answered(ctx, s, p, bit)

    def _answered(self, ctx: Context, slot: int, p: Proposal, bit: int) -> None:
        """Count the answer of the acceptor with ``bit`` for ``slot`` (proposal ``p``)."""
        acks = p.acks = p.acks | bit
        if acks.bit_count() >= self.majority and self.node.leadership is self:
            self._chosen(ctx, slot)

    def _answer_gap(self, ctx: Context, src: int, slot: int, upto: int, sent: float) -> None:
        """The gap rule (``replication.reorder_wait``) on the answers. ``src`` answered ``slot``
        (whose accept left at ``sent``) and says it holds every slot below ``upto``; an earlier
        slot's answer is missing. If that accept left ``reorder_wait`` or more before this one,
        its answer would have come first unless lost: count it as answered. A Raft leader needs
        no such rule, as a follower's match index acknowledges the whole prefix; without it a
        lost Paxos answer waits for the next heartbeat's answer or the retransmission interval,
        and with two replicas left every later slot with it."""
        top = self.highest_answered.get(src, -1)
        if slot > top:
            self.highest_answered[src] = slot
            if slot > top + 1:
                self.answer_gap[src] = slot
        below = self.answer_gap.get(src)
        if below is None or sent < 0:
            return
        bit, old = self.bits[src], sent - self.reorder_wait
        covered, still_open = [], False
        for s, p in self.proposals.items():  # in slot order
            if s >= below:
                break
            if not p.acks & bit:
                if s < upto and p.sent_at <= old:
                    covered.append((s, p))
                else:
                    still_open = True
        for s, p in covered:
            self._answered(ctx, s, p, bit)
        if not still_open:
            del self.answer_gap[src]

    def _chosen(self, ctx: Context, slot: int) -> None:
        node = self.node
        node.chosen[slot] = self.proposals.pop(slot).value
        if slot == len(node.log):
            node._apply_chosen(ctx)
            if self.reads:
                self.serve_reads(ctx)
        if self.window.queue:
            self.propose(ctx)

    # -- lease reads ----------------------------------------------------------------------------
    def read(self, ctx: Context, request: Request) -> None:
        """A GET: answered now if the lease confirms it, else when it does."""
        self.reads.append(request)
        self.serve_reads(ctx)

    def serve_reads(self, ctx: Context) -> None:
        lease = self.lease
        node = self.node
        if lease is None or len(node.log) < self.base or not lease.holds(ctx.now):
            return
        reads, self.reads = self.reads, []
        sm = node.sm
        for req in reads:
            ctx.reply(req, sm.answer(req, sm.read(req.key)))

    # -- timers ---------------------------------------------------------------------------------
    def heartbeat(self, ctx: Context) -> None:
        lease = self.lease
        msg = Heartbeat(self.ballot, len(self.node.log)) if lease is None else \
            LeaseHeartbeat(self.ballot, len(self.node.log), lease.start(ctx.now))
        for p in self.node.peers:
            ctx.send(p, msg)
        ctx.set_timer("heartbeat", self.heartbeat_interval)

    def retransmit(self, ctx: Context) -> None:
        """Re-send each accept to the followers that have not answered it for a whole
        ``replication.retransmit`` interval (``implementations.replication.liveness``)."""
        due = ctx.now - self.rto + 1e-9
        b = self.ballot
        commit = len(self.node.log)
        resent = 0
        for slot, p in self.proposals.items():
            if p.sent_at <= due:
                p.sent_at = ctx.now
                acc = Accept(b, slot, p.value, commit, p.size)
                acks = p.acks
                for peer, bit in self.peer_bits:
                    if not acks & bit:
                        ctx.send(peer, acc)
                        resent += 1
        if resent:
            ctx.observe("retransmit", resent)
        ctx.set_timer("retransmit", self.rto)
