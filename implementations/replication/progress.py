"""A leader's view of its followers, modelled on etcd-io/raft's ``tracker`` package: one
:class:`Progress` record per follower and :class:`Followers`, the set of them with the quorum
rules a leader applies to it (the commit index a majority holds, whether a majority answered
during the last quorum-check period).

A follower is *probing* (etcd's StateProbe) while the leader does not know where their logs
match: one message of entries from ``next`` in flight until one is accepted. It is *replicating*
(StateReplicate) once one was: the leader streams new entries and advances ``next``
optimistically. ``active`` is etcd's RecentActive: the follower answered during the current
quorum-check period.
"""

from __future__ import annotations

from operator import attrgetter

__all__ = ["Progress", "Followers"]

_NEVER = float("-inf")
_match = attrgetter("match")


class Progress:
    """What the leader knows of one follower: it holds the leader's entries up to ``match``;
    the next entry to send it is ``next``; entries were last sent to it (other than a
    streamed batch) at ``last_sent``."""

    __slots__ = ("id", "match", "next", "probing", "active", "last_sent")

    def __init__(self, node_id: int, next_index: int):
        self.id = node_id
        self.match = 0
        self.next = next_index
        self.probing = True  # a new leader knows nothing of its followers' logs
        self.active = False
        self.last_sent = _NEVER

    def become_probe(self, next_index: int) -> None:
        """Find where the logs match, from ``next_index`` down (etcd: BecomeProbe)."""
        self.next = next_index
        self.probing = True

    def maybe_update(self, index: int) -> bool:
        """The follower acknowledged entries up to ``index``: False if that is old news; else
        advance ``match`` and, on a probe's success, replicate from there (etcd: MaybeUpdate,
        BecomeReplicate)."""
        if index <= self.match:
            return False
        self.match = index
        if self.probing:
            self.probing = False
            self.next = index + 1
        elif self.next <= index:
            self.next = index + 1
        return True

    def __repr__(self) -> str:
        state = "probe" if self.probing else "replicate"
        return f"Progress({self.id} {state} match={self.match} next={self.next})"


class Followers:
    """Every follower's :class:`Progress` (``by_id``, and ``all`` in the order of the peers) and
    the majority rules over them; the leader counts itself."""

    __slots__ = ("by_id", "all", "quorum")

    def __init__(self, peers: tuple[int, ...], next_index: int, quorum: int):
        self.all = tuple(Progress(p, next_index) for p in peers)
        self.by_id = {pr.id: pr for pr in self.all}
        self.quorum = quorum

    def committed(self, leader_last: int) -> int:
        """The highest index a majority holds, the leader holding everything up to
        ``leader_last`` (etcd: quorum.MajorityConfig.CommittedIndex)."""
        if self.quorum < 2:
            return leader_last
        return sorted(map(_match, self.all), reverse=True)[self.quorum - 2]

    def heard(self, node_id: int) -> None:
        """``node_id`` answered during this quorum-check period."""
        self.by_id[node_id].active = True

    def quorum_active(self) -> bool:
        """Whether a majority answered during the period now ending; starts the next one
        (etcd: QuorumActive, then RecentActive reset)."""
        active = 1
        for pr in self.all:
            if pr.active:
                active += 1
        if active < self.quorum:
            return False
        for pr in self.all:
            pr.active = False
        return True
