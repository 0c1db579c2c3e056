"""Raft's own options (a pydantic model, so it stays interpreted in the compiled build)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from implementations.replication.options import LeaderCheckOptions

__all__ = ["RaftOptions"]


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
