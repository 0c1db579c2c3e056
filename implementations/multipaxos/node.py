"""Multi-Paxos: a stable leader runs phase 1 once for all future slots, then phase 2 per slot.

Every replica is proposer, acceptor and learner. The protocol is sans-I/O: it acts only through
the :class:`~harness.protocol.Context` it is handed (see ``harness/protocol.py``).

Ballots
    One comparable int: ``ballot = round * n + index`` where ``index`` is the node's position in
    ``nodes`` and ``round >= 1``; ``0`` means "nothing promised". The owner of a ballot is
    ``nodes[ballot % n]``. A new ballot is this node's smallest one above every ballot it has
    promised or seen, so no ballot is ever used twice (the candidate persists its own promise
    before sending a prepare).

Roles
    Every replica is acceptor and learner in every role; :meth:`MultiPaxosNode.on_message` hands
    the proposer's messages to the role's own step (``_step_leader``, ``_step_candidate``), as
    etcd-io/raft's ``Step`` does. FOLLOWER; CANDIDATE (phase 1 in progress, :meth:`MultiPaxosNode.takeover`); LEADER
    (:meth:`MultiPaxosNode.lead`). Phase 1 covers every slot from the candidate's applied prefix
    on: promises carry the acceptor's chosen values and its accepted ``(slot, ballot, value)`` at
    or above that slot. The new leader learns the chosen ones, re-proposes the highest-ballot
    value of every other reported slot and fills holes with no-ops (value ``None``). An acceptor
    whose applied prefix is more than ``batch_size * pipeline`` slots ahead of a candidate
    refuses to promise (always safe) and streams it the log instead; the candidate then abandons
    its candidacy, so nobody takes office having to re-propose a long stretch of the log. The most
    advanced live replica is never refused, so some replica can always lead.

Messages (sizes: ``Message.HEADER`` + 8 bytes per integer field + the carried requests' sizes)
    Prepare / Promise / Nack (phase 1 and rejections), Accept / Accepted (phase 2, one slot each,
    the leader's commit index piggybacked), Heartbeat / HeartbeatAck (leadership, commit index,
    quorum check), CatchupReq / Catchup (a replica's request for the slots it lacks, and the
    answer: one chosen slot per message, at most ``pipeline`` of them per request, so that
    ``batch_size: 1`` batches no catch-up either).

Durable records
    :class:`~implementations.multipaxos.records.PromiseRecord` and ``AcceptRecord`` (slot, ballot, value, and the commit index
    that accept carried), each persisted before the promise / accepted reply that depends on it.
    The leader writes its own acceptance in parallel with its followers, like the Raft replica
    (Raft thesis 10.2.1): it sends the accepts, then persists, and counts itself at once; whatever
    could reveal the slot as chosen (a reply, a commit index, a catch-up) is issued after that
    persist and so waits for its fsync. Chosen-ness has no record of its own: a restarted replica
    replays its records, re-applies to its fresh state machine every slot it accepted in a ballot
    whose leader had declared it committed, and fetches the rest by catch-up.

Learning without a per-slot "chosen" broadcast
    The leader of ballot ``B`` declares "every slot below ``commit`` is chosen" (on accepts and
    heartbeats). A value accepted at ``(slot, B)`` is then the chosen value, because ``B``'s leader
    proposes at most one value per slot and any proposal made after a value was chosen equals it.
    A follower missing such a slot asks the leader for it (below, "Gaps"), and keeps asking for
    the next transfer while it is still behind.

Batching and pipelining (``implementations.replication.batching``, as the Raft leader)
    One slot holds one batch: a tuple of at most ``batch_size`` requests. ``pipeline`` bounds the
    number of proposed-but-not-yet-chosen slots (a new leader's re-proposals count too). A client
    retry of a request still queued or in flight is not proposed again (one reply answers both);
    a retry of an applied one is, and the state machine answers it from its session cache
    without applying it twice.

Loss and gaps: :mod:`implementations.multipaxos.leader` (retransmission, lost answers) and
:mod:`implementations.multipaxos.catchup` (a replica's missing slots).

Timers: "election" (follower/candidate: start phase 1 once no leader contact -- accept or
heartbeat -- nor granted promise has reset it for a timeout redrawn at every reset),
"quorum" (leader: step down when no majority answered during the last period), "heartbeat"
(leader) and "batch"; see ``implementations.replication.liveness``, shared with the Raft
replica.
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.protocol import Context, Node, ReplicationOptions
from implementations.multipaxos.catchup import CatchUp
from implementations.multipaxos.leader import Leader
from implementations.multipaxos.messages import (Accept, Accepted, Catchup, CatchupReq, Heartbeat,
                                                 HeartbeatAck, LeaseHeartbeat, LeaseHeartbeatAck,
                                                 Nack, Prepare, Promise, batch_bytes)
from implementations.multipaxos.options import MultiPaxosOptions
from implementations.multipaxos.records import CHOSEN, AcceptRecord, PromiseRecord
from implementations.multipaxos.roles import CANDIDATE, FOLLOWER, LEADER
from implementations.replication.lease import in_lease
from implementations.replication.liveness import (ElectionTimer, check_quorum_period,
                                                  retransmit_interval)
from workloads.kv import GET, REDIRECT, KVStateMachine, Reply, Request

__all__ = ["MultiPaxosNode", "Candidacy"]


class Candidacy:
    """Phase 1 of one ballot: the nodes that promised (a mask of node bits) and what their
    promises reported -- values known chosen, and the highest-ballot accepted one per slot."""

    __slots__ = ("promised_by", "chosen", "accepted")

    def __init__(self, promised_by: int):
        self.promised_by = promised_by
        self.chosen: dict[int, Any] = {}
        self.accepted: dict[int, AcceptRecord] = {}

    def merge(self, start: int, chosen: tuple, accepted: tuple) -> None:
        """Add one promise's report: ``chosen`` values of slots ``start, ...``, and accepted
        ones (ballot ``CHOSEN``: known chosen)."""
        pc = self.chosen
        for i, v in enumerate(chosen):
            pc[start + i] = v
        pa = self.accepted
        for a in accepted:
            if a.ballot == CHOSEN:
                pc[a.slot] = a.value
                continue
            e = pa.get(a.slot)
            if e is None or a.ballot > e.ballot:
                pa[a.slot] = a


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class MultiPaxosNode(Node):
    """Multi-Paxos with a stable leader, batching, pipelining, catch-up and no-op hole filling."""

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: ReplicationOptions,
                 options: MultiPaxosOptions, state_machine: KVStateMachine):
        self.node_id = node_id
        self.nodes = tuple(nodes)
        self.n = len(self.nodes)
        self.index = self.nodes.index(node_id)
        self.majority = self.n // 2 + 1
        self.bits = {p: 1 << i for i, p in enumerate(self.nodes)}
        self.bit = self.bits[node_id]
        self.peers = tuple(p for p in self.nodes if p != node_id)
        self.peer_bits = tuple((p, self.bits[p]) for p in self.peers)
        self.options = options
        self.batch_size = max(1, replication.batch_size)
        self.batch_delay = replication.batch_delay
        self.pipeline = max(1, replication.pipeline)
        self.election_range = replication.election_range
        self.check_quorum_period = check_quorum_period(options, replication)
        self.rto = retransmit_interval(replication)
        self.heartbeat_interval = replication.heartbeat
        # how long a lease lasts, or None: no lease reads and no vote guard
        self.lease_length = (options.lease_length(replication.election_timeout)
                             if options.read == "lease" else None)
        self.far_behind = self.batch_size * self.pipeline  # slots; a candidate further back is refused
        self.reorder_wait = replication.reorder_wait
        self.sm = state_machine
        self._reset()

    def _reset(self) -> None:
        # acceptor
        self.promised = 0
        self.accepted: dict[int, AcceptRecord] = {}  # by slot, above the applied prefix
        self.held_ballot = 0  # the ballot for which ...
        self.held_upto = 0  # ... every slot from the commit index up to here is held
        # learner
        self.log: list[Any] = []  # chosen values of slots 0..len-1, all applied
        self.chosen: dict[int, Any] = {}  # chosen values above the applied prefix
        self.applied_count = 0  # running index over applied commands (a no-op counts one)
        self.leader_commit = 0  # last commit index declared by a leader ...
        self.leader_commit_ballot = -1  # ... and that leader's ballot
        self.catchup = CatchUp(self)
        # proposer
        self.role = FOLLOWER
        self.max_seen = 0  # highest ballot seen in a refused or abandoned prepare
        self.pre_promised = 0  # promised before the current candidacy
        self.ballot = 0
        self.leader_hint: int | None = None
        self.candidacy = Candidacy(0)
        self.leadership: Leader | None = None  # while leading
        self.timer = ElectionTimer(*self.election_range)
        self.contact_ballot = 0  # ballot of the last leader this node heard from
        self.contact = float("-inf")  # when a leader last reached us, or we restarted

    # -- inputs ----------------------------------------------------------------------------
    def start(self, ctx: Context, stable: list[Any]) -> None:
        self._reset()
        acc = self.accepted
        promised = 0
        commits: dict[int, int] = {}  # ballot -> highest commit index its leader declared
        for rec in stable:
            b = rec.ballot
            if rec.__class__ is AcceptRecord:
                acc[rec.slot] = rec
                if rec.commit > commits.get(b, 0):
                    commits[b] = rec.commit
            if b > promised:
                promised = b
        self.contact = ctx.now
        self.promised = promised
        # Relearn the chosen prefix from disk: a value accepted at (slot, b) is chosen if the
        # leader of b declared the slot committed. The rest comes from the leader (catch-up).
        s = 0
        while (e := acc.get(s)) is not None and s < commits.get(e.ballot, 0):
            self._apply_slot(ctx, s, e.value)
            s += 1
        chosen = self.chosen  # known chosen beyond a gap: applied once the gap is filled
        for slot, e in acc.items():
            if slot < commits.get(e.ballot, 0):
                chosen[slot] = e.value
        self.timer.reset(ctx)

    def on_message(self, ctx: Context, src: int, m: Any) -> None:
        """The acceptor's and learner's messages in every role; the proposer's by role."""
        t = m.__class__
        if t is Accept:
            self.on_accept(ctx, src, m)
        elif t is Accepted or t is HeartbeatAck or t is Promise or t is LeaseHeartbeatAck:
            if self.role == LEADER:
                self._step_leader(ctx, src, m, t)
            elif self.role == CANDIDATE:
                self._step_candidate(ctx, src, m, t)
            # a follower ignores answers meant for a ballot it no longer runs
        elif t is Heartbeat or t is LeaseHeartbeat:
            self.on_heartbeat(ctx, src, m)
        elif t is Prepare:
            self.on_prepare(ctx, src, m)
        elif t is Nack:
            self.on_nack(ctx, src, m)
        elif t is CatchupReq:
            self.catchup.on_catchup_req(ctx, src, m)
        elif t is Catchup:
            self.catchup.on_catchup(ctx, src, m)
        else:
            raise TypeError(f"multipaxos: unexpected message {m!r}")

    def _step_leader(self, ctx: Context, src: int, m: Any, t: type) -> None:
        lead = self.leadership
        assert lead is not None
        if t is Accepted:
            lead.on_accepted(ctx, src, m)
        elif t is HeartbeatAck or t is LeaseHeartbeatAck:
            lead.on_heartbeat_ack(ctx, src, m)
        # a late promise: phase 1 is over

    def _step_candidate(self, ctx: Context, src: int, m: Any, t: type) -> None:
        if t is Promise:
            self.on_promise(ctx, src, m)
        # answers to accepts and heartbeats: none sent in this ballot yet

    def on_timer(self, ctx: Context, name: str) -> None:
        lead = self.leadership
        if name == "heartbeat":
            if lead is not None:
                lead.heartbeat(ctx)
        elif name == "retransmit":
            if lead is not None:
                lead.retransmit(ctx)
        elif name == "election":
            if lead is None and self.timer.expired(ctx):
                self.takeover(ctx)
        elif name == "gap":
            self.catchup.on_gap_timer(ctx)
        elif name == "quorum":
            if lead is not None and self.check_quorum_period:
                if not lead.followers.quorum_active():
                    self._step_down(ctx, None)
                else:
                    ctx.set_timer("quorum", self.check_quorum_period)
        elif name == "batch":
            if lead is not None:
                if lead.window.fired():
                    lead.propose(ctx)

    def on_request(self, ctx: Context, request: Request) -> None:
        lead = self.leadership
        if lead is None:
            ctx.reply(request, Reply(request, REDIRECT, None, self.leader_hint))
        elif lead.lease is not None and request.op == GET:
            lead.read(ctx, request)
        elif lead.window.admit(ctx, request, len(lead.proposals)):
            lead.propose(ctx)

    # -- phase 1 ---------------------------------------------------------------------------
    def new_ballot(self, ctx: Context) -> int:
        """Become a candidate with this node's smallest ballot above everything promised,
        promised (durably) to itself."""
        n = self.n
        top = self.promised if self.promised > self.max_seen else self.max_seen
        b = (top // n + 1) * n + self.index
        self._abdicate(ctx)
        self.pre_promised = self.promised
        self.role = CANDIDATE
        self.ballot = self.promised = b
        self.leader_hint = None
        ctx.persist(PromiseRecord(b))
        self.candidacy = Candidacy(self.bit)
        return b

    def takeover(self, ctx: Context) -> None:
        """Phase 1 for every slot from the applied prefix on, with a fresh higher ballot. The
        leader takes office in :meth:`lead` once a majority (itself included) has promised."""
        b = self.new_ballot(ctx)
        start = len(self.log)
        # Our own promise: what we know chosen and what we accepted.
        self.candidacy.chosen.update(self.chosen)
        self.candidacy.merge(start, (), tuple(e for s, e in self.accepted.items() if s >= start))
        msg = Prepare(b, start)
        for p in self.peers:
            ctx.send(p, msg)
        self.timer.reset(ctx)
        if self.majority == 1:
            self.lead(ctx)

    def on_prepare(self, ctx: Context, src: int, m: Prepare) -> None:
        b = m.ballot
        if b < self.promised:
            ctx.send(src, Nack(self.promised))
            return
        if b > self.promised and self.lease_length is not None and (
                self.role == LEADER or in_lease(ctx.now, self.contact, self.election_range[0])):
            return  # the vote guard of leases: ignored, as a Raft node ignores the vote
        start = m.start
        log = self.log
        if len(log) - start > self.far_behind:
            # The candidate lags by more than batch_size * pipeline slots: phase 1 would have to ship
            # it all those chosen values. Refuse (never unsafe) and stream it the log instead;
            # it can lead once it is close enough (the most advanced live node always can).
            if b > self.max_seen:
                self.max_seen = b
            self.catchup.send(ctx, src, start)
            return
        if b > self.promised:
            self.promised = b
            if self.role != FOLLOWER:
                self._step_down(ctx, src)
            ctx.persist(PromiseRecord(b))
        self.leader_hint = src
        self.timer.reset(ctx)  # a vote granted
        chosen = tuple(log[start:]) if start < len(log) else ()
        accepted = [e for s, e in self.accepted.items() if s >= start]
        if self.chosen:  # known chosen above a gap (after a restart, or an ex-leader's)
            accepted += [AcceptRecord(s, CHOSEN, v, batch_bytes(v), 0)
                         for s, v in self.chosen.items() if s >= start]
        ctx.send(src, Promise(b, start, chosen, tuple(accepted)))

    def on_promise(self, ctx: Context, src: int, m: Promise) -> None:
        c = self.candidacy
        if m.ballot != self.ballot:
            return
        bit = self.bits[src]
        if c.promised_by & bit:
            return
        c.promised_by |= bit
        c.merge(m.start, m.chosen, m.accepted)
        if c.promised_by.bit_count() >= self.majority:
            self.lead(ctx)

    def lead(self, ctx: Context) -> None:
        """Take office: learn the reported chosen values, re-propose the highest-ballot value
        of every other reported slot, fill holes with no-ops, then serve clients."""
        self.role = LEADER
        self.leader_hint = self.node_id
        ctx.became_leader(self.ballot)
        c, self.candidacy = self.candidacy, Candidacy(0)
        chosen = self.chosen
        base = len(self.log)
        top = base - 1
        for s, v in c.chosen.items():
            if s >= base:
                chosen[s] = v
                if s > top:
                    top = s
        acc = c.accepted
        for s in acc:
            if s > top:
                top = s
        self._apply_chosen(ctx)
        lead = self.leadership = Leader(self, top + 1)
        for p, bit in self.peer_bits:
            if c.promised_by & bit:
                lead.followers.heard(p)
        for s in range(len(self.log), top + 1):
            if s in chosen:
                continue
            e = acc.get(s)
            if e is None:
                lead.send_accept(ctx, s, None, 0)  # a hole: no-op
            else:
                lead.send_accept(ctx, s, e.value, e.vbytes)
        lead.heartbeat(ctx)
        ctx.set_timer("retransmit", self.rto)
        self.timer.stop(ctx)
        if self.check_quorum_period:
            ctx.set_timer("quorum", self.check_quorum_period)
        lead.propose(ctx)

    def on_nack(self, ctx: Context, src: int, m: Nack) -> None:
        if m.ballot > self.promised:
            self.promised = m.ballot
            owner = self.nodes[m.ballot % self.n]
            self.leader_hint = owner
            if self.role != FOLLOWER:
                self._step_down(ctx, owner)

    def _abdicate(self, ctx: Context) -> None:
        """Forget proposer state; queued (never proposed) requests are redirected."""
        lead = self.leadership
        dropped: list[Request] = []
        if lead is not None:
            ctx.observe("stepped_down", self.ballot)  # (for the metrics' leader lane)
            ctx.cancel_timer("heartbeat")
            ctx.cancel_timer("retransmit")
            ctx.cancel_timer("quorum")
            dropped = lead.window.clear(ctx) + lead.reads
            self.leadership = None
        self.role = FOLLOWER
        self.candidacy = Candidacy(0)
        if dropped:
            hint = self.leader_hint if self.leader_hint != self.node_id else None
            for r in dropped:
                ctx.reply(r, Reply(r, REDIRECT, None, hint))

    def _step_down(self, ctx: Context, hint: int | None) -> None:
        self.leader_hint = hint
        self._abdicate(ctx)
        self.timer.reset(ctx)

    # -- phase 2 (acceptor) and learning ---------------------------------------------------
    def _admit(self, ctx: Context, src: int, b: int) -> bool:
        """A leader's ballot ``b`` on an Accept or a Heartbeat: refused (a Nack naming the ballot
        promised) when older than the promise; when newer, promised, and its sender followed."""
        if b < self.promised:
            ctx.send(src, Nack(self.promised))
            return False
        if b > self.promised:
            self.promised = b
            if self.role != FOLLOWER:
                self._step_down(ctx, src)
            self.leader_hint = src
        return True

    def on_accept(self, ctx: Context, src: int, m: Accept) -> None:
        b = m.ballot
        if not self._admit(ctx, src, b):
            return
        self._leader_contact(ctx, b)
        slot = m.slot
        if slot >= len(self.log):
            e = self.accepted.get(slot)
            if e is None or e.ballot != b:  # not a retransmission of what we already hold
                rec = AcceptRecord(slot, b, m.value, m.vbytes, m.commit)
                ctx.persist(rec)
                self.accepted[slot] = rec
        # else: already chosen and applied here; the proposal equals the chosen value.
        ctx.send(src, Accepted(b, slot, self._held_upto()))
        if m.commit > len(self.log):
            self.leader_commit = m.commit
            self.leader_commit_ballot = b
            self._learn(ctx, src)
        if slot > len(self.log) and not self._held(slot - 1):
            self.catchup.wait_for_gap(ctx, src, slot - 1)  # the accept before it is late, or lost

    def on_heartbeat(self, ctx: Context, src: int, m: Heartbeat) -> None:
        b = m.ballot
        if not self._admit(ctx, src, b):
            return
        self.leader_hint = src
        self._leader_contact(ctx, b)
        if isinstance(m, LeaseHeartbeat):
            ctx.send(src, LeaseHeartbeatAck(b, self._held_upto(), m.rid))
        else:
            ctx.send(src, HeartbeatAck(b, self._held_upto()))
        if m.commit > len(self.log):
            self.leader_commit = m.commit
            self.leader_commit_ballot = b
            self._learn(ctx, src)

    def _leader_contact(self, ctx: Context, ballot: int) -> None:
        """An accept or heartbeat of the current leader: reset the election timer; the first
        one of a ballot is observed (the metrics time when a majority has heard the leader)."""
        self.timer.reset(ctx)
        self.contact = ctx.now
        if ballot != self.contact_ballot:
            self.contact_ballot = ballot
            ctx.observe("heard_leader", ballot)

    def _learn(self, ctx: Context, src: int) -> None:
        """Apply slots below the leader's commit whose value is known. A missing one may still
        be on its way (reordered): ask ``src`` for it only after ``replication.reorder_wait``,
        as a Raft follower reports a gap."""
        s = self._apply_known(ctx)
        if s < self.leader_commit:
            self.catchup.wait_for_gap(ctx, src, s)

    def _held_upto(self) -> int:
        """The first slot from the commit index on that this replica does not hold: it holds every
        slot below. Kept per ballot (a slot accepted in an older one is not held in a newer)."""
        upto = self.held_upto
        if self.held_ballot != self.promised or upto < len(self.log):
            upto = len(self.log)
        while self._held(upto):
            upto += 1
        self.held_ballot, self.held_upto = self.promised, upto
        return upto

    def _held(self, s: int) -> bool:
        """Whether this replica holds slot ``s`` (above its applied prefix): known chosen, or
        accepted in the ballot it follows."""
        if s in self.chosen:
            return True
        e = self.accepted.get(s)
        return e is not None and e.ballot == self.promised

    def _apply_known(self, ctx: Context) -> int:
        """Apply the known chosen slots below the leader's commit; return the first not applied."""
        commit = self.leader_commit
        ballot = self.leader_commit_ballot
        acc = self.accepted
        chosen = self.chosen
        s = len(self.log)
        while s < commit:
            if chosen and s in chosen:
                v = chosen.pop(s)
            else:
                e = acc.get(s)
                if e is None or e.ballot != ballot:
                    break
                v = e.value
            self._apply_slot(ctx, s, v)
            s += 1
        return s

    # -- applying --------------------------------------------------------------------------
    def _apply_chosen(self, ctx: Context) -> None:
        chosen = self.chosen
        s = len(self.log)
        while s in chosen:
            self._apply_slot(ctx, s, chosen.pop(s))
            s += 1

    def _apply_slot(self, ctx: Context, slot: int, value: Any) -> None:
        """Apply one chosen slot. Applied indices are 1-based and run over commands (a no-op
        slot counts one), so equal chosen sequences give equal (index, command) pairs."""
        self.log.append(value)
        self.accepted.pop(slot, None)
        i = self.applied_count
        if value is None:
            self.applied_count = i + 1
            ctx.applied(i + 1, None)
            return
        ctx.applied_many(i + 1, value)
        self.applied_count = i + len(value)
        lead = self.leadership
        if lead is not None and slot in lead.answer_slots:
            lead.answer_slots.discard(slot)
            apply = self.sm.apply
            reply = ctx.reply
            answer = self.sm.answer
            pending = lead.window.pending
            for r in value:
                pending.discard(r.uid)
                reply(r, answer(r, apply(r)))
        else:  # no reply to send: applied when the state machine is next read
            self.sm.defer(value)
