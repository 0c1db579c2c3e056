"""Raft's own options (a pydantic model, so it stays interpreted in the compiled build)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from implementations.replication.options import LeaseOptions

__all__ = ["RaftOptions"]


class RaftOptions(LeaseOptions):
    """Raft's own options (the ``protocols.raft:`` section of a suite); ``check_quorum`` and
    ``check_quorum_period`` and ``lease_drift`` come from the shared base."""

    read: Literal["log", "readindex", "lease"] = Field(  # type: ignore[assignment]
        "log",
        description="How GETs are served: 'log' replicates them like writes; 'readindex' serves "
                    "them from the leader's state machine after a heartbeat round confirms "
                    "leadership (Raft thesis 6.4); 'lease' serves them at once while the "
                    "leader's lease holds (thesis 6.4.1).")
    prevote: bool = Field(
        False,
        description="Pre-vote phase before an election (thesis 9.6): a node whose pre-vote fails "
                    "does not bump its term, so a partitioned node cannot disrupt the leader when "
                    "it rejoins.")
