"""Raft's messages. ``size`` is ``Message.HEADER`` (which covers the fixed fields) plus, for
:class:`AppendEntries`, the sum of the carried requests' sizes. The class names appear in results
(``messages_per_op_by_type``)."""

from __future__ import annotations

from harness.message import Message

__all__ = ["RaftMessage", "RequestVote", "Vote", "AppendEntries", "AppendReply"]

HEADER = Message.HEADER


class RaftMessage(Message):
    """What every Raft message carries: its sender's ``term``, which the receiver's term rules
    read first (etcd-io/raft's ``Step``)."""

    __slots__ = ("term",)
    term: int


class RequestVote(RaftMessage):
    """RequestVote (or a pre-vote, asking for ``term`` without anyone adopting it)."""

    __slots__ = ("last_index", "last_term", "prevote")

    def __init__(self, term: int, last_index: int, last_term: int, prevote: bool):
        self.term = term
        self.last_index = last_index
        self.last_term = last_term
        self.prevote = prevote
        self.size = HEADER

    def __repr__(self) -> str:
        kind = "PreVote" if self.prevote else "RequestVote"
        return f"{kind}(t={self.term} last={self.last_index}@{self.last_term})"


class Vote(RaftMessage):
    """Answer to :class:`RequestVote`; ``term`` is the voter's term (or the pre-vote's term when
    a pre-vote is granted)."""

    __slots__ = ("granted", "prevote")

    def __init__(self, term: int, granted: bool, prevote: bool):
        self.term = term
        self.granted = granted
        self.prevote = prevote
        self.size = HEADER

    def __repr__(self) -> str:
        kind = "PreVote" if self.prevote else "Vote"
        return f"{kind}(t={self.term} {'yes' if self.granted else 'no'})"


class AppendEntries(RaftMessage):
    """Entries ``prev_index + 1 ..`` with their ``terms`` and ``cmds`` (shared, never mutated),
    the leader's ``commit`` index and its read-round id ``rid``. ``stream`` marks a batch streamed
    to a follower in the replicate state (it may be overtaken by the next one); probes, catch-ups
    and heartbeats want an immediate answer."""

    __slots__ = ("prev_index", "prev_term", "terms", "cmds", "commit", "rid", "stream")

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


class AppendReply(RaftMessage):
    """Success: ``index`` is the follower's last index known to match the leader. Rejection:
    ``index`` is the rejected ``prev_index``; ``hint_term`` is the follower's term at it (0 when
    its log is too short) and ``hint_index`` the first index of that term (or its last index + 1).
    ``held``: the follower holds the batches after ``index`` and lacks only the gap before them.
    ``rid`` echoes the request's read-round id."""

    __slots__ = ("success", "index", "hint_term", "hint_index", "rid", "held")

    def __init__(self, term: int, success: bool, index: int, hint_term: int, hint_index: int,
                 rid: int, held: bool = False):
        self.term = term
        self.success = success
        self.index = index
        self.hint_term = hint_term
        self.hint_index = hint_index
        self.rid = rid
        self.held = held
        self.size = HEADER

    def __repr__(self) -> str:
        if self.success:
            return f"AppendReply(t={self.term} ok index={self.index})"
        return (f"AppendReply(t={self.term} reject prev={self.index} "
                f"hint={self.hint_index}@{self.hint_term})")
