"""ZAB's messages, named after ZooKeeper's packets (``Leader.java``: FOLLOWERINFO, LEADERINFO,
ACKEPOCH, DIFF/TRUNC/SNAP + NEWLEADER, UPTODATE, PROPOSAL, ACK, COMMIT, PING, SYNC, REQUEST) and
FastLeaderElection's notification. ``size`` is ``Message.HEADER`` plus the carried requests'
sizes. The class names appear in results (``messages_per_op_by_type``)."""

from __future__ import annotations

from harness.message import Message
from workloads.kv import Request

__all__ = ["Notification", "FollowerInfo", "LeaderInfo", "AckEpoch", "Sync", "AckNewLeader",
           "UpToDate", "Proposal", "Ack", "Commit", "Ping", "PingAck", "SyncRequest",
           "SyncReply", "Forward", "DIFF", "TRUNC", "SNAP", "LOOKING", "FOLLOWING", "LEADING"]

HEADER = Message.HEADER
DIFF, TRUNC, SNAP = 0, 1, 2
LOOKING, FOLLOWING, LEADING = 0, 1, 2


class Notification(Message):
    """FastLeaderElection's notification: the sender's vote ``(epoch, zxid, leader)``, its
    election round (``logicalclock``) and its state."""

    __slots__ = ("vote", "round", "state")

    def __init__(self, vote: tuple, round: int, state: int):
        self.vote = vote
        self.round = round
        self.state = state
        self.size = HEADER

    def __repr__(self) -> str:
        return f"Notification(vote={self.vote} round={self.round} state={self.state})"


class FollowerInfo(Message):
    """A follower's first word to the leader it elected: its acceptedEpoch."""

    __slots__ = ("accepted",)

    def __init__(self, accepted: int):
        self.accepted = accepted
        self.size = HEADER


class LeaderInfo(Message):
    """NEWEPOCH: the epoch the leader proposes (one above every acceptedEpoch of a quorum)."""

    __slots__ = ("epoch",)

    def __init__(self, epoch: int):
        self.epoch = epoch
        self.size = HEADER


class AckEpoch(Message):
    """ACKEPOCH: the follower's currentEpoch and last zxid; ``counted`` is False when it had
    already accepted this epoch (ZooKeeper sends -1 then, and the leader does not count it)."""

    __slots__ = ("epoch", "current", "last_zxid", "counted")

    def __init__(self, epoch: int, current: int, last_zxid: int, counted: bool):
        self.epoch = epoch
        self.current = current
        self.last_zxid = last_zxid
        self.counted = counted
        self.size = HEADER


class Sync(Message):
    """DIFF, TRUNC (then DIFF) or SNAP followed by NEWLEADER(epoch), as one message (they travel
    in order on one connection): keep the history up to ``base`` (for a SNAP, nothing), append
    ``zxids``/``cmds``, and learn the leader's ``commit``."""

    __slots__ = ("epoch", "mode", "base", "zxids", "cmds", "commit")

    def __init__(self, epoch: int, mode: int, base: int, zxids: list, cmds: list, commit: int,
                 size: int):
        self.epoch = epoch
        self.mode = mode
        self.base = base
        self.zxids = zxids
        self.cmds = cmds
        self.commit = commit
        self.size = size

    def __repr__(self) -> str:
        return (f"Sync({('DIFF', 'TRUNC', 'SNAP')[self.mode]} e={self.epoch} base={self.base} "
                f"n={len(self.zxids)} commit={self.commit})")


class AckNewLeader(Message):
    """The ACK of NEWLEADER: the follower holds the leader's history up to ``index``."""

    __slots__ = ("epoch", "index")

    def __init__(self, epoch: int, index: int):
        self.epoch = epoch
        self.index = index
        self.size = HEADER


class UpToDate(Message):
    """UPTODATE: a quorum acknowledged NEWLEADER; the history up to ``commit`` is committed."""

    __slots__ = ("epoch", "commit")

    def __init__(self, epoch: int, commit: int):
        self.epoch = epoch
        self.commit = commit
        self.size = HEADER


class Proposal(Message):
    """PROPOSAL of a batch: transactions ``index ..`` with their ``zxids``."""

    __slots__ = ("epoch", "index", "zxids", "cmds")

    def __init__(self, epoch: int, index: int, zxids: list, cmds: list, size: int):
        self.epoch = epoch
        self.index = index
        self.zxids = zxids
        self.cmds = cmds
        self.size = size

    def __repr__(self) -> str:
        return f"Proposal(e={self.epoch} index={self.index} n={len(self.zxids)})"


class Ack(Message):
    """ACK: the follower logged the history up to ``index``."""

    __slots__ = ("epoch", "index")

    def __init__(self, epoch: int, index: int):
        self.epoch = epoch
        self.index = index
        self.size = HEADER


class Commit(Message):
    """COMMIT: everything up to ``index`` is committed."""

    __slots__ = ("epoch", "index")

    def __init__(self, epoch: int, index: int):
        self.epoch = epoch
        self.index = index
        self.size = HEADER


class Ping(Message):
    """PING: the leader is alive; ``rid`` numbers it for sync rounds, ``commit`` repeats the
    commit point (a lost COMMIT is repaired by the next ping)."""

    __slots__ = ("epoch", "rid", "commit")

    def __init__(self, epoch: int, rid: int, commit: int):
        self.epoch = epoch
        self.rid = rid
        self.commit = commit
        self.size = HEADER


class PingAck(Message):
    """The follower's answer to a PING (ZooKeeper's follower answers with a PING too)."""

    __slots__ = ("epoch", "rid", "index")

    def __init__(self, epoch: int, rid: int, index: int):
        self.epoch = epoch
        self.rid = rid
        self.index = index
        self.size = HEADER


class SyncRequest(Message):
    """SYNC forwarded to the leader for the reads numbered ``seq`` at the follower."""

    __slots__ = ("epoch", "seq")

    def __init__(self, epoch: int, seq: int):
        self.epoch = epoch
        self.seq = seq
        self.size = HEADER


class SyncReply(Message):
    """The leader's answer to SYNC ``seq``: a read after the follower applied ``index`` is
    linearizable."""

    __slots__ = ("epoch", "seq", "index")

    def __init__(self, epoch: int, seq: int, index: int):
        self.epoch = epoch
        self.seq = seq
        self.index = index
        self.size = HEADER


class Forward(Message):
    """REQUEST: a write a follower's client sent, forwarded to the leader."""

    __slots__ = ("epoch", "request")

    def __init__(self, epoch: int, request: Request):
        self.epoch = epoch
        self.request = request
        self.size = HEADER + request.size
