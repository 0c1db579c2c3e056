"""A Raft replica (Ongaro & Ousterhout, 2014; Ongaro's thesis, 2014), sans-I/O: everything it does
goes through the :class:`~harness.protocol.Context`; it owns no clock, socket or random stream.
The hot paths (``AppendEntries`` on followers, ``AppendReply`` on the leader, batch proposal)
avoid per-message allocations beyond the message itself and never scan the log.

:meth:`RaftNode.on_message` reads like etcd-io/raft's ``Step``: the term rules once for every
message, then the role's own step (:meth:`~RaftNode._step_leader`, ``_step_candidate``,
``_step_follower``); votes are answered in any role. What only a leader keeps lives in
:class:`~implementations.raft.leader.Leader` (one per term of leadership).

Log
    Two parallel lists indexed from 1 with a sentinel at 0: ``terms[i]`` and ``cmds[i]`` (the client
    :class:`~workloads.kv.Request` itself, or ``None`` for a leader's no-op). Log terms are
    non-decreasing, so "first index of term t" and "last index of term t" are binary searches.
    Changes are persisted as :mod:`~implementations.raft.records` and replayed by :meth:`start`.

Gaps: reordering and loss (``replication.reorder_wait``, the same rule as Multi-Paxos)
    The simulated network reorders (jitter), which TCP never shows etcd-io/raft (it rejects every
    append that does not follow on, with a hint, and the leader probes at once). A follower here
    holds a streamed batch that overtook an earlier one (:mod:`implementations.raft.held`) and,
    past ``reorder_wait``, reports the gap; the leader re-sends just that range (a selective
    repair). Until the gap fills the follower acknowledges nothing past it -- the AppendEntries
    consistency check (Raft paper, section 5.3) accepts entries in log order only -- so a lost
    batch takes the follower out of the quorum for about ``reorder_wait`` + a round trip; the
    run reports that time (``loss_blocked_share``), which a Paxos acceptor, accepting each slot
    on its own, never spends. Probes, heartbeats and the first message of a repair are never
    held: one that does not follow on is rejected at once. (Followers rely on the persist
    contract too: a heartbeat acknowledged in a later handler covers entries persisted by an
    earlier one.)

Batching and pipelining (``ReplicationOptions``; ``implementations.replication.batching``)
    The leader proposes through the batching window Multi-Paxos uses too; its no-op does not
    count against the window.

Reads
    ``read="log"``: GETs are ordinary log commands. ``read="readindex"`` and ``read="lease"``:
    see :mod:`implementations.raft.reads`. With leases a node ignores a RequestVote while it leads
    or within an election timeout of hearing from a leader or restarting (the vote guard,
    :mod:`implementations.replication.lease`).

Elections (``implementations.replication.liveness``, shared with Multi-Paxos)
    The election timer, the quorum check (``check_quorum``, ``check_quorum_period``) and the
    retransmission interval: a timeout redrawn in ``replication.election_range`` at every leader
    contact and granted vote. Optional pre-vote (``RaftOptions.prevote``): a node first asks
    whether a majority would vote for it at ``term + 1`` without changing anyone's term; a server
    refuses a pre-vote while it has heard from a leader within the election timeout.

Client replies
    Only the leader answers, when it applies an entry it appended in its current term. A request
    already queued or in the log uncommitted in the current term is not appended again when
    retried to the same leader (its reply is on its way); retries elsewhere are appended again and
    the state machine's session table makes the duplicate a no-op. Commands still queued, and
    reads still pending, when the leader steps down are answered REDIRECT (they never executed);
    entries already in the log are left to the client's retry.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from mypy_extensions import mypyc_attr

from harness.protocol import Context, Node, ReplicationOptions
from implementations.raft.held import HeldBatches
from implementations.raft.leader import Leader
from implementations.raft.messages import (AppendEntries, AppendReply, RaftMessage, RequestVote,
                                           Vote)
from implementations.raft.options import RaftOptions
from implementations.raft.records import AppendRecord, TermRecord
from implementations.replication.lease import in_lease
from implementations.replication.liveness import (ElectionTimer, check_quorum_period,
                                                  retransmit_interval)
from workloads.kv import GET, REDIRECT, KVStateMachine, Reply, Request

assert GET == 0  # the apply loop tests `cmd.op` for "is a write"

__all__ = ["RaftNode", "FOLLOWER", "PRECANDIDATE", "CANDIDATE", "LEADER"]

FOLLOWER, PRECANDIDATE, CANDIDATE, LEADER = 0, 1, 2, 3
ROLE_NAMES = ("follower", "precandidate", "candidate", "leader")


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class RaftNode(Node):
    """A Raft replica driving a :class:`~workloads.kv.KVStateMachine`."""

    __slots__ = (
        # configuration
        "id", "nodes", "peers", "quorum", "election_timeout", "heartbeat_interval",
        "batch_size", "batch_delay", "pipeline", "catchup", "readindex", "prevote",
        "check_quorum_period", "rto", "reorder_wait", "lease", "sm",
        # persistent state (mirrored in stable records)
        "term", "voted_for", "terms", "cmds",
        # volatile state
        "role", "leader", "commit", "applied", "heard", "contact", "timer", "votes",
        "held",  # follower: batches held past a gap
        # leader
        "leadership", "term_start",
    )

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: ReplicationOptions,
                 options: RaftOptions, state_machine: KVStateMachine):
        self.id = node_id
        self.nodes = tuple(nodes)
        self.peers = tuple(p for p in self.nodes if p != node_id)
        self.quorum = len(self.nodes) // 2 + 1
        self.election_timeout = replication.election_timeout
        self.heartbeat_interval = replication.heartbeat
        self.batch_size = max(1, replication.batch_size)
        self.batch_delay = replication.batch_delay
        self.pipeline = max(1, replication.pipeline)
        self.catchup = self.batch_size * self.pipeline
        self.readindex = options.read != "log"  # lease reads are ReadIndex reads (reads.py)
        # how long a lease lasts, or None: no lease reads and no vote guard
        self.lease = (options.lease_length(self.election_timeout) if options.read == "lease"
                      else None)
        self.prevote = options.prevote
        self.check_quorum_period = check_quorum_period(options, replication)
        self.rto = retransmit_interval(replication)
        self.reorder_wait = replication.reorder_wait
        self.sm = state_machine

        self.term = 0
        self.voted_for: int | None = None
        self.terms: list[int] = [0]
        self.cmds: list[Request | None] = [None]

        self.role = FOLLOWER
        self.leader: int | None = None
        self.commit = 0
        self.applied = 0
        self.heard = float("-inf")  # when a leader (or a vote we granted) last reset our timer
        self.contact = float("-inf")  # when a leader last reached us, or we restarted
        self.timer = ElectionTimer(*replication.election_range)
        self.votes: set[int] = set()

        self.held = HeldBatches(self)

        self.leadership: Leader | None = None  # while leading
        self.term_start = 0  # index of the no-op of the last term this node led

    # -- inspection (tests, debugging) ----------------------------------------------------------
    @property
    def last_index(self) -> int:
        return len(self.terms) - 1

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]

    def __repr__(self) -> str:
        return (f"RaftNode({self.id} {self.role_name} t={self.term} last={self.last_index} "
                f"commit={self.commit} applied={self.applied})")

    # -- inputs ---------------------------------------------------------------------------------
    def start(self, ctx: Context, stable: list[Any]) -> None:
        terms, cmds = self.terms, self.cmds
        for rec in stable:
            if type(rec) is AppendRecord:
                first = rec.first
                del terms[first:], cmds[first:]
                terms.extend(rec.terms)
                cmds.extend(rec.cmds)
            elif type(rec) is TermRecord:
                self.term, self.voted_for = rec.term, rec.voted_for
            else:
                raise ValueError(f"raft: unknown stable record {rec!r}")
        self.contact = ctx.now
        self.timer.reset(ctx)

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        """The term rules once (etcd-io/raft's ``Step``), then the role's own step."""
        t = type(msg)
        if t is RequestVote:
            self._on_request_vote(ctx, src, msg)  # answered in any role, by its own term rules
            return
        if t is not AppendEntries and t is not AppendReply and t is not Vote:
            raise TypeError(f"raft: unexpected message {msg!r}")
        m: RaftMessage = msg
        if m.term != self.term:
            if m.term < self.term:
                if t is AppendEntries:  # tell a deposed leader
                    ctx.send(src, AppendReply(self.term, False, msg.prev_index, 0, 0, msg.rid))
                return
            if t is AppendEntries:
                self._become_follower(ctx, m.term, src)
            elif not (t is Vote and msg.prevote and msg.granted):  # (a granted pre-vote is for
                self._become_follower(ctx, m.term, None)           # a term not yet started)
        role = self.role
        if role == FOLLOWER:
            self._step_follower(ctx, src, msg, t)
        elif role == LEADER:
            self._step_leader(ctx, src, msg, t)
        else:
            self._step_candidate(ctx, src, msg, t)

    def _step_follower(self, ctx: Context, src: int, m: Any, t: type) -> None:
        if t is AppendEntries:
            self._on_append(ctx, src, m)
        # a Vote or AppendReply of this term is for an election or a leadership that is over

    def _step_candidate(self, ctx: Context, src: int, m: Any, t: type) -> None:
        if t is Vote:
            self._on_vote(ctx, src, m)
        elif t is AppendEntries:  # someone won this term
            self._become_follower(ctx, m.term, src)
            self._on_append(ctx, src, m)

    def _step_leader(self, ctx: Context, src: int, m: Any, t: type) -> None:
        if t is AppendReply:
            lead = self.leadership
            assert lead is not None
            lead.on_append_reply(ctx, src, m)
        # an AppendEntries of this term cannot be (one leader per term); votes come too late

    def on_timer(self, ctx: Context, name: str) -> None:
        lead = self.leadership
        if name == "heartbeat":
            if lead is not None:
                lead.heartbeat(ctx)
                ctx.set_timer("heartbeat", self.heartbeat_interval)
        elif name == "retransmit":
            if lead is not None:
                lead.retransmit(ctx)
        elif name == "election":
            self._on_election_timer(ctx)
        elif name == "gap":
            self.held.on_timer(ctx)
        elif name == "quorum":
            self._check_quorum(ctx)
        elif name == "batch":
            if lead is not None:
                if lead.window.fired():
                    lead.propose(ctx)

    def on_request(self, ctx: Context, req: Request) -> None:
        lead = self.leadership
        if lead is None:
            ctx.reply(req, Reply(req, REDIRECT, leader=self.leader))
            return
        if self.readindex and req.op == GET:
            lead.reads.add(ctx, req)
        elif lead.window.admit(ctx, req, len(lead.uncommitted)):
            lead.propose(ctx)

    # -- replication: follower side -------------------------------------------------------------
    def _on_append(self, ctx: Context, src: int, m: AppendEntries) -> None:
        if self.leader != src:
            ctx.observe("heard_leader", self.term)  # (for the failover metrics)
        self.leader = src
        self.heard = self.contact = ctx.now
        self.timer.reset(ctx)
        terms = self.terms
        prev = m.prev_index
        if prev >= len(terms):
            if not self.held.hold(ctx, m, len(terms)):  # (it may have overtaken an earlier one)
                ctx.send(src, AppendReply(self.term, False, prev, 0, len(terms), m.rid))
            return
        if terms[prev] != m.prev_term:
            ct = terms[prev]
            ctx.send(src, AppendReply(self.term, False, prev, ct, bisect_left(terms, ct, 1, prev),
                                      m.rid))
            return
        ets = m.terms
        if ets and prev == len(terms) - 1:  # the common case, inlined: a plain append
            terms.extend(ets)
            self.cmds.extend(m.cmds)
            ctx.persist(AppendRecord(prev + 1, ets, m.cmds))
            match = prev + len(ets)
            c = m.commit
            if c > self.commit:
                self.commit = c if c < match else match
                self._apply(ctx)
        else:
            match = self._accept(ctx, m)
        ctx.send(src, AppendReply(self.term, True, match, 0, 0, m.rid))
        if self.held.batches:
            self.held.drain(ctx, src, match)

    def _accept(self, ctx: Context, m: AppendEntries) -> int:
        """Store ``m``'s entries (its ``prev`` entry matches) and learn its commit index;
        return the index up to which the log now matches the leader's."""
        terms = self.terms
        prev = m.prev_index
        ets = m.terms
        n = len(ets)
        if n:
            start = prev + 1
            last = len(terms) - 1
            if start > last:  # the common case: pure append
                terms.extend(ets)
                self.cmds.extend(m.cmds)
                ctx.persist(AppendRecord(start, ets, m.cmds))
            else:  # overlap: skip what matches, truncate at the first conflict
                j = 0
                stop = min(n, last - prev)
                while j < stop and terms[start + j] == ets[j]:
                    j += 1
                if j < n:
                    k = start + j
                    cmds = self.cmds
                    if k <= last:
                        del terms[k:], cmds[k:]
                    ts, cs = (ets[j:], m.cmds[j:]) if j else (ets, m.cmds)
                    terms.extend(ts)
                    cmds.extend(cs)
                    ctx.persist(AppendRecord(k, ts, cs))
        match = prev + n
        c = m.commit
        if c > match:
            c = match
        if c > self.commit:
            self.commit = c
            self._apply(ctx)
        return match

    def _can_commit(self, index: int) -> bool:
        """Raft's commit rule (5.4.2): replicas are counted only for entries of the current term;
        earlier entries commit indirectly, by the Log Matching property."""
        return self.terms[index] == self.term

    # -- applying -------------------------------------------------------------------------------
    def _apply(self, ctx: Context) -> None:
        """Apply entries up to ``commit`` in order; the leader answers the clients of the entries
        it appended in its current term (those from ``term_start`` on)."""
        first = self.applied + 1
        commit = self.commit
        if first > commit:
            return
        self.applied = commit
        cmds = self.cmds[first:commit + 1]
        ctx.applied_many(first, cmds)
        lead = self.leadership
        if lead is None:  # nobody reads a follower's state machine until it leads
            self.sm.defer(cmds)
            return
        apply = self.sm.apply
        mine = self.term_start
        reply = ctx.reply
        answer = self.sm.answer
        pending = lead.window.pending
        for i, cmd in enumerate(cmds, first):
            if cmd is not None:
                result = apply(cmd)
                if i >= mine:
                    pending.discard(cmd.uid)
                    reply(cmd, answer(cmd, result))
        if lead.reads.ready:
            lead.reads.serve(ctx)

    # -- elections ------------------------------------------------------------------------------
    def _check_quorum(self, ctx: Context) -> None:
        """Step down unless a majority answered during the last period (``check_quorum``)."""
        lead = self.leadership
        if lead is None or not self.check_quorum_period:
            return
        if not lead.followers.quorum_active():
            self._become_follower(ctx, self.term, None)
        else:
            ctx.set_timer("quorum", self.check_quorum_period)

    def _on_election_timer(self, ctx: Context) -> None:
        if self.role == LEADER or not self.timer.expired(ctx):
            return
        self.timer.reset(ctx)
        if self.prevote:
            self._start_prevote(ctx)
        else:
            self._campaign(ctx)

    def _last(self) -> tuple[int, int]:
        last = len(self.terms) - 1
        return last, self.terms[last]

    def _start_prevote(self, ctx: Context) -> None:
        self.role = PRECANDIDATE
        self.leader = None
        self.votes = {self.id}
        if len(self.votes) >= self.quorum:
            self._campaign(ctx)
            return
        last, last_term = self._last()
        msg = RequestVote(self.term + 1, last, last_term, True)
        for p in self.peers:
            ctx.send(p, msg)

    def _campaign(self, ctx: Context) -> None:
        self.role = CANDIDATE
        self.leader = None
        self.term += 1
        self.voted_for = self.id
        self.votes = {self.id}
        self.held.clear(ctx)
        ctx.persist(TermRecord(self.term, self.id))
        if len(self.votes) >= self.quorum:
            self._become_leader(ctx)
            return
        last, last_term = self._last()
        msg = RequestVote(self.term, last, last_term, False)
        for p in self.peers:
            ctx.send(p, msg)

    def _log_ok(self, m: RequestVote) -> bool:
        last, last_term = self._last()
        return m.last_term > last_term or (m.last_term == last_term and m.last_index >= last)

    def _on_request_vote(self, ctx: Context, src: int, m: RequestVote) -> None:
        if m.prevote:
            lease = self.role == LEADER or (
                self.leader is not None and ctx.now - self.heard < self.election_timeout)
            grant = m.term > self.term and not lease and self._log_ok(m)
            ctx.send(src, Vote(m.term if grant else self.term, grant, True))
            return
        if m.term < self.term:
            ctx.send(src, Vote(self.term, False, False))
            return
        if self.lease is not None and (self.role == LEADER or in_lease(
                ctx.now, self.contact, self.election_timeout)):
            return  # the vote guard of leases: ignored, the term unchanged (etcd-io/raft)
        changed = False
        if m.term > self.term:
            self._become_follower(ctx, m.term, None, persist=False)
            changed = True
        grant = (self.voted_for is None or self.voted_for == src) and self._log_ok(m)
        if grant and self.voted_for is None:
            self.voted_for = src
            self.heard = ctx.now
            self.timer.reset(ctx)
            changed = True
        if changed:
            ctx.persist(TermRecord(self.term, self.voted_for))
        ctx.send(src, Vote(self.term, grant, False))

    def _on_vote(self, ctx: Context, src: int, m: Vote) -> None:
        """A (pre-)vote for this node's candidacy (the term rules were applied in ``Step``)."""
        if m.prevote:
            if m.granted and self.role == PRECANDIDATE and m.term == self.term + 1:
                self.votes.add(src)
                if len(self.votes) >= self.quorum:
                    self._campaign(ctx)
        elif self.role == CANDIDATE and m.term == self.term and m.granted:
            self.votes.add(src)
            if len(self.votes) >= self.quorum:
                self._become_leader(ctx)

    def _become_leader(self, ctx: Context) -> None:
        self.role = LEADER
        self.leader = self.id
        ctx.became_leader(self.term)
        last = len(self.terms) - 1
        lead = self.leadership = Leader(self, last + 1)
        # The no-op of the new term (outside the pipeline window), sent as every follower's
        # first probe, then persisted (parallel write).
        self.term_start = last + 1
        self.terms.append(self.term)
        self.cmds.append(None)
        for pr in lead.followers.all:
            lead.probe(ctx, pr, last + 1)
        ctx.persist(AppendRecord(last + 1, [self.term], [None]))
        if not self.peers:
            lead.maybe_commit(ctx)
        ctx.set_timer("heartbeat", self.heartbeat_interval)
        ctx.set_timer("retransmit", self.rto)
        self.timer.stop(ctx)
        if self.check_quorum_period:
            ctx.set_timer("quorum", self.check_quorum_period)

    def _become_follower(self, ctx: Context, term: int, leader: int | None,
                         persist: bool = True) -> None:
        lead = self.leadership
        if lead is not None:
            ctx.observe("stepped_down", self.term)  # (for the metrics' leader lane)
        if term > self.term:
            self.term = term
            self.voted_for = None
            self.held.clear(ctx)
            if persist:
                ctx.persist(TermRecord(term, None))
        self.role = FOLLOWER
        self.leader = leader
        if lead is not None:
            self.leadership = None
            ctx.cancel_timer("heartbeat")
            ctx.cancel_timer("retransmit")
            ctx.cancel_timer("quorum")
            redirect = lead.window.clear(ctx)
            self.timer.reset(ctx)
            self.heard = ctx.now
            redirect += lead.reads.drop()
            for req in redirect:
                ctx.reply(req, Reply(req, REDIRECT, leader=leader))
