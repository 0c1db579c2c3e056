"""ReadIndex (Raft thesis 6.4; ``RaftOptions.read: readindex``): a GET is answered from the
leader's state machine once the leader has confirmed it still leads; and lease reads
(``read: lease``, :class:`LeaseReads`), where the leader's lease is that confirmation.

A GET waits until the leader has committed an entry of its term, then joins the next *read
round*: the leader records ``commitIndex`` as the read index, confirms its leadership by a
heartbeat round (every ``AppendEntries`` carries the round id ``rid`` that replies echo; a
majority of acknowledgements from the current term confirms), waits until ``lastApplied >=
readIndex`` and answers from the state machine. Reads arriving while a round is in flight are
batched into the next round (one round in flight at a time).

Lease reads (thesis 6.4.1; etcd-io/raft's ``ReadOnlyLeaseBased``) are ReadIndex reads confirmed
by the lease (``implementations.replication.lease``) instead of a round of their own: once an
entry of the leader's term is committed, a GET is answered at once while the lease holds. Every
heartbeat is a lease round (its ``rid``, echoed by the answers). A GET arriving while the lease
has lapsed waits for the next renewal, and is redirected if the leader steps down first.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from harness.contract import Context
from implementations.raft.messages import HEADER, AppendEntries
from implementations.replication.lease import Lease
from workloads.kv import Request

if TYPE_CHECKING:
    from implementations.raft.node import RaftNode

__all__ = ["ReadIndex", "LeaseReads"]


class ReadIndex:
    """A leader's read rounds for one term."""

    __slots__ = ("node", "rid", "round", "index", "acks", "batch", "waiting", "ready")

    def __init__(self, node: RaftNode):
        self.node = node
        self.rid = 0  # the id every AppendEntries carries; replies echo it
        self.round = 0  # id of the round awaiting confirmation (0: none)
        self.index = 0  # that round's read index
        self.acks: set[int] = set()  # followers that confirmed it
        self.batch: list[Request] = []  # its reads
        self.waiting: list[Request] = []  # reads for the next round
        self.ready: deque[tuple[int, list[Request]]] = deque()  # confirmed (read index, reads)

    def add(self, ctx: Context, request: Request) -> None:
        self.waiting.append(request)
        if not self.round:
            self.start_round(ctx)

    def heartbeat(self, ctx: Context) -> int:
        """A heartbeat leaves: the round id it carries (heartbeats start no read round)."""
        return self.rid

    def answered(self, ctx: Context, src: int, rid: int) -> None:
        """``src`` answered an AppendEntries carrying round ``rid``."""
        if self.round and rid >= self.round:
            self.ack(ctx, src)

    def start_round(self, ctx: Context) -> None:
        """Start confirming leadership for the waiting reads (one round in flight at a time)."""
        node = self.node
        if node.terms[node.commit] != node.term:
            return  # no entry of this term committed yet: the commit index may be stale
        self.rid += 1
        self.round = self.rid
        self.index = node.commit
        self.batch, self.waiting = self.waiting, []
        self.acks.clear()
        if node.quorum <= 1:
            self._confirm(ctx)
            return
        # A ping (prev_index 0, no entries) always succeeds and disturbs no replication state.
        ping = AppendEntries(node.term, 0, 0, [], [], 0, self.rid, HEADER)
        for p in node.peers:
            ctx.send(p, ping)

    def ack(self, ctx: Context, src: int) -> None:
        """``src`` answered an AppendEntries of the round in flight (or a later one)."""
        acks = self.acks
        acks.add(src)
        if len(acks) + 1 >= self.node.quorum:
            self._confirm(ctx)

    def _confirm(self, ctx: Context) -> None:
        self.ready.append((self.index, self.batch))
        self.batch = []
        self.round = 0
        if self.index <= self.node.applied:
            self.serve(ctx)
        if self.waiting:
            self.start_round(ctx)

    def serve(self, ctx: Context) -> None:
        """Answer the confirmed reads whose read index is applied."""
        ready = self.ready
        applied = self.node.applied
        sm = self.node.sm
        read, answer = sm.read, sm.answer
        while ready:
            index, requests = ready[0]
            if index > applied:
                break
            ready.popleft()
            for req in requests:
                ctx.reply(req, answer(req, read(req.key)))

    def drop(self) -> list[Request]:
        """Leadership ends: every read not answered (to be redirected)."""
        dropped = self.waiting + self.batch
        for _, requests in self.ready:
            dropped.extend(requests)
        self.waiting, self.batch = [], []
        self.ready.clear()
        self.round = 0
        return dropped


class LeaseReads(ReadIndex):
    """A leader's lease reads for one term: ReadIndex reads its lease confirms."""

    __slots__ = ("lease",)

    def __init__(self, node: RaftNode, lease_length: float):
        super().__init__(node)
        self.lease = Lease(node.peers, node.quorum, lease_length)

    def add(self, ctx: Context, request: Request) -> None:
        if self.confirmed(ctx):
            self.answer(ctx, [request])
        else:
            self.waiting.append(request)

    def confirmed(self, ctx: Context) -> bool:
        """An entry of this term is committed and the lease holds: a read may be answered."""
        node = self.node
        return node.terms[node.commit] == node.term and self.lease.holds(ctx.now)

    def answer(self, ctx: Context, requests: list[Request]) -> None:
        """Answer from the state machine, which holds every committed entry (the leader applies
        as it commits)."""
        sm = self.node.sm
        for req in requests:
            ctx.reply(req, sm.answer(req, sm.read(req.key)))

    def heartbeat(self, ctx: Context) -> int:
        self.rid = self.lease.start(ctx.now)
        return self.rid

    def answered(self, ctx: Context, src: int, rid: int) -> None:
        if self.lease.answer(src, rid) and self.waiting:
            self.start_round(ctx)

    def start_round(self, ctx: Context) -> None:
        """Answer the waiting reads if the lease now confirms them (no round of their own)."""
        if self.confirmed(ctx):
            waiting, self.waiting = self.waiting, []
            self.answer(ctx, waiting)
