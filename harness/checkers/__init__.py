"""Safety checkers. Every run is checked; a verdict is ``ok``, ``violation: <what>`` or
``unknown`` -- never a silent pass when a checker runs out of budget.

* :func:`check_linearizability` -- a client :class:`~harness.history.History` of a key-value
  store against a register per key (WGL search with Lowe's memoization, per key).
* :class:`ElectionSafety`, :class:`LogAgreement`, :class:`Durability` -- streaming checkers of
  replication protocols, fed during a run.
* :func:`combine` -- fold the verdicts of several checkers into one string.
"""

from harness.checkers.consensus import Durability, ElectionSafety, LogAgreement, combine
from harness.checkers.linearizability import (
    DEFAULT_BUDGET,
    LinearizabilityResult,
    check_linearizability,
)

__all__ = [
    "DEFAULT_BUDGET",
    "Durability",
    "ElectionSafety",
    "LinearizabilityResult",
    "LogAgreement",
    "check_linearizability",
    "combine",
]
