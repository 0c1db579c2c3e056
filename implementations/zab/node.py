"""A ZAB server (Junqueira, Reed and Serafini, "Zab: High-performance broadcast for
primary-backup systems", DSN 2011; Medeiros, "ZooKeeper's atomic broadcast protocol: theory and
practice", 2012; apache/zookeeper's ``QuorumPeer``, ``Follower``, ``Learner``), sans-I/O.

A server is LOOKING (Fast Leader Election, :mod:`implementations.zab.election`), FOLLOWING or
LEADING. A follower registers with the leader it elected (FOLLOWERINFO), accepts its new epoch,
is synchronised and then follows the broadcast; the leader's side is
:mod:`implementations.zab.leader`. Clients may use any server (:mod:`implementations.zab.sessions`).

History
    Two parallel lists indexed from 1 with a sentinel at 0: ``zxids[i]`` (epoch << 32 | counter,
    strictly increasing) and ``cmds[i]`` (the client :class:`~workloads.kv.Request`). The index
    of a transaction is the same on every server (histories agree on their prefixes), which is
    what ``applied`` reports. Changes are persisted as :mod:`implementations.zab.records` before
    they are acknowledged, and replayed by :meth:`ZabNode.start`.

Failure detection (``implementations.replication.liveness``, shared with Raft and Multi-Paxos)
    A follower that hears nothing from its leader for an election timeout (ZooKeeper's
    ``syncLimit`` ticks), or a leader not established within one (``initLimit``), starts an
    election; an established leader steps down when a quorum has not answered during a
    ``check_quorum_period`` (ZooKeeper's leader checks its synced followers every tick). The
    leader pings every ``replication.heartbeat``.

    A leadership that ends (the leader restarted, or went back to LOOKING) closes its
    followers' connections in ZooKeeper (``Leader.shutdown`` shuts every ``LearnerHandler``; a
    crash breaks the sockets), so each ``Follower.followLeader`` fails and the follower looks
    again. Without connections, a follower that joined a leader (it received LEADERINFO) learns
    the same from that leader's LOOKING notification and looks at once, rather than answering
    it as FOLLOWING: such stale answers let a restarted server lead again on votes from
    followers that never registered with it.

Transport
    ZAB assumes FIFO channels (TCP). A follower accepts a proposal only if it follows on its
    history; one that does not (a broken connection, or the ``datagram`` transport's reordering)
    is dropped and re-sent by the leader after ``replication.retransmit``.
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.kinds.consensus.contract import LINEARIZABLE, SEQUENTIAL
from harness.protocol import Context, Node, ReplicationOptions
from implementations.replication.progress import Followers
from implementations.replication.liveness import (ElectionTimer, check_quorum_period,
                                                  retransmit_interval)
from implementations.zab.election import Election
from implementations.zab.leader import Leadership
from implementations.zab.messages import (FOLLOWING, LEADING, LOOKING, Ack, AckEpoch,
                                          AckNewLeader, Commit, FollowerInfo, Forward, LeaderInfo,
                                          Notification, Ping, PingAck, Proposal, Sync,
                                          SyncReply, SyncRequest, UpToDate)
from implementations.zab.options import ZabOptions
from implementations.zab.records import EpochRecord, LogRecord
from implementations.zab.sessions import Sessions
from workloads.kv import REDIRECT, KVStateMachine, Reply, Request

__all__ = ["ZabNode"]

STATE_NAMES = ("looking", "following", "leading")


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class ZabNode(Node):
    """A ZAB server driving a :class:`~workloads.kv.KVStateMachine`."""

    __slots__ = (
        # configuration
        "id", "nodes", "peers", "quorum", "heartbeat_interval", "batch_size", "batch_delay",
        "pipeline", "catchup", "snap_threshold", "finalize_wait", "sync_reads", "check_quorum_period", "rto",
        "sm",
        # persistent state (mirrored in stable records)
        "accepted_epoch", "current_epoch", "zxids", "cmds",
        # volatile state
        "state", "leader", "joined", "serving", "commit", "known_commit", "applied", "timer", "election", "reads",
        "leadership",
    )

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: ReplicationOptions,
                 options: ZabOptions, state_machine: KVStateMachine):
        self.id = node_id
        self.nodes = tuple(nodes)
        self.peers = tuple(p for p in self.nodes if p != node_id)
        self.quorum = len(self.nodes) // 2 + 1
        self.heartbeat_interval = replication.heartbeat
        self.batch_size = max(1, replication.batch_size)
        self.batch_delay = replication.batch_delay
        self.pipeline = max(1, replication.pipeline)
        self.catchup = self.batch_size * self.pipeline
        self.snap_threshold = options.snap_threshold
        self.finalize_wait = (replication.election_timeout / 50 if options.finalize_wait is None
                              else options.finalize_wait)
        self.sync_reads = options.read == "sync"
        self.check_quorum_period = check_quorum_period(options, replication)
        self.rto = retransmit_interval(replication)
        self.sm = state_machine

        self.accepted_epoch = 0
        self.current_epoch = 0
        self.zxids: list[int] = [0]
        self.cmds: list[Request | None] = [None]

        self.state = LOOKING
        self.leader: int | None = None
        self.joined = False  # FOLLOWING: the leader sent LEADERINFO (ZooKeeper: connected to it)
        self.serving = False  # FOLLOWING after UPTODATE, or LEADING once established
        self.commit = 0
        self.known_commit = 0  # a follower: the leader's commit point, which it may not hold yet
        self.applied = 0
        self.timer = ElectionTimer(*replication.election_range)
        self.election = Election(self)
        self.reads = Sessions(self, self.sync_reads)
        self.leadership: Leadership | None = None

    # -- inspection -----------------------------------------------------------------------------
    def consistency(self) -> str:
        """ZooKeeper's promise: sequential consistency for local reads, linearizability with
        sync + read (``harness.kinds.consensus.contract``)."""
        return LINEARIZABLE if self.sync_reads else SEQUENTIAL

    def last_zxid(self) -> int:
        return self.zxids[-1]

    @property
    def last_index(self) -> int:
        return len(self.zxids) - 1

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]

    def __repr__(self) -> str:
        return (f"ZabNode({self.id} {self.state_name} e={self.current_epoch}/"
                f"{self.accepted_epoch} last={self.last_index} commit={self.commit})")

    # -- inputs ---------------------------------------------------------------------------------
    def start(self, ctx: Context, stable: list[Any]) -> None:
        zxids, cmds = self.zxids, self.cmds
        for rec in stable:
            if type(rec) is LogRecord:
                del zxids[rec.first:], cmds[rec.first:]
                zxids.extend(rec.zxids)
                cmds.extend(rec.cmds)
            elif type(rec) is EpochRecord:
                self.accepted_epoch, self.current_epoch = rec.accepted, rec.current
            else:
                raise ValueError(f"zab: unknown stable record {rec!r}")
        self.look(ctx)

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        t = type(msg)
        if t is Notification:
            if self.joined and src == self.leader and msg.state == LOOKING:
                self.look(ctx)  # its leadership ended: the connection to it is gone
            if self.state == LOOKING:
                self.election.on_notification(ctx, src, msg)
            else:
                self.election.answer(ctx, src, msg, self.state)
            return
        lead = self.leadership
        if lead is not None:
            self._step_leader(ctx, src, msg, t, lead)
        elif self.state == FOLLOWING and src == self.leader:
            self._step_follower(ctx, src, msg, t)

    def _step_leader(self, ctx: Context, src: int, m: Any, t: type, lead: Leadership) -> None:
        if t is FollowerInfo:
            lead.on_follower_info(ctx, src, m.accepted)
            return
        if m.epoch != lead.epoch or not lead.epoch:
            return
        lead.followers.heard(src)
        if t is Ack:
            lead.on_ack(ctx, src, m.index)
        elif t is Forward:
            if self.serving:
                lead.submit(ctx, m.request)
        elif t is PingAck:
            lead.on_ping_ack(ctx, src, m.rid, m.index)
        elif t is SyncRequest:
            if self.serving:
                lead.on_sync(ctx, src, m.seq)
        elif t is AckEpoch:
            lead.on_ack_epoch(ctx, src, m.current, m.last_zxid, m.counted)
        elif t is AckNewLeader:
            lead.on_ack_newleader(ctx, src, m.index)

    def _step_follower(self, ctx: Context, src: int, m: Any, t: type) -> None:
        if t is LeaderInfo:
            self._on_leader_info(ctx, src, m.epoch)
            return
        if m.epoch != self.accepted_epoch:
            return
        self.timer.reset(ctx)
        if t is Sync:
            self._on_sync(ctx, src, m)
            return
        if self.current_epoch != m.epoch:
            return  # not yet synchronised: what it holds may not be the leader's history
        if t is Proposal:
            self._on_proposal(ctx, src, m)
        elif t is Commit:
            self._learn_commit(ctx, m.index)
        elif t is Ping:
            self._learn_commit(ctx, m.commit)
            ctx.send(src, PingAck(m.epoch, m.rid, len(self.zxids) - 1))
        elif t is SyncReply:
            self.reads.synced(ctx, m.seq, m.index)
        elif t is UpToDate:
            if not self.serving:
                self.serving = True
                ctx.observe("heard_leader", m.epoch)  # (for the failover metrics)
            self._learn_commit(ctx, m.commit)

    def on_timer(self, ctx: Context, name: str) -> None:
        lead = self.leadership
        if name == "heartbeat":
            if lead is not None:
                lead.heartbeat(ctx)
                ctx.set_timer("heartbeat", self.heartbeat_interval)
        elif name == "retransmit":
            if lead is not None:
                lead.retransmit(ctx)
                ctx.set_timer("retransmit", self.rto)
        elif name == "election":
            if not self.timer.expired(ctx):
                return
            if self.state == LOOKING:
                self.timer.reset(ctx)
                self.election.broadcast(ctx)  # ZooKeeper resends after its notification timeout
            elif lead is None or not lead.established:
                self.look(ctx)
        elif name == "register":
            leader = self.leader
            if self.state == FOLLOWING and leader is not None:
                ctx.send(leader, FollowerInfo(self.accepted_epoch))
                ctx.set_timer("register", self.rto)
        elif name == "finalize":
            if self.state == LOOKING:
                self.election.finalize(ctx)
        elif name == "quorum":
            if lead is not None and lead.established and self.check_quorum_period:
                if lead.followers.quorum_active():
                    ctx.set_timer("quorum", self.check_quorum_period)
                else:
                    self.look(ctx)
        elif name == "batch":
            if lead is not None and lead.window.fired():
                lead.propose(ctx)

    def on_request(self, ctx: Context, req: Request) -> None:
        if not self.serving:
            ctx.reply(req, Reply(req, REDIRECT, leader=None))
            return
        self.reads.request(ctx, req)

    # -- roles ----------------------------------------------------------------------------------
    def look(self, ctx: Context) -> None:
        """Start an election (at boot, or when the leader or a quorum is lost)."""
        lead = self.leadership
        if lead is not None:
            ctx.observe("stepped_down", lead.epoch)  # (for the metrics' leader lane)
            self.leadership = None
            ctx.cancel_timer("heartbeat")
            ctx.cancel_timer("retransmit")
            ctx.cancel_timer("quorum")
            for req in lead.end(ctx):
                ctx.reply(req, Reply(req, REDIRECT, leader=None))
        self.reads.drop(ctx)
        ctx.cancel_timer("register")
        self.state = LOOKING
        self.leader = None
        self.joined = False
        self.serving = False
        self.timer.reset(ctx)
        self.election.start(ctx)

    def follow(self, ctx: Context, leader: int) -> None:
        """The election chose ``leader``: register with it (FOLLOWERINFO), again every
        retransmission interval until it answers (it may not know yet that it leads: ZooKeeper's
        ``Learner.connectToLeader`` retries likewise)."""
        ctx.cancel_timer("finalize")
        self.state = FOLLOWING
        self.leader = leader
        self.known_commit = 0
        self.timer.reset(ctx)
        ctx.send(leader, FollowerInfo(self.accepted_epoch))
        ctx.set_timer("register", self.rto)

    def lead(self, ctx: Context) -> None:
        """The election chose this server: discovery begins."""
        ctx.cancel_timer("finalize")
        self.state = LEADING
        self.leader = self.id
        self.timer.reset(ctx)  # not established within an election timeout: elect again
        lead = self.leadership = Leadership(self)
        if not self.peers:
            lead.on_follower_info(ctx, self.id, self.accepted_epoch)

    def established(self, ctx: Context, epoch: int) -> None:
        """A quorum acknowledged NEWLEADER: the whole history is committed; broadcast begins."""
        self.serving = True
        self.timer.stop(ctx)
        ctx.became_leader(epoch)
        self.commit = len(self.zxids) - 1
        self.apply(ctx)
        ctx.set_timer("heartbeat", self.heartbeat_interval)
        ctx.set_timer("retransmit", self.rto)
        if self.check_quorum_period:
            ctx.set_timer("quorum", self.check_quorum_period)

    def quorum_index(self, followers: Followers) -> int:
        """The commit rule: the highest index a quorum (the leader included) has logged."""
        return followers.committed(len(self.zxids) - 1)

    # -- the follower's side --------------------------------------------------------------------
    def _on_leader_info(self, ctx: Context, src: int, epoch: int) -> None:
        """NEWEPOCH: accept an epoch above the accepted one (persisted before the ACKEPOCH);
        an equal one is acknowledged uncounted; an older one means a stale leader."""
        ctx.cancel_timer("register")
        if epoch < self.accepted_epoch:
            self.look(ctx)
            return
        self.joined = True
        counted = epoch > self.accepted_epoch
        if counted:
            self.accepted_epoch = epoch
            ctx.persist(EpochRecord(epoch, self.current_epoch))
        self.timer.reset(ctx)
        ctx.send(src, AckEpoch(epoch, self.current_epoch, self.zxids[-1], counted))

    def _on_sync(self, ctx: Context, src: int, m: Sync) -> None:
        """DIFF / TRUNC / SNAP then NEWLEADER: adopt the leader's history and epoch."""
        zxids, cmds = self.zxids, self.cmds
        first = m.base + 1
        del zxids[first:], cmds[first:]
        zxids.extend(m.zxids)
        cmds.extend(m.cmds)
        ctx.persist(LogRecord(first, m.zxids, m.cmds))
        self.current_epoch = m.epoch
        ctx.persist(EpochRecord(self.accepted_epoch, m.epoch))
        ctx.send(src, AckNewLeader(m.epoch, len(zxids) - 1))
        self._learn_commit(ctx, m.commit)

    def _on_proposal(self, ctx: Context, src: int, m: Proposal) -> None:
        zxids = self.zxids
        last = len(zxids) - 1
        first = m.index
        if first > last + 1:
            return  # it does not follow on: dropped, the leader re-sends
        skip = last + 1 - first
        if skip < len(m.zxids):
            zs, cs = (m.zxids[skip:], m.cmds[skip:]) if skip else (m.zxids, m.cmds)
            zxids.extend(zs)
            self.cmds.extend(cs)
            ctx.persist(LogRecord(last + 1, zs, cs))
        ctx.send(src, Ack(m.epoch, len(zxids) - 1))
        if self.known_commit > self.commit:
            self._learn_commit(ctx, self.known_commit)

    def _learn_commit(self, ctx: Context, index: int) -> None:
        """The leader committed up to ``index``: apply what of it this server holds (the rest
        once the proposals arrive)."""
        if index > self.known_commit:
            self.known_commit = index
        else:
            index = self.known_commit
        last = len(self.zxids) - 1
        if index > last:
            index = last
        if index > self.commit:
            self.commit = index
            self.apply(ctx)

    # -- applying -------------------------------------------------------------------------------
    def apply(self, ctx: Context) -> None:
        """Apply the history up to ``commit`` in zxid order, answering the clients whose writes
        were sent to this server, then the reads that were waiting for them."""
        first = self.applied + 1
        commit = self.commit
        if first > commit:
            return
        self.applied = commit
        cmds = self.cmds[first:commit + 1]
        ctx.applied_many(first, cmds)
        apply = self.sm.apply
        reads = self.reads
        writes = reads.writes
        lead = self.leadership
        pending = lead.window.pending if lead is not None else None
        for cmd in cmds:
            if cmd is not None:
                result = apply(cmd)
                if pending is not None:
                    pending.discard(cmd.uid)
                if writes:
                    reads.applied(ctx, cmd, result)
        reads.serve(ctx)
