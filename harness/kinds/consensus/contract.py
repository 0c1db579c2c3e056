"""The consensus node contract beyond :mod:`harness.contract`: what a replication protocol
promises its clients, so that a run is judged against that promise and not against a stronger
one (anomalies against stronger models are measured, not failed).

A node may define ``consistency(self) -> str`` returning one of :data:`CONSISTENCY_MODELS`
(a node without it promises :data:`LINEARIZABLE`). The answer may depend on the node's options
(ZAB with local reads promises :data:`SEQUENTIAL`, with ``sync`` reads :data:`LINEARIZABLE`).

``linearizable``
    Every operation appears to take effect at one instant between its invocation and its
    completion (Herlihy and Wing, 1990). Raft and Multi-Paxos with log or ReadIndex reads.
``sequential``
    Writes are linearizable and every client's operations take effect in the order it issued
    them, but a read may return an older state than the latest completed write (Lamport, 1979;
    ZooKeeper's guarantee for reads served by the server a client is connected to).
``regular``
    Per key, a read returns the value of the latest write that completed before the read began,
    or of a write concurrent with the read (Lamport's regular register, 1986). What a strict
    quorum store (R + W > N, no sloppy quorum) gives while clocks agree.
``eventual``
    No ordering promise: a read returns some value that was written (or the initial one), and
    replicas that stop receiving writes converge. Dynamo-style quorums with last-write-wins.

A protocol that keeps no agreed log (a leaderless quorum store) promises :data:`EVENTUAL` and
never calls ``applied``: log agreement and durability-in-the-log do not apply to it.
"""

from __future__ import annotations

from typing import Any

LINEARIZABLE, SEQUENTIAL, REGULAR, EVENTUAL = "linearizable", "sequential", "regular", "eventual"
CONSISTENCY_MODELS = (LINEARIZABLE, SEQUENTIAL, REGULAR, EVENTUAL)


def promise(node: Any) -> str:
    """What ``node`` promises (:data:`LINEARIZABLE` when it does not say)."""
    declared = getattr(node, "consistency", None)
    return declared() if declared is not None else LINEARIZABLE
