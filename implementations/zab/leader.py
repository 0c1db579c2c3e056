"""The leader's side of ZAB for one leadership (ZooKeeper's ``Leader`` and ``LearnerHandler``):
discovery, synchronisation, broadcast and the answers to ``sync``.

Discovery (``Leader.getEpochToPropose``, ``waitForEpochAck``)
    The leader collects FOLLOWERINFO (each follower's acceptedEpoch) from a quorum, itself
    included, and proposes the epoch one above all of them (LEADERINFO). A follower accepts an
    epoch above its acceptedEpoch (persisting it) and answers ACKEPOCH with its currentEpoch and
    last zxid; an epoch equal to its acceptedEpoch is answered but not counted. A quorum of
    counted acks establishes the epoch; a follower whose (currentEpoch, last zxid) is ahead of
    the leader's makes it give up ("Follower is ahead of the leader").

Synchronisation (``LearnerHandler.syncFollower``)
    Each acknowledged follower is brought to the leader's history: DIFF (the proposals after its
    last zxid, which the leader has), TRUNC (its last zxid is not the leader's: truncate to the
    leader's last zxid before it, then DIFF), or SNAP (more than ``snap_threshold`` behind:
    ZooKeeper's in-memory committed log is ``commitLogCount`` long). A SNAP here carries the
    history, so that log positions stay comparable, but is charged the bytes of the state
    machine. NEWLEADER travels in the same message. Once a quorum (the leader included) has
    acknowledged NEWLEADER the leader's whole history is committed, UPTODATE goes to the synced
    followers and broadcast begins; later followers are synchronised the same way and receive
    UPTODATE on their acknowledgement. A follower is in the broadcast set from the moment its
    synchronisation is sent: proposals follow it on the same connection.

Broadcast (``Leader.propose``, ``processAck``, ``commit``)
    Client requests are proposed through the batching window every replication protocol shares
    (``implementations.replication.batching``), one PROPOSAL per batch, zxid = epoch << 32 |
    counter. Like ZooKeeper the leader sends a proposal before logging it (its own ACK counts
    once it has called ``persist``; the persist contract holds back what reveals the commit).
    A quorum of ACKs commits a batch and every batch before it; a COMMIT goes to every synced
    follower. Lost messages (only possible when a connection breaks, or with the datagram
    transport) are re-sent after ``replication.retransmit`` from the follower's last ACK; pings
    repeat the commit point.

Sync (``Leader.processSync``)
    ZooKeeper answers a SYNC once the proposals outstanding when it arrived are committed. Here
    the leader also confirms it still leads with a round of pings answered by a quorum sent
    after the SYNC arrived (as ReadIndex does), so that sync + read is linearizable even when a
    deposed leader has not yet noticed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import TYPE_CHECKING

from harness.contract import Context
from implementations.replication.batching import BatchWindow
from implementations.replication.progress import Followers
from implementations.zab.messages import (DIFF, HEADER, SNAP, TRUNC, Commit, LeaderInfo, Ping,
                                          Proposal, Sync, SyncReply, UpToDate)
from implementations.zab.records import EpochRecord, LogRecord

if TYPE_CHECKING:
    from implementations.zab.node import ZabNode

__all__ = ["Leadership", "sync_point"]


def sync_point(zxids: list, peer_last: int, threshold: int) -> tuple[int, int]:
    """(mode, base) for a follower whose last zxid is ``peer_last``: keep its history up to
    index ``base`` and send the leader's after it."""
    last = len(zxids) - 1
    i = bisect_left(zxids, peer_last)
    if i <= last and zxids[i] == peer_last:
        mode, base = DIFF, i
    else:
        mode, base = TRUNC, i - 1  # the leader's last zxid before the follower's
    if last - base > threshold:
        return SNAP, 0
    return mode, base


class Leadership:
    """What a ZAB server keeps while it leads (from election to the end of its epoch)."""

    __slots__ = ("node", "epoch", "infos", "epoch_acks", "peer_last", "discovered",
                 "established", "newleader_acks", "followers", "synced", "syncing", "window",
                 "uncommitted", "counter", "rid", "answered", "round", "round_target",
                 "round_batch", "waiting")

    def __init__(self, node: ZabNode):
        self.node = node
        self.epoch = 0  # the epoch proposed, once a quorum's FOLLOWERINFO is in
        self.infos: dict[int, int] = {node.id: node.accepted_epoch}
        self.epoch_acks: set[int] = {node.id}
        self.peer_last: dict[int, int] = {}  # acknowledged follower -> its last zxid
        self.discovered = False
        self.established = False
        self.newleader_acks: set[int] = {node.id}
        self.followers = Followers(node.peers, 1, node.quorum)
        self.synced: set[int] = set()  # the broadcast set
        self.syncing: dict[int, float] = {}  # sent a Sync, NEWLEADER not yet acknowledged
        self.window = BatchWindow(node.batch_size, node.batch_delay, node.pipeline)
        self.uncommitted: deque[int] = deque()  # last index of each proposed, uncommitted batch
        self.counter = 0
        self.rid = 0  # the last ping round
        self.answered: dict[int, int] = {p: 0 for p in node.peers}  # latest round answered
        self.round = 0  # the round confirming the syncs in round_batch (0: none)
        self.round_target = 0
        self.round_batch: list[tuple[int, int]] = []  # (server, seq)
        self.waiting: list[tuple[int, int]] = []  # syncs for the next round

    # -- discovery ------------------------------------------------------------------------------
    def on_follower_info(self, ctx: Context, src: int, accepted: int) -> None:
        self.infos[src] = accepted
        if self.epoch:
            ctx.send(src, LeaderInfo(self.epoch))
        elif len(self.infos) >= self.node.quorum:
            node = self.node
            self.epoch = max(self.infos.values()) + 1
            node.accepted_epoch = self.epoch
            ctx.persist(EpochRecord(node.accepted_epoch, node.current_epoch))
            msg = LeaderInfo(self.epoch)
            for p in self.infos:
                if p != node.id:
                    ctx.send(p, msg)
            self._discover(ctx)

    def on_ack_epoch(self, ctx: Context, src: int, current: int, last_zxid: int,
                     counted: bool) -> None:
        node = self.node
        if counted:
            if (current, last_zxid) > (node.current_epoch, node.last_zxid()):
                node.look(ctx)  # a follower is ahead of the leader: elect again
                return
            self.epoch_acks.add(src)
        self.peer_last[src] = last_zxid
        if self.discovered:
            self.sync(ctx, src)
        else:
            self._discover(ctx)

    def _discover(self, ctx: Context) -> None:
        """A quorum acknowledged the epoch: it becomes the leader's current epoch (its own
        NEWLEADER) and every acknowledged follower is synchronised."""
        if len(self.epoch_acks) < self.node.quorum:
            return
        node = self.node
        self.discovered = True
        node.current_epoch = self.epoch
        ctx.persist(EpochRecord(node.accepted_epoch, node.current_epoch))
        for p in sorted(self.peer_last):
            self.sync(ctx, p)
        self._maybe_establish(ctx)

    # -- synchronisation ------------------------------------------------------------------------
    def sync(self, ctx: Context, src: int) -> None:
        """DIFF, TRUNC or SNAP, then NEWLEADER, to ``src``."""
        node = self.node
        zxids = node.zxids
        mode, base = sync_point(zxids, self.peer_last[src], node.snap_threshold)
        cmds = node.cmds[base + 1:]
        if mode == SNAP:
            sm = node.sm
            size = HEADER + sum(sm.sizes.values()) + 16 * len(sm.data)  # key, value, zxid
        else:
            size = HEADER
            for c in cmds:
                if c is not None:
                    size += c.size
        ctx.send(src, Sync(self.epoch, mode, base, zxids[base + 1:], cmds, node.commit, size))
        pr = self.followers.by_id[src]
        pr.match = 0
        pr.next = len(zxids)  # proposals follow the synchronisation on the connection
        pr.probing = False
        pr.last_sent = ctx.now
        self.synced.add(src)
        self.syncing[src] = ctx.now

    def on_ack_newleader(self, ctx: Context, src: int, index: int) -> None:
        self.syncing.pop(src, None)
        self.followers.by_id[src].maybe_update(index)
        self.newleader_acks.add(src)
        if self.established:
            ctx.send(src, UpToDate(self.epoch, self.node.commit))
            self.maybe_commit(ctx)
        else:
            self._maybe_establish(ctx)

    def _maybe_establish(self, ctx: Context) -> None:
        node = self.node
        if not self.discovered or len(self.newleader_acks) < node.quorum:
            return
        self.established = True
        node.established(ctx, self.epoch)
        msg = UpToDate(self.epoch, node.commit)
        for p in sorted(self.newleader_acks):
            if p != node.id:
                ctx.send(p, msg)

    # -- broadcast ------------------------------------------------------------------------------
    def submit(self, ctx: Context, request) -> None:
        if self.window.admit(ctx, request, len(self.uncommitted)):
            self.propose(ctx)

    def propose(self, ctx: Context) -> None:
        """Propose queued requests as batches while the pipeline window has room."""
        window = self.window
        while (batch := window.take(ctx, len(self.uncommitted))) is not None:
            self.broadcast(ctx, batch)
        window.settle(ctx)

    def broadcast(self, ctx: Context, batch: list) -> None:
        node = self.node
        zxids = node.zxids
        first = len(zxids)
        base = (self.epoch << 32) | self.counter
        n = len(batch)
        zs = list(range(base + 1, base + n + 1))
        self.counter += n
        zxids.extend(zs)
        node.cmds.extend(batch)
        last = first + n - 1
        self.uncommitted.append(last)
        size = HEADER
        for c in batch:
            size += c.size
        msg = Proposal(self.epoch, first, zs, batch, size)
        progress = self.followers.by_id
        now = ctx.now
        for p in self.synced:
            pr = progress[p]
            if pr.next == first:
                ctx.send(p, msg)
                pr.next = last + 1
                if pr.match == first - 1:  # its first outstanding proposal: the clock starts
                    pr.last_sent = now
        ctx.persist(LogRecord(first, zs, batch))  # after the sends, as ZooKeeper's leader does
        if not node.peers:
            self.maybe_commit(ctx)

    def on_ack(self, ctx: Context, src: int, index: int) -> None:
        pr = self.followers.by_id[src]
        if pr.maybe_update(index):
            pr.last_sent = ctx.now  # progress: what is still outstanding waits anew
            if index > self.node.commit:
                self.maybe_commit(ctx)

    def maybe_commit(self, ctx: Context) -> None:
        node = self.node
        if not self.established:
            return
        n = node.quorum_index(self.followers)
        if n <= node.commit:
            return
        node.commit = n
        uncommitted = self.uncommitted
        while uncommitted and uncommitted[0] <= n:
            uncommitted.popleft()
        msg = Commit(self.epoch, n)
        for p in self.synced:
            ctx.send(p, msg)
        node.apply(ctx)
        if node.leadership is not self:
            return
        if self.window.queue:
            self.propose(ctx)
        self._serve_syncs(ctx)

    # -- liveness -------------------------------------------------------------------------------
    def heartbeat(self, ctx: Context) -> None:
        self.rid += 1
        msg = Ping(self.epoch, self.rid, self.node.commit)
        for p in self.synced:
            ctx.send(p, msg)

    def retransmit(self, ctx: Context) -> None:
        """Re-send what a synced follower has left unacknowledged for a whole interval: its
        acknowledgements stopped advancing (``last_sent``: when they last did, or when its oldest
        outstanding proposal or a re-send left)."""
        node = self.node
        due = ctx.now - node.rto + 1e-9
        for p, sent in list(self.syncing.items()):
            if sent <= due:
                self.sync(ctx, p)
        last = len(node.zxids) - 1
        for p in sorted(self.synced):
            pr = self.followers.by_id[p]
            if p in self.syncing or pr.match >= last or pr.last_sent > due:
                continue
            first = pr.match + 1
            end = min(last + 1, first + node.catchup)
            bs = node.batch_size
            while first < end:
                stop = min(first + bs, end)
                cs = node.cmds[first:stop]
                size = HEADER
                for c in cs:
                    if c is not None:
                        size += c.size
                ctx.send(p, Proposal(self.epoch, first, node.zxids[first:stop], cs, size))
                first = stop
            pr.next = max(pr.next, end)
            pr.last_sent = ctx.now
            ctx.observe("retransmit", 1)

    # -- sync -----------------------------------------------------------------------------------
    def on_sync(self, ctx: Context, src: int, seq: int) -> None:
        """A SYNC from ``src`` (the leader's own reads too): answered once everything proposed
        now is committed and a quorum answered a ping sent after it arrived."""
        self.waiting.append((src, seq))
        if not self.round:
            self._start_round(ctx)

    def _start_round(self, ctx: Context) -> None:
        self.round_batch, self.waiting = self.waiting, []
        self.round_target = len(self.node.zxids) - 1
        self.heartbeat(ctx)
        self.round = self.rid
        self._serve_syncs(ctx)

    def on_ping_ack(self, ctx: Context, src: int, rid: int, index: int) -> None:
        if rid > self.answered.get(src, rid):
            self.answered[src] = rid
        self.on_ack(ctx, src, index)
        if self.round:
            self._serve_syncs(ctx)

    def _serve_syncs(self, ctx: Context) -> None:
        r = self.round
        node = self.node
        if not r or node.commit < self.round_target:
            return
        if sum(1 for a in self.answered.values() if a >= r) + 1 < node.quorum:
            return
        target = self.round_target
        for src, seq in self.round_batch:
            if src == node.id:
                node.reads.synced(ctx, seq, target)
            else:
                ctx.send(src, SyncReply(self.epoch, seq, target))
        self.round = 0
        self.round_batch = []
        if self.waiting:
            self._start_round(ctx)

    def end(self, ctx: Context) -> list:
        """Leadership ends: the requests never proposed."""
        return self.window.clear(ctx)
