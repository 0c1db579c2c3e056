"""The built-in protocols' own options (the ``protocols.<name>:`` sections of a suite). They
are pydantic models, which stay interpreted, so they live apart from the protocols, which the
compiled build compiles (README, "Performance"); each protocol's module re-exports its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.protocol import Options
from harness.units import Duration

__all__ = ["LeaderCheckOptions", "RaftOptions", "MultiPaxosOptions"]


class LeaderCheckOptions(Options):
    """The quorum check every consensus protocol with a stable leader offers."""

    check_quorum: bool = Field(
        True,
        description="A leader that has not heard from a majority during check_quorum_period "
                    "steps down (etcd-io/raft CheckQuorum).")
    check_quorum_period: Duration | None = Field(
        None, description="Period of the quorum check (default: replication.election_timeout).")


class RaftOptions(LeaderCheckOptions):
    """Raft's own options (the ``protocols.raft:`` section of a suite); ``check_quorum`` and
    ``check_quorum_period`` come from the shared base."""

    read: Literal["log", "readindex"] = Field(
        "log",
        description="How GETs are served: 'log' replicates them like writes; 'readindex' serves "
                    "them from the leader's state machine after a heartbeat round confirms "
                    "leadership (Raft thesis 6.4).")
    prevote: bool = Field(
        False,
        description="Pre-vote phase before an election (thesis 9.6): a node whose pre-vote fails "
                    "does not bump its term, so a partitioned node cannot disrupt the leader when "
                    "it rejoins.")


class MultiPaxosOptions(LeaderCheckOptions):
    """Multi-Paxos options: only the quorum check (shared with Raft). Batching, pipelining and
    timeouts are the shared ``ReplicationOptions``."""
