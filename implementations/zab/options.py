"""ZAB's own options (a pydantic model, so it stays interpreted in the compiled build)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.units import Duration
from implementations.replication.options import LeaderCheckOptions

__all__ = ["ZabOptions"]


class ZabOptions(LeaderCheckOptions):
    """ZAB's own options (the ``protocols.zab:`` section of a suite); ``check_quorum`` and
    ``check_quorum_period`` come from the shared base (a ZooKeeper leader that has not heard
    from a quorum within ``syncLimit`` ticks gives up leadership the same way)."""

    read: Literal["local", "sync"] = Field(
        "local",
        description="How GETs are served: 'local' from the state machine of the server the "
                    "client is connected to (ZooKeeper's reads: sequentially consistent); "
                    "'sync' after a sync through the leader (ZooKeeper's sync + read: "
                    "linearizable).")
    snap_threshold: int = Field(
        500, ge=0,
        description="A follower further behind the leader than this many transactions is "
                    "synchronised with a snapshot (SNAP) rather than the missing proposals "
                    "(DIFF): ZooKeeper's zookeeper.commitLogCount, the proposals a leader keeps "
                    "in memory.")
    finalize_wait: Duration | None = Field(
        None, ge=0,
        description="How long a server whose vote a quorum shares waits for a better vote before "
                    "the election ends (ZooKeeper's finalizeWait; default "
                    "replication.election_timeout / 50, ZooKeeper's 200 ms against its 10 s "
                    "syncLimit).")
