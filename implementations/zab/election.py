"""Fast Leader Election (ZooKeeper's ``FastLeaderElection.lookForLeader``), on votes
``(epoch, zxid, server id)`` compared in that order (``totalOrderPredicate``).

A LOOKING server starts a new round (``logicalclock``), votes for itself and tells everyone.
On a notification from a LOOKING server of a later round it adopts that round, forgets the votes
it received and votes for the better of the sender's vote and its own; in its own round it
switches to a better vote; in both cases it tells everyone again. A server of an earlier round,
or one that asks a server no longer LOOKING, is answered with the receiver's current vote. Once
a quorum's votes in its round equal its own (``termPredicate``), or a quorum of servers that are
FOLLOWING or LEADING agree on a leader who says it leads (``outofelection``, ``checkLeader``),
it follows that leader (or leads) -- in the first case only after ``finalize_wait`` without
a better vote arriving (ZooKeeper's ``finalizeWait``), so that one fast pair does not settle on a
vote the rest would not give. Safety rests on the epoch protocol that follows, not on the
election. Notifications lost while LOOKING are sent again when the election timer
(``implementations.replication.liveness``) expires, as ZooKeeper resends after its notification
timeout."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.contract import Context
from implementations.zab.messages import LEADING, LOOKING, Notification

if TYPE_CHECKING:
    from implementations.zab.node import ZabNode

__all__ = ["Election"]


class Election:
    """One server's Fast Leader Election state."""

    __slots__ = ("node", "round", "vote", "received", "outside")

    def __init__(self, node: ZabNode):
        self.node = node
        self.round = 0  # logicalclock
        self.vote: tuple = (0, 0, node.id)  # (epoch, zxid, leader)
        self.received: dict[int, tuple] = {}  # recvset: votes in this round
        self.outside: dict[int, tuple] = {}  # outofelection: server -> (vote, state)

    def own_vote(self) -> tuple:
        node = self.node
        return (node.current_epoch, node.last_zxid(), node.id)

    def start(self, ctx: Context) -> None:
        """Become LOOKING: a new round, a vote for oneself."""
        self.round += 1
        self.vote = self.own_vote()
        self.received = {self.node.id: self.vote}
        self.outside = {}
        self.broadcast(ctx)
        self.decide(ctx)

    def broadcast(self, ctx: Context) -> None:
        msg = Notification(self.vote, self.round, LOOKING)
        for p in self.node.peers:
            ctx.send(p, msg)

    def on_notification(self, ctx: Context, src: int, n: Notification) -> None:
        """A LOOKING server's handling of a notification (the caller answers when not
        LOOKING)."""
        node = self.node
        if n.state == LOOKING:
            if n.round > self.round:
                self.round = n.round
                self.received = {}
                own = self.own_vote()
                self.vote = n.vote if n.vote > own else own
                self.broadcast(ctx)
            elif n.round < self.round:
                ctx.send(src, Notification(self.vote, self.round, LOOKING))
                return
            elif n.vote > self.vote:
                self.vote = n.vote
                self.broadcast(ctx)
            self.received[src] = n.vote
            self.received[node.id] = self.vote
            self.decide(ctx)
            return
        # FOLLOWING or LEADING: the sender is past the election
        self.outside[src] = (n.vote, n.state)
        if n.round == self.round:
            self.received[src] = n.vote
        leader = n.vote[2]
        agree = sum(1 for v, _ in self.outside.values() if v[2] == leader)
        if agree >= node.quorum and self._leads(leader):
            self.vote = n.vote
            self._elected(ctx, leader)
            return
        self.decide(ctx)

    def _leads(self, leader: int) -> bool:
        """checkLeader: the leader is this server, or says it leads."""
        if leader == self.node.id:
            return True
        seen = self.outside.get(leader)
        return seen is not None and seen[1] == LEADING

    def decide(self, ctx: Context) -> None:
        """termPredicate: a quorum's votes in this round equal ours; the decision waits
        ``finalize_wait`` (the "finalize" timer) for a better vote."""
        if self.agreed():
            if self.node.finalize_wait > 0:
                ctx.set_timer("finalize", self.node.finalize_wait)
            else:
                self._elected(ctx, self.vote[2])

    def agreed(self) -> bool:
        vote = self.vote
        return sum(1 for v in self.received.values() if v == vote) >= self.node.quorum

    def finalize(self, ctx: Context) -> None:
        """``finalize_wait`` passed: decide if a quorum still agrees with our vote."""
        if self.agreed():
            self._elected(ctx, self.vote[2])

    def _elected(self, ctx: Context, leader: int) -> None:
        if leader == self.node.id:
            self.node.lead(ctx)
        else:
            self.node.follow(ctx, leader)

    def answer(self, ctx: Context, src: int, n: Notification, state: int) -> None:
        """A server no longer LOOKING answers a LOOKING one with the vote it followed."""
        if n.state == LOOKING:
            ctx.send(src, Notification(self.vote, self.round, state))
