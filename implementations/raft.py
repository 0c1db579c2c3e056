"""Raft (Ongaro & Ousterhout, 2014; Ongaro's thesis, 2014) as a sans-I/O replica.

Everything the node does goes through the :class:`~harness.protocol.Context`; it owns no clock,
socket or random stream. The hot paths (``AppendEntries`` on followers, ``AppendReply`` on the
leader, batch proposal) avoid per-message allocations beyond the message itself and never scan the
log.

Design notes
------------
Log
    Two parallel lists indexed from 1 with a sentinel at 0: ``terms[i]`` and ``cmds[i]`` (the client
    :class:`~workloads.kv.Request` itself, or ``None`` for a leader's no-op). Log terms are
    non-decreasing, so "first index of term t" and "last index of term t" are binary searches.

Stable records (``ctx.persist``), replayed in order by :meth:`RaftNode.start`
    ``("term", term, voted_for)``
        currentTerm / votedFor changed; persisted before any vote or reply that depends on it.
    ``("append", first, terms, cmds)``
        the log becomes ``log[:first] + entries``: an append that also truncates a conflicting
        suffix (so no separate truncate record is needed). Followers persist before acknowledging.

Leader writes in parallel with its followers (Raft thesis 10.2.1)
    A new batch is sent to the followers *before* the leader persists it, and the leader counts
    itself as holding the batch as soon as it has called ``persist``. This relies on the contract
    of ``Context.persist``: every output issued after a persist -- in the same handler or a later
    one -- waits for its fsync, so a client reply or a commit index that reveals the commitment
    only leaves once the leader's copy is durable. (Followers rely on it too: a heartbeat
    acknowledged in a later handler covers entries persisted by an earlier one.)

Messages
    :class:`RequestVote` / :class:`Vote` (also used for pre-votes, ``prevote=True``),
    :class:`AppendEntries` / :class:`AppendReply`. ``size`` is ``Message.HEADER`` (which covers
    the fixed fields) plus, for ``AppendEntries``, the sum of the carried requests' sizes.

Replication: per-follower progress like etcd-io/raft
    *replicate* -- the leader streams every new batch to the follower as one ``AppendEntries`` and
    advances ``next_index`` optimistically. *probe* (after a rejection, or an entry left
    unacknowledged for a whole retransmission interval) -- one ``AppendEntries`` of at most
    ``batch_size`` entries from ``next_index`` in flight; the first success puts the follower
    back in *replicate* (etcd's ``BecomeReplicate``: ``next_index`` = match + 1) and the leader
    catches it up in messages of at most ``batch_size`` entries while fewer than
    ``batch_size * pipeline`` entries are unacknowledged, the rest as acknowledgements return
    (etcd's MaxSizePerMsg and Inflights). So ``batch_size: 1`` batches no catch-up either. A
    rejection carries a conflict hint (the follower's term at ``prevLogIndex`` and the first
    index of that term, or its last index + 1 when its log is too short) and the leader jumps
    ``next_index`` past a whole conflicting term at a time. A new leader probes every follower
    with its no-op.

Gaps: reordering and loss (``replication.reorder_wait``, the same rule as Multi-Paxos)
    The simulated network reorders (jitter), so a streamed batch may overtake the previous one,
    which TCP never shows etcd-io/raft (it rejects every append that does not follow on, with a
    hint, and the leader probes at once: ``handleAppendEntries``, ``RejectHint``). A follower
    here holds such a batch (at most ``pipeline`` of them) and, when the gap fills, acknowledges
    each held batch with its own reply (one acknowledgement per batch, as a Paxos acceptor
    answers each accept). A gap still open after ``reorder_wait`` is taken for a loss: the
    follower rejects with ``held`` set -- "I lack ``hint_index .. index``, and hold what
    follows" -- and the leader re-sends just that range, ``batch_size`` entries per message,
    without leaving *replicate* (a selective repair; etcd would go back to ``hint_index`` and
    re-send everything, which the held batches make unnecessary). The report is repeated every
    retransmission interval while the gap stays open, and a further gap left after the held
    batches drain gets its own ``reorder_wait``. Until the gap fills the follower acknowledges
    nothing past it -- the AppendEntries consistency check (Raft paper, section 5.3) accepts
    entries in log order only -- so a lost batch takes the follower out of the quorum for about
    ``reorder_wait`` + a round trip; the run reports that time (``loss_blocked_share``), which
    a Paxos acceptor, accepting each slot on its own, never spends.
    Probes, heartbeats and the first message of a repair are never held: one that does not
    follow on is rejected at once.

Loss of the rest (the policy shared with Multi-Paxos, ``implementations.liveness``)
    Every ``replication.retransmit`` interval (the heartbeat by default) the leader probes a
    follower whose first unacknowledged entry has waited a whole interval (say the last batches
    of a burst were lost, so nothing came after them to reveal a gap). Heartbeats carry
    ``prevLogIndex`` = the follower's match index, so they assert leadership and the commit
    index without turning every loss into a probe.

Batching and pipelining (``ReplicationOptions``; same semantics as the Multi-Paxos replica)
    Client commands wait in a queue. A *batch* of at most ``batch_size`` commands is proposed
    (appended and sent) while fewer than ``pipeline`` proposed batches are uncommitted. With
    ``batch_delay == 0`` whatever is queued is proposed as soon as the window has room. With
    ``batch_delay > 0`` a partial batch is proposed only once the "batch" timer -- armed when a
    command enters an empty queue -- has fired (a full batch goes at once). While the window is
    full, commands accumulate and form the next batches (natural batching). The leader's no-op
    does not count against the window.

Commit rule
    The leader counts replicas only for entries of its current term (:meth:`RaftNode._can_commit`);
    it appends a no-op when elected so that earlier entries commit promptly.

Reads
    ``read="log"``: GETs are ordinary log commands. ``read="readindex"``: a GET waits until the
    leader has committed an entry of its term, then joins the next *read round*: the leader records
    ``commitIndex`` as the read index, confirms its leadership by a heartbeat round (every
    ``AppendEntries`` carries a round id that replies echo; a majority of acks from the current
    term confirms), waits until ``lastApplied >= readIndex`` and answers from the state machine.
    Reads arriving while a round is in flight are batched into the next round.

Liveness helpers
    The election timer, the quorum check (``check_quorum``, ``check_quorum_period``) and the
    retransmission interval are shared with the Multi-Paxos replica (``implementations.liveness``):
    a timeout redrawn in ``replication.election_range`` at every leader contact and granted vote.
    Optional pre-vote (``RaftOptions.prevote``): a node first asks whether a majority would vote
    for it at ``term + 1`` without changing anyone's term; a server refuses a pre-vote while it
    has heard from a leader within the election timeout.

Client replies
    Only the leader answers, when it applies an entry it appended in its current term. A request
    already queued or in the log uncommitted in the current term is not appended again when
    retried to the same leader (its reply is on its way); retries elsewhere are appended again and
    the state machine's session table makes the duplicate a no-op. Commands still queued, and
    reads still pending, when the leader steps down are answered REDIRECT (they never executed);
    entries already in the log are left to the client's retry.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from typing import Any

from mypy_extensions import mypyc_attr

from harness.protocol import Context, Message, Node, ProtocolSpec, ReplicationOptions
from implementations.liveness import ElectionTimer, check_quorum_period, retransmit_interval
from implementations.options import RaftOptions
from workloads.kv import GET, REDIRECT, KVStateMachine, Reply, Request

assert GET == 0  # the apply loop tests `cmd.op` for "is a write"

__all__ = ["RaftOptions", "RaftNode", "RequestVote", "Vote", "AppendEntries", "AppendReply"]

FOLLOWER, PRECANDIDATE, CANDIDATE, LEADER = 0, 1, 2, 3
ROLE_NAMES = ("follower", "precandidate", "candidate", "leader")

_HEADER = Message.HEADER


# -- messages ------------------------------------------------------------------------------------

class RequestVote(Message):
    """RequestVote (or a pre-vote, asking for ``term`` without anyone adopting it)."""

    __slots__ = ("term", "last_index", "last_term", "prevote")

    def __init__(self, term: int, last_index: int, last_term: int, prevote: bool):
        self.term = term
        self.last_index = last_index
        self.last_term = last_term
        self.prevote = prevote
        self.size = _HEADER

    def __repr__(self) -> str:
        kind = "PreVote" if self.prevote else "RequestVote"
        return f"{kind}(t={self.term} last={self.last_index}@{self.last_term})"


class Vote(Message):
    """Answer to :class:`RequestVote`; ``term`` is the voter's term (or the pre-vote's term when
    a pre-vote is granted)."""

    __slots__ = ("term", "granted", "prevote")

    def __init__(self, term: int, granted: bool, prevote: bool):
        self.term = term
        self.granted = granted
        self.prevote = prevote
        self.size = _HEADER

    def __repr__(self) -> str:
        kind = "PreVote" if self.prevote else "Vote"
        return f"{kind}(t={self.term} {'yes' if self.granted else 'no'})"


class AppendEntries(Message):
    """Entries ``prev_index + 1 ..`` with their ``terms`` and ``cmds`` (shared, never mutated),
    the leader's ``commit`` index and its read-round id ``rid``. ``stream`` marks a batch streamed
    to a follower in the replicate state (it may be overtaken by the next one); probes, catch-ups
    and heartbeats want an immediate answer."""

    __slots__ = ("term", "prev_index", "prev_term", "terms", "cmds", "commit", "rid", "stream")

    def __init__(self, term: int, prev_index: int, prev_term: int, terms: list, cmds: list,
                 commit: int, rid: int, size: int, stream: bool = False):
        self.term = term
        self.prev_index = prev_index
        self.prev_term = prev_term
        self.terms = terms
        self.cmds = cmds
        self.commit = commit
        self.rid = rid
        self.size = size
        self.stream = stream

    def __repr__(self) -> str:
        return (f"AppendEntries(t={self.term} prev={self.prev_index}@{self.prev_term} "
                f"n={len(self.terms)} commit={self.commit})")


class AppendReply(Message):
    """Success: ``index`` is the follower's last index known to match the leader. Rejection:
    ``index`` is the rejected ``prev_index``; ``hint_term`` is the follower's term at it (0 when
    its log is too short) and ``hint_index`` the first index of that term (or its last index + 1).
    ``held``: the follower holds the batches after ``index`` and lacks only the gap before them.
    ``rid`` echoes the request's read-round id."""

    __slots__ = ("term", "success", "index", "hint_term", "hint_index", "rid", "held")

    def __init__(self, term: int, success: bool, index: int, hint_term: int, hint_index: int,
                 rid: int, held: bool = False):
        self.term = term
        self.success = success
        self.index = index
        self.hint_term = hint_term
        self.hint_index = hint_index
        self.rid = rid
        self.held = held
        self.size = _HEADER

    def __repr__(self) -> str:
        if self.success:
            return f"AppendReply(t={self.term} ok index={self.index})"
        return (f"AppendReply(t={self.term} reject prev={self.index} "
                f"hint={self.hint_index}@{self.hint_term})")


# -- the replica ---------------------------------------------------------------------------------

@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class RaftNode(Node):
    """A Raft replica driving a :class:`~workloads.kv.KVStateMachine`."""

    __slots__ = (
        # configuration
        "id", "nodes", "peers", "quorum", "et", "hb", "batch_size", "batch_delay", "pipeline",
        "catchup", "readindex", "prevote", "cq_period", "rto", "sm",
        # persistent state (mirrored in stable records)
        "term", "voted_for", "terms", "cmds",
        # volatile state
        "role", "leader", "commit", "applied", "heard", "timer", "votes", "stash",
        "stash_gap", "reorder_wait", "gap_since", "gap_reported",
        # leader state
        "term_start", "next", "match", "probing", "active", "sent", "caught", "queue", "pending",
        "batch_ends", "batch_armed", "batch_due", "rid", "read_rid", "read_index", "read_acks", "read_batch",
        "read_wait", "read_ready",
    )

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: ReplicationOptions,
                 options: RaftOptions, state_machine: KVStateMachine):
        self.id = node_id
        self.nodes = tuple(nodes)
        self.peers = tuple(p for p in self.nodes if p != node_id)
        self.quorum = len(self.nodes) // 2 + 1
        self.et = replication.election_timeout
        self.hb = replication.heartbeat
        self.batch_size = max(1, replication.batch_size)
        self.batch_delay = replication.batch_delay
        self.pipeline = max(1, replication.pipeline)
        self.catchup = self.batch_size * self.pipeline
        self.readindex = options.read == "readindex"
        self.prevote = options.prevote
        self.cq_period = check_quorum_period(options, replication)
        self.rto = retransmit_interval(replication)
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
        self.timer = ElectionTimer(*replication.election_range)
        self.votes: set[int] = set()
        self.stash: dict[int, AppendEntries] = {}  # follower: early batches, by prev_index
        self.stash_gap = 2 * self.catchup  # no gap larger than this can be mere reordering
        self.reorder_wait = replication.reorder_wait
        self.gap_since: float | None = None  # follower: when its log last stopped at a gap
        self.gap_reported = False  # ... and whether it outlived reorder_wait

        self.term_start = 0  # leader: index of its no-op, the first entry of its term
        self.next: dict[int, int] = {}
        self.match: dict[int, int] = {}
        self.probing: set[int] = set()
        self.active: set[int] = set()
        self.sent: deque[tuple[int, int, float]] = deque()  # streamed (first, last, when)
        self.caught: dict[int, float] = {}  # follower -> when its last catch-up was sent
        self.queue: list[Request] = []
        self.pending: set[int] = set()  # uids queued or appended, unanswered, in this term
        self.batch_ends: deque[int] = deque()
        self.batch_armed = False
        self.batch_due = False
        self.rid = 0
        self.read_rid = 0  # id of the read round awaiting confirmation (0: none)
        self.read_index = 0
        self.read_acks: set[int] = set()
        self.read_batch: list[Request] = []
        self.read_wait: list[Request] = []
        self.read_ready: deque[tuple[int, list[Request]]] = deque()

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
            if rec[0] == "append":
                first = rec[1]
                del terms[first:], cmds[first:]
                terms.extend(rec[2])
                cmds.extend(rec[3])
            elif rec[0] == "term":
                self.term, self.voted_for = rec[1], rec[2]
            else:
                raise ValueError(f"raft: unknown stable record {rec!r}")
        self.timer.reset(ctx)

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        t = type(msg)
        if t is AppendEntries:
            self._on_append(ctx, src, msg)
        elif t is AppendReply:
            self._on_append_reply(ctx, src, msg)
        elif t is RequestVote:
            self._on_request_vote(ctx, src, msg)
        elif t is Vote:
            self._on_vote(ctx, src, msg)
        else:
            raise TypeError(f"raft: unexpected message {msg!r}")

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "heartbeat":
            if self.role == LEADER:
                self._heartbeat(ctx)
                ctx.set_timer("heartbeat", self.hb)
        elif name == "retransmit":
            if self.role == LEADER:
                self._retransmit(ctx)
        elif name == "election":
            self._on_election_timer(ctx)
        elif name == "gap":
            self._on_gap_timer(ctx)
        elif name == "quorum":
            self._check_quorum(ctx)
        elif name == "batch":
            self.batch_armed = False
            if self.role == LEADER and self.queue:
                self.batch_due = True
                self._propose_queued(ctx)

    def on_request(self, ctx: Context, req: Request) -> None:
        if self.role != LEADER:
            ctx.reply(req, Reply(req, REDIRECT, leader=self.leader))
            return
        if self.readindex and req.op == GET:
            self.read_wait.append(req)
            if not self.read_rid:
                self._start_read_round(ctx)
            return
        uid = req.uid
        pending = self.pending
        if uid in pending:
            return  # already queued or in the log uncommitted: its reply will come
        pending.add(uid)
        q = self.queue
        q.append(req)
        if len(self.batch_ends) < self.pipeline and (
                not self.batch_delay or self.batch_due or len(q) >= self.batch_size):
            self._propose_queued(ctx)
        elif self.batch_delay and not self.batch_armed:
            self.batch_armed = True
            ctx.set_timer("batch", self.batch_delay)

    # -- replication: follower side -------------------------------------------------------------
    def _on_append(self, ctx: Context, src: int, m: AppendEntries) -> None:
        if m.term != self.term or self.role != FOLLOWER:
            if m.term < self.term:
                ctx.send(src, AppendReply(self.term, False, m.prev_index, 0, 0, m.rid))
                return
            if self.role == LEADER and m.term == self.term:
                return  # impossible: one leader per term
            self._become_follower(ctx, m.term, src)
        if self.leader != src:
            ctx.observe("heard_leader", self.term)  # (for the failover metrics)
        self.leader = src
        self.heard = ctx.now
        self.timer.reset(ctx)
        terms = self.terms
        prev = m.prev_index
        if prev >= len(terms):
            if m.stream and prev - len(terms) < self.stash_gap and len(self.stash) < self.pipeline:
                # It may have overtaken an earlier batch (network jitter reorders): hold it for
                # up to ``reorder_wait`` before reporting the gap (module notes, "Gaps").
                if not self.stash:
                    self._gap_opened(ctx)
                self.stash[prev] = m
                return
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
            ctx.persist(("append", prev + 1, ets, m.cmds))
            match = prev + len(ets)
            c = m.commit
            if c > self.commit:
                self.commit = c if c < match else match
                self._apply(ctx)
        else:
            match = self._accept(ctx, m)
        ctx.send(src, AppendReply(self.term, True, match, 0, 0, m.rid))
        stash = self.stash
        if stash:  # held batches that now follow on: accept and acknowledge each one
            drained = False
            while (nm := stash.pop(match, None)) is not None:
                if nm.term != self.term or terms[match] != nm.prev_term:
                    break
                match = self._accept(ctx, nm)
                ctx.send(src, AppendReply(self.term, True, match, 0, 0, nm.rid))
                drained = True
            for k in [k for k in stash if k < match]:
                del stash[k]
            if not stash:
                self._gap_closed(ctx)
            elif drained:  # stopped at a further gap: give it its own reorder tolerance
                ctx.set_timer("gap", self.reorder_wait)

    def _gap_opened(self, ctx: Context) -> None:
        """The log stopped at a gap: later batches are held, none can be acknowledged."""
        self.gap_since = ctx.now
        self.gap_reported = False
        ctx.set_timer("gap", self.reorder_wait)

    def _gap_closed(self, ctx: Context) -> None:
        """No batch is held any more (the gap filled, or the term changed)."""
        if self.gap_since is not None:
            if self.gap_reported:  # a loss, not mere reordering: out of the quorum meanwhile
                ctx.observe("loss_blocked", ctx.now - self.gap_since)
            self.gap_since = None
            ctx.cancel_timer("gap")

    def _on_gap_timer(self, ctx: Context) -> None:
        """The gap outlived the reorder tolerance: the missing batch is taken for lost and the
        follower rejects, with its last index + 1 as the hint, as etcd-io/raft rejects an append
        that does not follow on (``handleAppendEntries``: ``RejectHint``), and ``held`` set: the
        leader re-sends just the gap (:meth:`_repair`). Asked again every retransmission
        interval while the gap stays open."""
        if self.gap_since is None or self.leader is None or self.role != FOLLOWER:
            return
        ctx.send(self.leader, AppendReply(self.term, False, min(self.stash), 0, len(self.terms), 0,
                                          True))
        self.gap_reported = True
        ctx.set_timer("gap", self.rto)

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
                ctx.persist(("append", start, ets, m.cmds))
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
                    ctx.persist(("append", k, ts, cs))
        match = prev + n
        c = m.commit
        if c > match:
            c = match
        if c > self.commit:
            self.commit = c
            self._apply(ctx)
        return match

    # -- replication: leader side ---------------------------------------------------------------
    def _on_append_reply(self, ctx: Context, src: int, m: AppendReply) -> None:
        if m.term != self.term:
            if m.term > self.term:
                self._become_follower(ctx, m.term, None)
            return
        if self.role != LEADER:
            return
        self.active.add(src)
        if self.read_rid and m.rid >= self.read_rid:
            self._read_ack(ctx, src)
        if m.success:
            idx = m.index
            if idx > self.match[src]:
                self.match[src] = idx
                if src in self.probing:  # a match found: replicate (etcd: BecomeReplicate)
                    self.probing.discard(src)
                    self.next[src] = idx + 1
                elif self.next[src] <= idx:
                    self.next[src] = idx + 1
                if self.next[src] < len(self.terms):
                    self._send_window(ctx, src)
                if idx > self.commit:
                    self._maybe_commit(ctx)
            return
        # rejected: ignore stale rejections, otherwise back off using the hint and probe
        rejected = m.index
        if src in self.probing:
            if rejected != self.next[src] - 1:
                return
        elif rejected <= self.match[src]:
            return
        elif m.held:
            self._repair(ctx, src, max(m.hint_index, self.match[src] + 1), rejected + 1)
            return
        if m.hint_term:
            terms = self.terms
            hi = min(rejected, len(terms) - 1)
            j = bisect_right(terms, m.hint_term, 0, hi + 1) - 1  # leader's last entry <= hint_term
            nxt = j + 1 if j > 0 and terms[j] == m.hint_term else m.hint_index
        else:
            nxt = m.hint_index
        if nxt > rejected:
            nxt = rejected
        if nxt <= self.match[src]:
            nxt = self.match[src] + 1
        self._probe(ctx, src, nxt)

    def _probe(self, ctx: Context, p: int, nxt: int) -> None:
        """Probe follower ``p`` from ``nxt``: one ``AppendEntries`` of at most ``batch_size``
        entries in flight until one is accepted (etcd-io/raft's StateProbe)."""
        self.next[p] = nxt
        self.probing.add(p)
        self._send_entries(ctx, p, nxt, min(nxt + self.batch_size, len(self.terms)))

    def _repair(self, ctx: Context, p: int, first: int, end: int) -> None:
        """Re-send only the gap ``first .. end - 1`` a follower in the replicate state reported
        (it holds what follows), at most ``batch_size`` entries per message; ``next_index``
        stays. The first must fit the follower's log (else it is rejected and the leader
        probes); the others may be held like streamed batches."""
        ctx.observe("repair", self._send_chunks(ctx, p, first, end, False))

    def _send_window(self, ctx: Context, p: int) -> None:
        """Catch follower ``p`` up from ``next_index``: messages of at most ``batch_size``
        entries while fewer than ``batch_size * pipeline`` entries are unacknowledged
        (etcd-io/raft's StateReplicate, MaxSizePerMsg and Inflights), the rest as
        acknowledgements return. So ``batch_size: 1`` batches no catch-up either."""
        nxt = self.next[p]
        end = len(self.terms)
        limit = self.match[p] + 1 + self.catchup
        if limit < end:
            end = limit
        if nxt < end:
            self._send_chunks(ctx, p, nxt, end, True)
            self.next[p] = end

    def _send_chunks(self, ctx: Context, p: int, first: int, end: int, stream: bool) -> int:
        """Entries ``first .. end - 1`` to follower ``p`` in messages of at most ``batch_size``
        entries, all but the first streamed (the first is ``stream`` as given); return how many."""
        bs = self.batch_size
        sent = 0
        while first < end:
            stop = min(first + bs, end)
            self._send_entries(ctx, p, first, stop, stream or sent > 0)
            first = stop
            sent += 1
        return sent

    def _send_entries(self, ctx: Context, p: int, first: int, end: int,
                      stream: bool = False) -> None:
        """Entries ``first .. end - 1`` to follower ``p`` in one ``AppendEntries``; unless it is
        ``stream`` (one of several in flight, which the follower may hold) it must fit the
        follower's log: a mismatch is rejected at once and the leader probes."""
        self.caught[p] = ctx.now
        terms = self.terms
        cs = self.cmds[first:end]
        size = _HEADER
        for c in cs:
            if c is not None:
                size += c.size
        ctx.send(p, AppendEntries(self.term, first - 1, terms[first - 1], terms[first:end], cs,
                                  self.commit, self.rid, size, stream))

    def _heartbeat(self, ctx: Context) -> None:
        """An empty AppendEntries at the follower's match index: it asserts leadership and the
        commit index, and repairs nothing -- lost batches are the retransmission's job."""
        terms = self.terms
        term, commit, rid = self.term, self.commit, self.rid
        match = self.match
        for p in self.peers:
            prev = match[p]
            ctx.send(p, AppendEntries(term, prev, terms[prev], [], [], commit, rid, _HEADER))

    def _retransmit(self, ctx: Context) -> None:
        """Re-send what a follower has left unacknowledged for a whole ``replication.retransmit``
        interval (``implementations.liveness``): its first unacknowledged batch, or a probing
        follower's catch-up."""
        due = ctx.now - self.rto + 1e-9
        last = len(self.terms) - 1
        match, probing, caught, sent = self.match, self.probing, self.caught, self.sent
        floor = last  # every follower in the replicate state holds the batches up to here
        resent = 0
        for p in self.peers:
            m = match[p]
            if p not in probing and m < floor:
                floor = m
            if m >= last or caught.get(p, float("-inf")) > due:
                continue
            if p in probing:
                self._probe(ctx, p, self.next[p])
                resent += 1
                continue
            oldest = next((s for s in sent if s[1] > m), None)
            if oldest is None or oldest[0] > m + 1 or oldest[2] <= due:
                # Its first unacknowledged entry has waited a whole interval (or was sent
                # while it was probing): probe from there; once that is acknowledged the rest
                # follows as a catch-up (etcd-io/raft probes an unreachable follower likewise).
                self._probe(ctx, p, m + 1)
                resent += 1
        while sent and sent[0][1] <= floor:
            sent.popleft()
        if resent:
            ctx.observe("retransmit", resent)
        ctx.set_timer("retransmit", self.rto)

    def _propose_queued(self, ctx: Context) -> None:
        """Propose queued commands as batches while the pipeline window has room."""
        q = self.queue
        bs = self.batch_size
        ends = self.batch_ends
        while q and len(ends) < self.pipeline:
            if len(q) < bs and self.batch_delay and not self.batch_due:
                break
            if len(q) <= bs:
                batch, q = q, []
                self.queue = q
            else:
                batch = q[:bs]
                del q[:bs]
            self._replicate(ctx, batch)
        if q:
            if self.batch_delay and not self.batch_due and not self.batch_armed:
                self.batch_armed = True
                ctx.set_timer("batch", self.batch_delay)
        else:
            self.batch_due = False
            if self.batch_armed:
                self.batch_armed = False
                ctx.cancel_timer("batch")

    def _replicate(self, ctx: Context, batch: list) -> None:
        """Append ``batch`` at the leader, stream it to every follower in the replicate state,
        then persist it (parallel write, see the module notes)."""
        terms = self.terms
        first = len(terms)
        term = self.term
        ts = [term] * len(batch)
        terms.extend(ts)
        self.cmds.extend(batch)
        last = first + len(batch) - 1
        self.batch_ends.append(last)
        size = _HEADER
        for c in batch:
            if c is not None:
                size += c.size
        msg = AppendEntries(term, first - 1, terms[first - 1], ts, batch, self.commit, self.rid,
                            size, True)
        nxt = self.next
        probing = self.probing
        for p in self.peers:
            if nxt[p] == first and p not in probing:
                ctx.send(p, msg)
                nxt[p] = last + 1
        self.sent.append((first, last, ctx.now))
        ctx.persist(("append", first, ts, batch))  # after the sends: a parallel write
        if not self.peers:
            self._maybe_commit(ctx)

    def _maybe_commit(self, ctx: Context) -> None:
        if self.quorum >= 2:
            n = sorted(self.match.values(), reverse=True)[self.quorum - 2]
        else:
            n = len(self.terms) - 1
        if n > self.commit and self._can_commit(n):
            self.commit = n
            ends = self.batch_ends
            while ends and ends[0] <= n:
                ends.popleft()
            self._apply(ctx)
            if self.role != LEADER:
                return
            if self.queue:
                self._propose_queued(ctx)
            if self.read_wait and not self.read_rid:
                self._start_read_round(ctx)

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
        if self.role != LEADER:  # nobody reads a follower's state machine until it leads
            self.sm.defer(cmds)
            return
        apply = self.sm.apply
        mine = self.term_start
        reply = ctx.reply
        answer = self.sm.answer
        pending = self.pending
        for i, cmd in enumerate(cmds, first):
            if cmd is not None:
                result = apply(cmd)
                if i >= mine:
                    pending.discard(cmd.uid)
                    reply(cmd, answer(cmd, result))
        if self.read_ready:
            self._serve_reads(ctx)

    # -- ReadIndex ------------------------------------------------------------------------------
    def _start_read_round(self, ctx: Context) -> None:
        """Start confirming leadership for the waiting reads (one round in flight at a time)."""
        if self.terms[self.commit] != self.term:
            return  # no entry of this term committed yet: the commit index may be stale
        self.rid += 1
        self.read_rid = self.rid
        self.read_index = self.commit
        self.read_batch, self.read_wait = self.read_wait, []
        self.read_acks.clear()
        if self.quorum <= 1:
            self._confirm_reads(ctx)
            return
        # A ping (prev_index 0, no entries) always succeeds and disturbs no replication state.
        ping = AppendEntries(self.term, 0, 0, [], [], 0, self.rid, _HEADER)
        for p in self.peers:
            ctx.send(p, ping)

    def _read_ack(self, ctx: Context, src: int) -> None:
        acks = self.read_acks
        acks.add(src)
        if len(acks) + 1 >= self.quorum:
            self._confirm_reads(ctx)

    def _confirm_reads(self, ctx: Context) -> None:
        self.read_ready.append((self.read_index, self.read_batch))
        self.read_batch = []
        self.read_rid = 0
        if self.read_index <= self.applied:
            self._serve_reads(ctx)
        if self.read_wait:
            self._start_read_round(ctx)

    def _serve_reads(self, ctx: Context) -> None:
        ready = self.read_ready
        applied = self.applied
        read, answer = self.sm.read, self.sm.answer
        while ready and ready[0][0] <= applied:
            for req in ready.popleft()[1]:
                ctx.reply(req, answer(req, read(req.key)))

    # -- elections ------------------------------------------------------------------------------
    def _check_quorum(self, ctx: Context) -> None:
        """Step down unless a majority answered during the last period (module notes)."""
        if self.role != LEADER or not self.cq_period:
            return
        if len(self.active) + 1 < self.quorum:
            self._become_follower(ctx, self.term, None)
        else:
            self.active.clear()
            ctx.set_timer("quorum", self.cq_period)

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
        self.stash.clear()
        self._gap_closed(ctx)
        ctx.persist(("term", self.term, self.id))
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
                self.leader is not None and ctx.now - self.heard < self.et)
            grant = m.term > self.term and not lease and self._log_ok(m)
            ctx.send(src, Vote(m.term if grant else self.term, grant, True))
            return
        if m.term < self.term:
            ctx.send(src, Vote(self.term, False, False))
            return
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
            ctx.persist(("term", self.term, self.voted_for))
        ctx.send(src, Vote(self.term, grant, False))

    def _on_vote(self, ctx: Context, src: int, m: Vote) -> None:
        if m.prevote:
            if m.granted:
                if self.role == PRECANDIDATE and m.term == self.term + 1:
                    self.votes.add(src)
                    if len(self.votes) >= self.quorum:
                        self._campaign(ctx)
            elif m.term > self.term:
                self._become_follower(ctx, m.term, None)
            return
        if m.term > self.term:
            self._become_follower(ctx, m.term, None)
            return
        if self.role == CANDIDATE and m.term == self.term and m.granted:
            self.votes.add(src)
            if len(self.votes) >= self.quorum:
                self._become_leader(ctx)

    def _become_leader(self, ctx: Context) -> None:
        self.role = LEADER
        self.leader = self.id
        ctx.became_leader(self.term)
        last = len(self.terms) - 1
        for p in self.peers:
            self.next[p] = last + 1
            self.match[p] = 0
        self.probing = set(self.peers)
        self.active.clear()
        self.sent.clear()
        self.caught.clear()
        self.queue = []
        self.pending.clear()
        self.batch_ends.clear()
        self.batch_armed = self.batch_due = False
        self.read_rid = 0
        self.read_wait, self.read_batch = [], []
        self.read_ready.clear()
        # The no-op of the new term (outside the pipeline window), sent as every follower's
        # first probe, then persisted (parallel write).
        self.term_start = last + 1
        self.terms.append(self.term)
        self.cmds.append(None)
        for p in self.peers:
            self._probe(ctx, p, last + 1)
        ctx.persist(("append", last + 1, [self.term], [None]))
        if not self.peers:
            self._maybe_commit(ctx)
        ctx.set_timer("heartbeat", self.hb)
        ctx.set_timer("retransmit", self.rto)
        self.timer.stop(ctx)
        if self.cq_period:
            ctx.set_timer("quorum", self.cq_period)

    def _become_follower(self, ctx: Context, term: int, leader: int | None,
                         persist: bool = True) -> None:
        if self.role == LEADER:
            ctx.observe("stepped_down", self.term)  # (for the metrics' leader lane)
        if term > self.term:
            self.term = term
            self.voted_for = None
            self.stash.clear()
            self._gap_closed(ctx)
            if persist:
                ctx.persist(("term", term, None))
        was_leader = self.role == LEADER
        self.role = FOLLOWER
        self.leader = leader
        if was_leader:
            ctx.cancel_timer("heartbeat")
            ctx.cancel_timer("retransmit")
            ctx.cancel_timer("quorum")
            if self.batch_armed:
                ctx.cancel_timer("batch")
            self.batch_armed = self.batch_due = False
            self.timer.reset(ctx)
            self.heard = ctx.now
            redirect = self.queue + self.read_wait + self.read_batch
            for _, reqs in self.read_ready:
                redirect.extend(reqs)
            self.queue, self.read_wait, self.read_batch = [], [], []
            self.read_ready.clear()
            self.read_rid = 0
            self.pending.clear()
            self.batch_ends.clear()
            self.probing.clear()
            for req in redirect:
                ctx.reply(req, Reply(req, REDIRECT, leader=leader))


# A constant rather than the decorator: the compiled build compiles a decorated class as a slower
# non-native class (docs/performance.md). The package metadata names it (pyproject.toml).
SPEC = ProtocolSpec("raft", "consensus", RaftNode, RaftOptions,
                    "Raft: leader election, log replication, ReadIndex reads, optional pre-vote")
