"""The option models every transaction protocol shares: the lock-wait bound and the deadlock
search of the lock-based ones, and the commit protocol's knobs (``2pc`` exposes them; ``2pl`` and
``occ`` commit multi-partition transactions with their defaults). Pydantic models stay
interpreted in the compiled build, so options live apart from the nodes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness.units import Duration, PositiveDuration
from harness.protocol import Options

__all__ = ["LockTimeoutOptions", "DeadlockDetectOptions", "CommitOptions", "SettlingOptions",
           "setting"]


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


class CommitOptions(Options):
    """The commit protocol's knobs (two-phase commit, presumed abort, with a one-phase fast path
    and an optional cooperative termination protocol)."""

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


class SettlingOptions(Options):
    """How the protocols that apply operations at once (``saga``, ``tcc``) settle them: see
    :mod:`implementations.txn.stepwise`."""

    idle_timeout: Duration = Field(
        0.5, description="A partition whose part of a transaction has heard nothing for this long "
                         "asks the home partition what became of it; a home asked about a "
                         "transaction it has not decided, and quiet there too, undoes it.")
    retransmit: Duration = Field(
        0.02, description="Re-send interval of a confirmation (to partitions that have not "
                          "acknowledged it) and of a quiet part's question.")


_DEFAULTS = {name: f.default for model in (LockTimeoutOptions, CommitOptions)
             for name, f in model.model_fields.items()}


def setting(options: Options, name: str) -> Any:
    """``options.<name>``, or its default for a protocol whose options do not have it (``occ``
    has no lock wait; ``2pl`` and ``occ`` commit with the commit protocol's defaults)."""
    return getattr(options, name, _DEFAULTS[name])
