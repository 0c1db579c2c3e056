"""The option every consensus protocol with a stable leader offers (a pydantic model, so it stays
interpreted in the compiled build; the protocols that use it are compiled)."""

from __future__ import annotations

from pydantic import Field

from harness.units import Duration
from harness.protocol import Options

__all__ = ["LeaderCheckOptions", "LeaseOptions"]


class LeaderCheckOptions(Options):
    """The quorum check every consensus protocol with a stable leader offers."""

    check_quorum: bool = Field(
        True,
        description="A leader that has not heard from a majority during check_quorum_period "
                    "steps down (etcd-io/raft CheckQuorum).")
    check_quorum_period: Duration | None = Field(
        None, description="Period of the quorum check (default: replication.election_timeout).")


class LeaseOptions(LeaderCheckOptions):
    """The lease every consensus protocol with ``read: lease`` offers
    (``implementations.replication.lease``); the subclass declares ``read``."""

    read: str = "log"
    lease_drift: Duration | None = Field(
        None,
        description="How much faster than the leader's a clock may run over one lease: the lease "
                    "lasts replication.election_timeout minus this (default a tenth of the "
                    "election timeout, a thousand times what quartz drifts, so that only a clock "
                    "fault breaks it).")

    def lease_length(self, election_timeout: float) -> float:
        """How long a lease lasts from the send time of a round a quorum answered."""
        drift = election_timeout / 10 if self.lease_drift is None else self.lease_drift
        return election_timeout - drift

    def replication_problem(self, election_timeout: float) -> tuple[str, str, float] | None:
        """A drift bound that leaves no lease: (key, what was expected, what was given)."""
        if self.read == "lease" and self.lease_drift is not None \
                and self.lease_drift >= election_timeout:
            return "lease_drift", "expected a duration < replication.election_timeout", \
                self.lease_drift
        return None
