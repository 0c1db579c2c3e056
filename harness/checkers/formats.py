"""Reading and writing histories in the formats other checkers use, so distbench's checker can
judge a history it did not record and Knossos, Porcupine or Elle can judge one it did.

* ``jepsen-edn``: Jepsen's ``history.edn``, one map per operation event
  (``{:process 0, :type :invoke, :f :read, :value nil}``), bare or inside ``[...]``/``(...)``;
  ``;`` comments allowed. ``:fail`` means the operation never took effect (as Knossos reads it).
  Events of non-client processes (``:nemesis``) are skipped.
* ``porcupine``: the Jepsen console log Porcupine's tests read
  (``INFO  jepsen.util - 3  :invoke  :cas  [3 0]``). As in Porcupine's etcd model, ``:fail
  :cas`` is a compare-and-set that answered "no swap" and ``:fail :read`` a read that timed out.
* ``distbench``: the columns of :class:`harness.history.History` as CSV, one row per operation
  (``distbench export --format distbench``): exact times, nothing lost.

Readers give :class:`Event` records (or, for ``distbench``, a History directly); every problem is
a :class:`HistoryError` naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import edn_format
from edn_format import ImmutableDict, ImmutableList, Keyword

from harness.history import CAS, FAIL, GET, INFO, OK, PENDING, PUT, History

FORMATS = ("jepsen-edn", "porcupine", "distbench")
TYPES = ("invoke", "ok", "fail", "info")


class HistoryError(ValueError):
    """A history file that cannot be read: one line naming the file, the line and what was
    expected."""


@dataclass(frozen=True)
class Event:
    """One line of a Jepsen-style history. ``value`` is plain Python (None, int, str, tuple);
    ``key`` is the ``:key`` field when there is one; ``swapped`` is False only for a cas that
    completed and reported it did not swap (Porcupine's logs)."""

    line: int
    process: int
    type: str
    f: str
    value: Any
    key: Any = None
    swapped: bool = True


def detect(path: Path, text: str) -> str:
    """The format of a file, from its name and first non-blank characters."""
    if path.suffix == ".csv" or text.startswith("index,client,"):
        return "distbench"
    if re.search(r"^\S*\s*INFO\s+jepsen\.util\s+-", text[:4096], re.M):
        return "porcupine"
    return "jepsen-edn"


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise HistoryError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read it ({exc.strerror or exc})") from None


# -- jepsen-edn -------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """An EDN value as plain, hashable Python: keywords as ``:name`` strings, vectors and lists
    as tuples, maps as sorted tuples of pairs."""
    if isinstance(value, Keyword):
        return f":{value.name}"
    if isinstance(value, (list, tuple, ImmutableList)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (dict, ImmutableDict)):
        return tuple(sorted(((_plain(k), _plain(v)) for k, v in value.items()), key=repr))
    if isinstance(value, (set, frozenset)):
        return frozenset(_plain(v) for v in value)
    return value


def _maps(path: Path, text: str) -> Iterator[tuple[int, str]]:
    """The text of each top-level map and the line it starts on; the maps may sit inside one
    outer vector or list. Strings and comments are skipped when matching brackets."""
    depth = 0
    start = -1
    start_line = line = 1
    outer = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == ";":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    line += 1
                j += 1
            if j >= n:
                raise HistoryError(f"{path}: line {line}: truncated: a string is not closed")
            i = j
        elif c == "{":
            if depth == 0:
                start, start_line = i, line
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                raise HistoryError(f"{path}: line {line}: not EDN: '}}' closes nothing")
            if depth == 0:
                yield start_line, text[start:i + 1]
        elif depth == 0 and not c.isspace() and c != ",":
            if c in "[(" and not outer:
                outer = True
            elif c in "])" and outer:
                outer = False
            else:
                word = text[i:i + 20].split()[0]
                raise HistoryError(f"{path}: line {line}: not EDN: expected a map "
                                   f"{{:type ... :f ... :process ...}}, found {word!r}")
        i += 1
    if depth > 0:
        raise HistoryError(f"{path}: line {start_line}: truncated: the map opened here is not "
                           "closed at the end of the file")
    if outer:
        raise HistoryError(f"{path}: line {line}: truncated: the outer [ or ( is not closed")


def edn_operations(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """Each top-level map of an EDN history: the line it starts on and a lookup of its keys by
    name (``get("process")`` for ``:process``)."""
    for line, source in _maps(path, text):
        try:
            m = edn_format.loads(source)
        except Exception as exc:  # edn_format raises several kinds, all "not EDN"
            raise HistoryError(f"{path}: line {line}: not EDN ({exc})") from None
        yield line, {(k.name if isinstance(k, Keyword) else str(k)): v for k, v in m.items()}.get


def read_jepsen_edn(path: Path, text: str) -> list[Event]:
    events = []
    for line, get in edn_operations(path, text):
        process = get("process")
        if isinstance(process, Keyword):
            continue  # the nemesis and other non-client processes
        if not isinstance(process, int) or isinstance(process, bool):
            raise HistoryError(f"{path}: line {line}: :process must be an integer or a keyword, "
                               f"got {_show(process)}")
        events.append(Event(line, process, _keyword(path, line, get("type"), "type", TYPES),
                            _keyword(path, line, get("f"), "f"), _plain(get("value")),
                            _plain(get("key"))))
    return events


def _keyword(path: Path, line: int, value: Any, key: str, allowed: tuple[str, ...] = ()) -> str:
    if not isinstance(value, Keyword) or (allowed and value.name not in allowed):
        want = " or ".join(f":{a}" for a in allowed) if allowed else "a keyword"
        raise HistoryError(f"{path}: line {line}: :{key} must be {want}, got {_show(value)}")
    return value.name


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    return edn_format.dumps(value) if not isinstance(value, str) else repr(value)


# -- porcupine (Jepsen's console log) ----------------------------------------------------------

_LOG = re.compile(r"INFO\s+jepsen\.util\s+-\s+(\S+)\s+:(\S+)\s+:(\S+)\s*(.*?)\s*$")


def read_porcupine(path: Path, text: str) -> list[Event]:
    events = []
    for line, row in enumerate(text.splitlines(), 1):
        if "jepsen.util" not in row:
            continue
        m = _LOG.search(row)
        if m is None or not m.group(1).lstrip("-").isdigit():
            raise HistoryError(f"{path}: line {line}: expected 'INFO jepsen.util - PROCESS :TYPE "
                               f":F VALUE', got {row.strip()[:60]!r}")
        process, kind, f, rest = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if kind not in TYPES:
            raise HistoryError(f"{path}: line {line}: :{kind} is not a type (expected :invoke, "
                               ":ok, :fail or :info)")
        try:
            value = _plain(edn_format.loads(rest)) if rest else None
        except Exception:
            raise HistoryError(f"{path}: line {line}: not EDN: the value {rest!r}") from None
        swapped = True
        if kind == "fail" and f == "cas":
            kind, swapped = "ok", False  # the compare failed: an answer, not an absence
        elif kind == "fail":
            kind = "info"  # a timed-out read, as Porcupine reads it
        events.append(Event(line, process, kind, f, value, None, swapped))
    if not events:
        raise HistoryError(f"{path}: no operations (expected lines like "
                           "'INFO jepsen.util - 0 :invoke :read nil')")
    return events


# -- distbench (History columns as CSV) --------------------------------------------------------

_INTS = {"client", "op", "key", "value", "expected", "result", "ret_seq"}
_STATUS = {"pending": PENDING, "ok": OK, "info": INFO, "fail": FAIL}
_OPS = {"get": GET, "put": PUT, "cas": CAS}
_HEADER = ["index", "client", "op", "key", "value", "expected", "t_invoke", "t_return", "status",
           "result", "ret_seq"]


def write_distbench(history: History, out: io.TextIOBase) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(_HEADER)
    names = {v: k for k, v in _OPS.items()}
    statuses = {v: k for k, v in _STATUS.items()}
    for op, seq in zip(history, history.ret_seq):
        w.writerow([op.index, op.client, names[op.op], op.key, op.value, op.expected,
                    repr(op.t_invoke), repr(op.t_return), statuses[op.status], op.result, seq])


def read_distbench(path: Path, text: str) -> History:
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header != _HEADER:
        raise HistoryError(f"{path}: line 1: expected the header {','.join(_HEADER)}")
    h = History()
    for line, row in enumerate(rows, 2):
        if len(row) != len(_HEADER):
            raise HistoryError(f"{path}: line {line}: truncated: expected {len(_HEADER)} columns, "
                               f"got {len(row)}")
        r = dict(zip(_HEADER, row))
        vals: dict[str, Any] = {}
        for name in _HEADER[1:]:
            text_ = r[name]
            try:
                if name == "op":
                    vals[name] = _OPS[text_]
                elif name == "status":
                    vals[name] = _STATUS[text_]
                elif name in _INTS:
                    vals[name] = int(text_)
                else:
                    vals[name] = float(text_)
            except (KeyError, ValueError):
                want = {"op": "get, put or cas", "status": "ok, info, fail or pending"}.get(
                    name, "an integer" if name in _INTS else "a number")
                raise HistoryError(f"{path}: line {line}: {name} must be {want}, "
                                   f"got {text_!r}") from None
        if r["index"] != str(len(h)):
            raise HistoryError(f"{path}: line {line}: index must be {len(h)} (rows in order, "
                               f"none missing), got {r['index']!r}")
        i = h.invoke(vals["client"], vals["op"], vals["key"], vals["value"], vals["expected"],
                     vals["t_invoke"])
        status = vals["status"]
        if status in (OK, FAIL) and not vals["t_return"] >= vals["t_invoke"]:
            raise HistoryError(f"{path}: line {line}: t_return must not be before t_invoke")
        if status == OK:
            h.ok(i, vals["t_return"], vals["result"])
        elif status == FAIL:
            h.fail(i, vals["t_return"])
        elif status == INFO:
            h.info(i)
        if status in (OK, FAIL):
            h.ret_seq[i] = vals["ret_seq"]
    return h


# -- jepsen-edn, written -----------------------------------------------------------------------

def write_jepsen_edn(history: History, out: io.TextIOBase) -> None:
    """One map per event, in time order, keys as Jepsen's independent checker expects
    (``:value [key value]``; a cas's value is ``[key [expected new]]``). A cas that did not swap
    is written as ``:fail`` (as Jepsen's clients record it), so Knossos drops it: what it
    observed is not checked. An operation given up on is closed with ``:info`` just before its
    client's next invocation (or at the end), and, as in Jepsen, the client then goes on as a
    new process (its id plus the number of clients). ``:time`` is in nanoseconds."""
    ops = list(history)
    seq = history.ret_seq
    events = []
    for o in ops:
        events.append((o.t_invoke, 2 * o.index + 1, o.index, "invoke"))
        if o.status in (OK, FAIL):
            events.append((o.t_return, 2 * seq[o.index], o.index, "done"))
    events.sort()
    stride = max((o.client for o in ops), default=0) + 1
    process: dict[int, int] = {}
    given_up: dict[int, int] = {}  # client -> its op still open, given up on

    def line(o: Any, typ: str, arg: str, t: float | None, extra: str = "") -> None:
        f = ("read", "write", "cas")[o.op]
        when = f", :time {_ns(t)}" if t is not None else ""
        out.write(f"{{:process {process[o.client]}, :type :{typ}, :f :{f}, "
                  f":value [{o.key} {arg}]{when}{extra}}}\n")

    def close(client: int, t: float | None) -> None:
        line(ops[given_up.pop(client)], "info", "nil", t)
        process[client] += stride

    for t, _tie, i, what in events:
        o = ops[i]
        arg = (f"[{_v(o.expected)} {_v(o.value)}]" if o.op == CAS else _v(o.value)
               if o.op == PUT else "nil")
        if what == "invoke":
            if o.client in given_up:
                close(o.client, t)
            process.setdefault(o.client, o.client)
            line(o, "invoke", arg, t)
            if o.status in (INFO, PENDING):
                given_up[o.client] = i
        elif o.status == FAIL:
            line(o, "fail", arg, t)
        elif o.op == CAS and not o.result:
            line(o, "fail", arg, t, ", :error :mismatch")
        else:
            line(o, "ok", _v(o.result) if o.op == GET else arg, t)
    for client in sorted(given_up):
        close(client, None)


def _v(value: int) -> str:
    """A distbench value in EDN: 0 is the register's initial value, nil."""
    return str(value) if value else "nil"


def _ns(t: float) -> int:
    return int(round(t * 1e9)) if math.isfinite(t) else 0
