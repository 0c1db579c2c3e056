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
    FOLLOWER; CANDIDATE (phase 1 in progress, :meth:`MultiPaxosNode.takeover`); LEADER
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
    :class:`PromiseRecord` and :class:`AcceptRecord` (slot, ballot, value, and the commit index
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

Batching and pipelining (the same knobs and meaning as the Raft replica)
    One slot holds one batch: a tuple of at most ``batch_size`` requests. ``pipeline`` bounds the
    number of proposed-but-not-yet-chosen slots (a new leader's re-proposals count too). With
    ``batch_delay == 0`` a batch is proposed as soon as the window has room; otherwise a partial
    batch is proposed only once the "batch" timer, armed when a request enters an empty queue,
    has fired (a full batch goes at once). Requests that arrive while the window is full queue and
    form the next batches. A client retry of a request still queued or in flight is not proposed
    again (one reply answers both); a retry of an applied one is, and the state machine answers it
    from its session cache without applying it twice.

Loss
    An accept a follower has not answered for a whole ``replication.retransmit`` interval (the
    heartbeat by default) is re-sent to it, checked every interval -- the policy the Raft
    replica follows too (``implementations.liveness``). There is no fast retransmit: on a
    network that reorders, answers to later slots do not mean an accept was lost -- until they
    have said so for ``replication.reorder_wait`` (below). A lost answer is made good almost as
    a Raft leader's is: every answer (to an accept or a heartbeat) also says up to which slot
    the acceptor holds every slot, as a Raft follower's reply carries its match index. The
    leader counts an answer for earlier slots only if their accepts left ``reorder_wait`` or
    more before the one answered (else their own answers may just be late: reordering alone
    must not turn per-slot answers into cumulative ones).

Gaps (``replication.reorder_wait``, the same rule as the Raft follower)
    A replica that lacks a slot below one it has accepted in the current ballot, or below the
    leader's commit index, waits ``reorder_wait`` for it (the network reorders), then asks the
    leader with a ``CatchupReq`` for the missing run of slots, again every retransmission
    interval while it is missing. The leader answers with the chosen ones (catch-up) and
    re-sends the accepts of those not yet chosen. An acceptor still accepts and acknowledges
    every later slot meanwhile: a gap costs Multi-Paxos no acknowledgements, where a Raft
    follower, which accepts in log order only, acknowledges nothing past it.

Timers: "election" (follower/candidate: start phase 1 once no leader contact -- accept or
heartbeat -- nor granted promise has reset it for a timeout redrawn at every reset),
"quorum" (leader: step down when no majority answered during the last period), "heartbeat"
(leader) and "batch"; see ``implementations.liveness``, shared with the Raft replica.
"""

from __future__ import annotations

from typing import Any, Callable

from mypy_extensions import mypyc_attr

from harness.protocol import Context, Node, ReplicationOptions
from implementations.multipaxos.messages import (Accept, Accepted, Catchup, CatchupReq, Heartbeat,
                                                 HeartbeatAck, Nack, Prepare, Promise, batch_bytes)
from implementations.multipaxos.records import AcceptRecord, PromiseRecord
from implementations.multipaxos.options import MultiPaxosOptions
from implementations.replication.liveness import (ElectionTimer, check_quorum_period,
                                                  retransmit_interval)
from workloads.kv import REDIRECT, KVStateMachine, Reply, Request

FOLLOWER, CANDIDATE, LEADER = 0, 1, 2
CHOSEN = (1 << 63) - 1  # the "ballot" of a promise entry its acceptor knows is chosen


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
        self.cq_period = check_quorum_period(options, replication)
        self.rto = retransmit_interval(replication)
        self.heartbeat = replication.heartbeat
        self.far_behind = self.batch_size * self.pipeline  # slots; a candidate further back is refused
        self.reorder_wait = replication.reorder_wait
        self.sm = state_machine
        self._dispatch: dict[type, Callable[[Context, int, Any], None]] = {
            Accept: self.on_accept, Accepted: self.on_accepted, Heartbeat: self.on_heartbeat,
            HeartbeatAck: self.on_heartbeat_ack, Prepare: self.on_prepare,
            Promise: self.on_promise, Nack: self.on_nack, CatchupReq: self.on_catchup_req,
            Catchup: self.on_catchup,
        }
        self._reset()

    def _reset(self) -> None:
        # acceptor
        self.promised = 0
        self.accepted: dict[int, tuple[int, Any, int]] = {}  # slot -> (ballot, value, bytes), unapplied
        # learner
        self.log: list[Any] = []  # chosen values of slots 0..len-1, all applied
        self.chosen: dict[int, Any] = {}  # chosen values above the applied prefix
        self.applied_count = 0  # running index over applied commands (a no-op counts one)
        self.lc_commit = 0  # last commit index declared by a leader ...
        self.lc_ballot = -1  # ... and that leader's ballot
        self.cu_slot = -1  # first slot of the last catch-up request
        self.cu_src = -1  # whom to ask for a missing chosen slot
        self.gap_due = float("inf")  # when the "gap" timer fires ...
        self.gap_slot = -1  # ... for this missing slot (-1: a retry, for the first one missing)
        self.cu_end = -1  # end of the range of the last catch-up request
        self.held_upto = (0, 0)  # (ballot, slot): every slot from the commit index to it held
        # proposer
        self.role = FOLLOWER
        self.max_seen = 0  # highest ballot seen in a refused or abandoned prepare
        self.pre_promised = 0  # promised before the current candidacy
        self.ballot = 0
        self.leader_hint: int | None = None
        self.next_slot = 0
        self.proposals: dict[int, list] = {}  # slot -> [value, ack mask, last sent, bytes]
        self.ack_top: dict[int, int] = {}  # peer -> highest slot it acknowledged this ballot
        self.ack_gap: dict[int, int] = {}  # peer -> an earlier slot is unanswered below this one
        self.mine: set[int] = set()  # slots holding requests this leader must answer
        self.pending: set[int] = set()  # uids of requests queued or in those slots
        self.queue: list[Request] = []
        self.batch_armed = False
        self.batch_due = False
        self.heard = 0  # mask of nodes heard in the current quorum-check period
        self.timer = ElectionTimer(*self.election_range)
        self.contact_ballot = 0  # ballot of the last leader this node heard from
        self.p1_mask = 0
        self.p1_chosen: dict[int, Any] = {}
        self.p1_acc: dict[int, tuple[int, Any, int]] = {}

    # -- inputs ----------------------------------------------------------------------------
    def start(self, ctx: Context, stable: list[Any]) -> None:
        self._reset()
        acc = self.accepted
        promised = 0
        commits: dict[int, int] = {}  # ballot -> highest commit index its leader declared
        for rec in stable:
            b = rec.ballot
            if rec.__class__ is AcceptRecord:
                acc[rec.slot] = (b, rec.value, rec.vbytes)
                if rec.commit > commits.get(b, 0):
                    commits[b] = rec.commit
            if b > promised:
                promised = b
        self.promised = promised
        # Relearn the chosen prefix from disk: a value accepted at (slot, b) is chosen if the
        # leader of b declared the slot committed. The rest comes from the leader (catch-up).
        s = 0
        while (e := acc.get(s)) is not None and s < commits.get(e[0], 0):
            self._apply_slot(ctx, s, e[1])
            s += 1
        chosen = self.chosen  # known chosen beyond a gap: applied once the gap is filled
        for slot, e in acc.items():
            if slot < commits.get(e[0], 0):
                chosen[slot] = e[1]
        self.timer.reset(ctx)

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        self._dispatch[msg.__class__](ctx, src, msg)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "heartbeat":
            if self.role == LEADER:
                self._heartbeat(ctx)
        elif name == "retransmit":
            if self.role == LEADER:
                self._retransmit(ctx)
        elif name == "election":
            if self.role != LEADER and self.timer.expired(ctx):
                self.takeover(ctx)
        elif name == "gap":
            self._on_gap_timer(ctx)
        elif name == "quorum":
            if self.role == LEADER and self.cq_period:
                self._quorum_check(ctx)
        elif name == "batch":
            self.batch_armed = False
            if self.role == LEADER:
                self.batch_due = True
                self._maybe_propose(ctx)

    def on_request(self, ctx: Context, request: Request) -> None:
        if self.role != LEADER:
            ctx.reply(request, Reply(request, REDIRECT, None, self.leader_hint))
            return
        pending = self.pending
        uid = request.uid
        if uid in pending:
            return  # a client retry of a request already queued or proposed: its reply will come
        pending.add(uid)
        self.queue.append(request)
        self._maybe_propose(ctx)

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
        self.p1_mask = self.bit
        self.p1_chosen = {}
        self.p1_acc = {}
        return b

    def takeover(self, ctx: Context) -> None:
        """Phase 1 for every slot from the applied prefix on, with a fresh higher ballot. The
        leader takes office in :meth:`lead` once a majority (itself included) has promised."""
        b = self.new_ballot(ctx)
        start = len(self.log)
        # Our own promise: what we know chosen and what we accepted.
        self.p1_chosen.update(self.chosen)
        self._merge(start, (), tuple((s, e[0], e[1], e[2]) for s, e in self.accepted.items()
                                     if s >= start))
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
        start = m.start
        log = self.log
        if len(log) - start > self.far_behind:
            # The candidate lags by more than batch_size * pipeline slots: phase 1 would have to ship
            # it all those chosen values. Refuse (never unsafe) and stream it the log instead;
            # it can lead once it is close enough (the most advanced live node always can).
            if b > self.max_seen:
                self.max_seen = b
            self._send_catchup(ctx, src, start)
            return
        if b > self.promised:
            self.promised = b
            if self.role != FOLLOWER:
                self._step_down(ctx, src)
            ctx.persist(PromiseRecord(b))
        self.leader_hint = src
        self.timer.reset(ctx)  # a vote granted
        chosen = tuple(log[start:]) if start < len(log) else ()
        accepted = [(s, e[0], e[1], e[2]) for s, e in self.accepted.items() if s >= start]
        if self.chosen:  # known chosen above a gap (after a restart, or an ex-leader's)
            accepted += [(s, CHOSEN, v, batch_bytes(v)) for s, v in self.chosen.items() if s >= start]
        ctx.send(src, Promise(b, start, chosen, tuple(accepted)))

    def _merge(self, start: int, chosen: tuple, accepted: tuple) -> None:
        pc = self.p1_chosen
        for i, v in enumerate(chosen):
            pc[start + i] = v
        pa = self.p1_acc
        for a in accepted:
            if a[1] == CHOSEN:
                pc[a[0]] = a[2]
                continue
            e = pa.get(a[0])
            if e is None or a[1] > e[0]:
                pa[a[0]] = (a[1], a[2], a[3])

    def on_promise(self, ctx: Context, src: int, m: Promise) -> None:
        if m.ballot != self.ballot or self.role != CANDIDATE:
            return
        bit = self.bits[src]
        if self.p1_mask & bit:
            return
        self.p1_mask |= bit
        self._merge(m.start, m.chosen, m.accepted)
        if self.p1_mask.bit_count() >= self.majority:
            self.lead(ctx)

    def lead(self, ctx: Context) -> None:
        """Take office: learn the reported chosen values, re-propose the highest-ballot value
        of every other reported slot, fill holes with no-ops, then serve clients."""
        self.role = LEADER
        self.leader_hint = self.node_id
        ctx.became_leader(self.ballot)
        chosen = self.chosen
        base = len(self.log)
        top = base - 1
        for s, v in self.p1_chosen.items():
            if s >= base:
                chosen[s] = v
                if s > top:
                    top = s
        acc = self.p1_acc
        for s in acc:
            if s > top:
                top = s
        self.p1_chosen, self.p1_acc = {}, {}
        self.ack_top, self.ack_gap = {}, {}
        self._apply_chosen(ctx)
        self.next_slot = top + 1
        self.heard = self.p1_mask
        for s in range(len(self.log), top + 1):
            if s in chosen:
                continue
            e = acc.get(s)
            if e is None:
                self._send_accept(ctx, s, None, 0)  # a hole: no-op
            else:
                self._send_accept(ctx, s, e[1], e[2])
        msg = Heartbeat(self.ballot, len(self.log))
        for p in self.peers:
            ctx.send(p, msg)
        ctx.set_timer("heartbeat", self.heartbeat)
        ctx.set_timer("retransmit", self.rto)
        self.timer.stop(ctx)
        if self.cq_period:
            ctx.set_timer("quorum", self.cq_period)
        self._maybe_propose(ctx)

    def on_nack(self, ctx: Context, src: int, m: Nack) -> None:
        if m.ballot > self.promised:
            self.promised = m.ballot
            owner = self.nodes[m.ballot % self.n]
            self.leader_hint = owner
            if self.role != FOLLOWER:
                self._step_down(ctx, owner)

    # -- phase 2 (leader) ------------------------------------------------------------------
    def _maybe_propose(self, ctx: Context) -> None:
        """Propose queued requests as batches while the pipeline window has room. A partial
        batch waits for the "batch" timer (armed when the queue becomes non-empty) if
        ``batch_delay > 0``."""
        q = self.queue
        props = self.proposals
        bs = self.batch_size
        while q and len(props) < self.pipeline and self.role == LEADER:
            if len(q) <= bs:
                if len(q) < bs and self.batch_delay > 0 and not self.batch_due:
                    break
                batch = tuple(q)
                q.clear()
            else:
                batch = tuple(q[:bs])
                del q[:bs]
            self.batch_due = False
            slot = self.next_slot
            self.next_slot = slot + 1
            self.mine.add(slot)
            self._send_accept(ctx, slot, batch, batch_bytes(batch))
        if q:
            if self.batch_delay > 0 and not self.batch_armed and not self.batch_due:
                self.batch_armed = True
                ctx.set_timer("batch", self.batch_delay)
        elif self.batch_armed:
            self.batch_armed = False
            ctx.cancel_timer("batch")

    def _send_accept(self, ctx: Context, slot: int, value: Any, vbytes: int) -> None:
        b = self.ballot
        msg = Accept(b, slot, value, len(self.log), vbytes)
        for p in self.peers:
            ctx.send(p, msg)
        # Parallel write: the accepts leave before our own acceptance is persisted, and we count
        # ourselves at once. Every output that could reveal the slot as chosen (a reply, a
        # commit index, a catch-up) is issued after this persist and so waits for its fsync.
        ctx.persist(AcceptRecord(slot, b, value, vbytes, msg.commit))
        self.accepted[slot] = (b, value, vbytes)
        self.proposals[slot] = [value, self.bit, ctx.now, vbytes]
        if self.majority == 1:
            self._chosen(ctx, slot)

    def on_accepted(self, ctx: Context, src: int, m: Accepted) -> None:
        if m.ballot != self.ballot:
            return
        bit = self.bits[src]
        self.heard |= bit
        props = self.proposals
        slot = m.slot
        p = props.get(slot)
        sent = -1.0
        if p is not None:
            sent = p[2]
            if not p[1] & bit:
                self._answered(ctx, slot, p, bit)
        self._ack_gap(ctx, src, slot, m.upto, sent)

    def _answered(self, ctx: Context, slot: int, p: list, bit: int) -> None:
        """Count the answer of the acceptor with ``bit`` for ``slot`` (proposal ``p``)."""
        mask = p[1] = p[1] | bit
        if mask.bit_count() >= self.majority and self.role == LEADER:
            self._chosen(ctx, slot)

    def _ack_gap(self, ctx: Context, src: int, slot: int, upto: int, sent: float) -> None:
        """The gap rule (``replication.reorder_wait``) on the answers. ``src`` answered ``slot``
        (whose accept left at ``sent``) and says it holds every slot below ``upto``; an earlier
        slot's answer is missing. If that accept left ``reorder_wait`` or more before this one,
        its answer would have come first unless lost: count it as answered. A Raft leader needs
        no such rule, as a follower's match index acknowledges the whole prefix; without it a
        lost Paxos answer waits for the next heartbeat's answer or the retransmission interval,
        and with two replicas left every later slot with it."""
        top = self.ack_top.get(src, -1)
        if slot > top:
            self.ack_top[src] = slot
            if slot > top + 1:
                self.ack_gap[src] = slot
        below = self.ack_gap.get(src)
        if below is None or sent < 0:
            return
        bit, old = self.bits[src], sent - self.reorder_wait
        covered, still_open = [], False
        for s, p in self.proposals.items():  # in slot order
            if s >= below:
                break
            if not p[1] & bit:
                if s < upto and p[2] <= old:
                    covered.append((s, p))
                else:
                    still_open = True
        for s, p in covered:
            self._answered(ctx, s, p, bit)
        if not still_open:
            del self.ack_gap[src]

    def _chosen(self, ctx: Context, slot: int) -> None:
        self.chosen[slot] = self.proposals.pop(slot)[0]
        if slot == len(self.log):
            self._apply_chosen(ctx)
        if self.queue:
            self._maybe_propose(ctx)

    def _heartbeat(self, ctx: Context) -> None:
        msg = Heartbeat(self.ballot, len(self.log))
        for p in self.peers:
            ctx.send(p, msg)
        ctx.set_timer("heartbeat", self.heartbeat)

    def _retransmit(self, ctx: Context) -> None:
        """Re-send each accept to the followers that have not answered it for a whole
        ``replication.retransmit`` interval (``implementations.liveness``)."""
        due = ctx.now - self.rto + 1e-9
        b = self.ballot
        commit = len(self.log)
        resent = 0
        for slot, p in self.proposals.items():
            if p[2] <= due:
                p[2] = ctx.now
                acc = Accept(b, slot, p[0], commit, p[3])
                mask = p[1]
                for peer, bit in self.peer_bits:
                    if not mask & bit:
                        ctx.send(peer, acc)
                        resent += 1
        if resent:
            ctx.observe("retransmit", resent)
        ctx.set_timer("retransmit", self.rto)

    def on_heartbeat_ack(self, ctx: Context, src: int, m: HeartbeatAck) -> None:
        if m.ballot != self.ballot:
            return
        bit = self.bits[src]
        self.heard |= bit
        answered = [(s, p) for s, p in self.proposals.items() if s < m.upto and not p[1] & bit]
        for s, p in answered:  # answers to accepts whose own answer was lost
            self._answered(ctx, s, p, bit)

    def _quorum_check(self, ctx: Context) -> None:
        if (self.heard | self.bit).bit_count() < self.majority:
            self._step_down(ctx, None)
            return
        self.heard = 0
        assert self.cq_period is not None  # on_timer checks it
        ctx.set_timer("quorum", self.cq_period)

    def _abdicate(self, ctx: Context) -> None:
        """Forget proposer state; queued (never proposed) requests are redirected."""
        if self.role == LEADER:
            ctx.observe("stepped_down", self.ballot)  # (for the metrics' leader lane)
            ctx.cancel_timer("heartbeat")
            ctx.cancel_timer("retransmit")
            ctx.cancel_timer("quorum")
            if self.batch_armed:
                ctx.cancel_timer("batch")
        self.role = FOLLOWER
        self.proposals.clear()
        self.mine.clear()
        self.pending.clear()
        self.batch_armed = self.batch_due = False
        self.p1_chosen, self.p1_acc = {}, {}
        if self.queue:
            hint = self.leader_hint if self.leader_hint != self.node_id else None
            for r in self.queue:
                ctx.reply(r, Reply(r, REDIRECT, None, hint))
            self.queue.clear()

    def _step_down(self, ctx: Context, hint: int | None) -> None:
        self.leader_hint = hint
        self._abdicate(ctx)
        self.timer.reset(ctx)

    # -- phase 2 (acceptor) and learning ---------------------------------------------------
    def on_accept(self, ctx: Context, src: int, m: Accept) -> None:
        b = m.ballot
        if b < self.promised:
            ctx.send(src, Nack(self.promised))
            return
        if b > self.promised:
            self.promised = b
            if self.role != FOLLOWER:
                self._step_down(ctx, src)
            self.leader_hint = src
        self._leader_contact(ctx, b)
        slot = m.slot
        if slot >= len(self.log):
            e = self.accepted.get(slot)
            if e is None or e[0] != b:  # not a retransmission of what we already hold
                ctx.persist(AcceptRecord(slot, b, m.value, m.vbytes, m.commit))
                self.accepted[slot] = (b, m.value, m.vbytes)
        # else: already chosen and applied here; the proposal equals the chosen value.
        ctx.send(src, Accepted(b, slot, self._held_upto()))
        if m.commit > len(self.log):
            self.lc_commit = m.commit
            self.lc_ballot = b
            self._learn(ctx, src)
        if slot > len(self.log) and not self._held(slot - 1):
            self._wait_for_gap(ctx, src, slot - 1)  # the accept before it is late, or lost

    def on_heartbeat(self, ctx: Context, src: int, m: Heartbeat) -> None:
        b = m.ballot
        if b < self.promised:
            ctx.send(src, Nack(self.promised))
            return
        if b > self.promised:
            self.promised = b
            if self.role != FOLLOWER:
                self._step_down(ctx, src)
        self.leader_hint = src
        self._leader_contact(ctx, b)
        ctx.send(src, HeartbeatAck(b, self._held_upto()))
        if m.commit > len(self.log):
            self.lc_commit = m.commit
            self.lc_ballot = b
            self._learn(ctx, src)

    def _leader_contact(self, ctx: Context, ballot: int) -> None:
        """An accept or heartbeat of the current leader: reset the election timer; the first
        one of a ballot is observed (the metrics time when a majority has heard the leader)."""
        self.timer.reset(ctx)
        if ballot != self.contact_ballot:
            self.contact_ballot = ballot
            ctx.observe("heard_leader", ballot)

    def _learn(self, ctx: Context, src: int) -> None:
        """Apply slots below the leader's commit whose value is known. A missing one may still
        be on its way (reordered): ask ``src`` for it only after ``replication.reorder_wait``
        (the "gap" timer), as a Raft follower reports a gap."""
        s = self._apply_known(ctx)
        if s < self.lc_commit:
            self._wait_for_gap(ctx, src, s)

    def _wait_for_gap(self, ctx: Context, src: int, missing: int) -> None:
        """Slot ``missing`` is missing: ask after ``reorder_wait`` unless it was asked for
        already (then the retry follows every retransmission interval)."""
        if self.cu_slot <= missing < self.cu_end:
            return
        due = ctx.now + self.reorder_wait
        if due < self.gap_due:
            self.cu_src = src
            self.gap_due = due
            self.gap_slot = missing
            ctx.set_timer("gap", self.reorder_wait)

    def _on_gap_timer(self, ctx: Context) -> None:
        """Ask for the first slot missing below the leader's commit or below a slot accepted
        in the current ballot, again every retransmission interval while one is missing."""
        self.gap_due = float("inf")
        if self.role == LEADER:
            return
        s = first = self._apply_known(ctx)
        top = max(self.lc_commit, max(self.accepted, default=-1))
        retry, target = self.gap_slot < 0, self.gap_slot
        self.gap_slot = -1
        if not retry and target >= s and not self._held(target):  # the gap the timer is for
            s = target
            while s > first and not self._held(s - 1):
                s -= 1
        while s < top and self._held(s):
            s += 1
        if s < top and not retry and (target < first or self._held(target)):
            # the gap the timer was for filled in time; one opened since gets its own wait
            self.gap_slot, self.gap_due = s, ctx.now + self.reorder_wait
            ctx.set_timer("gap", self.reorder_wait)
            return
        if s < top:
            if retry or not self.cu_slot <= s < self.cu_end:  # (else asked already)
                self._ask(ctx, self.cu_src, self._gap(s, top))
            self.gap_due = ctx.now + self.rto
            ctx.set_timer("gap", self.rto)

    def _ask(self, ctx: Context, dst: int, req: CatchupReq) -> None:
        self.cu_slot = req.start
        self.cu_end = req.end if req.end is not None else req.start + self.pipeline
        ctx.send(dst, req)

    def _held_upto(self) -> int:
        """The first slot from the commit index on that this replica does not hold: it holds every
        slot below. Kept per ballot (a slot accepted in an older one is not held in a newer)."""
        ballot, upto = self.held_upto
        if ballot != self.promised or upto < len(self.log):
            upto = len(self.log)
        while self._held(upto):
            upto += 1
        self.held_upto = (self.promised, upto)
        return upto

    def _held(self, s: int) -> bool:
        """Whether this replica holds slot ``s`` (above its applied prefix): known chosen, or
        accepted in the ballot it follows."""
        if s in self.chosen:
            return True
        e = self.accepted.get(s)
        return e is not None and e[0] == self.promised

    def _gap(self, s: int, top: int) -> CatchupReq:
        """The request for the missing slot ``s`` and those after it up to the first one held
        (or up to ``top``, or open-ended when ``s`` is beyond it)."""
        if s >= top:
            return CatchupReq(s)
        n = s + 1
        while n < top and not self._held(n):
            n += 1
        return CatchupReq(s, n)

    def _apply_known(self, ctx: Context) -> int:
        """Apply the known chosen slots below the leader's commit; return the first not applied."""
        commit = self.lc_commit
        ballot = self.lc_ballot
        acc = self.accepted
        chosen = self.chosen
        s = len(self.log)
        while s < commit:
            if chosen and s in chosen:
                v = chosen.pop(s)
            else:
                e = acc.get(s)
                if e is None or e[0] != ballot:
                    break
                v = e[1]
            self._apply_slot(ctx, s, v)
            s += 1
        return s

    def on_catchup_req(self, ctx: Context, src: int, m: CatchupReq) -> None:
        """Repair a replica's gap: chosen slots go as catch-up; a leader re-sends the accepts
        of the slots not yet chosen."""
        sent = self._send_catchup(ctx, src, m.start, m.end)
        if self.role == LEADER and m.end is not None:
            b, commit = self.ballot, len(self.log)
            for s in range(max(m.start, commit), m.end):
                if (p := self.proposals.get(s)) is not None:
                    ctx.send(src, Accept(b, s, p[0], commit, p[3]))
                elif s in self.chosen:
                    ctx.send(src, Catchup(b, s, (self.chosen[s],), commit))
                else:
                    continue
                sent += 1
        if sent:
            ctx.observe("repair", sent)

    def _send_catchup(self, ctx: Context, dst: int, start: int, end: int | None = None) -> int:
        """Send ``dst`` the chosen slots ``start .. end - 1``, one slot (one batch) per message and
        at most ``pipeline`` of them, as the Raft leader catches a follower up: ``batch_size: 1``
        batches no catch-up either. Return how many were sent."""
        log = self.log
        end = min(start + self.pipeline, len(log), len(log) if end is None else end)
        ballot = self.ballot if self.role == LEADER else -1
        for s in range(start, end):
            ctx.send(dst, Catchup(ballot, s, (log[s],), len(log)))
        return max(end - start, 0)

    def on_catchup(self, ctx: Context, src: int, m: Catchup) -> None:
        if self.role != FOLLOWER:
            if self.role == LEADER:
                return  # a leader learns every slot from its own proposals and phase 1
            # A refused prepare: someone is far ahead. Do not take office with a long stretch
            # of the log to re-propose; catch up and let that node (or us, later) lead. The
            # abandoned ballot will never propose, so its promise to ourselves is void: keep
            # following the current leader instead of rejecting it (never reuse the ballot).
            if self.ballot > self.max_seen:
                self.max_seen = self.ballot
            self.promised = self.pre_promised
            self._step_down(ctx, None)
        log = self.log
        chosen = self.chosen
        before = len(log)
        s = m.start
        for v in m.values:
            if s == len(log):
                if chosen:
                    chosen.pop(s, None)
                self._apply_slot(ctx, s, v)
            elif s > len(log):  # overtook an earlier slot of the transfer
                chosen[s] = v
            s += 1
        self._apply_chosen(ctx)
        if len(log) == before:
            return  # stale, duplicate or early
        if m.ballot == self.lc_ballot and m.commit > self.lc_commit:
            self.lc_commit = m.commit
        if self.lc_commit > len(log):
            self._learn(ctx, src)  # applies what it can, asks for the next gap
        s = len(log)
        if m.commit > s and s >= self.cu_slot + self.pipeline and not self._held(s):
            # the whole transfer arrived and the sender has more: ask for the next one
            self._ask(ctx, src, self._gap(s, self.lc_commit))

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
        mine = self.mine
        if slot in mine:
            mine.discard(slot)
            apply = self.sm.apply
            reply = ctx.reply
            answer = self.sm.answer
            pending = self.pending
            for r in value:
                pending.discard(r.uid)
                reply(r, answer(r, apply(r)))
        else:  # no reply to send: applied when the state machine is next read
            self.sm.defer(value)

