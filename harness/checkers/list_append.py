"""Elle's list-append model (Kingsbury & Alvaro, VLDB 2020) for ``distbench check --model
list-append``: transactions of ``[:append k v]`` and ``[:r k [values]]`` micro-operations, read
from a Jepsen EDN history, judged against serializability.

Appending to a list makes versions recoverable: every read of key ``k`` returns a list that
must be a prefix of the key's final list, so the longest read gives the version order (a read
that is not a prefix of it is an ``incompatible-order`` anomaly), and each value names the one
transaction that appended it. From that, Adya's direct dependencies between the committed
transactions (an ``:info`` transaction counts once a read saw one of its appends):

* ``ww``: the appender of a value precedes the appender of the next value in the order; a value
  no read placed came after the whole order (else the longest read would hold it);
* ``wr``: the appender of a read's last value precedes the reader;
* ``rw``: a reader precedes the appender of the value after its last one, and the appenders of
  values no read placed (a read of ``[]`` precedes every appender of the key).

A cycle is G0 (``ww`` only), G1c (``ww`` and ``wr``), G-single (one ``rw``) or G2-item (more);
G0 and G1c are searched first, as Elle does, so the weakest anomaly present is the one named.
Without a cycle there can still be G1a (a read saw a value of a failed transaction), G1b (a read
saw a value its transaction later followed with another append to the key, an intermediate
state), an ``internal`` inconsistency (a transaction's read that does not reflect its own
appends, or holds one it makes only later) or a duplicated element. Cycle search reuses :mod:`harness.checkers.serializability`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import edn_format
from edn_format import Keyword

from harness.checkers.formats import HistoryError, _plain, edn_operations
from harness.checkers.serializability import find_cycle, strong_components

ANOMALY_ORDER = ("G0", "G1c", "G-single", "G2-item")


@dataclass
class Txn:
    """One transaction: the line of its invocation, its process, how it completed
    (``ok``, ``fail``, ``info``) and its micro-operations ``(f, key, value)`` as completed."""

    line: int
    process: int
    type: str = "info"
    ops: list[tuple[str, Any, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"T{self.line}"


@dataclass
class Verdict:
    """``valid``; for an invalid history, the anomaly's name and its account."""

    valid: bool
    transactions: int
    anomaly: str = ""
    detail: str = ""


def read(path: Path, text: str) -> list[Txn]:
    """The transactions of a Jepsen EDN list-append history, each invocation paired with its
    process's next completion; one that never completes stays ``info``."""
    txns: list[Txn] = []
    open_: dict[int, Txn] = {}
    appended: dict[tuple[Any, Any], int] = {}  # (key, value) -> the line that appended it
    for line, get in edn_operations(path, text):
        process, kind, f = get("process"), get("type"), get("f")
        if isinstance(process, Keyword):
            continue  # the nemesis
        if not isinstance(process, int) or isinstance(process, bool):
            raise HistoryError(f"{path}: line {line}: :process must be an integer, got {_show(process)}")
        if not isinstance(kind, Keyword) or kind.name not in ("invoke", "ok", "fail", "info"):
            raise HistoryError(f"{path}: line {line}: :type must be :invoke, :ok, :fail or :info, "
                               f"got {_show(kind)}")
        if f is not None and not (isinstance(f, Keyword) and f.name == "txn"):
            raise HistoryError(f"{path}: line {line}: :f must be :txn for the list-append model, "
                               f"got {_show(f)}")
        ops = _micro_ops(path, line, _plain(get("value")), kind.name)
        if kind.name == "invoke":
            if process in open_:
                raise HistoryError(f"{path}: line {line}: process {process} invokes again while its "
                                   f"call of line {open_[process].line} is still open")
            for f_, k, v in ops:
                if f_ == "append":
                    if (k, v) in appended:
                        raise HistoryError(f"{path}: line {line}: {_show(v)} is appended to key "
                                           f"{_show(k)} again (first at line {appended[(k, v)]}): "
                                           "list-append needs each value appended once per key")
                    appended[(k, v)] = line
            open_[process] = txn = Txn(line, process, "info", ops)
            txns.append(txn)
            continue
        txn = open_.pop(process, None)
        if txn is None:
            raise HistoryError(f"{path}: line {line}: :{kind.name} of process {process} completes "
                               "no invocation")
        if kind.name == "ok" and [(o[0], o[1]) for o in ops] != [(o[0], o[1]) for o in txn.ops]:
            raise HistoryError(f"{path}: line {line}: the completed micro-operations differ from "
                               f"those invoked at line {txn.line}")
        txn.type = kind.name
        if kind.name == "ok":
            txn.ops = ops
    if not txns:
        raise HistoryError(f"{path}: no transactions (expected maps like "
                           "{:process 0, :type :invoke, :value [[:append 1 2] [:r 1 nil]]})")
    return txns


def _micro_ops(path: Path, line: int, value: Any, kind: str) -> list[tuple[str, Any, Any]]:
    if value is None and kind in ("fail", "info"):
        return []
    if not isinstance(value, tuple):
        raise HistoryError(f"{path}: line {line}: :value must be a vector of micro-operations "
                           f"like [:append k v] or [:r k nil], got {_show(value)}")
    ops = []
    for op in value:
        f = op[0] if isinstance(op, tuple) and len(op) == 3 else None
        if f not in (":append", ":r"):
            raise HistoryError(f"{path}: line {line}: expected [:append k v] or [:r k values], "
                               f"got {_show(op)}")
        v = op[2]
        if f == ":r" and v is not None and not isinstance(v, tuple):
            raise HistoryError(f"{path}: line {line}: a read's value must be a vector or nil, "
                               f"got {_show(v)}")
        ops.append((f[1:], op[1], v))
    return ops


def _show(value: Any) -> str:
    """A value as EDN (keywords, read as ``:name`` strings, shown bare)."""
    if value is None:
        return "nothing"
    if isinstance(value, tuple):
        return "[" + " ".join(map(_show, value)) + "]"
    if isinstance(value, Keyword):
        return f":{value.name}"
    return value if isinstance(value, str) and value.startswith(":") else edn_format.dumps(value)


def check(txns: list[Txn]) -> Verdict:
    """Judge the transactions against serializability."""
    writer = {(k, v): t for t in txns for f, k, v in t.ops if f == "append"}
    committed = [t for t in txns if t.type == "ok"]
    for t in committed:
        wrong = _internal(t)
        if wrong:
            return _invalid(txns, "internal", wrong)
    reads = [(t, k, v) for t in committed for f, k, v in t.ops if f == "r" and v is not None]
    for t, k, values in reads:
        if len(set(values)) != len(values):
            return _invalid(txns, "duplicate-elements", f"{t} read key {k} as {_list(values)}")
        for v in values:
            w = writer.get((k, v))
            if w is not None and w.type == "fail":
                return _invalid(txns, "G1a", f"{t} read {v} of key {k}, appended by {w}, which failed")
        last = values[-1] if values else None
        w = writer.get((k, last))
        if w is not None and w is not t:
            mine = [v for f, kk, v in w.ops if f == "append" and kk == k]
            if mine and mine[-1] != last:
                return _invalid(txns, "G1b", f"{t} read key {k} as {_list(values)}, an intermediate "
                                f"state of {w}, which appended {mine[-1]} after {last}")
    orders: dict[Any, tuple] = {}
    longest_by: dict[Any, Txn] = {}
    for t, k, values in reads:
        longest = orders.get(k, ())
        n = min(len(values), len(longest))
        if values[:n] != longest[:n]:
            return _invalid(txns, "incompatible-order", f"key {k} read as {_list(longest)} by "
                            f"{longest_by[k]} and as {_list(values)} by {t}: neither is a prefix "
                            "of the other")
        if len(values) > len(longest):
            orders[k], longest_by[k] = values, t
    seen = {(k, v) for _, k, values in reads for v in values}
    live = {id(t) for t in committed} | {id(writer[kv]) for kv in seen if kv in writer}
    edges = _edges(txns, writer, orders, reads, live)
    return _cycles(txns, edges)


def _internal(t: Txn) -> str:
    """What ``t`` read of a key against its own appends, "" if consistent: a read after its
    appends ends with them (and equals its earlier read plus them, if it read before); a read
    holds none of the values it appends later."""
    known: dict[Any, tuple] = {}     # key -> the list as t last knew it whole
    since: dict[Any, tuple] = {}     # key -> t's appends after that (or since it began)
    later = defaultdict(set)         # key -> values t appends from here on
    for f, k, v in t.ops:
        if f == "append":
            later[k].add(v)
    for f, k, v in t.ops:
        if f == "append":
            since[k] = since.get(k, ()) + (v,)
            later[k].discard(v)
            continue
        if v is None:
            continue
        mine = since.get(k, ())
        expected = known[k] + mine if k in known else None
        if (expected is not None and v != expected) or v[len(v) - len(mine):] != mine or len(v) < len(mine):
            want = _list(expected) if expected is not None else "[... " + " ".join(map(str, mine)) + "]"
            return f"{t} read key {k} as {_list(v)} after its own appends, expected {want}"
        if later[k] & set(v):
            return f"{t} read key {k} as {_list(v)}, holding a value it appends only later"
        known[k], since[k] = v, ()
    return ""


def _edges(txns: list[Txn], writer: dict, orders: dict, reads: list, live: set[int]
           ) -> dict[int, list[tuple[int, str]]]:
    index = {id(t): i for i, t in enumerate(txns)}
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)

    def edge(a: Txn, label: str, b: Txn, k: Any) -> None:
        if a is not b and id(a) in live and id(b) in live:
            out[index[id(a)]].append((index[id(b)], f"{label}({k})"))

    unplaced: dict[Any, list[Txn]] = defaultdict(list)
    for (k, v), w in writer.items():
        if v not in orders.get(k, ()):
            unplaced[k].append(w)
    for k, order in orders.items():
        for a, b in zip(order, order[1:]):
            if (k, a) in writer and (k, b) in writer:
                edge(writer[(k, a)], "ww", writer[(k, b)], k)
        if order and (k, order[-1]) in writer:
            for w in unplaced[k]:
                edge(writer[(k, order[-1])], "ww", w, k)
    for t, k, values in reads:
        order = orders.get(k, ())
        if values and (k, values[-1]) in writer:
            edge(writer[(k, values[-1])], "wr", t, k)
        if len(values) < len(order) and (k, order[len(values)]) in writer:
            edge(t, "rw", writer[(k, order[len(values)])], k)
        for w in unplaced[k]:
            edge(t, "rw", w, k)
    return out


def _cycles(txns: list[Txn], edges: dict[int, list[tuple[int, str]]]) -> Verdict:
    """The weakest anomaly among the cycles: G0 in the ww edges alone, G1c in ww and wr, then any
    cycle, named by its rw edges."""
    for allowed in (("ww",), ("ww", "wr"), ("ww", "wr", "rw")):
        sub = {a: [(b, lab) for b, lab in out if lab.startswith(allowed)] for a, out in edges.items()}
        for component in strong_components(sub):
            members = set(component)
            inside = {a: [(b, lab) for b, lab in sub[a] if b in members] for a in component}
            cycle = find_cycle(inside)
            if cycle is not None:
                first = min(range(len(cycle)), key=lambda i: cycle[i][0])
                cycle = cycle[first:] + cycle[:first]  # from its earliest transaction
                rw = sum(lab.startswith("rw") for _, lab, _ in cycle)
                name = ("G0" if allowed == ("ww",) else "G1c" if rw == 0 else
                        "G-single" if rw == 1 else "G2-item")
                text = " ".join([str(txns[cycle[0][0]])] + [f"-{lab}-> {txns[b]}" for _, lab, b in cycle])
                return _invalid(txns, name, text)
    return Verdict(True, len(txns))


def _invalid(txns: list[Txn], anomaly: str, detail: str) -> Verdict:
    return Verdict(False, len(txns), anomaly, detail)


def _list(values: tuple) -> str:
    return "[" + " ".join(map(str, values)) + "]"
