"""Which build is running: ``pure`` (every module interpreted, the default install) or
``compiled`` (the hot modules below compiled with mypyc: ``DISTBENCH_COMPILE=1 pip install .``).

Both give the same results bit for bit; the CLI banner, ``distbench --version`` and every
``manifest.json`` say which one ran. A mix -- some hot modules compiled and others not, or a
compiled module older than its source, which Python would import instead of the edited
``.py`` -- is refused rather than run silently. This module imports only the standard library:
``setup.py`` reads ``COMPILED`` from it.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os

# Where a run spends its time: the protocol contract (Context, Node), the engine, the
# measurements, the workloads, the built-in protocols and the consensus checkers. Users'
# protocols stay interpreted (plain Python classes that may subclass compiled ones); so does
# the rest.
COMPILED = (
    "harness/message.py",
    "harness/contract.py",
    "harness/engine/sim.py",
    "harness/engine/stream.py",
    "harness/engine/network.py",
    "harness/engine/node.py",
    "harness/kinds/transactions/contract.py",
    "harness/metrics.py",
    "harness/kinds/consensus/metrics.py",
    "harness/history.py",
    "harness/checkers/consensus.py",
    "harness/checkers/linearizability.py",
    "workloads/kv.py",
    "workloads/keys.py",
    "workloads/pacing.py",
    "workloads/clients.py",
    "workloads/txn.py",
    "implementations/replication/liveness.py",
    "implementations/replication/batching.py",
    "implementations/replication/progress.py",
    "implementations/replication/lease.py",
    "implementations/raft/messages.py",
    "implementations/raft/records.py",
    "implementations/raft/reads.py",
    "implementations/raft/held.py",
    "implementations/raft/leader.py",
    "implementations/raft/node.py",
    "implementations/multipaxos/messages.py",
    "implementations/multipaxos/records.py",
    "implementations/multipaxos/roles.py",
    "implementations/multipaxos/catchup.py",
    "implementations/multipaxos/leader.py",
    "implementations/multipaxos/node.py",
    "implementations/zab/messages.py",
    "implementations/zab/records.py",
    "implementations/zab/election.py",
    "implementations/zab/sessions.py",
    "implementations/zab/leader.py",
    "implementations/zab/node.py",
    "implementations/txn/records.py",
    "implementations/txn/locks.py",
    "implementations/txn/log.py",
    "implementations/txn/messages.py",
    "implementations/txn/concurrency.py",
    "implementations/txn/participant.py",
    "implementations/txn/coordinator.py",
    "implementations/txn/node.py",
    "implementations/twopl/locking.py",
    "implementations/twopl/node.py",
    "implementations/occ/validation.py",
    "implementations/occ/node.py",
    "implementations/twopc/node.py",
    "implementations/twopc/replicated.py",
    "implementations/txn/clock.py",
    "implementations/txn/timestamped.py",
    "implementations/mvcc/ssi.py",
    "implementations/mvcc/snapshot.py",
    "implementations/mvcc/node.py",
    "implementations/tso/ordering.py",
    "implementations/tso/node.py",
    "implementations/txn/settling.py",
    "implementations/txn/stepwise.py",
    "implementations/saga/node.py",
    "implementations/tcc/node.py",
    "implementations/quorum/ring.py",
    "implementations/quorum/records.py",
    "implementations/quorum/messages.py",
    "implementations/quorum/coordinator.py",
    "implementations/quorum/node.py",
)


SOURCES = "compiled-sources.json"  # written by setup.py: the digest of each compiled source


class MixedBuild(RuntimeError):
    """Some hot modules are compiled and others not, or a compiled one is stale."""


def _module(path: str) -> str:
    return path[:-3].replace("/", ".")


def digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def kind() -> str:
    """``"compiled"`` or ``"pure"``; raises :class:`MixedBuild` for anything in between."""
    compiled, pure, stale = [], [], []
    built = os.path.join(os.path.dirname(__file__), SOURCES)
    digests = json.loads(open(built).read()) if os.path.exists(built) else {}
    for path in COMPILED:
        spec = importlib.util.find_spec(_module(path))
        origin = spec.origin if spec is not None and spec.origin else ""
        if origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            compiled.append(path)
            source = os.path.join(os.path.dirname(origin), os.path.basename(path))
            if os.path.exists(source) and digests.get(path) != digest(source):
                stale.append(path)
        else:
            pure.append(path)
    if compiled and pure:
        raise MixedBuild(f"compiled: {', '.join(compiled)}; interpreted: {', '.join(pure)}")
    if stale:
        raise MixedBuild(f"compiled modules built from another version of their source: "
                         f"{', '.join(stale)}; rebuild (DISTBENCH_COMPILE=1 pip install .)")
    return "compiled" if compiled else "pure"
