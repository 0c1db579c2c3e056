"""``protocols.2pl:`` (and the ``2pl-<policy>`` variants' sections)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from implementations.txn.options import DeadlockDetectOptions

__all__ = ["TwoPLOptions"]


class TwoPLOptions(DeadlockDetectOptions):
    """The ``protocols.2pl:`` section. The ``2pl-<policy>`` protocols (the policy is in the
    name) take :class:`~implementations.txn.options.LockTimeoutOptions` alone, ``2pl-detect``
    :class:`~implementations.txn.options.DeadlockDetectOptions`."""

    deadlock: Literal["no_wait", "wait_die", "wound_wait", "detect"] = Field(
        "wait_die", description="Deadlock policy: no_wait, wait_die, wound_wait or detect "
                                "(waits-for cycle detection, youngest victim).")
