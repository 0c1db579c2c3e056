"""The replicated key-value workload: commands, replies and the deterministic state machine.

Write values are the command's unique id, so every value ever written is distinct. That keeps
client histories small (ints) and makes the linearizability check tractable.
"""

from __future__ import annotations

from typing import Any, cast

from mypy_extensions import mypyc_attr

from harness.message import Message

GET, PUT, CAS = 0, 1, 2
OP_NAMES = ("get", "put", "cas")

OK, REDIRECT = 0, 1


class Request(Message):
    """A client command. ``uid`` identifies it across retries (client id, sequence number);
    ``ack`` is the client's lowest still-unanswered sequence number, which lets the state machine
    forget cached results below it (the Raft thesis' client session scheme). ``seen`` is the
    furthest position of the replicated history the client had observed when it issued the
    command (ZooKeeper's lastZxidSeen: a server answering from its own state must not answer
    from an earlier one). ``ts`` is the client's clock when it issued the command, the same on
    every retry: the timestamp a Cassandra driver attaches to a statement (a quorum store may
    order writes by it); the fixed fields' 40 bytes cover it."""

    __slots__ = ("client", "seq", "op", "key", "value", "expected", "ack", "value_size", "uid",
                 "seen", "ts")

    def __init__(self, client: int, seq: int, op: int, key: int, value: int = 0,
                 expected: int = 0, ack: int = 0, value_size: int = 0, seen: int = 0,
                 ts: float = 0.0):
        self.client = client
        self.seq = seq
        self.op = op
        self.key = key
        self.value = value
        self.expected = expected
        self.ack = ack
        # assigned in the order of __slots__: a compiled class lists its attributes in the order
        # they are first assigned, and scenario scripts print a message's fields in that order
        self.value_size = value_size if op != GET else 0
        self.uid = (client << 32) | seq
        self.seen = seen
        self.ts = ts
        self.size = 40 + self.value_size

    def __repr__(self) -> str:
        return f"Request({OP_NAMES[self.op]} k={self.key} v={self.value} c={self.client}#{self.seq})"


class Reply(Message):
    """The answer to a :class:`Request`: ``status`` OK with ``value`` (the read value, or for a
    cas whether it swapped), or REDIRECT with a ``leader`` hint (None when unknown). ``index``:
    the position of the replicated history the answer reflects, for protocols whose clients may
    change servers (0: not said)."""

    __slots__ = ("request", "status", "value", "leader", "index")

    def __init__(self, request: Request, status: int, value: int | bool | None = None,
                 leader: int | None = None, value_size: int = 0):
        self.request = request
        self.status = status
        self.value = value
        self.leader = leader
        self.index = 0
        self.size = 32 + (value_size if request.op == GET and status == OK else 0)


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class KVStateMachine:
    """Deterministic key-value map with exactly-once semantics for retried commands.

    A follower's copy is read only if it comes to lead, so replicas hand their committed
    commands to :meth:`defer` and the map applies them, in order, just before it is next read
    (``apply``, ``read``, ``answer``, ``data``): most replicas never pay for them at all."""

    __slots__ = ("_data", "sizes", "sessions", "floors", "_deferred")

    def __init__(self) -> None:
        self._data: dict[int, int] = {}
        self.sizes: dict[int, int] = {}  # bytes of each key's current value, for reply sizes
        self.sessions: dict[int, dict[int, object]] = {}
        self.floors: dict[int, int] = {}
        self._deferred: list = []  # sequences of commands (None: a no-op) not applied yet

    @property
    def data(self) -> dict[int, int]:
        if self._deferred:
            self._catch_up()
        return self._data

    def defer(self, cmds: Any) -> None:
        """Apply ``cmds`` (a sequence; ``None`` entries are no-ops), whose results nobody
        wants, before the next read."""
        self._deferred.append(cmds)

    def _catch_up(self) -> None:
        deferred, self._deferred = self._deferred, []  # emptied first: apply calls back here
        for cmds in deferred:
            for cmd in cmds:
                if cmd is not None:
                    KVStateMachine.apply(self, cmd)  # this class's, even if a subclass overrides it

    def apply(self, cmd: Request) -> object:
        """Apply ``cmd`` once; a duplicate returns the first application's result."""
        if self._deferred:
            self._catch_up()
        session = self.sessions.get(cmd.client)
        if session is None:
            session = self.sessions[cmd.client] = {}
        seq = cmd.seq
        if seq in session:
            return session[seq]
        floor = self.floors.get(cmd.client, 0)
        if seq < floor:
            return None  # already applied and acknowledged; the client no longer waits for it
        op = cmd.op
        result: object
        if op == GET:  # (cast: a read's int must not make the writes' bools ints when compiled)
            result = cast(object, self._data.get(cmd.key, 0))
        elif op == PUT:
            self._data[cmd.key] = cmd.value
            self.sizes[cmd.key] = cmd.value_size
            result = True
        else:
            if self._data.get(cmd.key, 0) == cmd.expected:
                self._data[cmd.key] = cmd.value
                self.sizes[cmd.key] = cmd.value_size
                result = True
            else:
                result = False
        session[seq] = result
        if cmd.ack > floor:
            self.floors[cmd.client] = cmd.ack
            if len(session) > 16:
                for s in [s for s in session if s < cmd.ack]:
                    del session[s]
        return result

    def read(self, key: int) -> int:
        """A local read, for protocols that serve reads without the log (ReadIndex)."""
        return self.data.get(key, 0)

    def answer(self, cmd: Request, result: Any) -> Reply:
        """The OK reply to ``cmd`` carrying ``result``; a read's reply carries the value's bytes."""
        if self._deferred:
            self._catch_up()
        return Reply(cmd, OK, result, None, self.sizes.get(cmd.key, 0) if cmd.op == GET else 0)
