"""The objects a history brought from outside can be checked against, mapped onto the register
per key that :mod:`harness.checkers.linearizability` checks.

* ``register``: ``:read`` and ``:write`` of one register (Knossos' ``register``).
* ``cas-register``: ``:read``, ``:write`` and ``:cas [expected new]`` (Knossos' ``cas-register``,
  Porcupine's etcd model).
* ``kv``: a register per key (P-compositional), the key taken from ``:key`` or from the value
  ``[key value]`` (Jepsen's independent keys); ``:get``/``:put`` are read and write.

Every register starts empty (``nil``). Values may be anything EDN holds: each distinct value is
numbered (``nil`` is 0), so the checker sees integers; :class:`Imported` keeps the way back.

List-append is not here on purpose: Elle's list-append histories are transactions over many
keys, checked for serializability anomalies, not operations on one linearizable object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checkers.formats import Event, HistoryError
from harness.history import CAS, GET, PUT, History

MODELS = ("register", "cas-register", "kv")
_OPS = {
    "register": {"read": GET, "write": PUT},
    "cas-register": {"read": GET, "write": PUT, "cas": CAS},
    "kv": {"read": GET, "get": GET, "write": PUT, "put": PUT, "cas": CAS},
}


@dataclass
class Imported:
    """A history read from a file, as the checker takes it, with what is needed to show its
    operations as the file wrote them."""

    history: History
    lines: list[int] = field(default_factory=list)      # per op: the line of its invocation
    processes: list[int] = field(default_factory=list)  # per op: the process as written
    values: list[Any] | None = field(default_factory=lambda: [None])  # number -> value
    keys: list[Any] | None = field(default_factory=list)  # number -> key (None: as numbered)

    def value(self, n: int) -> Any:
        return self.values[n] if self.values is not None else (n or None)

    def show(self, i: int) -> str:
        """Operation ``i`` as written: ``line 12, process 3: cas 1->4 ok``."""
        h = self.history
        op, status = h.op[i], h.status[i]
        v = self.value
        if op == GET:
            what = f"read -> {_edn(v(h.result[i]))}" if status == 1 else "read"
        elif op == PUT:
            what = f"write {_edn(v(h.value[i]))}"
        else:
            what = f"cas {_edn(v(h.expected[i]))}->{_edn(v(h.value[i]))}"
            if status == 1 and not h.result[i]:
                what += " (no swap)"
        outcome = ("pending", "ok", "info", "fail")[status]
        if self.keys is None:
            key = f"key {h.key[i]}: "
        else:
            key = f"key {_edn(self.keys[h.key[i]])}: " if len(self.keys) > 1 else ""
        where = f"line {self.lines[i]}, " if self.lines else ""
        return f"{where}process {self.processes[i] if self.processes else h.client[i]}: " \
               f"{key}{what} {outcome}"


def _edn(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, tuple):
        return "[" + " ".join(_edn(v) for v in value) + "]"
    return str(value) if not isinstance(value, str) or value.startswith(":") else f'"{value}"'


def build(path: Path, events: list[Event], model: str) -> Imported:
    """Pair each process's invocation with its completion and build the History. Refuses, naming
    the line: a completion without an invocation, a process invoking while its call is still
    open, an operation the model does not have, a value of the wrong shape."""
    ops = _OPS[model]
    out = Imported(History())
    h = out.history
    value_ids: dict[Any, int] = {None: 0}
    key_ids: dict[Any, int] = {}
    open_: dict[int, tuple[int, Event]] = {}  # process -> (op index, invocation)

    def number(value: Any, line: int) -> int:
        try:
            n = value_ids.get(value)
        except TypeError:
            raise HistoryError(f"{path}: line {line}: a value must be a number, string, keyword "
                               f"or vector, got {value!r}") from None
        if n is None:
            n = value_ids[value] = len(out.values)
            out.values.append(value)
        return n

    def split(ev: Event) -> tuple[Any, Any]:
        """(key, value) of an event; for kv the key comes from ``:key`` or ``[key value]``."""
        if model != "kv":
            return 0, ev.value
        if ev.key is not None:
            return ev.key, ev.value
        if isinstance(ev.value, tuple) and len(ev.value) == 2:
            return ev.value
        raise HistoryError(f"{path}: line {ev.line}: the kv model needs a :key or a :value "
                           f"[key value], got :value {_edn(ev.value)}")

    t = 0.0
    for ev in events:
        t += 1.0  # the file's order is the real-time order
        if ev.type == "invoke":
            if ev.f not in ops:
                want = ", ".join(f":{f}" for f in ops)
                raise HistoryError(f"{path}: line {ev.line}: :f :{ev.f} is not an operation of "
                                   f"the {model} model (expected {want})")
            if ev.process in open_:
                raise HistoryError(
                    f"{path}: line {ev.line}: process {ev.process} invokes again while its call "
                    f"from line {open_[ev.process][1].line} is still open (a process that gave "
                    "up must come back with a new id)")
            k, v = split(ev)
            op = ops[ev.f]
            expected = 0
            if op == CAS:
                if not (isinstance(v, tuple) and len(v) == 2):
                    raise HistoryError(f"{path}: line {ev.line}: the :value of a :cas must be "
                                       f"[expected new], got {_edn(v)}")
                expected, v = number(v[0], ev.line), number(v[1], ev.line)
            elif op == PUT:
                v = number(v, ev.line)
            else:
                v = 0
            try:
                kid = key_ids.setdefault(k, len(key_ids))
            except TypeError:
                raise HistoryError(f"{path}: line {ev.line}: a key must be a number, string or "
                                   f"keyword, got {k!r}") from None
            if kid == len(out.keys):
                out.keys.append(k)
            i = h.invoke(0, op, kid, v, expected, t)
            out.lines.append(ev.line)
            out.processes.append(ev.process)
            open_[ev.process] = (i, ev)
            continue
        call = open_.pop(ev.process, None)
        if call is None:
            raise HistoryError(f"{path}: line {ev.line}: :{ev.type} of process {ev.process} "
                               "completes no invocation")
        i, inv = call
        if ev.f != inv.f:
            raise HistoryError(f"{path}: line {ev.line}: :{ev.type} :f :{ev.f} completes the "
                               f":{inv.f} invoked on line {inv.line}")
        if ev.type == "info":
            h.info(i)
        elif ev.type == "fail":
            h.fail(i, t)
        elif h.op[i] == GET:
            h.ok(i, t, number(split(ev)[1], ev.line))
        else:
            h.ok(i, t, 1 if ev.swapped else 0)
    h.finish()  # calls still open at the end may or may not have taken effect
    return out


def from_history(history: History) -> Imported:
    """A distbench history as read from its own CSV: values and keys are already numbers."""
    return Imported(history, values=None, keys=None)


def fit(path: Path, imported: Imported, model: str) -> None:
    """Refuse a distbench history the model cannot hold (cas in a register, many keys in one
    register), naming the CSV line."""
    h = imported.history
    for i in range(len(h)):
        if model == "register" and h.op[i] == CAS:
            raise HistoryError(f"{path}: line {i + 2}: op cas is not an operation of the "
                               "register model (expected get or put)")
        if model != "kv" and h.key[i] != h.key[0]:
            raise HistoryError(f"{path}: line {i + 2}: key {h.key[i]} is a second key; the "
                               f"{model} model has one register (use --model kv)")
