"""A partition's in-memory records of the transactions it takes part in: as participant
(:class:`ParticipantTxn`) and as coordinator (:class:`CoordinatedTxn`)."""

from __future__ import annotations

from typing import Any

from harness.kinds.transactions.contract import tid_str

__all__ = ["ACTIVE", "PREPARED", "VOTING", "COMMITTING", "ParticipantTxn", "CoordinatedTxn"]

ACTIVE, PREPARED = 0, 1
"""A participant's transaction: executing operations, or voted yes and waiting for the decision."""

VOTING, COMMITTING = 0, 1
"""A coordinated commit: waiting for the votes, or decided to commit and waiting for the acks."""


class ParticipantTxn:
    """One transaction attempt as one partition sees it.

    ``reads``: key -> version first read (for validation and the checker); ``writes``: key -> new
    value (installed only at commit); ``held``: key -> lock mode held (2PL) or validation lock
    (OCC, once prepared); ``wait``: the key it is queued on (2PL) or None, wanting ``wait_mode``
    since ``wait_since``; ``pending``: the operation waiting for that lock; ``next_index``: the
    index of the next operation it expects; ``ops``: operations executed here (answered);
    ``request``: the latest client request (notices are addressed to its client); ``start_tn``:
    OCC's count of committed writers at its first operation here; ``conflict``: it met a
    conflict; ``snapshot``: its timestamp (MVCC's snapshot, timestamp ordering's order; 0 for
    protocols that use none); ``commit_ts``: its commit timestamp (the coordinator's proposal
    from ``Prepare``, or set by the concurrency control at validation; 0 when unused). Once prepared: ``epoch`` (the coordinator's), ``coordinator``, ``participants``,
    ``prepared_at`` and ``last_query`` (when it last asked for the decision).
    """

    __slots__ = ("tid", "ts", "client", "state", "reads", "writes", "held", "wait", "wait_mode",
                 "wait_since", "pending", "next_index", "ops", "last_seen", "request", "start_tn",
                 "conflict", "prepared_at", "epoch", "coordinator", "participants", "last_query",
                 "snapshot", "commit_ts")

    def __init__(self, tid: int, ts: int, client: int, now: float):
        self.tid = tid
        self.ts = ts              # priority for wait_die / wound_wait: smaller is older
        self.client = client
        self.state = ACTIVE
        self.reads: dict[int, int] = {}
        self.writes: dict[int, int] = {}
        self.held: dict[int, int] = {}
        self.wait: int | None = None
        self.wait_mode = 0
        self.wait_since = 0.0
        self.pending: Any = None
        self.next_index = 0
        self.ops = 0
        self.last_seen = now
        self.request: Any = None
        self.start_tn = 0
        self.conflict = False
        self.prepared_at = 0.0
        self.epoch = 0
        self.coordinator = -1
        self.participants: tuple[int, ...] = ()
        self.last_query = 0.0
        self.snapshot = 0
        self.commit_ts = 0

    def __repr__(self) -> str:
        state = "prepared" if self.state == PREPARED else "active"
        return f"ParticipantTxn({tid_str(self.tid)} {state} reads={self.reads} writes={self.writes})"


class CoordinatedTxn:
    """A transaction this node coordinates with two phases. ``awaiting``: the participants
    whose vote (``VOTING``) or acknowledgement (``COMMITTING``) has not arrived; ``epochs``: the
    participants' epochs named by the commit request; ``last_sent``: when Prepare or Decision
    last went out (re-sent every ``retransmit``)."""

    __slots__ = ("tid", "request", "participants", "epochs", "awaiting", "phase", "started",
                 "last_sent", "ts")

    def __init__(self, tid: int, request: Any, participants: tuple[int, ...], now: float,
                 epochs: tuple[int, ...] = (), ts: int = 0):
        self.tid = tid
        self.request = request
        self.participants = participants
        self.epochs = epochs
        self.awaiting: set[int] = set(participants)
        self.phase = VOTING
        self.started = now
        self.last_sent = now
        self.ts = ts  # the commit timestamp its Prepares propose (0: none)
