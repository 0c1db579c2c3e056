"""Multi-Paxos's own options (a pydantic model, so it stays interpreted in the compiled build)."""

from __future__ import annotations

from implementations.replication.options import LeaderCheckOptions

__all__ = ["MultiPaxosOptions"]


class MultiPaxosOptions(LeaderCheckOptions):
    """Multi-Paxos options: only the quorum check (shared with Raft). Batching, pipelining and
    timeouts are the shared ``ReplicationOptions``."""
