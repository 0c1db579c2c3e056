"""The smallest window of a non-linearizable history: a handful of its operations that already
cannot be linearized together, so a user reads 4 operations instead of 4,000.

Only removals that cannot create a violation are made, so the window is a proof on its own: if
the history were linearizable, so would the window be.

* Cutting the history at some event (calls still open there become info) keeps a linearizable
  history linearizable; the shortest failing prefix is found by bisection.
* Dropping a read (a get, a cas that did not swap) keeps it linearizable.
* Dropping a write (put, swapping cas, info write) whose value no remaining op observes keeps it
  linearizable when no cas that did not swap remains: in a linearization, the ops between that
  write and the next one could only have observed its value.

Then delta debugging (Zeller's ddmin) over such removals leaves a window from which no single
operation can be dropped (1-minimal), unless the time runs out first.
"""

from __future__ import annotations

import bisect
import math
import time

from harness.checkers.linearizability import check_linearizability
from harness.history import CAS, FAIL, GET, INFO, OK, History


def sub_history(history: History, ops: list[int], cut: float = math.inf,
                cut_tie: int = -1) -> History:
    """The operations ``ops`` (indices, ascending) of ``history`` as a history of their own;
    those that complete after the event (``cut``, ``cut_tie``) become info."""
    out = History()
    ret_seq = history.ret_seq
    t_ret = history.t_return
    status = history.status
    for i in ops:
        out.invoke(history.client[i], history.op[i], history.key[i], history.value[i],
                   history.expected[i], history.t_invoke[i])
    for j, i in enumerate(ops):
        s = status[i]
        if s in (OK, FAIL) and (t_ret[i], 2 * ret_seq[i]) > (cut, cut_tie):
            s = INFO
        if s == OK:
            out.ok(j, t_ret[i], history.result[i])
        elif s == FAIL:
            out.fail(j, t_ret[i])
        else:
            out.info(j)
            continue
        out.ret_seq[j] = bisect.bisect_left(ops, ret_seq[i])
    return out


def smallest_window(history: History, key: int,
                    time_limit: float | None = None) -> tuple[list[int], bool]:
    """Operations of ``key`` (indices into ``history``) that cannot be linearized together, and
    whether the window is 1-minimal (False when the time ran out first). The key's history must
    be non-linearizable."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    status = history.status
    ops = [i for i in range(len(history)) if history.key[i] == key and status[i] != FAIL
           and not (history.op[i] == GET and status[i] != OK)]

    def left() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def fails(sub: list[int], cut: float = math.inf, cut_tie: int = -1) -> bool:
        return check_linearizability(sub_history(history, sub, cut, cut_tie),
                                     time_limit=left()).status == "violation"

    # The shortest failing prefix, by bisection over the key's events.
    events = sorted([(history.t_invoke[i], 2 * i + 1, i) for i in ops]
                    + [(history.t_return[i], 2 * history.ret_seq[i], -1) for i in ops
                       if status[i] == OK])
    lo, hi = 0, len(events)  # the prefix of hi events fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        t, tie, _ = events[mid - 1]
        sub = [i for i in ops if (history.t_invoke[i], 2 * i + 1) <= (t, tie)]
        if fails(sub, t, tie):
            hi = mid
        else:
            lo = mid
    t, tie, _ = events[hi - 1]
    window = [i for i in ops if (history.t_invoke[i], 2 * i + 1) <= (t, tie)]
    pruned = sub_history(history, window, t, tie)
    closed = {i for j, i in enumerate(window) if pruned.status[j] == INFO}  # cut open

    def is_read(i: int) -> bool:  # (a get cut open is an info get: it constrains nothing)
        return history.op[i] == GET or (history.op[i] == CAS and status[i] == OK
                                        and not history.result[i] and i not in closed)

    def removable(chunk: list[int], rest: list[int]) -> bool:
        writes = [i for i in chunk if not is_read(i)]
        if not writes:
            return True
        observed = set()
        for i in rest:
            if is_read(i) and history.op[i] == CAS:
                return False  # a cas that did not swap observed the absence of a value
            if history.op[i] == GET and i not in closed:
                observed.add(history.result[i])
            elif history.op[i] == CAS:
                observed.add(history.expected[i])
        return all(history.value[i] not in observed for i in writes)

    # ddmin over the complements.
    n = 2
    minimal = True
    while len(window) >= 2:
        if deadline is not None and time.monotonic() > deadline:
            minimal = False
            break
        size = math.ceil(len(window) / n)
        for s in range(0, len(window), size):
            chunk = window[s:s + size]
            rest = window[:s] + window[s + size:]
            if removable(chunk, rest) and fails(rest, t, tie):
                window = rest
                n = max(n - 1, 2)
                break
        else:
            if n >= len(window):
                break
            n = min(len(window), 2 * n)
    return window, minimal
