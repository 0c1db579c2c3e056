"""Strict two-phase locking (``2pl``): S/X locks held to commit, with a deadlock policy.
Registered as ``2pl`` (policy chosen by ``protocols.2pl.deadlock``) and as one protocol per
policy -- ``2pl-nowait``, ``2pl-waitdie``, ``2pl-woundwait``, ``2pl-detect`` -- so that a suite
can sweep ``protocol: [2pl-nowait, 2pl-waitdie, 2pl-woundwait, 2pl-detect, occ, 2pc]`` without
producing meaningless (protocol, option) combinations. The lock table and the policies are in
:mod:`.locking`."""

from __future__ import annotations

from harness.protocol import ProtocolSpec
from implementations.twopl.node import TwoPL
from implementations.twopl.options import TwoPLOptions
from implementations.txn.options import DeadlockDetectOptions, LockTimeoutOptions

__all__ = ["SPEC", "NO_WAIT", "WAIT_DIE", "WOUND_WAIT", "DETECT"]

SPEC = ProtocolSpec("2pl", "transactions", TwoPL, TwoPLOptions,
                    "strict two-phase locking (S/X locks held to commit) with a deadlock policy")


def _fixed(name: str, policy: str) -> ProtocolSpec:
    cls = type(f"TwoPL_{policy}", (TwoPL,), {"policy": policy, "__doc__": f"Strict 2PL, {policy}."})
    options = DeadlockDetectOptions if policy == "detect" else LockTimeoutOptions
    return ProtocolSpec(name, "transactions", cls, options, f"strict 2PL with deadlock policy {policy}")


NO_WAIT = _fixed("2pl-nowait", "no_wait")
WAIT_DIE = _fixed("2pl-waitdie", "wait_die")
WOUND_WAIT = _fixed("2pl-woundwait", "wound_wait")
DETECT = _fixed("2pl-detect", "detect")
