"""The leader lease both consensus leaders serve ``read: lease`` reads from (Chubby; etcd-io/raft's
``ReadOnlyLeaseBased``; Raft thesis 6.4.1), so that equal knobs mean equal leases.

Rounds
    Every heartbeat the leader sends starts a *round*: its id travels on the leader's messages
    and the followers' answers echo it. A follower answering round ``r`` (or a later one) heard
    from the leader at or after ``r``'s send time.

The lease
    Once a quorum (the leader included) has answered round ``r`` or a later one, the lease runs
    from ``r``'s *send* time -- not the answer's arrival -- for ``replication.election_timeout``
    minus ``lease_drift``, on the leader's own clock (``ctx.now``). The followers of that quorum
    vote for nobody else within an election timeout of hearing from the leader (the vote guard,
    :func:`in_lease`), so no other leader can be elected before the lease ends -- provided no
    clock runs faster than the leader's by more than ``lease_drift`` over one lease. A ``clock``
    fault beyond that bound, or a leader paused past its lease (it compares a deadline with a clock
    that kept running), breaks the promise: that is what the bound is for.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Lease", "in_lease"]

INF = float("inf")


def in_lease(now: float, contact: float, election_timeout: float) -> bool:
    """The vote guard: a node that heard from a leader at ``contact`` (its own clock) grants no
    vote or promise to anyone else until an election timeout has passed (Raft thesis 4.2.3;
    etcd-io/raft's ``inLease``). Restarting counts as contact: a lease may rest on the answer
    the node gave before it crashed."""
    return now - contact < election_timeout


class Lease:
    """A leader's lease for one term: the rounds it sent and which each follower answered."""

    __slots__ = ("length", "needed", "rid", "sent", "answered", "until")

    def __init__(self, peers: tuple[int, ...], quorum: int, length: float):
        self.length = length  # election timeout minus the drift bound
        self.needed = quorum - 1  # followers' answers a round needs
        self.rid = 0  # the last round started
        self.sent: deque[tuple[int, float]] = deque()  # (round, send time), not yet a quorum's
        self.answered: dict[int, int] = {p: 0 for p in peers}  # follower -> latest round answered
        self.until = INF if self.needed <= 0 else -INF  # the lease holds while now < until

    def start(self, now: float) -> int:
        """A heartbeat round leaves at ``now``: its id."""
        self.rid += 1
        self.sent.append((self.rid, now))
        return self.rid

    def answer(self, src: int, rid: int) -> bool:
        """``src`` answered a message of round ``rid``; True when that extended the lease."""
        answered = self.answered
        if rid <= answered.get(src, rid):
            return False
        answered[src] = rid
        r = sorted(answered.values(), reverse=True)[self.needed - 1]  # a quorum answered r
        sent = self.sent
        start = -INF
        while sent and sent[0][0] <= r:
            start = sent.popleft()[1]
        if start + self.length <= self.until:
            return False
        self.until = start + self.length
        return True

    def holds(self, now: float) -> bool:
        return now < self.until
