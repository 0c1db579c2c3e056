"""Multi-Paxos's own options (a pydantic model, so it stays interpreted in the compiled build)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from implementations.replication.options import LeaseOptions

__all__ = ["MultiPaxosOptions"]


class MultiPaxosOptions(LeaseOptions):
    """Multi-Paxos options: the quorum check and the lease (shared with Raft). Batching,
    pipelining and timeouts are the shared ``ReplicationOptions``."""

    read: Literal["log", "lease"] = Field(  # type: ignore[assignment]
        "log",
        description="How GETs are served: 'log' proposes them like writes; 'lease' serves them "
                    "from the leader's state machine at once while its lease holds.")
