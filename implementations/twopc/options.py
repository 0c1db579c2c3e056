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
    """The ``protocols.2pc:`` section: the participants' options, then the commit protocol's."""
