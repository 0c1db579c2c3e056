"""The client-side history of a run, in Jepsen's vocabulary: every operation is *invoked*, then
completes *ok* (with its result), *fails* (definitely never took effect) or ends as *info* (the
client gave up: it may or may not have taken effect, at any time after its invocation).

A run can have a million operations, so the history is stored column by column in
:mod:`array` arrays (about 60 bytes per operation, no Python object per operation). Columns are
public attributes, indexed by the op index that :meth:`History.invoke` returns; they support the
buffer protocol, so ``numpy.frombuffer(history.key, dtype=numpy.int64)`` views them without a copy.

Operations are those of :mod:`workloads.kv` (``GET``, ``PUT``, ``CAS``) on integer keys:

==========  =============================  ==========================================
op          arguments                      result recorded by :meth:`History.ok`
==========  =============================  ==========================================
GET         key                            value read (0 = never written)
PUT         key, value                     1
CAS         key, expected, value           1 if it swapped, 0 if not
==========  =============================  ==========================================
"""

from __future__ import annotations

from array import array
from typing import ClassVar, Iterator, NamedTuple

from workloads.kv import CAS, GET, OP_NAMES, PUT

__all__ = ["History", "Op", "PENDING", "OK", "INFO", "FAIL", "STATUS_NAMES", "GET", "PUT", "CAS"]

PENDING, OK, INFO, FAIL = 0, 1, 2, 3
STATUS_NAMES = ("pending", "ok", "info", "fail")

_INF = float("inf")
_NAN = float("nan")
# the completion columns' values while pending, added a chunk at a time (History.invoke)
_CHUNK = 1024
_PENDING_T_RETURN = array("d", [_NAN]) * _CHUNK
_PENDING_RESULT = array("q", [0]) * _CHUNK  # (ret_seq's too)
_PENDING_STATUS = array("b", [PENDING]) * _CHUNK


class Op(NamedTuple):
    """One operation, materialized on demand (for reports and tests; never stored)."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, as intended
    client: int
    op: int
    key: int
    value: int
    expected: int
    t_invoke: float
    t_return: float  # nan while pending, inf for info, the completion time for ok and fail
    status: int
    result: int


class History:
    """Columnar record of client operations.

    Columns (all :class:`array.array`, one slot per op, in invocation order):
    ``client`` ('i'), ``op`` ('b'), ``key``, ``value``, ``expected`` ('q'), ``t_invoke``,
    ``t_return`` ('d'), ``result`` ('q'), ``status`` ('b': PENDING/OK/INFO/FAIL) and
    ``ret_seq`` ('q': how many ops had been invoked when this one completed, which orders a
    completion and an invocation recorded at the same timestamp the way they were recorded).

    The four completion columns are filled with their pending values a chunk at a time, ahead of
    the invocations (four appends per operation were a tenth of a client's work); reading one
    trims them to the operations invoked so far.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "client", "op", "key", "value", "expected", "t_invoke", "t_return", "result", "status",
        "ret_seq")
    __slots__ = ("client", "op", "key", "value", "expected", "t_invoke", "_t_return", "_result",
                 "_status", "_ret_seq")

    def __init__(self) -> None:
        self.client = array("i")
        self.op = array("b")
        self.key = array("q")
        self.value = array("q")
        self.expected = array("q")
        self.t_invoke = array("d")
        self._t_return = array("d")
        self._result = array("q")
        self._status = array("b")
        self._ret_seq = array("q")

    # -- recording (hot path) -------------------------------------------------------------------

    def invoke(self, client: int, op: int, key: int, value: int, expected: int, t: float) -> int:
        """Record the invocation of an operation at time ``t``; returns its op index."""
        i = len(self.op)
        self.client.append(client)
        self.op.append(op)
        self.key.append(key)
        self.value.append(value)
        self.expected.append(expected)
        self.t_invoke.append(t)
        if i == len(self._status):
            self._t_return.extend(_PENDING_T_RETURN)
            self._result.extend(_PENDING_RESULT)
            self._status.extend(_PENDING_STATUS)
            self._ret_seq.extend(_PENDING_RESULT)
        return i

    def ok(self, i: int, t: float, result: int) -> None:
        """Op ``i`` completed at time ``t``. ``result``: GET -> value read (0 = never written),
        PUT -> 1, CAS -> 1 if it swapped, 0 if not."""
        if not 0 <= i < len(self.op) or self._status[i] != PENDING:
            self._refuse(i)
        if t < self.t_invoke[i]:
            raise ValueError(f"op #{i} completes at t={t} before its invocation at "
                             f"t={self.t_invoke[i]}")
        self._status[i] = OK
        self._t_return[i] = t
        self._result[i] = int(result)
        self._ret_seq[i] = len(self.op)

    def info(self, i: int) -> None:
        """The outcome of op ``i`` is unknown (the client gave up): it may or may not have taken
        effect, at any time after its invocation."""
        if not 0 <= i < len(self.op) or self._status[i] != PENDING:
            self._refuse(i)
        self._status[i] = INFO
        self._t_return[i] = _INF

    def fail(self, i: int, t: float) -> None:
        """Op ``i`` definitely did not take effect (and never will). Only for certain failures,
        e.g. a rejection before the command could reach any log; a timeout is :meth:`info`."""
        if not 0 <= i < len(self.op) or self._status[i] != PENDING:
            self._refuse(i)
        self._status[i] = FAIL
        self._t_return[i] = t
        self._ret_seq[i] = len(self.op)

    def _refuse(self, i: int) -> None:
        """Op ``i`` cannot complete: it was never invoked, or it completed already."""
        if not 0 <= i < len(self.op):
            raise IndexError(f"op #{i} was never invoked ({len(self.op)} ops)")
        raise ValueError(f"op #{i} already completed ({STATUS_NAMES[self._status[i]]})")

    def finish(self) -> None:
        """End of the run: every op still pending becomes info."""
        status = self.status
        t_return = self.t_return
        start = 0
        while True:
            try:
                i = status.index(PENDING, start)
            except ValueError:
                return
            status[i] = INFO
            t_return[i] = _INF
            start = i + 1

    # -- the completion columns, as long as the others -----------------------------------------

    @property
    def t_return(self) -> array:
        return self._trimmed(self._t_return)

    @property
    def result(self) -> array:
        return self._trimmed(self._result)

    @property
    def status(self) -> array:
        return self._trimmed(self._status)

    @property
    def ret_seq(self) -> array:
        return self._trimmed(self._ret_seq)

    def _trimmed(self, column: array) -> array:
        n = len(self.op)
        for c in (self._t_return, self._result, self._status, self._ret_seq):
            if len(c) > n:  # drop the pending values not yet used
                del c[n:]
        return column

    # -- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.op)

    def __getitem__(self, i: int) -> Op:
        if i < 0:
            i += len(self.op)
        # client[i] refuses an index past the ops first, so the completion columns are read
        # untrimmed (a pending slot beyond the ops is never reached)
        return Op(i, self.client[i], self.op[i], self.key[i], self.value[i], self.expected[i],
                  self.t_invoke[i], self._t_return[i], self._status[i], self._result[i])

    def __iter__(self) -> Iterator[Op]:
        for i in range(len(self.op)):
            yield self[i]

    def count(self, status: int) -> int:
        """Number of ops with ``status`` (PENDING, OK, INFO or FAIL)."""
        return self.status.count(status)

    def nbytes(self) -> int:
        """Bytes held by the columns (excluding the arrays' over-allocation)."""
        return sum(len(a) * a.itemsize for a in (getattr(self, s) for s in self.COLUMNS))

    def describe(self, i: int) -> str:
        """A short human description, e.g. ``#12 put 42 [1.100000,1.200000]`` or
        ``#88 get->42 [1.200000,1.234000]`` or ``#7 cas 3->9 failed [0.5,inf) info``."""
        if i < 0:
            i += len(self.op)
        op = self.op[i]  # (refuses an index past the ops before a completion column is read)
        status = self._status[i]
        t0 = self.t_invoke[i]
        t1 = self._t_return[i]
        name = OP_NAMES[op] if 0 <= op < len(OP_NAMES) else f"op{op}"
        if op == GET:
            what = f"get->{self._result[i]}" if status == OK else "get"
        elif op == PUT:
            what = f"put {self.value[i]}"
        elif op == CAS:
            what = f"cas {self.expected[i]}->{self.value[i]}"
            if status == OK:
                what += " swapped" if self._result[i] else " not swapped"
        else:
            what = f"{name} {self.value[i]}"
        if status == OK:
            span = f"[{t0:.6f},{t1:.6f}]"
        elif status == FAIL:
            span = f"[{t0:.6f},{t1:.6f}] failed"
        else:
            span = f"[{t0:.6f},...) {STATUS_NAMES[status]}"
        return f"#{i} {what} {span}"

    def __repr__(self) -> str:
        return (f"History({len(self)} ops: {self.count(OK)} ok, {self.count(INFO)} info, "
                f"{self.count(FAIL)} fail, {self.count(PENDING)} pending)")
