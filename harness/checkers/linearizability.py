"""Linearizability of a key-value history, key by key.

The model is one register per key (initial value 0): GET returns the current value, PUT sets it,
CAS(expected, value) swaps iff the current value equals ``expected`` and returns 1 (swapped) or
0. A history is linearizable iff each key's sub-history is (P-compositionality, as in Porcupine
and Lowe's "Testing for linearizability"), so keys are checked independently, smallest first.

Each key is checked with the Wing & Gong search with Lowe's memoization (WGL): invocation and
return events in time order in a doubly linked list; the search linearizes, depth first, any op
whose invocation comes before the first pending return, memoizing every (linearized set,
register value) configuration it has seen so none is explored twice. The linearized set is kept
as (every op below ``base``, a small bitset above it), so the memo stays small on long keys.

Semantics that matter:

* An *info* op (the client gave up) has return time +infinity. An info GET constrains nothing and
  is dropped. An info PUT/CAS may take effect at any point after its invocation, or never;
  "never" is the same as "at the very end", so a key is linearizable as soon as every *ok* op
  is linearized. A *fail* op never took effect and is ignored; a pending op counts as info.
* Events at one timestamp keep the order in which they were recorded (``History.ret_seq``): an
  op whose completion was recorded before another's invocation precedes it.
* The search is bounded by a global step budget (and, if given, a deadline); running out gives
  ``unknown``, never ``ok``.

Pruning, each sound on its own (and cross-checked against brute force in the tests); the ones
marked (u) apply only to keys whose written values are all distinct and non-zero, which the
workload guarantees (values are command uids) and the checker verifies per key:

* An applicable read (a get, a cas that did not swap) dominates every other move at that
  configuration: it changes nothing and only removes a constraint. If it fails, so does the
  configuration.
* (u) While a get of the current value, or a swapping cas expecting it, is not linearized, no
  other write may be: the value, once overwritten, never comes back.
* (u) A put of a value nobody observes, when the current value is dead too, dominates every other
  move in keys without failed or info cas.
* (u) An info write of a value nobody observes is dropped in keys without a failed cas.
* An info write is only linearized where it changes the value and the op right after it
  distinguishes the new value from the old one; any linearization can be rearranged so by
  moving info writes later or to the end.
* (u) Linear-time necessary conditions (a read of a value nobody wrote, a read completing before
  its write began, a read beginning after its value was overwritten by a completed write, two
  swaps from one value) are checked before the search on big keys, after it runs out of budget
  on any key, and to name the culprit of a violation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.checkers.linearizability_explain import describe, describe_quick
from harness.history import CAS, FAIL, GET, OK, PUT, History

__all__ = ["LinearizabilityResult", "check_linearizability", "check", "DEFAULT_BUDGET"]

DEFAULT_BUDGET = 50_000_000
# Keys with at least this many events get the linear-time necessary conditions checked before
# the search (which, on a violation, may have to exhaust a large space to prove it).
QUICK_CHECK_FIRST = 2_000

# Per-op kinds for the search (the op code folded with what its outcome tells).
K_GET, K_PUT, K_CAS_OK, K_CAS_FAIL, K_CAS_INFO = 0, 1, 2, 3, 4

_RET = -2   # match[] of a return entry (and of the tail sentinel)
_INFO = -1  # match[] of the call entry of an info op (it has no return entry)

# One key's events, column by column: op index, is-return, kind, value, expected value, is-ok.
Lists = tuple[list[int], list[bool], list[int], list[int], list[int], list[bool]]


@dataclass
class LinearizabilityResult:
    status: str        # "ok" | "violation" | "unknown"
    detail: str        # why (for a violation: the key, the op that cannot be placed, context)
    keys_checked: int  # keys whose check completed
    steps: int         # search steps spent over all keys
    key: int | None = None  # for a violation: the key (each key is checked on its own)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def verdict(self) -> tuple[str, str]:
        return self.status, self.detail

    def __str__(self) -> str:
        return self.status if self.status == "ok" else f"{self.status}: {self.detail}"


class _Exhausted(Exception):
    """args: (steps spent, True when the step budget ran out rather than the time limit)."""


def check_linearizability(history: History, budget: int = DEFAULT_BUDGET,
                          time_limit: float | None = None) -> LinearizabilityResult:
    """Check ``history`` against a register per key. Pending ops are treated as info (the
    history need not be finished). ``budget``: maximum search steps over all keys;
    ``time_limit``: seconds of search, at most (None: no limit)."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    n = len(history)
    if n == 0:
        return LinearizabilityResult("ok", "empty history", 0, 0)
    op = np.frombuffer(history.op, dtype=np.int8)
    status = np.frombuffer(history.status, dtype=np.int8)
    key = np.frombuffer(history.key, dtype=np.int64)
    value = np.frombuffer(history.value, dtype=np.int64)
    expected = np.frombuffer(history.expected, dtype=np.int64)
    result = np.frombuffer(history.result, dtype=np.int64)
    t_inv = np.frombuffer(history.t_invoke, dtype=np.float64)
    t_ret = np.frombuffer(history.t_return, dtype=np.float64)
    ret_seq = np.frombuffer(history.ret_seq, dtype=np.int64)

    is_ok = status == OK
    # Failed ops never happened; an info (or still pending) get constrains nothing.
    keep = (status != FAIL) & (is_ok | (op != GET))
    if not np.all((op == GET) | (op == PUT) | (op == CAS)):
        bad = int(np.flatnonzero((op != GET) & (op != PUT) & (op != CAS))[0])
        raise ValueError(f"op #{bad}: unknown op code {int(op[bad])}")

    kind = np.full(n, K_PUT, dtype=np.int8)
    kind[op == GET] = K_GET
    is_cas = op == CAS
    kind[is_cas & is_ok & (result != 0)] = K_CAS_OK
    kind[is_cas & is_ok & (result == 0)] = K_CAS_FAIL
    kind[is_cas & ~is_ok] = K_CAS_INFO
    arg = np.where(op == GET, result, value)  # GET: value read; PUT/CAS: value written

    idx = np.flatnonzero(keep)
    rets = idx[is_ok[idx]]
    # Events: calls at (t_invoke, 2*i+1), returns at (t_return, 2*ret_seq); ties at one timestamp
    # thus keep the order of recording (a completion recorded before op i's invocation has
    # ret_seq <= i). Info ops have no return event.
    ev_op = np.concatenate((idx, rets))
    ev_ret = np.concatenate((np.zeros(len(idx), dtype=bool), np.ones(len(rets), dtype=bool)))
    ev_t = np.concatenate((t_inv[idx], t_ret[rets]))
    ev_tie = np.concatenate((2 * idx + 1, 2 * ret_seq[rets]))
    ev_key = key[ev_op]
    if len(ev_key) == 0:
        return LinearizabilityResult("ok", "no op constrains the history (only info gets and "
                                     "failed ops)", 0, 0)
    order = np.lexsort((ev_tie, ev_t, ev_key))
    ev_op = ev_op[order]
    ev_ret = ev_ret[order]
    ev_key = ev_key[order]
    bounds = np.flatnonzero(np.diff(ev_key)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(ev_key)]))
    # Smallest keys first: a violation anywhere is definitive, and cheap keys then never go
    # unchecked because one expensive key ran out of budget.
    key_order = np.argsort(ends - starts, kind="stable").tolist()

    remaining = budget
    total_steps = 0
    nkeys = len(starts)

    def key_lists(ki: int) -> Lists:
        s, e = int(starts[ki]), int(ends[ki])
        ops = ev_op[s:e]
        return (ops.tolist(), ev_ret[s:e].tolist(), kind[ops].tolist(), arg[ops].tolist(),
                expected[ops].tolist(), is_ok[ops].tolist())

    for checked, ki in enumerate(key_order):
        k = int(ev_key[starts[ki]])
        size = int(ends[ki] - starts[ki])
        lists = key_lists(ki)
        if size >= QUICK_CHECK_FIRST:
            q = _quick_check(*lists)
            if q is not None:
                return LinearizabilityResult("violation", describe_quick(history, k, q),
                                             checked, total_steps, k)
        try:
            verdict, steps, info = _check_key(*lists, remaining, deadline)
        except _Exhausted as ex:
            total_steps += ex.args[0]
            # Out of budget: the linear-time necessary conditions may still prove a violation
            # in this key or a later one.
            for kj in key_order[checked:]:
                q = _quick_check(*key_lists(kj))
                if q is not None:
                    kq = int(ev_key[starts[kj]])
                    return LinearizabilityResult(
                        "violation", describe_quick(history, kq, q), checked, total_steps, kq)
            return LinearizabilityResult(
                "unknown",
                (f"search budget of {budget} steps" if ex.args[1] else
                 f"time limit of {time_limit:g} s") + f" exhausted on key {k} "
                f"({size} events; {checked} of {nkeys} keys checked)",
                checked, total_steps)
        remaining -= steps
        total_steps += steps
        if not verdict:
            q = _quick_check(*lists)
            detail = describe_quick(history, k, q) if q else describe(history, k, info)
            return LinearizabilityResult("violation", detail, checked, total_steps, k)
    return LinearizabilityResult("ok", f"{int(keep.sum())} ops over {nkeys} keys linearizable",
                                 nkeys, total_steps)


check = check_linearizability


def _check_key(ev_op: list[int], ev_ret: list[bool], ev_kind: list[int], ev_arg: list[int],
               ev_exp: list[int], ev_isok: list[bool], budget: int,
               deadline: float | None = None) -> tuple[bool, int, Any]:
    """WGL on one key. Inputs are per event, in event order. Returns (linearizable, steps, info)
    where info describes the deepest dead end, for a violation."""
    # Drop info writes that can always be moved to the end (see module docstring).
    if not all(ev_isok):
        ev_op, ev_ret, ev_kind, ev_arg, ev_exp, ev_isok = _drop_unobserved_info_writes(
            ev_op, ev_ret, ev_kind, ev_arg, ev_exp, ev_isok)

    E = len(ev_op)
    T = E + 1  # tail sentinel; entries 1..E (in event order, so numbers are positions), head 0
    nxt = list(range(1, E + 2)) + [T]
    prv = [0] + list(range(0, E + 1))
    match = [_RET] * (E + 2)
    kind = [0] * (E + 2)
    a = [0] * (E + 2)
    x = [0] * (E + 2)
    bit = [0] * (E + 2)
    opidx = [-1] * (E + 2)
    call_of: dict[int, int] = {}
    nok = 0
    nin = 0
    unread: dict[int, int] = {}  # value -> ops still to observe it (gets of it, swapping cas expecting it)
    written = set()
    unique = True
    first_reader: dict[int, int] = {}  # value -> first entry of an op that can follow an info write of it
    first_fail: dict[int, int] = {}    # value -> first entry of a failed cas expecting it
    # Twins: two ops with the same effect (kind, value, expected) where one is invoked no later
    # and returns no later than the other are interchangeable, earlier first: a linearization
    # that places the later twin before the earlier one stays valid with the two swapped, and
    # shows the same values. So a twin is linearized only after the one before it -- with
    # repeated values, this spares exploring the same writes in every order. twin[c]: for an
    # info op, the mask of its twin's bit in linfo (0: none); twin_ok[c]: for an ok write, its
    # twin's bit + 1 (0: none).
    twin = [0] * (E + 2)
    twin_ok = [0] * (E + 2)
    last_twin: dict[tuple[int, int, int], int] = {}
    for j in range(E):
        c = j + 1
        i = ev_op[j]
        opidx[c] = i
        if ev_ret[j]:
            call = call_of.pop(i)
            match[call] = c
            kind[c] = kind[call]  # for diagnostics only
            continue
        kd = kind[c] = ev_kind[j]
        v = a[c] = ev_arg[j]
        e = x[c] = ev_exp[j]
        if kd == K_GET:
            unread[v] = unread.get(v, 0) + 1
            first_reader.setdefault(v, c)
        elif kd == K_CAS_FAIL:
            first_fail.setdefault(e, c)
        else:
            if kd == K_CAS_OK:
                unread[e] = unread.get(e, 0) + 1
            if kd != K_PUT:
                first_reader.setdefault(e, c)
            if v == 0 or v in written:
                unique = False
            written.add(v)
        if ev_isok[j]:
            call_of[i] = c
            bit[c] = nok
            nok += 1
        else:
            match[c] = _INFO
            bit[c] = nin
            same = (kd, v, e)
            if same in last_twin:
                twin[c] = 1 << last_twin[same]
            last_twin[same] = nin
            nin += 1
    if nok == 0:
        return True, 0, None
    writes: dict[tuple[int, int, int], list[int]] = {}
    for c in range(1, E + 1):
        if match[c] >= 0 and (kind[c] == K_PUT or kind[c] == K_CAS_OK):
            twins = writes.setdefault((kind[c], a[c], x[c]), [])
            for t in reversed(twins[-16:]):
                if match[t] < match[c]:
                    twin_ok[c] = bit[t] + 1
                    break
            twins.append(c)
    if not unique:
        unread = {}
    # R1. With unique written values, a value overwritten is gone for good: while some get that
    # returns the current value, or some swapping cas that expects it, is not linearized, no
    # (other) write may be -- that op could never be linearized after it.
    has_unread = unread.get
    # R2. A put of a value nobody observes, at a point where the current value is dead too (R1
    # lets no write through otherwise), dominates every alternative when the key has no failed
    # or info cas: any completion stays valid with that put moved to the front. Like an
    # applicable read, it is then the only move tried at that configuration.
    blind = set()
    if unique:
        for c in range(1, E + 1):
            if match[c] != _RET and (kind[c] == K_CAS_FAIL or kind[c] == K_CAS_INFO):
                break
        else:
            blind = {a[c] for c in range(1, E + 1)
                     if match[c] >= 0 and kind[c] == K_PUT and a[c] not in unread}
    NEVER = E + 2

    # Search state: register value; ok ops linearized as (base, bits): every ok op with id <
    # base is linearized, bit d of bits says whether op base+d is (bit 0 always clear); info ops
    # linearized as the bitset linfo; ob: the value before the info write linearized last, while
    # the op right after it is still to come (else None). An info write is only linearized when
    # it changes the value and the next op distinguishes the new value from the old one (a get
    # of the new value, a cas expecting it, a failed cas expecting the old one): any
    # linearization can be rearranged that way by moving info writes later or to the end, where
    # they have no effect ("never").
    state = 0
    base = 0
    bits = 0
    linfo = 0
    ob = None
    fr = -1  # entry of the first return in the list at this configuration (-1: not computed)
    cache: set[tuple[int, int, int, int, int | None]] = set()
    stack: list[tuple[int, int, int, int, int, int | None]] = []
    push = stack.append
    pop = stack.pop
    seen = cache.__contains__
    remember = cache.add
    steps = 0
    best_depth = -1
    best = None
    entry = nxt[0]
    check_at = min(budget, 65536)
    while True:
        steps += 1
        if steps > check_at:  # every 2^16 steps: the budget, then the clock
            if steps > budget:
                raise _Exhausted(budget, True)
            if deadline is not None and time.monotonic() > deadline:
                raise _Exhausted(steps, False)
            check_at = min(budget, steps + 65536)
        m = match[entry]
        if m != _RET:
            # A call entry: try to linearize its op now.
            kd = kind[entry]
            if kd == K_GET:
                if state != a[entry]:
                    entry = nxt[entry]
                    continue
                ns = state
            elif kd == K_CAS_FAIL:
                if state == x[entry] or (ob is not None and x[entry] != ob):
                    entry = nxt[entry]
                    continue
                ns = state
            else:
                if kd == K_PUT:
                    if ob is not None:
                        entry = nxt[entry]
                        continue
                    ns = a[entry]
                elif kd == K_CAS_OK:
                    if state != x[entry]:
                        entry = nxt[entry]
                        continue
                    ns = a[entry]
                else:  # K_CAS_INFO: linearized only where it swaps
                    if state != x[entry]:
                        entry = nxt[entry]
                        continue
                    ns = a[entry]
                if ns != state and has_unread(state, 0) > (kd == K_CAS_OK):
                    entry = nxt[entry]
                    continue
            if m >= 0:
                tw = twin_ok[entry] - base - 1
                if tw >= 0 and not (bits >> tw) & 1:  # its twin is not linearized yet
                    entry = nxt[entry]
                    continue
                d = bit[entry] - base
                if d:
                    nbits = bits | (1 << d)
                    nbase = base
                else:
                    nbits = bits | 1
                    t = (~nbits & (nbits + 1)).bit_length() - 1  # trailing ones
                    nbits >>= t
                    nbase = base + t
                cfg: tuple[int, int, int, int, int | None] = (nbase, nbits, linfo, ns, None)
                if seen(cfg):
                    if kd == K_GET or kd == K_CAS_FAIL or (blind and kd == K_PUT and ns in blind):
                        entry = T  # a dominant move already failed here: backtrack
                    else:
                        entry = nxt[entry]
                    continue
                remember(cfg)
                push((entry, state, base, bits, linfo, ob))
                if unique and (kd == K_GET or kd == K_CAS_OK):
                    n = unread[state] - 1
                    if n:
                        unread[state] = n
                    else:
                        del unread[state]
                state = ns
                base = nbase
                bits = nbits
                ob = None
                # lift the call and its return
                p = prv[entry]
                q = nxt[entry]
                nxt[p] = q
                prv[q] = p
                p = prv[m]
                q = nxt[m]
                nxt[p] = q
                prv[q] = p
                if base == nok:
                    return True, steps, None
            else:
                if ns == state or twin[entry] & ~linfo:
                    entry = nxt[entry]
                    continue
                # Is some op that would distinguish ns from state invoked yet? (A cheap, safe
                # over-approximation; it spares trying writes of values read much later.)
                if fr < 0:
                    fr = entry
                    while match[fr] != _RET:
                        fr = nxt[fr]
                if first_reader.get(ns, NEVER) > fr and first_fail.get(state, NEVER) > fr:
                    entry = nxt[entry]
                    continue
                nlinfo = linfo | (1 << bit[entry])
                cfg = (base, bits, nlinfo, ns, state)
                if seen(cfg):
                    entry = nxt[entry]
                    continue
                remember(cfg)
                push((entry, state, base, bits, linfo, ob))
                ob = state
                state = ns
                linfo = nlinfo
                p = prv[entry]
                q = nxt[entry]
                nxt[p] = q
                prv[q] = p
            fr = -1
            entry = nxt[0]
        else:
            # A return entry (or the tail): the op it ends was not linearized in time. Backtrack.
            if len(stack) > best_depth and entry != T:
                best_depth = len(stack)
                # The deepest dead end: the op that could not be linearized before it returned,
                # the value then, the last op linearized, and whether the op is a write that was
                # held back because the current value was still to be observed.
                kd = kind[entry]
                held = bool(unique and unread.get(state) and kd != K_GET and kd != K_CAS_FAIL)
                best = (opidx[entry], state, opidx[stack[-1][0]] if stack else -1, held)
            fr = -1
            while True:
                if not stack:
                    return False, steps, best
                entry, state, base, bits, linfo, ob = pop()
                m = match[entry]
                if m >= 0:
                    nxt[prv[m]] = m
                    prv[nxt[m]] = m
                nxt[prv[entry]] = entry
                prv[nxt[entry]] = entry
                kd = kind[entry]
                # A read (a get, a cas that did not swap) that was applicable dominates every
                # alternative at that configuration: linearizing it changes no value and only
                # removes a constraint. Its failure is the configuration's; backtrack further.
                # Likewise a blind put (R2).
                if kd == K_GET:
                    if unique:
                        unread[state] = unread.get(state, 0) + 1
                elif kd != K_CAS_FAIL:
                    if kd == K_CAS_OK and unique:
                        unread[state] = unread.get(state, 0) + 1
                    if not (blind and kd == K_PUT and a[entry] in blind):
                        break
            entry = nxt[entry]


def _drop_unobserved_info_writes(ev_op: list[int], ev_ret: list[bool], ev_kind: list[int],
                                 ev_arg: list[int], ev_exp: list[int], ev_isok: list[bool]) -> Lists:
    """Remove info writes X of a value v (v != 0, written by no other op of this key) that no
    op observes (no ok GET returned v, no CAS expected v), provided no ok CAS of the key failed.

    Sound because: with X, a linearization of the rest extends by putting X last (its return is
    at infinity); and from a linearization L containing X, dropping X and moving the info CASes
    that sat, as no-ops, between X and the next write to the end gives one without X -- between X
    and the next write only GETs of v (none), failed CASes (no ok ones) and info CAS no-ops can
    sit, and the next write is a PUT or a CAS expecting v (none).
    """
    observed = set()
    written: dict[int, int] = {}
    for j in range(len(ev_op)):
        if ev_ret[j]:
            continue
        kd = ev_kind[j]
        if kd == K_CAS_FAIL:
            return ev_op, ev_ret, ev_kind, ev_arg, ev_exp, ev_isok
        if kd == K_GET:
            observed.add(ev_arg[j])
        else:
            v = ev_arg[j]
            written[v] = written.get(v, 0) + 1
            if kd != K_PUT:
                observed.add(ev_exp[j])
    drop = set()
    for j in range(len(ev_op)):
        if not ev_ret[j] and not ev_isok[j]:
            v = ev_arg[j]
            if v != 0 and written[v] == 1 and v not in observed:
                drop.add(ev_op[j])
    if not drop:
        return ev_op, ev_ret, ev_kind, ev_arg, ev_exp, ev_isok
    keep = [j for j in range(len(ev_op)) if ev_op[j] not in drop]
    return ([ev_op[j] for j in keep], [ev_ret[j] for j in keep], [ev_kind[j] for j in keep],
            [ev_arg[j] for j in keep], [ev_exp[j] for j in keep], [ev_isok[j] for j in keep])


def _quick_check(ev_op: list[int], ev_ret: list[bool], ev_kind: list[int], ev_arg: list[int],
                 ev_exp: list[int], ev_isok: list[bool]) -> tuple[str, int, int, int] | None:
    """Necessary conditions, checked in linear time, for keys whose written values are all
    distinct and non-zero (else None). Catches the usual bugs without any search, however
    concurrent the key: a read (a get, or a cas that swapped, of value v) of a value nobody
    wrote; a read that completes before the write of v begins; a read that begins after a
    definite write (ok put, swapped cas) which itself began after the write of v completed --
    v was overwritten, and no one writes v again; two swapped cas from the same value. Returns
    None or (what, reader, writer, overwriter-or-other) op indices (-1 when none)."""
    E = len(ev_op)
    call_pos = {}
    ret_pos = {}
    writer = {}
    for j in range(E):
        i = ev_op[j]
        if ev_ret[j]:
            ret_pos[i] = j
            continue
        call_pos[i] = j
        kd = ev_kind[j]
        if kd == K_PUT or kd == K_CAS_OK or kd == K_CAS_INFO:
            v = ev_arg[j]
            if v == 0 or v in writer:
                return None
            writer[v] = i
    # first[j]: among definite writes invoked at event j or later, the one returning first.
    end = E + 1
    first_ret = [end] * (E + 1)
    first_op = [-1] * (E + 1)
    best_r = end
    best_i = -1
    for j in range(E - 1, -1, -1):
        if not ev_ret[j] and ev_isok[j]:
            kd = ev_kind[j]
            if kd == K_PUT or kd == K_CAS_OK:
                r = ret_pos[ev_op[j]]
                if r < best_r:
                    best_r = r
                    best_i = ev_op[j]
        first_ret[j] = best_r
        first_op[j] = best_i
    swapped_from: dict[int, int] = {}
    for j in range(E):
        if ev_ret[j]:
            continue
        kd = ev_kind[j]
        if kd == K_GET:
            v = ev_arg[j]
        elif kd == K_CAS_OK:
            v = ev_exp[j]
        else:
            continue
        i = ev_op[j]
        if kd == K_CAS_OK:
            other = swapped_from.get(v)
            if other is not None:
                return ("double-cas", i, -1, other)
            swapped_from[v] = i
        if v:
            w = writer.get(v)
            if w is None:
                return ("never", i, -1, -1)
            if ret_pos[i] < call_pos[w]:
                return ("future", i, w, -1)
            rw = ret_pos.get(w)
            if rw is None:  # an info write: it may have taken effect at any time
                continue
            start = rw + 1
        else:
            w = -1
            start = 0
        if first_ret[start] < j:
            return ("stale", i, w, first_op[start])
    return None
