"""Two-phase commit over replicated partitions (``protocols.2pc.replication: raft | multipaxos``),
the design of Spanner (Corbett et al., OSDI 2012: each participant a Paxos group, the
coordinator's decision logged in its group) and CockroachDB (each range a Raft group, the
transaction record replicated like any write).

Layout
    ``cluster.partitions`` groups of ``replicas`` nodes: host ``h`` belongs to group ``h % P``
    as its replica ``h // P``, so hosts ``0 .. P-1`` are the groups' first replicas and every
    other id is a plain extra replica. Clients keep addressing partition ``g`` as host ``g``
    (its *front door*), which forwards what it cannot serve to its group's leader (the
    redirect); nothing client-side changes, and the leader answers the client directly. The
    cost: while a front door is down its group takes no new client requests; transactions
    already under way are finished by whichever replica leads.

The group's log
    Every replica runs the existing :class:`~implementations.raft.node.RaftNode` or
    :class:`~implementations.multipaxos.node.MultiPaxosNode`, unchanged, with the group's
    members as its cluster. The leader alone runs the partition (a
    :class:`~implementations.twopc.node.TwoPC` node: participant and coordinator); each of its
    ``persist`` calls becomes a log command, and -- the write-ahead rule of
    :class:`~harness.contract.Context`, with "durable" meaning "applied by the group" -- every
    output it issues afterwards waits until that command is applied. Prepare, commit, abort
    and decision records therefore count only once a majority of the group holds them.

Failover
    A replica that comes to lead proposes a ``Takeover`` marker; once the marker is applied,
    every earlier record is too, and it starts a fresh partition that *recovers* from the
    group's records exactly as a crashed partition recovers from its disk: committed writes
    re-installed, prepared transactions in doubt (asking their coordinator), decisions without
    every acknowledgement re-sent. So the successor of a crashed coordinator finishes its
    transactions, and a participant is blocked for about a failover rather than for the
    crash. A leader that steps down drops its partition and whatever output it still held.

Routing
    Partitions address each other by group id. A message goes to the host last seen speaking
    for that group (only leaders run partitions), starting with the front door; a replica that
    does not lead forwards it to its log's leader; after a few messages to a group without an
    answer, the next replica is tried.
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.contract import Context
from harness.kinds.transactions.contract import Store, TransactionNode
from harness.message import Message
from implementations.multipaxos.node import MultiPaxosNode
from implementations.multipaxos.options import MultiPaxosOptions
from implementations.raft.node import RaftNode
from implementations.raft.options import RaftOptions
from implementations.txn.log import Committed, CommittedAlone, Decided, Prepared
from implementations.txn.messages import Ack, Decision, PeerQuery, PeerReply, Prepare, Query, Vote
from implementations.twopc.node import TwoPC
from workloads.kv import PUT, KVStateMachine, Reply, Request

__all__ = ["two_phase_commit", "ReplicatedPartition", "LogEntry", "Takeover", "Forwarded"]

TXN_MESSAGES = (Prepare, Vote, Decision, Ack, Query, PeerQuery, PeerReply)
SEQ_BITS = 24      # a log command's sequence number: leadership term above, count below
SILENT_LIMIT = 3   # messages sent to a group's host with no word back before trying the next


class Takeover:
    """The marker a new leader ``host`` proposes in its ``term``: applied, it means every earlier
    record of the group is applied too."""

    __slots__ = ("host", "term")

    def __init__(self, host: int, term: int):
        self.host = host
        self.term = term

    def __repr__(self) -> str:
        return f"Takeover({self.host} t{self.term})"


class Barrier:
    """A record that only proves its proposer still leads: a read-only commit, which logs
    nothing, is answered once one is applied (a deposed leader's never is)."""

    __slots__ = ()


PHASES = {Prepared: "prepare", Decided: "commit", CommittedAlone: "commit", Barrier: "commit"}
"""The records a phase of the commit waits for, for the replicate_<phase>_ms_mean columns."""


class LogEntry(Request):
    """A partition record as a consensus command, proposed by ``client`` (the leader's host) as
    its ``seq``-th (term in the high bits)."""

    __slots__ = ("record", "observed", "proposed_at")

    def __init__(self, host: int, seq: int, record: Any):
        super().__init__(host, seq, PUT, 0)
        self.record = record
        self.observed: list[Any] = []  # the commit observations this record makes true
        self.proposed_at = 0.0
        self.size = 40 + 16 * (len(getattr(record, "writes", ())) + len(getattr(record, "reads", ())))

    def __repr__(self) -> str:
        return f"LogEntry({self.record!r})"


class Forwarded(Message):
    """A message (``origin``: the sending group) or a client request (``origin`` -1) passed on by
    a replica that does not lead to the one it believes does."""

    __slots__ = ("origin", "msg")

    def __init__(self, origin: int, msg: Any):
        self.origin = origin
        self.msg = msg
        self.size = msg.size + 8


class RecordLog(KVStateMachine):
    """The log's state machine: applying a record does nothing here (the partition replays the
    records itself, :meth:`ReplicatedPartition.on_applied`)."""

    def defer(self, cmds: Any) -> None:
        pass

    def apply(self, cmd: Request) -> object:
        return None

    def answer(self, cmd: Request, result: Any) -> Reply:
        return Reply(cmd, 0)


class _LogContext(Context):
    """The context the group's consensus node runs in: the host's, except that what it applies
    and when it leads go to the partition node, and its client replies (to the partition's own
    commands) are dropped."""

    def __init__(self, node: ReplicatedPartition, members: tuple[int, ...]):
        self.node = node
        self.node_id = node.id
        self.nodes = members
        self.now = 0.0
        self.outer: Context = Context()

    def send(self, dst: int, msg: Message) -> None:
        self.outer.send(dst, msg)

    def set_timer(self, name: str, delay: float) -> None:
        self.outer.set_timer(name, delay)

    def cancel_timer(self, name: str) -> None:
        self.outer.cancel_timer(name)

    def persist(self, record: Any) -> None:
        self.outer.persist(record)

    def reply(self, request: Any, result: Message) -> None:
        pass

    def random(self) -> float:
        return self.outer.random()

    def charge(self, seconds: float) -> None:
        self.outer.charge(seconds)

    def became_leader(self, term: int) -> None:
        self.outer.became_leader(term)
        self.node.on_lead(term)

    def applied(self, index: int, command: Any) -> None:
        self.node.on_applied([command])

    def applied_many(self, first: int, commands: Any) -> None:
        self.node.on_applied(commands)

    def observe(self, event: str, value: Any) -> None:
        self.outer.observe(event, value)


class _PartitionContext(Context):
    """The context the leader's partition runs in: it speaks as its group (``node_id``: the group,
    ``nodes``: the groups); a persist is a log command, and every output waits for the commands
    proposed before it."""

    def __init__(self, node: ReplicatedPartition, groups: tuple[int, ...]):
        self.node = node
        self.node_id = node.group
        self.nodes = groups
        self.now = 0.0

    def send(self, dst: int, msg: Message) -> None:
        self.node.output(0, dst, msg)

    def reply(self, request: Any, result: Message) -> None:
        self.node.output(1, request, result)

    def observe(self, event: str, value: Any) -> None:
        if event == "commit":
            last = self.node.last
            if (last is not None and type(last.record) in (Committed, CommittedAlone)
                    and last.record.tid == value.tid):
                last.observed.append(value)
            else:  # a read-only commit logs nothing: only a leader the group still follows may answer it
                self.node.propose(Barrier())
        self.node.output(2, event, value)

    def persist(self, record: Any) -> None:
        self.node.propose(record)

    def set_timer(self, name: str, delay: float) -> None:
        self.node.log_ctx.outer.set_timer("p:" + name, delay)

    def cancel_timer(self, name: str) -> None:
        self.node.log_ctx.outer.cancel_timer("p:" + name)

    def random(self) -> float:
        return self.node.log_ctx.outer.random()

    def charge(self, seconds: float) -> None:
        self.node.log_ctx.outer.charge(seconds)


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class ReplicatedPartition(TransactionNode):
    """One replica of a partition's group (see the module docstring)."""

    def __init__(self, host: int, nodes: tuple[int, ...], replication: Any, options: Any,
                 store: Store, log_class: Any, log_options: Any):
        P = len(nodes) // options.replicas
        self.id = host
        self.P = P
        self.group = host % P
        self.members = tuple(self.group + r * P for r in range(options.replicas))
        self.replication = replication
        self.options = options
        self.initial = store.initial
        self.log: Any = log_class(host, self.members, replication, log_options, RecordLog())
        self.log_ctx = _LogContext(self, self.members)
        self.ctx = _PartitionContext(self, tuple(range(P)))
        self.part: TwoPC | None = None
        self.records: list[Any] = []
        self.observed: list[Any] = []  # every commit observation the group's records make true
        self.last: LogEntry | None = None  # the latest command proposed
        self.term = -1
        self.marker_due = False
        self.proposed = 0
        self.durable = 0
        self.held: list[tuple[int, int, Any, Any]] = []
        self.hint = list(range(P))
        self.silent = [0] * P

    # -- the Node interface ----------------------------------------------------------------------
    def _enter(self, ctx: Context) -> None:
        self.log_ctx.outer = ctx
        self.log_ctx.now = self.ctx.now = ctx.now

    def start(self, ctx: Context, stable: list[Any]) -> None:
        self._enter(ctx)
        self.log.start(self.log_ctx, stable)

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        self._enter(ctx)
        t = type(msg)
        if t in TXN_MESSAGES:
            g = src % self.P
            self.hint[g] = src
            self.silent[g] = 0
            self._deliver(g, msg)
        elif t is Forwarded:
            if msg.origin < 0:
                self._request(msg.msg)
            else:
                self._deliver(msg.origin, msg.msg)
        else:
            self.log.on_message(self.log_ctx, src, msg)
            self._check_leadership()

    def on_request(self, ctx: Context, request: Any) -> None:
        self._enter(ctx)
        self._request(request)

    def on_timer(self, ctx: Context, name: str) -> None:
        self._enter(ctx)
        if name.startswith("p:"):
            if self.part is not None:
                self.part.on_timer(self.ctx, name[2:])
        else:
            self.log.on_timer(self.log_ctx, name)
            self._check_leadership()

    def _request(self, request: Any) -> None:
        if self.part is not None:
            self.part.on_request(self.ctx, request)
        else:
            self._forward(Forwarded(-1, request))

    def _deliver(self, g: int, msg: Any) -> None:
        if self.part is not None:
            self.part.on_message(self.ctx, g, msg)
        else:
            self._forward(Forwarded(g, msg))

    def _forward(self, fwd: Forwarded) -> None:
        log = self.log
        leader = log.leader if hasattr(log, "leader") else log.leader_hint
        if leader is not None and leader != self.id:
            self.log_ctx.outer.send(leader, fwd)

    # -- the log -------------------------------------------------------------------------------
    def on_lead(self, term: int) -> None:
        """The log is making this replica leader: once it has, propose the takeover marker
        (:meth:`_check_leadership`)."""
        self.term = term
        self.marker_due = True

    def on_applied(self, commands: Any) -> None:
        """The log applied ``commands``: keep the group's records, take over at our marker, and
        release the output that waited for our records."""
        for cmd in commands:
            if cmd is None:
                continue
            record = cmd.record
            if type(record) is Barrier:
                record = None
            elif type(record) is Takeover:
                if (record.host == self.id and record.term == self.term and self.part is None
                        and self.log.leadership is not None):
                    self._take_over()
                continue
            if record is not None:
                self.records.append(record)
            if cmd.observed:
                self.observed.extend(cmd.observed)
            if cmd.client == self.id and self.part is not None and cmd.seq >> SEQ_BITS == self.term:
                self.durable = max(self.durable, cmd.seq & ((1 << SEQ_BITS) - 1))
                phase = PHASES.get(type(cmd.record))
                if phase is not None:
                    self.log_ctx.outer.observe("replicated", (phase, self.log_ctx.now - cmd.proposed_at))
        if self.held:
            self._release()

    def _take_over(self) -> None:
        part = self.part = TwoPC(self.group, self.ctx.nodes, self.replication, self.options,
                                 Store(self.initial))
        self.proposed = self.durable = 0
        self.held = []
        outer = self.log_ctx.outer
        for obs in self.observed:  # a leader may have fallen between replicating and telling
            outer.observe("commit_replay", obs)
        part.start(self.ctx, list(self.records))

    def _check_leadership(self) -> None:
        if self.log.leadership is None:
            self.marker_due = False
            if self.part is not None:
                self.part = None  # stepped down: its unreplicated output never happened
                self.held = []
        elif self.marker_due:
            self.marker_due = False
            term = self.term
            self.log.on_request(self.log_ctx, LogEntry(self.id, term << SEQ_BITS, Takeover(self.id, term)))

    def propose(self, record: Any) -> None:
        self.proposed += 1
        entry = self.last = LogEntry(self.id, (self.term << SEQ_BITS) | self.proposed, record)
        entry.proposed_at = self.ctx.now
        self.log.on_request(self.log_ctx, entry)

    # -- the partition's output ----------------------------------------------------------------
    def output(self, kind: int, a: Any, b: Any) -> None:
        if self.held or self.durable < self.proposed:
            self.held.append((self.proposed, kind, a, b))
        else:
            self._emit(kind, a, b)

    def _release(self) -> None:
        held, durable = self.held, self.durable
        n = 0
        while n < len(held) and held[n][0] <= durable:
            n += 1
        if n:
            ready, self.held = held[:n], held[n:]
            for _, kind, a, b in ready:
                self._emit(kind, a, b)

    def _emit(self, kind: int, a: Any, b: Any) -> None:
        outer = self.log_ctx.outer
        if kind == 0:
            self.silent[a] += 1
            if self.silent[a] > SILENT_LIMIT:  # that host may be down or no longer lead
                self.silent[a] = 0
                self.hint[a] = (self.hint[a] + self.P) % (self.P * len(self.members))
            outer.send(self.hint[a], b)
        elif kind == 1:
            outer.reply(a, b)
        else:
            outer.observe(a, b)

    # -- what the world may ask (TransactionNode) --------------------------------------------------
    def leading(self) -> bool:
        """This replica runs its group's partition."""
        return self.part is not None

    def committed(self) -> Store:
        return self.part.committed() if self.part is not None else Store(self.initial)

    def idle(self) -> bool:
        return self.part is None or self.part.idle()

    def in_doubt(self) -> list[tuple[int, int]]:
        return self.part.in_doubt() if self.part is not None else []

    def collecting_votes(self, tid: int) -> bool:
        return self.part is not None and self.part.collecting_votes(tid)

    def coordinating(self) -> bool:
        return self.part is not None and self.part.coordinating()

    def settled(self) -> bool:
        return self.part is None or self.part.settled()


def two_phase_commit(node_id: int, nodes: tuple[int, ...], replication: Any, options: Any,
                     store: Store) -> TransactionNode:
    """The ``2pc`` node for host ``node_id``: a partition of its own, or a replica of its
    partition's group when ``options.replication`` names a consensus protocol."""
    if options.replication == "none":
        return TwoPC(node_id, nodes, replication, options, store)
    if options.replication == "raft":
        return ReplicatedPartition(node_id, nodes, replication, options, store, RaftNode, RaftOptions.model_validate({}))
    return ReplicatedPartition(node_id, nodes, replication, options, store, MultiPaxosNode,
                               MultiPaxosOptions.model_validate({}))
