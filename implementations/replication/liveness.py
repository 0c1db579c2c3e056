"""Liveness machinery the Raft and Multi-Paxos replicas share, so that a comparison of the two
differs only in the algorithm: the follower's election timer, the leader's quorum check and the
retransmission schedule of replication messages.

Election timer
    Every reset -- hearing from the current leader, granting a vote, stepping down, starting a
    candidacy, restarting -- draws a fresh timeout uniformly in ``[election_timeout,
    election_timeout_max]``. This is what LogCabin does (``RaftConsensus::setElectionTimer``,
    called on every AppendEntries from the leader and every granted vote); etcd-io/raft redraws
    at every term change (``resetRandomizedElectionTimeout``). A timeout drawn once and kept
    across resets would let one lucky draw win election after election.

Quorum check (``check_quorum``)
    A leader that has not heard from a majority during a whole ``check_quorum_period`` steps
    down, so clients are redirected instead of waiting on a deposed leader (etcd-io/raft's
    CheckQuorum, checked every election timeout). It has its own period because with timeouts
    close to the broadcast time a check every election timeout deposes every new leader.

Retransmission (``replication.retransmit``)
    A replication message (a Raft AppendEntries batch, a Paxos accept) that a follower has not
    acknowledged is re-sent to it once it has waited a whole ``retransmit`` interval; the leader
    checks every interval (so a loss is repaired between one and two intervals later). Unset,
    the interval is the heartbeat. Neither replica has any other retransmission path for
    replication messages (no fast retransmit on reordering), so equal knobs mean equal policy.
"""

from __future__ import annotations

from harness.contract import Context
from implementations.replication.options import LeaderCheckOptions

__all__ = ["ElectionTimer", "check_quorum_period", "retransmit_interval"]

INF = float("inf")
_EPS = 1e-9  # a timer fires at its deadline up to float rounding


def check_quorum_period(options: LeaderCheckOptions, replication) -> float | None:
    """The leader's quorum-check period, or None when the check is off."""
    if not options.check_quorum:
        return None
    return options.check_quorum_period or replication.election_timeout


def retransmit_interval(replication) -> float:
    """How long a replication message waits unacknowledged before it is re-sent."""
    return replication.retransmit or replication.heartbeat


class ElectionTimer:
    """A follower's or candidate's election timer (timer name ``"election"``), redrawn at every
    :meth:`reset`. Only a reset that brings the deadline *earlier* than the armed timer moves it;
    otherwise the armed timer re-arms itself for the deadline when it fires (:meth:`expired`),
    which saves a timer operation per message from the leader."""

    __slots__ = ("low", "span", "deadline", "armed")

    def __init__(self, low: float, high: float):
        self.low = low
        self.span = high - low
        self.deadline = INF
        self.armed = INF

    def reset(self, ctx: Context) -> None:
        now = ctx.now
        d = now + self.low + self.span * ctx.random()
        self.deadline = d
        if d < self.armed:
            self.armed = d
            ctx.set_timer("election", d - now)

    def expired(self, ctx: Context) -> bool:
        """Call when the timer fires: True if the deadline has passed, else re-armed for it."""
        now = ctx.now
        if now + _EPS < self.deadline:
            self.armed = self.deadline
            ctx.set_timer("election", self.deadline - now)
            return False
        self.armed = INF
        return True

    def stop(self, ctx: Context) -> None:
        """A leader needs no election timer."""
        self.deadline = self.armed = INF
        ctx.cancel_timer("election")
