"""Why a history is not linearizable, in words: the violation the checker
(:mod:`harness.checkers.linearizability`) found on a key, named by the operations involved.
Apart from the search because it runs once per violation, never on the hot path."""

from __future__ import annotations

import numpy as np

from harness.history import CAS, FAIL, GET, OK, PUT, History
from workloads.kv import OP_NAMES


def _what(history: History, i: int) -> str:
    op = history.op[i]
    t = history.t_return[i]
    if op == GET:
        return f"get returned {history.result[i]} at t={t:.6f}s"
    if op == PUT:
        return f"put {history.value[i]} completed at t={t:.6f}s"
    r = "swapped" if history.result[i] else "did not swap"
    return f"cas {history.expected[i]}->{history.value[i]} {r} at t={t:.6f}s"


def describe_quick(history: History, k: int, q) -> str:
    """Human description of a violation the quick check found on key ``k`` (``q``: what kind,
    the read, the write of its value, the op that overwrote it or swapped it too)."""
    what, r, w, o = q
    v = history.result[r] if history.op[r] == GET else history.expected[r]
    head = f"key {k}: {_what(history, r)}"
    head += " but no linearization allows it: "
    if what == "never":
        keys = np.frombuffer(history.key, dtype=np.int64)
        vals = np.frombuffer(history.value, dtype=np.int64)
        cands = np.flatnonzero((keys == k) & (vals == v) &
                               (np.frombuffer(history.op, dtype=np.int8) != GET))
        why = "; ".join(history.describe(int(c)) for c in cands[:3])
        return (f"{head}no op wrote {v} to key {k} ({history.describe(r)}"
                + (f"; only {why}" if why else "") + ")")
    if what == "future":
        return (f"{head}it completed before the write of {v} began ({history.describe(r)}; "
                f"value {v} written by {history.describe(w)})")
    if what == "double-cas":
        return (f"{head}{history.describe(o)} also swapped from {v}, which is written only "
                f"once ({history.describe(r)})")
    src = f"value {v} written by {history.describe(w)}" if w >= 0 else "the initial value 0"
    return (f"{head}{src} was overwritten by "
            f"{history.describe(o)} before the {OP_NAMES[history.op[r]]} began "
            f"({history.describe(r)})")


def describe(history: History, k: int, info) -> str:
    """Human description of a violation on key ``k``, from the deepest dead end of the search:
    the op that could not be linearized before it returned (or, when that op is a write held
    back because the current value was still to be read, the read that needed it), the write(s)
    of the value it read, and the end of the longest linearizable prefix found."""
    i, state, last, held = info
    keys = np.frombuffer(history.key, dtype=np.int64)
    ops = np.frombuffer(history.op, dtype=np.int8)
    vals = np.frombuffer(history.value, dtype=np.int64)
    res = np.frombuffer(history.result, dtype=np.int64)
    exps = np.frombuffer(history.expected, dtype=np.int64)
    st = np.frombuffer(history.status, dtype=np.int8)
    t_inv = np.frombuffer(history.t_invoke, dtype=np.float64)
    parts = []
    blocker = i
    if held:
        # The write #i had to take effect (it returned) while value `state` was still to be
        # observed by a read that, in real time, comes later: name that read.
        readers = np.flatnonzero((keys == k) & (st == OK) & (
            ((ops == GET) & (res == state)) | ((ops == CAS) & (res != 0) & (exps == state))))
        if len(readers):
            later = readers[t_inv[readers] >= history.t_return[i]]
            r = int(later[0] if len(later) else readers[-1])
            parts.append(f"it needs value {state}, which {history.describe(i)} must overwrite "
                         f"first")
            i = r
    op = history.op[i]
    what = _what(history, i)
    parts.insert(0, history.describe(i))
    if op == GET or (op == CAS and history.result[i]):
        v = history.result[i] if op == GET else history.expected[i]
        if v != 0:
            writers = np.flatnonzero((keys == k) & (vals == v) & (ops != GET) & (st != FAIL))
            if len(writers):
                parts.append("value %d written by %s" % (
                    v, ", ".join(history.describe(int(w)) for w in writers[:3])))
            else:
                parts.append(f"value {v} never written to key {k}")
    if last >= 0:
        parts.append(f"longest linearizable prefix ends with {history.describe(last)}, "
                     f"value {state}")
    elif blocker == i:
        parts.append(f"nothing can be linearized before it (value {state})")
    return f"key {k}: {what} but no linearization allows it ({'; '.join(parts)})"
