"""The transactions node contract: what a transaction protocol speaks, what a transactions world
gives a partition node, and what it may ask it -- so that the world never reads a protocol's
attributes and a protocol needs nothing else of the kind.

A protocol's node derives from :class:`TransactionNode` and is built as
``cls(node_id, nodes, replication, options, store)``: ``store`` is the :class:`Store` of the
partition's committed data, which the node keeps current. Clients send it ``OpRequest``,
``CommitRequest``, ``AbortRequest`` and ``Inquiry`` and expect ``OpReply`` and ``Outcome``; it
tells the checker what it committed with ``ctx.observe("commit", CommitObs(...))`` (and,
optionally, ``"lock_wait"`` with a wait's duration and ``"in_doubt"`` with
``(tid, prepared_at, overdue_at, resolved_at)``). The world asks it, through the hooks of
:class:`TransactionNode`, for what it needs besides observations: the nemesis's
``coordinator`` and ``participant`` targets, the quiescent points where the bank invariant is
checked, the end of the drain, and the stores and in-doubt transactions the checker reads at
the end. Like :class:`harness.contract.Node` it is compiled in the compiled build and may be
subclassed by interpreted protocols.

The model
    A key-value store is split into partitions (key ``k`` lives on partition ``k % P``), one per
    node. Transactions are *interactive*: the client sends one operation at a time to the
    partition holding its key and waits for the answer before the next, so transactions overlap
    in time and concurrency control has something to do. When every operation has succeeded the
    client asks the transaction's *home* partition (the one of its first operation) to commit;
    the home partition coordinates the commit.

Versions
    Every committed write installs a new version of its key, named by the writer's transaction
    id (the initial version is ``0``). Reads report the version they saw; commits report the
    version each write replaced. That is all the serializability checker needs to build the
    direct serialization graph (``harness.checkers.serializability``).

Timestamps
    A protocol that orders transactions by timestamp (MVCC, timestamp ordering) gives each attempt
    one at its first operation: the home partition answers it in ``OpReply.snapshot``, and the
    client sends it back with every later operation of the attempt (``OpRequest.snapshot``), as
    a real client library carries its transaction's read timestamp. Protocols that do not use
    one answer 0, and a zero timestamp costs no bytes on the wire.

Isolation
    Each node says what it promises (:meth:`TransactionNode.isolation`): ``serializable``,
    ``snapshot isolation`` or ``atomic in the end``. The checker judges a run against that
    promise.

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

from mypy_extensions import mypyc_attr

from harness.contract import Node
from harness.message import Message

__all__ = [
    "READ", "WRITE", "ADD", "OP_NAMES", "COMMITTED", "CONFLICT", "DEADLOCK", "VALIDATION",
    "TIMEOUT", "FAILURE", "REASONS", "make_tid", "tid_client", "tid_seq", "tid_attempt",
    "tid_logical", "tid_str", "MAX_ATTEMPTS", "OpRequest", "OpReply", "CommitRequest",
    "AbortRequest", "Inquiry", "Outcome", "Store", "CommitObs", "TransactionNode",
    "SERIALIZABLE", "SNAPSHOT_ISOLATION", "ATOMIC_IN_THE_END", "ISOLATION_LEVELS",
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

# -- isolation promises ---------------------------------------------------------------------------
SERIALIZABLE, SNAPSHOT_ISOLATION = "serializable", "snapshot isolation"
ATOMIC_IN_THE_END = "atomic in the end"
ISOLATION_LEVELS = (SERIALIZABLE, SNAPSHOT_ISOLATION, ATOMIC_IN_THE_END)
"""What a protocol promises (:meth:`TransactionNode.isolation`): every run is judged against it
(``harness.checkers.serializability``). ``ATOMIC_IN_THE_END`` (Saga, TCC) promises no isolation:
only that once the run quiesces every transaction is fully applied or fully undone at every
partition, and that no amount is lost or made (``harness.checkers.settlement``)."""

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


# -- messages ------------------------------------------------------------------------------------
_H = Message.HEADER


class OpRequest(Message):
    """client -> the key's partition: operation ``index`` of attempt ``tid``. ``prior``: how many
    earlier operations of this attempt ran at this partition; ``epoch``: the partition epoch
    that answered them (0 when none); ``snapshot``: the attempt's timestamp, from the first
    reply (0: none yet, or the protocol uses none); ``home``: the attempt's home partition
    (where it will ask to commit), which a partition that applies operations at once (Saga,
    TCC) asks what became of an attempt gone quiet (carried in the header's bytes)."""

    __slots__ = ("client", "tid", "ts", "index", "kind", "key", "arg", "vsize", "prior", "epoch",
                 "snapshot", "home")

    def __init__(self, client: int, tid: int, ts: int, index: int, kind: int, key: int, arg: int,
                 value_size: int = 8, prior: int = 0, epoch: int = 0, snapshot: int = 0,
                 home: int = -1):
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
        self.snapshot = snapshot
        self.home = home
        self.size = _H + 40 + (value_size if kind != READ else 0) + (8 if snapshot else 0)

    def __repr__(self) -> str:
        return f"Op({tid_str(self.tid)}[{self.index}] {OP_NAMES[self.kind]} k={self.key} {self.arg})"


class OpReply(Message):
    """partition -> client: the operation succeeded; ``value`` is the value read (the old value
    for writes) and ``version`` its version; ``conflict`` says it had to wait for a lock;
    ``epoch`` is the answering partition's incarnation; ``snapshot`` the attempt's timestamp
    (0: the protocol uses none)."""

    __slots__ = ("tid", "index", "value", "conflict", "version", "epoch", "snapshot")

    def __init__(self, tid: int, index: int, value: int, conflict: bool, value_size: int = 8,
                 version: int = 0, epoch: int = 0, snapshot: int = 0):
        self.tid = tid
        self.index = index
        self.value = value
        self.conflict = conflict
        self.version = version
        self.epoch = epoch
        self.snapshot = snapshot
        self.size = _H + 28 + value_size + (8 if snapshot else 0)

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


# -- what a partition keeps and reports ------------------------------------------------------

class Store:
    """A partition's committed data: key -> (value, version). Absent keys hold ``initial`` at
    version 0. Only committed writes are installed here."""

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


@mypyc_attr(allow_interpreted_subclasses=True)
class TransactionNode(Node):
    """A partition node: the :class:`~harness.contract.Node` handlers, plus what a transactions
    world may ask it (answers about this node only, alive at the time)."""

    def committed(self) -> Store:
        """This partition's committed data: read for the bank total at quiescent points and by
        the checker after the drain."""
        raise NotImplementedError

    def idle(self) -> bool:
        """No transaction in progress here at all, in any role (the drain waits for this on every
        node)."""
        raise NotImplementedError

    def isolation(self) -> str:
        """What this protocol, with its options, promises: ``SERIALIZABLE`` (the default) or
        ``SNAPSHOT_ISOLATION``; the run's safety verdict holds it to that."""
        return SERIALIZABLE

    def in_doubt(self) -> list[tuple[int, int]]:
        """``(tid, coordinator)`` of every transaction prepared here whose decision this node
        does not know yet (the coordinator may be this node)."""
        return []

    def collecting_votes(self, tid: int) -> bool:
        """Whether this node coordinates ``tid`` and is still waiting for votes: crashing it now
        leaves the participants that voted yes in doubt."""
        return False

    def coordinating(self) -> bool:
        """Whether a commit this node coordinates is unfinished (votes or acknowledgements
        outstanding)."""
        return False

    def settled(self) -> bool:
        """No commit half done here: nothing prepared, nothing being coordinated, so every
        commit is applied here fully or not at all."""
        return not self.coordinating() and not self.in_doubt()

    def resends_operations(self) -> bool:
        """Whether clients re-send an operation that timed out (the same attempt: the partition
        answers a duplicate) instead of aborting the attempt -- forward recovery."""
        return False

    def unsettled(self) -> list[str]:
        """What is still half done here, one line each (an applied step neither confirmed nor
        undone, an amount still frozen, a decision not yet delivered): read after the drain to
        judge an ``ATOMIC_IN_THE_END`` promise. Protocols that promise isolation answer []."""
        return []
