"""Generated histories of one cas-register with repeated values (Knossos' ``memstress`` shape:
few values, many concurrent processes, some calls given up on), valid by construction or broken
on purpose. Shared by the checker's tests and its benchmark."""

from __future__ import annotations

import random

from harness.history import CAS, GET, PUT, History


def memstress(n_ops: int, processes: int = 8, values: int = 5, info: float = 0.05,
              seed: int = 0) -> History:
    """A linearizable history: each op takes effect at a random point inside its interval, in
    the order of those points; an op given up on (``info``) takes effect or not, by a coin."""
    rng = random.Random(seed)
    free = [0.0] * processes  # when each process may invoke next
    calls = []
    for _ in range(n_ops):
        p = min(range(processes), key=free.__getitem__)
        t0 = free[p] + rng.expovariate(4.0)
        t1 = t0 + rng.expovariate(1.0)
        free[p] = t1
        r = rng.random()
        op = GET if r < 0.4 else PUT if r < 0.7 else CAS
        value = rng.randint(1, values - 1)
        expected = rng.randint(0, values - 1) if op == CAS else 0
        gave_up = rng.random() < info
        effect = rng.uniform(t0, t1) if not gave_up or rng.random() < 0.5 else None
        calls.append((t0, t1, p, op, value, expected, gave_up, effect))
    state = 0
    result = {}
    for i in sorted((i for i, c in enumerate(calls) if c[7] is not None), key=lambda i: calls[i][7]):
        _, _, _, op, value, expected, _, _ = calls[i]
        if op == GET:
            result[i] = state
        elif op == PUT:
            state, result[i] = value, 1
        else:
            result[i] = int(state == expected)
            if result[i]:
                state = value
    return _record(calls, result)


def _record(calls: list, result: dict) -> History:
    h = History()
    order = sorted(range(len(calls)), key=lambda i: calls[i][0])
    ends = sorted((calls[i][1], i) for i in order if not calls[i][6])
    index = {}
    e = 0
    for i in order:
        t0 = calls[i][0]
        while e < len(ends) and ends[e][0] <= t0:
            j = ends[e][1]
            h.ok(index[j], ends[e][0], result[j])
            e += 1
        t0, _, p, op, value, expected, gave_up, _ = calls[i]
        index[i] = h.invoke(p, op, 0, value if op != GET else 0, expected, t0)
        if gave_up:
            h.info(index[i])
    for t, j in ends[e:]:
        h.ok(index[j], t, result[j])
    return h


def stale_read(h: History) -> History:
    """``h`` with one read made stale: the last ok read returns a value that was overwritten by
    a write completed before the read began (made distinct from every value so no other write
    can explain it)."""
    out = History()
    last_read = max(i for i in range(len(h)) if h.op[i] == GET and h.status[i] == 1)
    order = sorted(range(len(h)), key=lambda i: h.t_invoke[i])
    rets = sorted((h.t_return[i], i) for i in range(len(h)) if h.status[i] != 2)
    idx = {}
    e = 0
    for i in order:
        while e < len(rets) and rets[e][0] <= h.t_invoke[i]:
            j = rets[e][1]
            out.ok(idx[j], rets[e][0], 10**9 if j == last_read else h.result[j])
            e += 1
        idx[i] = out.invoke(h.client[i], h.op[i], h.key[i], h.value[i], h.expected[i], h.t_invoke[i])
        if h.status[i] == 2:
            out.info(idx[i])
    for t, j in rets[e:]:
        out.ok(idx[j], t, 10**9 if j == last_read else h.result[j])
    return out
