"""The transaction protocols' own options (the ``protocols.<name>:`` sections of a suite). They
are pydantic models, which stay interpreted, so they live apart from the protocols, which the
compiled build compiles (README, "Performance"); each protocol's module re-exports its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.config.units import Duration, PositiveDuration
from harness.protocol import Options

__all__ = ["LockTimeoutOptions", "DeadlockDetectOptions", "TwoPCOptions", "TwoPLOptions", "OCCOptions"]


class LockTimeoutOptions(Options):
    """The option every lock-based transaction protocol shares (``2pl-<policy>``, and the base
    of ``protocols.2pl`` and ``protocols.2pc``)."""

    lock_timeout: Duration = Field(
        0.05, description="A lock wait longer than this aborts the waiter (reason timeout); the "
                          "backstop for deadlocks that span partitions under 'detect'.")


class DeadlockDetectOptions(LockTimeoutOptions):
    """How the ``detect`` deadlock policy searches the waits-for graph, and what that costs
    (``protocols.2pl-detect``; also under ``protocols.2pl`` and ``protocols.2pc``, where they
    apply with ``deadlock: detect``)."""

    detect: Literal["on_wait", "periodic"] = Field(
        "on_wait", description="Search when a request starts waiting (as InnoDB does), or "
                               "'periodic': every detect_interval, from every waiter (as SQL "
                               "Server's lock monitor does, every 5 s by default).")
    detect_interval: PositiveDuration = Field(
        0.01, description="Period of the 'periodic' search (checked on the 5 ms housekeeping "
                          "tick); keep it below lock_timeout, which otherwise breaks the "
                          "deadlocks first.")
    detect_cost_per_edge: Duration = Field(
        1e-6, description="Simulated CPU per waits-for edge the search examines (0: free).")


class TwoPCOptions(DeadlockDetectOptions):
    """The ``protocols.2pc:`` section (``lock_timeout`` and the ``detect`` settings come from
    the shared bases)."""

    participants: Literal["2pl", "occ"] = Field(
        "2pl", description="Concurrency control at the participants: strict 2PL or OCC.")
    deadlock: Literal["no_wait", "wait_die", "wound_wait", "detect"] = Field(
        "wait_die", description="2PL participants: the deadlock policy.")
    validation: Literal["backward", "silo"] = Field(
        "backward", description="OCC participants: the validation scheme.")
    one_phase: bool = Field(
        True, description="Commit single-partition transactions in one phase (no prepare round).")
    termination: Literal["none", "cooperative"] = Field(
        "none", description="What an in-doubt participant does besides asking its coordinator: "
                            "'cooperative' also asks the other participants.")
    termination_timeout: Duration = Field(
        0.1, description="In doubt this long before the cooperative termination protocol starts.")
    vote_timeout: Duration = Field(
        0.1, description="The coordinator aborts a transaction whose votes are not all in by then.")
    retransmit: Duration = Field(
        0.02, description="Re-send interval of Prepare (to silent participants) and of "
                          "Decision(commit) (to participants that have not acknowledged).")
    resolve_interval: Duration = Field(
        0.02, description="How often an in-doubt participant asks for the decision.")
    idle_timeout: Duration = Field(
        0.5, description="A participant aborts an unprepared transaction it has not heard of "
                         "for this long (a client gone, an abort request lost).")


class TwoPLOptions(DeadlockDetectOptions):
    """The ``protocols.2pl:`` section. The ``2pl-<policy>`` protocols (the policy is in the
    name) take :class:`LockTimeoutOptions` alone, ``2pl-detect`` :class:`DeadlockDetectOptions`."""

    deadlock: Literal["no_wait", "wait_die", "wound_wait", "detect"] = Field(
        "wait_die", description="Deadlock policy: no_wait, wait_die, wound_wait or detect "
                                "(waits-for cycle detection, youngest victim).")


class OCCOptions(Options):
    """The ``protocols.occ:`` section."""

    validation: Literal["backward", "silo"] = Field(
        "backward", description="backward: Kung-Robinson serial validation against the write sets "
                                "of transactions committed since this one started; silo: lock the "
                                "write set, then check the read set's versions.")
