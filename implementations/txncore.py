"""What the transaction protocols (``2pl``, ``occ``, ``2pc``) share: operations, transaction ids,
abort reasons, messages, the versioned store, the lock table and a participant's transaction.

The model (see ``implementations.twopc`` for the node that runs it)
--------------------------------------------------------------------
A key-value store is split into partitions (key ``k`` lives on partition ``k % P``), one per
node. Transactions are *interactive*: the client sends one operation at a time to the partition
holding its key and waits for the answer before the next, so transactions overlap in time and
concurrency control has something to do. When every operation has succeeded the client asks the
transaction's *home* partition (the one of its first operation) to commit; the home partition is
the commit coordinator (one-phase commit when it is the only participant, two-phase commit
otherwise).

Versions
    Every committed write installs a new version of its key, named by the writer's transaction id
    (the initial version is ``0``). Reads report the version they saw; commits report the version
    each write replaced. That is all the serializability checker needs to build the direct
    serialization graph (``harness.checkers.serializability``).

Transaction ids
    ``make_tid(client, seq, attempt)``: one id per *attempt*; the client's logical transaction is
    ``(client, seq)`` (``tid_logical``), and a retry after an abort is a new attempt with a new id.

Incarnations
    A partition's memory (its active transactions) dies with it in a crash. Every incarnation
    of a partition has a new *epoch*, which its ``OpReply`` carries; each ``OpRequest`` says how
    many earlier operations of the attempt ran at that partition (``prior``) and in which epoch,
    and the commit request names the epoch of every participant. A partition that does not know
    the attempt any more (or knows it only from a later incarnation, re-created by a late
    duplicate) aborts it instead of carrying on with half of it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from harness.protocol import Message
from implementations.options import DeadlockDetectOptions, LockTimeoutOptions

__all__ = [
    "READ", "WRITE", "ADD", "OP_NAMES", "COMMITTED", "CONFLICT", "DEADLOCK", "VALIDATION",
    "TIMEOUT", "FAILURE", "REASONS", "make_tid", "tid_client", "tid_seq", "tid_attempt",
    "tid_logical", "tid_str", "MAX_ATTEMPTS", "S", "X", "Lock", "take_locks", "Store", "PTxn",
    "ACTIVE", "PREPARED", "LockTimeoutOptions", "DeadlockDetectOptions",
    "OpRequest", "OpReply", "CommitRequest", "AbortRequest", "Inquiry", "Outcome", "Prepare",
    "Vote", "Decision", "Ack", "Query", "PeerQuery", "PeerReply", "CommitObs",
]

# -- operations ----------------------------------------------------------------------------------
READ, WRITE, ADD = 0, 1, 2
"""READ returns the value; WRITE sets it (and returns the old one); ADD adds ``arg`` (and returns
the old value). Both writes read the old version first (read-modify-write)."""
OP_NAMES = ("read", "write", "add")

# -- outcomes: 0 = committed, else why the attempt aborted ----------------------------------------
COMMITTED, CONFLICT, DEADLOCK, VALIDATION, TIMEOUT, FAILURE = 0, 1, 2, 3, 4, 5
REASONS = ("committed", "conflict", "deadlock", "validation", "timeout", "failure")
"""conflict: refused a lock (no_wait, wait_die's die) or wounded (wound_wait); deadlock: chosen as
the victim of a waits-for cycle; validation: OCC validation failed; timeout: a lock wait, an idle
transaction or the client timed out; failure: a crash or lost state (a participant that no longer
knows the transaction, a coordinator that forgot it, a vote that never came)."""

# -- transaction ids -----------------------------------------------------------------------------
_SEQ_BITS, _ATTEMPT_BITS = 28, 12
MAX_ATTEMPTS = (1 << _ATTEMPT_BITS) - 1


def make_tid(client: int, seq: int, attempt: int) -> int:
    """A globally unique, positive id for attempt ``attempt`` (1-based) of ``client``'s ``seq``."""
    return (client << (_SEQ_BITS + _ATTEMPT_BITS)) | (seq << _ATTEMPT_BITS) | attempt


def tid_client(tid: int) -> int:
    return tid >> (_SEQ_BITS + _ATTEMPT_BITS)


def tid_seq(tid: int) -> int:
    return (tid >> _ATTEMPT_BITS) & ((1 << _SEQ_BITS) - 1)


def tid_attempt(tid: int) -> int:
    return tid & MAX_ATTEMPTS


def tid_logical(tid: int) -> int:
    """The client transaction ``(client, seq)`` that attempt ``tid`` belongs to, as one number:
    equal for every attempt of a transaction, and growing with ``seq`` for one client."""
    return tid >> _ATTEMPT_BITS


def tid_str(tid: int) -> str:
    """``c17.42#3``: client 17's transaction 42, attempt 3 (``init`` for version 0)."""
    if tid == 0:
        return "init"
    return f"c{tid_client(tid)}.{tid_seq(tid)}#{tid_attempt(tid)}"


# -- storage ---------------------------------------------------------------------------------------

class Store:
    """A partition's committed data: key -> (value, version). Absent keys hold ``initial`` at
    version 0. Only committed writes are installed here; uncommitted ones live in the writer's
    ``PTxn.writes``."""

    __slots__ = ("data", "initial")

    def __init__(self, initial: int = 0):
        self.data: dict[int, tuple[int, int]] = {}
        self.initial = initial

    def get(self, key: int) -> tuple[int, int]:
        return self.data.get(key) or (self.initial, 0)

    def install(self, key: int, value: int, tid: int) -> int:
        """Install ``value`` as version ``tid`` of ``key``; returns the version it replaced."""
        data = self.data
        old = data.get(key)
        data[key] = (value, tid)
        return old[1] if old is not None else 0


# -- a participant's transaction -----------------------------------------------------------------
ACTIVE, PREPARED = 0, 1


class PTxn:
    """One transaction attempt as one partition sees it.

    ``reads``: key -> version first read (for validation and the checker); ``writes``: key -> new
    value (installed only at commit); ``held``: key -> lock mode held (2PL) or validation lock
    (OCC, once prepared); ``wait``: the key it is queued on (2PL) or None; ``pending``: the
    operation waiting for that lock; ``ops``: operations executed here (answered).
    """

    __slots__ = ("tid", "ts", "client", "state", "reads", "writes", "held", "wait", "wait_mode",
                 "wait_since", "pending", "next_index", "ops", "last_seen", "request", "start_tn",
                 "conflict", "prepared_at", "epoch", "coord", "participants", "last_query")

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
        self.request: Any = None  # the latest client request, to address notices to the client
        self.start_tn = 0
        self.conflict = False
        self.prepared_at = 0.0
        self.epoch = 0
        self.coord = -1
        self.participants: tuple[int, ...] = ()
        self.last_query = 0.0

    def __repr__(self) -> str:
        state = "prepared" if self.state == PREPARED else "active"
        return f"PTxn({tid_str(self.tid)} {state} reads={self.reads} writes={self.writes})"


# -- locks -------------------------------------------------------------------------------------------
S, X = 1, 2


class Lock:
    """One key's lock: ``holders`` (tid -> PTxn; the mode is ``holder.held[key]``), the tid of the
    exclusive holder (0 when none) and a FIFO ``queue`` of waiting PTxns (upgrades at its front)."""

    __slots__ = ("holders", "x", "queue")

    def __init__(self) -> None:
        self.holders: dict[int, PTxn] = {}
        self.x = 0
        self.queue: deque[PTxn] = deque()

    def compatible(self, t: PTxn, mode: int) -> bool:
        """Whether ``t`` could hold ``mode`` alongside the current holders (queue ignored)."""
        if mode == S:
            return self.x == 0 or self.x == t.tid
        holders = self.holders
        n = len(holders)
        return n == 0 or (n == 1 and t.tid in holders)

    def grant(self, t: PTxn, key: int, mode: int) -> None:
        self.holders[t.tid] = t
        if mode == X:
            self.x = t.tid
        t.held[key] = mode

    def release(self, t: PTxn) -> None:
        del self.holders[t.tid]
        if self.x == t.tid:
            self.x = 0


def take_locks(table: dict[int, Lock], t: PTxn) -> None:
    """Grant ``t`` X on every key it writes and S on every other key it read, in ``table``
    (2PL's lock table, or OCC's validation locks). Only for locks known to be free for it: a
    transaction found prepared in the log at recovery (its locks were compatible before the
    crash), or one that has just passed OCC validation."""
    for key in t.writes:
        (table.get(key) or table.setdefault(key, Lock())).grant(t, key, X)
    for key in t.reads:
        if key not in t.writes:
            (table.get(key) or table.setdefault(key, Lock())).grant(t, key, S)


# -- messages ------------------------------------------------------------------------------------
_H = Message.HEADER


class OpRequest(Message):
    """client -> the key's partition: operation ``index`` of attempt ``tid``. ``prior``: how many
    earlier operations of this attempt ran at this partition; ``epoch``: the partition epoch
    that answered them (0 when none)."""

    __slots__ = ("client", "tid", "ts", "index", "kind", "key", "arg", "vsize", "prior", "epoch")

    def __init__(self, client: int, tid: int, ts: int, index: int, kind: int, key: int, arg: int,
                 value_size: int = 8, prior: int = 0, epoch: int = 0):
        self.client = client
        self.tid = tid
        self.ts = ts
        self.index = index
        self.kind = kind
        self.key = key
        self.arg = arg
        self.vsize = value_size  # the size of a value (the reply carries one)
        self.prior = prior
        self.epoch = epoch
        self.size = _H + 40 + (value_size if kind != READ else 0)

    def __repr__(self) -> str:
        return f"Op({tid_str(self.tid)}[{self.index}] {OP_NAMES[self.kind]} k={self.key} {self.arg})"


class OpReply(Message):
    """partition -> client: the operation succeeded; ``value`` is the value read (the old value
    for writes) and ``version`` its version; ``conflict`` says it had to wait for a lock;
    ``epoch`` is the answering partition's incarnation."""

    __slots__ = ("tid", "index", "value", "conflict", "version", "epoch")

    def __init__(self, tid: int, index: int, value: int, conflict: bool, value_size: int = 8,
                 version: int = 0, epoch: int = 0):
        self.tid = tid
        self.index = index
        self.value = value
        self.conflict = conflict
        self.version = version
        self.epoch = epoch
        self.size = _H + 28 + value_size

    def __repr__(self) -> str:
        return f"OpReply({tid_str(self.tid)}[{self.index}]={self.value}{' waited' if self.conflict else ''})"


class CommitRequest(Message):
    """client -> home partition: commit ``tid``, which ran operations on ``participants``;
    ``epochs[i]`` is the epoch of ``participants[i]`` that answered them (empty: not checked)."""

    __slots__ = ("client", "tid", "participants", "epochs")

    def __init__(self, client: int, tid: int, participants: tuple[int, ...],
                 epochs: tuple[int, ...] = ()):
        self.client = client
        self.tid = tid
        self.participants = participants
        self.epochs = epochs
        self.size = _H + 8 + 8 * len(participants)

    def __repr__(self) -> str:
        return f"Commit({tid_str(self.tid)} on {list(self.participants)})"


class AbortRequest(Message):
    """client -> a partition it used: forget ``tid`` (idempotent; ignored once prepared)."""

    __slots__ = ("client", "tid")

    def __init__(self, client: int, tid: int):
        self.size = _H + 8
        self.client = client
        self.tid = tid

    def __repr__(self) -> str:
        return f"Abort({tid_str(self.tid)})"


class Inquiry(Message):
    """client -> home partition: what became of ``tid``? Never starts a commit: an attempt the
    coordinator does not know is aborted (and stays aborted)."""

    __slots__ = ("client", "tid", "participants")

    def __init__(self, client: int, tid: int, participants: tuple[int, ...]):
        self.client = client
        self.tid = tid
        self.participants = participants
        self.size = _H + 8 + 4 * len(participants)

    def __repr__(self) -> str:
        return f"Inquiry({tid_str(self.tid)})"


class Outcome(Message):
    """partition -> client: attempt ``tid`` committed, or aborted for ``reason`` (also sent
    unprompted when a participant aborts a transaction: a wound, a deadlock, a timeout)."""

    __slots__ = ("tid", "reason", "conflict")

    def __init__(self, tid: int, reason: int, conflict: bool = False):
        self.size = _H + 12
        self.tid = tid
        self.reason = reason
        self.conflict = conflict

    @property
    def committed(self) -> bool:
        return self.reason == COMMITTED

    def __repr__(self) -> str:
        return f"Outcome({tid_str(self.tid)} {REASONS[self.reason]})"


class Prepare(Message):
    """coordinator -> participant. ``epoch`` is the coordinator's incarnation number: a
    participant prepared in an older epoch whose coordinator re-runs the commit knows the old
    round was presumed aborted. ``epochs``: the participants' epochs that ran the operations,
    from the commit request (a participant in another epoch lost them: it votes no)."""

    __slots__ = ("tid", "epoch", "coord", "participants", "epochs")

    def __init__(self, tid: int, epoch: int, coord: int, participants: tuple[int, ...],
                 epochs: tuple[int, ...] = ()):
        self.tid = tid
        self.epoch = epoch
        self.coord = coord
        self.participants = participants
        self.epochs = epochs
        self.size = _H + 16 + 8 * len(participants)

    def __repr__(self) -> str:
        return f"Prepare({tid_str(self.tid)} e{self.epoch})"


class Vote(Message):
    __slots__ = ("tid", "epoch", "reason")

    def __init__(self, tid: int, epoch: int, reason: int):
        self.size = _H + 16
        self.tid = tid
        self.epoch = epoch
        self.reason = reason  # COMMITTED (0) = yes, else no and why

    @property
    def yes(self) -> bool:
        return self.reason == COMMITTED

    def __repr__(self) -> str:
        return f"Vote({tid_str(self.tid)} {'yes' if self.yes else 'no: ' + REASONS[self.reason]})"


class Decision(Message):
    """coordinator -> participant (or a peer's answer under cooperative termination)."""

    __slots__ = ("tid", "commit")

    def __init__(self, tid: int, commit: bool):
        self.size = _H + 9
        self.tid = tid
        self.commit = commit

    def __repr__(self) -> str:
        return f"Decision({tid_str(self.tid)} {'commit' if self.commit else 'abort'})"


class Ack(Message):
    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.size = _H + 8
        self.tid = tid

    def __repr__(self) -> str:
        return f"Ack({tid_str(self.tid)})"


class Query(Message):
    """in-doubt participant -> coordinator: decided yet?"""

    __slots__ = ("tid", "epoch")

    def __init__(self, tid: int, epoch: int):
        self.size = _H + 16
        self.tid = tid
        self.epoch = epoch

    def __repr__(self) -> str:
        return f"Query({tid_str(self.tid)} e{self.epoch})"


class PeerQuery(Message):
    """in-doubt participant -> other participants (cooperative termination)."""

    __slots__ = ("tid",)

    def __init__(self, tid: int):
        self.size = _H + 8
        self.tid = tid

    def __repr__(self) -> str:
        return f"PeerQuery({tid_str(self.tid)})"


class PeerReply(Message):
    """``state``: COMMITTED, FAILURE (aborted, or will vote no) or None (prepared: uncertain too)."""

    __slots__ = ("tid", "state")

    def __init__(self, tid: int, state: int | None):
        self.size = _H + 9
        self.tid = tid
        self.state = state

    def __repr__(self) -> str:
        return f"PeerReply({tid_str(self.tid)} {'uncertain' if self.state is None else REASONS[self.state]})"


# -- what the checker is told ------------------------------------------------------------------

class CommitObs:
    """Observation ``"commit"``: partition ``node`` made attempt ``tid`` durable. ``reads`` are
    (key, version read) pairs, ``installs`` (key, version replaced, value) triples, and
    ``participants`` every partition of the transaction (for the atomicity check)."""

    __slots__ = ("tid", "participants", "reads", "installs")

    def __init__(self, tid: int, participants: tuple[int, ...], reads: list[tuple[int, int]],
                 installs: list[tuple[int, int, int]]):
        self.tid = tid
        self.participants = participants
        self.reads = reads
        self.installs = installs

    def __repr__(self) -> str:
        return f"CommitObs({tid_str(self.tid)} reads={self.reads} installs={self.installs})"
