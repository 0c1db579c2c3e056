"""The option every consensus protocol with a stable leader offers (a pydantic model, so it stays
interpreted in the compiled build; the protocols that use it are compiled)."""

from __future__ import annotations

from pydantic import Field

from harness.units import Duration
from harness.protocol import Options

__all__ = ["LeaderCheckOptions"]


class LeaderCheckOptions(Options):
    """The quorum check every consensus protocol with a stable leader offers."""

    check_quorum: bool = Field(
        True,
        description="A leader that has not heard from a majority during check_quorum_period "
                    "steps down (etcd-io/raft CheckQuorum).")
    check_quorum_period: Duration | None = Field(
        None, description="Period of the quorum check (default: replication.election_timeout).")
