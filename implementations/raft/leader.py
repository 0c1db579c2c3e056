"""The leader side of Raft's log replication, for one term of leadership: the progress of every
follower (``implementations.replication.progress``), the batching window, the batches streamed
and not yet held by every follower, and the read rounds (or the lease).

Replication: per-follower progress like etcd-io/raft
    *replicate* -- the leader streams every new batch to the follower as one ``AppendEntries`` and
    advances ``next`` optimistically. *probe* (after a rejection, or an entry left
    unacknowledged for a whole retransmission interval) -- one ``AppendEntries`` of at most
    ``batch_size`` entries from ``next`` in flight; the first success puts the follower back in
    *replicate* (``next`` = match + 1) and the leader catches it up in messages of at most
    ``batch_size`` entries while fewer than ``batch_size * pipeline`` entries are
    unacknowledged, the rest as acknowledgements return (etcd's MaxSizePerMsg and Inflights). So
    ``batch_size: 1`` batches no catch-up either. A rejection carries a conflict hint (the
    follower's term at ``prevLogIndex`` and the first index of that term, or its last index + 1
    when its log is too short) and the leader jumps ``next`` past a whole conflicting term at a
    time. A new leader probes every follower with its no-op.

Writes in parallel with the followers (Raft thesis 10.2.1)
    A new batch is sent to the followers *before* the leader persists it, and the leader counts
    itself as holding the batch as soon as it has called ``persist``. This relies on the contract
    of ``Context.persist``: every output issued after a persist -- in the same handler or a later
    one -- waits for its fsync, so a client reply or a commit index that reveals the commitment
    only leaves once the leader's copy is durable.

Loss (the policy shared with Multi-Paxos, ``implementations.replication.liveness``)
    Every ``replication.retransmit`` interval (the heartbeat by default) the leader probes a
    follower whose first unacknowledged entry has waited a whole interval (say the last batches
    of a burst were lost, so nothing came after them to reveal a gap). A follower that reports a
    gap (``held``) gets just that range again (:meth:`Leader.repair`). Heartbeats carry
    ``prevLogIndex`` = the follower's match index, so they assert leadership and the commit
    index without turning every loss into a probe.

Commit rule
    The leader counts replicas only for entries of its current term (``RaftNode._can_commit``);
    it appends a no-op when elected so that earlier entries commit promptly. The no-op does not
    count against the batching window.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from typing import TYPE_CHECKING

from harness.contract import Context
from implementations.raft.messages import HEADER, AppendEntries, AppendReply
from implementations.raft.reads import LeaseReads, ReadIndex
from implementations.raft.records import AppendRecord
from implementations.replication.batching import BatchWindow
from implementations.replication.progress import Followers, Progress

if TYPE_CHECKING:
    from implementations.raft.node import RaftNode

__all__ = ["Leader", "StreamedBatch"]


class StreamedBatch:
    """Entries ``first .. last`` streamed to the replicating followers at ``sent_at``."""

    __slots__ = ("first", "last", "sent_at")

    def __init__(self, first: int, last: int, sent_at: float):
        self.first = first
        self.last = last
        self.sent_at = sent_at


class Leader:
    """What a Raft node keeps while it leads one term, and the leader's side of replication."""

    __slots__ = ("node", "term", "peers", "terms", "cmds", "batch_size", "catchup", "rto",
                 "followers", "progress", "window", "uncommitted", "streamed", "reads")

    def __init__(self, node: RaftNode, next_index: int):
        self.node = node
        self.term = node.term
        self.peers = node.peers
        self.terms = node.terms  # the node's log, shared (changed in place only)
        self.cmds = node.cmds
        self.batch_size = node.batch_size
        self.catchup = node.catchup
        self.rto = node.rto
        self.followers = Followers(node.peers, next_index, node.quorum)
        self.progress = self.followers.by_id
        self.window = BatchWindow(node.batch_size, node.batch_delay, node.pipeline)
        self.uncommitted: deque[int] = deque()  # last index of each proposed, uncommitted batch
        self.streamed: deque[StreamedBatch] = deque()  # not yet held by every replicating follower
        self.reads = ReadIndex(node) if node.lease is None else LeaseReads(node, node.lease)

    # -- proposing ------------------------------------------------------------------------------
    def propose(self, ctx: Context) -> None:
        """Propose queued commands as batches while the pipeline window has room."""
        window = self.window
        uncommitted = self.uncommitted
        while (batch := window.take(ctx, len(uncommitted))) is not None:
            self.replicate(ctx, batch)
        window.settle(ctx)

    def replicate(self, ctx: Context, batch: list) -> None:
        """Append ``batch`` at the leader, stream it to every follower in the replicate state,
        then persist it (a parallel write, see the module notes)."""
        terms = self.terms
        first = len(terms)
        term = self.term
        ts = [term] * len(batch)
        terms.extend(ts)
        self.cmds.extend(batch)
        last = first + len(batch) - 1
        self.uncommitted.append(last)
        size = HEADER
        for c in batch:
            if c is not None:
                size += c.size
        msg = AppendEntries(term, first - 1, terms[first - 1], ts, batch, self.node.commit,
                            self.reads.rid, size, True)
        for pr in self.followers.all:
            if pr.next == first and not pr.probing:
                ctx.send(pr.id, msg)
                pr.next = last + 1
        self.streamed.append(StreamedBatch(first, last, ctx.now))
        ctx.persist(AppendRecord(first, ts, batch))  # after the sends: a parallel write
        if not self.peers:
            self.maybe_commit(ctx)

    def maybe_commit(self, ctx: Context) -> None:
        """Advance the commit index to what a majority holds, if the commit rule allows."""
        node = self.node
        n = self.followers.committed(len(self.terms) - 1)
        if n > node.commit and node._can_commit(n):
            node.commit = n
            uncommitted = self.uncommitted
            while uncommitted and uncommitted[0] <= n:
                uncommitted.popleft()
            node._apply(ctx)
            if node.leadership is not self:
                return
            if self.window.queue:
                self.propose(ctx)
            reads = self.reads
            if reads.waiting and not reads.round:
                reads.start_round(ctx)

    # -- answers --------------------------------------------------------------------------------
    def on_append_reply(self, ctx: Context, src: int, m: AppendReply) -> None:
        pr = self.progress[src]
        pr.active = True
        self.reads.answered(ctx, src, m.rid)
        if m.success:
            idx = m.index
            if pr.maybe_update(idx):
                if pr.next < len(self.terms):
                    self.send_window(ctx, pr)
                if idx > self.node.commit:
                    self.maybe_commit(ctx)
            return
        # rejected: ignore stale rejections, otherwise back off using the hint and probe
        rejected = m.index
        if pr.probing:
            if rejected != pr.next - 1:
                return
        elif rejected <= pr.match:
            return
        elif m.held:
            self.repair(ctx, pr, max(m.hint_index, pr.match + 1), rejected + 1)
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
        if nxt <= pr.match:
            nxt = pr.match + 1
        self.probe(ctx, pr, nxt)

    # -- sending --------------------------------------------------------------------------------
    def probe(self, ctx: Context, pr: Progress, nxt: int) -> None:
        """Probe a follower from ``nxt``: one ``AppendEntries`` of at most ``batch_size``
        entries in flight until one is accepted (etcd-io/raft's StateProbe)."""
        pr.become_probe(nxt)
        self.send_entries(ctx, pr, nxt, min(nxt + self.batch_size, len(self.terms)))

    def repair(self, ctx: Context, pr: Progress, first: int, end: int) -> None:
        """Re-send only the gap ``first .. end - 1`` a follower in the replicate state reported
        (it holds what follows), at most ``batch_size`` entries per message; ``next`` stays.
        The first must fit the follower's log (else it is rejected and the leader probes); the
        others may be held like streamed batches."""
        ctx.observe("repair", self.send_chunks(ctx, pr, first, end, False))

    def send_window(self, ctx: Context, pr: Progress) -> None:
        """Catch a follower up from ``next``: messages of at most ``batch_size`` entries while
        fewer than ``batch_size * pipeline`` entries are unacknowledged (etcd-io/raft's
        StateReplicate, MaxSizePerMsg and Inflights), the rest as acknowledgements return."""
        nxt = pr.next
        end = len(self.terms)
        limit = pr.match + 1 + self.catchup
        if limit < end:
            end = limit
        if nxt < end:
            self.send_chunks(ctx, pr, nxt, end, True)
            pr.next = end

    def send_chunks(self, ctx: Context, pr: Progress, first: int, end: int, stream: bool) -> int:
        """Entries ``first .. end - 1`` in messages of at most ``batch_size`` entries, all but
        the first streamed (the first is ``stream`` as given); return how many messages."""
        bs = self.batch_size
        sent = 0
        while first < end:
            stop = min(first + bs, end)
            self.send_entries(ctx, pr, first, stop, stream or sent > 0)
            first = stop
            sent += 1
        return sent

    def send_entries(self, ctx: Context, pr: Progress, first: int, end: int,
                     stream: bool = False) -> None:
        """Entries ``first .. end - 1`` in one ``AppendEntries``; unless it is ``stream`` (one of
        several in flight, which the follower may hold) it must fit the follower's log: a
        mismatch is rejected at once and the leader probes."""
        pr.last_sent = ctx.now
        terms = self.terms
        cs = self.cmds[first:end]
        size = HEADER
        for c in cs:
            if c is not None:
                size += c.size
        ctx.send(pr.id, AppendEntries(self.term, first - 1, terms[first - 1], terms[first:end],
                                      cs, self.node.commit, self.reads.rid, size, stream))

    def heartbeat(self, ctx: Context) -> None:
        """An empty AppendEntries at each follower's match index: it asserts leadership and the
        commit index, and repairs nothing -- lost batches are the retransmission's job."""
        terms = self.terms
        term, commit, rid = self.term, self.node.commit, self.reads.heartbeat(ctx)
        for pr in self.followers.all:
            prev = pr.match
            ctx.send(pr.id, AppendEntries(term, prev, terms[prev], [], [], commit, rid, HEADER))

    def retransmit(self, ctx: Context) -> None:
        """Re-send what a follower has left unacknowledged for a whole ``replication.retransmit``
        interval (``implementations.replication.liveness``): its first unacknowledged batch, or
        a probing follower's catch-up."""
        due = ctx.now - self.rto + 1e-9
        last = len(self.terms) - 1
        streamed = self.streamed
        floor = last  # every follower in the replicate state holds the batches up to here
        resent = 0
        for pr in self.followers.all:
            m = pr.match
            if not pr.probing and m < floor:
                floor = m
            if m >= last or pr.last_sent > due:
                continue
            if pr.probing:
                self.probe(ctx, pr, pr.next)
                resent += 1
                continue
            oldest = next((s for s in streamed if s.last > m), None)
            if oldest is None or oldest.first > m + 1 or oldest.sent_at <= due:
                # Its first unacknowledged entry has waited a whole interval (or was sent
                # while it was probing): probe from there; once that is acknowledged the rest
                # follows as a catch-up (etcd-io/raft probes an unreachable follower likewise).
                self.probe(ctx, pr, m + 1)
                resent += 1
        while streamed and streamed[0].last <= floor:
            streamed.popleft()
        if resent:
            ctx.observe("retransmit", resent)
        ctx.set_timer("retransmit", self.rto)
