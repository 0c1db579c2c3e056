"""``protocols.2pc:``: the participants' concurrency control and the commit protocol's knobs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from implementations.txn.options import CommitOptions, DeadlockDetectOptions

__all__ = ["ParticipantOptions", "TwoPCOptions"]


class ParticipantOptions(DeadlockDetectOptions):
    """How 2PC's participants control concurrency: 2PL with a deadlock policy (and the lock
    wait bound and deadlock search from the bases), or OCC with a validation scheme."""

    participants: Literal["2pl", "occ"] = Field(
        "2pl", description="Concurrency control at the participants: strict 2PL or OCC.")
    deadlock: Literal["no_wait", "wait_die", "wound_wait", "detect"] = Field(
        "wait_die", description="2PL participants: the deadlock policy.")
    validation: Literal["backward", "silo"] = Field(
        "backward", description="OCC participants: the validation scheme.")


class TwoPCOptions(CommitOptions, ParticipantOptions):
    """The ``protocols.2pc:`` section: the participants' options, then the commit protocol's,
    then how each partition is replicated."""

    replication: Literal["none", "raft", "multipaxos"] = Field(
        "none", description="Each partition a single node ('none'), or a consensus group whose "
                            "log holds its prepare, commit, abort and decision records (Spanner, "
                            "CockroachDB): a coordinator's crash is then finished by its group's "
                            "next leader instead of blocking its participants.")
    replicas: int = Field(
        3, ge=1, description="Nodes per partition's group when replicated (cluster nodes = "
                             "partitions x replicas); the log's own settings come from the "
                             "suite's replication section.")

    def group_size(self) -> int:
        """Nodes per partition: the group's replicas, or 1 unreplicated."""
        return 1 if self.replication == "none" else self.replicas
