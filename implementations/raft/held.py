"""The batches a Raft follower holds past a gap (``replication.reorder_wait``, the same rule as
Multi-Paxos's): the simulated network reorders, so a streamed batch may overtake the previous
one. The follower holds such a batch (at most ``pipeline`` of them) and, when the gap fills,
acknowledges each held batch with its own reply. A gap still open after ``reorder_wait`` is taken
for a loss: the follower rejects with ``held`` set -- "I lack ``hint_index .. index``, and hold
what follows" -- and the leader re-sends just that range. The report is repeated every
retransmission interval while the gap stays open, and a further gap left after the held batches
drain gets its own ``reorder_wait``. The time a reported gap keeps the follower out of the quorum
is observed (``loss_blocked``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.contract import Context
from implementations.raft.messages import AppendEntries, AppendReply

if TYPE_CHECKING:
    from implementations.raft.node import RaftNode

__all__ = ["HeldBatches"]


class HeldBatches:
    """A follower's batches received past a gap, by ``prev_index``, and the gap's timing."""

    __slots__ = ("node", "batches", "max_gap", "limit", "since", "reported")

    def __init__(self, node: RaftNode):
        self.node = node
        self.batches: dict[int, AppendEntries] = {}
        self.max_gap = 2 * node.catchup  # no gap larger than this can be mere reordering
        self.limit = node.pipeline
        self.since: float | None = None  # when the log last stopped at a gap ...
        self.reported = False  # ... and whether the gap outlived reorder_wait

    def hold(self, ctx: Context, m: AppendEntries, end: int) -> bool:
        """Hold ``m``, which does not follow on the log ending before ``end``, if it may have
        overtaken an earlier batch: a streamed one, not too far ahead, room left."""
        batches = self.batches
        if not m.stream or m.prev_index - end >= self.max_gap or len(batches) >= self.limit:
            return False
        if not batches:
            self.since = ctx.now
            self.reported = False
            ctx.set_timer("gap", self.node.reorder_wait)
        batches[m.prev_index] = m
        return True

    def drain(self, ctx: Context, src: int, match: int) -> None:
        """The log now matches the leader's up to ``match``: accept and acknowledge each held
        batch that follows on."""
        node = self.node
        batches = self.batches
        terms = node.terms
        drained = False
        while (nm := batches.pop(match, None)) is not None:
            if nm.term != node.term or terms[match] != nm.prev_term:
                break
            match = node._accept(ctx, nm)
            ctx.send(src, AppendReply(node.term, True, match, 0, 0, nm.rid))
            drained = True
        for k in [k for k in batches if k < match]:
            del batches[k]
        if not batches:
            self._closed(ctx)
        elif drained:  # stopped at a further gap: give it its own reorder tolerance
            ctx.set_timer("gap", node.reorder_wait)

    def clear(self, ctx: Context) -> None:
        """The term changed: what is held belongs to another leader's log."""
        self.batches.clear()
        self._closed(ctx)

    def _closed(self, ctx: Context) -> None:
        """No batch is held any more."""
        if self.since is not None:
            if self.reported:  # a loss, not mere reordering: out of the quorum meanwhile
                ctx.observe("loss_blocked", ctx.now - self.since)
            self.since = None
            ctx.cancel_timer("gap")

    def on_timer(self, ctx: Context) -> None:
        """The gap outlived the reorder tolerance: the missing batch is taken for lost and the
        follower rejects, with its last index + 1 as the hint, as etcd-io/raft rejects an append
        that does not follow on (``handleAppendEntries``: ``RejectHint``), and ``held`` set: the
        leader re-sends just the gap (``Leader.repair``)."""
        node = self.node
        if self.since is None or node.leader is None or node.leadership is not None:
            return
        ctx.send(node.leader, AppendReply(node.term, False, min(self.batches), 0, len(node.terms),
                                          0, True))
        self.reported = True
        ctx.set_timer("gap", node.rto)
