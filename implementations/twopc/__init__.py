"""Two-phase commit (``2pc``): the commit protocol every transaction protocol runs
(:mod:`implementations.txn`), with its knobs exposed -- participants 2PL or OCC, the one-phase
fast path, the termination protocol, timeouts (:mod:`.options`) -- and, optionally, each partition
replicated by Raft or Multi-Paxos (:mod:`.replicated`)."""

from __future__ import annotations

from harness.protocol import ProtocolSpec
from implementations.twopc.options import TwoPCOptions
from implementations.twopc.replicated import two_phase_commit

__all__ = ["SPEC"]

SPEC = ProtocolSpec("2pc", "transactions", two_phase_commit, TwoPCOptions,
                    "two-phase commit (presumed abort, one-phase fast path) over 2PL or OCC participants")
