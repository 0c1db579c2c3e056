import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.checkers import check_linearizability
from harness.checkers import linearizability as lin
from harness.history import FAIL, INFO, OK, History
from workloads.kv import CAS, GET, PUT

INF = float("inf")


# ---------------------------------------------------------------------------------------------
# helpers


def build(ops):
    """History from ``(client, op, key, value, expected, t_inv, t_ret, result, status)`` tuples
    (``t_ret`` ignored for info). Events are replayed in time order; at equal times an
    invocation is recorded before a completion unless a tuple carries an explicit 10th element
    ``(call_tie, ret_tie)`` of tie-breakers."""
    events = []
    for j, o in enumerate(ops):
        ties = o[9] if len(o) > 9 else (0, 1)
        if o[6] == o[5]:  # an op is invoked before it completes
            ties = (ties[0], max(ties))
        events.append((o[5], ties[0], j, "call"))
        if o[8] != INFO:
            events.append((o[6], ties[1], j, "ret"))
    events.sort(key=lambda e: (e[0], e[1], e[3] == "ret"))
    h = History()
    idx = {}
    for t, _, j, what in events:
        c, op, k, v, e, _, _, r, status = ops[j][:9]
        if what == "call":
            idx[j] = h.invoke(c, op, k, v, e, t)
            if status == INFO:
                h.info(idx[j])
        elif status == OK:
            h.ok(idx[j], t, r)
        else:
            h.fail(idx[j], t)
    return h


def put(k, v, t0, t1, status=OK, c=0):
    return (c, PUT, k, v, 0, t0, t1, 1, status)


def get(k, r, t0, t1, status=OK, c=0):
    return (c, GET, k, 0, 0, t0, t1, r, status)


def cas(k, e, v, swapped, t0, t1, status=OK, c=0):
    return (c, CAS, k, v, e, t0, t1, int(bool(swapped)), status)


def check(ops, **kw):
    return check_linearizability(build(ops), **kw)


def brute_force(h):
    """Reference: is there an order of the ops (each info write placed somewhere or nowhere)
    that respects real time and the register semantics? Exhaustive, for tiny histories."""
    ops = [o for o in h if o.status != FAIL and not (o.status != OK and o.op == GET)]

    def end(o):
        return (o.t_return, 2 * h.ret_seq[o.index]) if o.status == OK else (INF, 0)

    def start(o):
        return (o.t_invoke, 2 * o.index + 1)

    preds = [frozenset(a for a in range(len(ops)) if end(ops[a]) < start(ops[b]))
             for b in range(len(ops))]
    must = frozenset(a for a in range(len(ops)) if ops[a].status == OK)
    seen = set()

    def search(placed, state):
        if must <= placed:
            return True
        cfg = (placed, tuple(sorted(state.items())))
        if cfg in seen:
            return False
        seen.add(cfg)
        for b in range(len(ops)):
            if b in placed or not preds[b] <= placed:
                continue
            o = ops[b]
            cur = state.get(o.key, 0)
            if o.op == GET:
                if cur != o.result:
                    continue
                new = cur
            elif o.op == PUT:
                new = o.value
            else:
                swapped = cur == o.expected
                if o.status == OK and int(swapped) != o.result:
                    continue
                new = o.value if swapped else cur
            s2 = dict(state)
            s2[o.key] = new
            if search(placed | {b}, s2):
                return True
        return False

    return search(frozenset(), {})


# ---------------------------------------------------------------------------------------------
# hand-written histories


def test_empty_and_sequential():
    assert check([]).status == "ok"
    r = check([put(1, 5, 0, 1), get(1, 5, 2, 3), put(1, 6, 4, 5), get(1, 6, 6, 7)])
    assert r.status == "ok" and r.keys_checked == 1 and r.steps > 0
    assert str(r) == "ok"


def test_read_of_initial_value():
    assert check([get(3, 0, 0, 1), put(3, 9, 2, 3)]).status == "ok"
    assert check([put(3, 9, 0, 1), get(3, 0, 2, 3)]).status == "violation"


def test_concurrent_put_and_get_both_orders_ok():
    # the get overlaps the put: it may see the old or the new value
    assert check([put(1, 5, 0, 10), get(1, 0, 2, 3)]).status == "ok"
    assert check([put(1, 5, 0, 10), get(1, 5, 2, 3)]).status == "ok"
    assert check([get(1, 5, 0, 10), put(1, 5, 2, 3)]).status == "ok"
    # two overlapping puts, reads after both see either one
    for v in (5, 6):
        assert check([put(1, 5, 0, 10), put(1, 6, 1, 9), get(1, v, 11, 12)]).status == "ok"


def test_stale_read_after_completed_write_is_a_violation():
    r = check([put(17, 41, 1.0, 1.1), put(17, 42, 1.15, 1.2), get(17, 41, 1.3, 1.4)])
    assert r.status == "violation"
    assert r.detail.startswith("key 17: get returned 41 at t=1.400000s")
    assert "#2 get->41" in r.detail  # the op at fault
    assert "put 41" in r.detail and "put 42" in r.detail  # its context
    assert str(r).startswith("violation: key 17")


def test_read_from_the_future_is_a_violation():
    r = check([get(2, 7, 0.5, 0.7), put(2, 7, 1.0, 1.1)])
    assert r.status == "violation"
    assert "get returned 7" in r.detail and "written by #1 put 7" in r.detail


def test_value_never_written():
    r = check([put(2, 7, 0, 1), get(2, 8, 2, 3)])
    assert r.status == "violation" and "no op wrote 8" in r.detail


def test_other_keys_do_not_interfere():
    ops = [put(1, 5, 0, 1), put(2, 6, 0, 1), get(1, 5, 2, 3), get(2, 6, 2, 3), get(1, 5, 4, 5)]
    r = check(ops)
    assert r.status == "ok" and r.keys_checked == 2
    r = check(ops + [get(2, 5, 6, 7)])
    assert r.status == "violation" and r.detail.startswith("key 2:")


def test_cas_semantics():
    assert check([put(1, 5, 0, 1), cas(1, 5, 6, True, 2, 3), get(1, 6, 4, 5)]).status == "ok"
    assert check([put(1, 5, 0, 1), cas(1, 4, 6, False, 2, 3), get(1, 5, 4, 5)]).status == "ok"
    assert check([cas(1, 0, 6, True, 0, 1), get(1, 6, 2, 3)]).status == "ok"  # initial is 0
    # a cas that swapped although the value differed
    r = check([put(1, 5, 0, 1), cas(1, 4, 6, True, 2, 3)])
    assert r.status == "violation" and "cas 4->6 swapped" in r.detail
    # a cas that did not swap although the value matched
    assert check([put(1, 5, 0, 1), cas(1, 5, 6, False, 2, 3)]).status == "violation"
    # a cas that reportedly did not swap, yet its value is read
    assert check([put(1, 5, 0, 1), cas(1, 4, 6, False, 2, 3), get(1, 6, 4, 5)]).status == \
        "violation"
    # two cas from the same value cannot both swap
    assert check([put(1, 5, 0, 1), cas(1, 5, 6, True, 2, 9), cas(1, 5, 7, True, 2, 9)]).status \
        == "violation"
    # ... but a concurrent failed one may be ordered after the swap
    assert check([put(1, 5, 0, 1), cas(1, 5, 6, True, 2, 9), cas(1, 5, 7, False, 2, 9)]).status \
        == "ok"
    # a failed cas explained only by a concurrent write
    assert check([put(1, 5, 0, 1), put(1, 8, 2, 9), cas(1, 5, 7, False, 3, 4)]).status == "ok"
    assert check([put(1, 5, 0, 1), put(1, 8, 5, 9), cas(1, 5, 7, False, 3, 4)]).status == \
        "violation"


def test_info_put_that_never_happened():
    ops = [put(1, 5, 0, 1), put(1, 6, 2, INF, status=INFO), get(1, 5, 3, 4), get(1, 5, 8, 9)]
    assert check(ops).status == "ok"


def test_info_put_that_happened():
    ops = [put(1, 5, 0, 1), put(1, 6, 2, INF, status=INFO), get(1, 5, 3, 4), get(1, 6, 8, 9)]
    assert check(ops).status == "ok"
    # ... but not before its invocation
    ops = [put(1, 5, 0, 1), get(1, 6, 1.5, 1.8), put(1, 6, 2, INF, status=INFO)]
    assert check(ops).status == "violation"
    # ... and once it is seen, an older value cannot come back
    ops = [put(1, 5, 0, 1), put(1, 6, 2, INF, status=INFO), get(1, 6, 3, 4), get(1, 5, 8, 9)]
    assert check(ops).status == "violation"


def test_info_put_explains_a_failed_cas():
    ops = [put(1, 5, 0, 1), put(1, 6, 2, INF, status=INFO), cas(1, 5, 7, False, 3, 4)]
    assert check(ops).status == "ok"
    ops = [put(1, 5, 0, 1), cas(1, 5, 7, False, 3, 4), put(1, 6, 5, INF, status=INFO)]
    assert check(ops).status == "violation"


def test_info_cas():
    # happened (swap seen later) or never (old value read later): both fine
    base = [put(1, 5, 0, 1), cas(1, 5, 6, None, 2, INF, status=INFO)]
    assert check(base + [get(1, 6, 3, 4)]).status == "ok"
    assert check(base + [get(1, 5, 3, 4), get(1, 5, 6, 7)]).status == "ok"
    # it cannot have swapped from a value that was never current
    ops = [put(1, 5, 0, 1), cas(1, 4, 6, None, 2, INF, status=INFO), get(1, 6, 3, 4)]
    assert check(ops).status == "violation"


def test_info_get_is_ignored():
    ops = [put(1, 5, 0, 1), get(1, 99, 2, INF, status=INFO), get(1, 5, 3, 4)]
    r = check(ops)
    assert r.status == "ok"


def test_failed_op_never_took_effect():
    ops = [put(1, 5, 0, 1), put(1, 6, 2, 3, status=FAIL), get(1, 5, 4, 5)]
    assert check(ops).status == "ok"
    ops = [put(1, 5, 0, 1), put(1, 6, 2, 3, status=FAIL), get(1, 6, 4, 5)]
    assert check(ops).status == "violation"


def test_pending_ops_count_as_info():
    h = History()
    h.invoke(0, PUT, 1, 5, 0, 0.0)
    j = h.invoke(1, GET, 1, 0, 0, 0.1)
    h.ok(j, 0.2, 5)
    assert check_linearizability(h).status == "ok"  # not finished: the put is pending


def test_same_timestamp_follows_recording_order():
    # put completes at t=1 and the get is invoked at t=1: recorded in that order, the put
    # precedes the get, so reading the old value is stale ...
    ops = [put(1, 5, 0, 1, c=0) + ((0, 0),), get(1, 0, 1, 2, c=1) + ((1, 0),)]
    assert check(ops).status == "violation"
    # ... recorded the other way round (invocation first) they overlap
    ops = [put(1, 5, 0, 1, c=0) + ((0, 1),), get(1, 0, 1, 2, c=1) + ((0, 0),)]
    assert check(ops).status == "ok"


def test_non_unique_values_still_checked_exactly():
    # value 5 written twice: the read of 5 after the 7 must come from the second write
    ops = [put(1, 5, 0, 1), put(1, 7, 2, 3), put(1, 5, 4, 5), get(1, 5, 6, 7)]
    assert check(ops).status == "ok"
    ops = [put(1, 5, 0, 1), put(1, 7, 2, 3), get(1, 5, 4, 5), put(1, 5, 6, 7)]
    assert check(ops).status == "violation"
    # writing the initial value 0
    assert check([put(1, 4, 0, 1), put(1, 0, 2, 3), get(1, 0, 4, 5)]).status == "ok"


# ---------------------------------------------------------------------------------------------
# budget


def _hard_history(n=300, keys=1, seed=3):
    """Heavily overlapping puts and gets, plenty for the search to do."""
    rnd = random.Random(seed)
    ops = []
    state = {}
    for i in range(n):
        k = rnd.randrange(keys)
        lp = i * 1.0
        t0, t1 = lp - rnd.uniform(0, 40), lp + rnd.uniform(0, 40)
        if rnd.random() < 0.5:
            state[k] = i + 1
            ops.append(put(k, i + 1, t0, t1, c=i))
        else:
            ops.append(get(k, state.get(k, 0), t0, t1, c=i))
    return ops


def test_budget_exhaustion_is_unknown_never_ok():
    h = build(_hard_history())
    full = check_linearizability(h)
    assert full.status == "ok"
    for budget in (0, 1, 10, full.steps // 2, full.steps - 1):
        r = check_linearizability(h, budget=budget)
        assert r.status == "unknown", budget
        assert "key 0" in r.detail and "budget" in r.detail
        assert r.steps <= max(budget, 0) + 1 and r.keys_checked == 0
    assert check_linearizability(h, budget=full.steps).status == "ok"


def test_small_keys_first_so_a_cheap_violation_is_found():
    ops = _hard_history() + [put(1000, 1, 0, 1), get(1000, 2, 2, 3)]
    r = check(ops, budget=50)
    assert r.status == "violation" and r.detail.startswith("key 1000:")
    ops = _hard_history() + [put(1000, 1, 0, 1), get(1000, 1, 2, 3)]
    r = check(ops, budget=50)
    assert r.status == "unknown" and r.keys_checked == 1


def test_out_of_budget_key_still_shows_an_obvious_violation():
    ops = _hard_history()
    # a stale read at the end: the value of an early put, long overwritten
    ops.append(get(0, next(o[3] for o in ops if o[1] == PUT), 400, 401, c=999))
    r = check(ops, budget=10)
    assert r.status == "violation", r
    assert "overwritten by" in r.detail and r.detail.startswith("key 0: get returned")


# ---------------------------------------------------------------------------------------------
# generated histories


@st.composite
def executions(draw, max_ops=40, max_keys=3, max_spread=30):
    """A real sequential execution (op i takes effect at time 10*i) wrapped in random intervals
    around each linearization point; some ops end as info (taking effect or not), some as fail
    (not taking effect). Integer times, so equal timestamps abound. Always linearizable."""
    n = draw(st.integers(0, max_ops))
    unique = draw(st.booleans())
    nkeys = draw(st.integers(1, max_keys))
    state = {}
    uid = 0
    ops = []
    for i in range(n):
        op = draw(st.sampled_from([GET, GET, PUT, PUT, CAS]))
        k = draw(st.integers(0, nkeys - 1))
        fate = draw(st.sampled_from(["ok"] * 6 + ["info-done", "info-never", "fail"]))
        lp = 10 * i
        t0 = lp - draw(st.integers(0, max_spread))
        t1 = lp + draw(st.integers(0, max_spread))
        cur = state.get(k, 0)
        if unique:
            uid += 1
            v = uid
        else:
            v = draw(st.integers(0, 3))
        e = cur if draw(st.booleans()) else draw(st.integers(0, max(uid, 3)))
        took_effect = fate in ("ok", "info-done")
        if op == GET:
            r = cur
        elif op == PUT:
            r = 1
            if took_effect:
                state[k] = v
        else:
            r = int(cur == e)
            if took_effect and r:
                state[k] = v
        status = {"ok": OK, "info-done": INFO, "info-never": INFO, "fail": FAIL}[fate]
        ops.append((i, op, k, v, e, t0, t1, r, status))
    return ops


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(executions())
def test_histories_from_real_executions_are_linearizable(ops):
    h = build(ops)
    r = check_linearizability(h)
    assert r.status == "ok", r.detail


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(executions(max_ops=300, max_keys=2, max_spread=150))
def test_long_overlapping_executions_are_linearizable(ops):
    r = check_linearizability(build(ops))
    assert r.status == "ok", r.detail


@st.composite
def small_histories(draw):
    """Tiny arbitrary histories: mostly linearizable ones with a result or two corrupted, some
    fully random; unique or repeated values; ties in time; info and fail ops."""
    if draw(st.booleans()):
        ops = draw(executions(max_ops=6, max_keys=2, max_spread=25))
        for _ in range(draw(st.integers(0, 2))):
            if not ops:
                break
            j = draw(st.integers(0, len(ops) - 1))
            o = list(ops[j])
            if o[1] == CAS:
                o[7] = 1 - o[7]
            elif o[1] == GET:
                o[7] = draw(st.integers(0, 6))
            else:
                o[8] = draw(st.sampled_from([OK, INFO, FAIL]))
            ops[j] = tuple(o)
        return ops
    n = draw(st.integers(1, 6))
    unique = draw(st.booleans())
    ops = []
    for i in range(n):
        op = draw(st.sampled_from([GET, PUT, CAS]))
        k = draw(st.sampled_from([0, 0, 0, 1]))
        t0 = draw(st.integers(0, 8))
        t1 = t0 + draw(st.integers(0, 4))
        v = i + 1 if unique else draw(st.integers(0, 2))
        e = draw(st.integers(0, n if unique else 2))
        r = draw(st.integers(0, n if unique else 2)) if op == GET else (
            1 if op == PUT else draw(st.integers(0, 1)))
        status = draw(st.sampled_from([OK, OK, OK, INFO, FAIL]))
        ties = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        ops.append((i, op, k, v, e, t0, t1, r, status, ties))
    return ops


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_histories())
def test_agrees_with_brute_force_on_small_histories(ops):
    h = build(ops)
    want = "ok" if brute_force(h) else "violation"
    r = check_linearizability(h)
    assert r.status == want, (r.detail, [str(o) for o in h])
    # the linear-time necessary conditions (normally only run first on big keys) are sound too
    saved = lin.QUICK_CHECK_FIRST
    lin.QUICK_CHECK_FIRST = 0
    try:
        r = check_linearizability(h)
    finally:
        lin.QUICK_CHECK_FIRST = saved
    assert r.status == want, (r.detail, [str(o) for o in h])


def test_the_small_histories_exercise_both_verdicts():
    """The comparison above means something only if both verdicts occur among its examples."""
    outcomes = {"ok": 0, "violation": 0}

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(small_histories())
    def count(ops):
        outcomes["ok" if brute_force(build(ops)) else "violation"] += 1

    count()
    assert outcomes["ok"] > 30 and outcomes["violation"] > 30, outcomes


# ---------------------------------------------------------------------------------------------
# performance


def near_sequential(nops=200_000, nkeys=1000, clients=64, seed=1, spread=3e-5, cas=0.1):
    """A run-like history: a sequential execution, op every 10us, each op's interval a random
    stretch of up to ``spread`` on either side of its linearization point."""
    rnd = random.Random(seed)
    random_ = rnd.random
    randrange = rnd.randrange
    state = {}
    uid = 0
    recs = []
    for n in range(nops):
        lp = n * 1e-5
        k = randrange(nkeys)
        r = random_()
        cur = state.get(k, 0)
        if r < 0.5:
            op, v, e, res = GET, 0, 0, cur
        elif r < 1 - cas:
            uid += 1
            op, v, e, res = PUT, uid, 0, 1
            state[k] = uid
        else:
            uid += 1
            op, v = CAS, uid
            e = cur if random_() < 0.5 else randrange(uid)
            res = int(cur == e)
            if res:
                state[k] = v
        recs.append((lp - random_() * spread, lp + random_() * spread, n % clients, op, k, v, e,
                     res))
    events = [(r[0], 0, j) for j, r in enumerate(recs)] + [(r[1], 1, j) for j, r in
                                                          enumerate(recs)]
    events.sort()
    h = History()
    idx = [0] * nops
    for t, what, j in events:
        rec = recs[j]
        if what == 0:
            idx[j] = h.invoke(rec[2], rec[3], rec[4], rec[5], rec[6], t)
        else:
            h.ok(idx[j], t, rec[7])
    return h


def test_200k_ops_over_1000_keys_in_linear_steps():
    """A near-sequential history is checked in about one search step per operation (its wall
    time is not asserted: the machines are shared)."""
    h = near_sequential()
    r = check_linearizability(h)
    assert r.status == "ok" and r.keys_checked == 1000
    assert r.steps <= 2 * 200_000, r.steps


def test_hot_key_with_heavy_overlap():
    h = near_sequential(nops=20_000, nkeys=1, spread=5e-4)  # ~100 ops in flight on one key
    r = check_linearizability(h)
    assert r.status == "ok", r.detail
    # and a single stale read in it is caught
    i = next(i for i in range(15_000, len(h)) if h.op[i] == GET and h.result[i] != 0)
    h.result[i] = next(h.value[j] for j in range(i) if h.op[j] == PUT
                       and h.t_return[j] < h.t_invoke[i] - 2e-3)
    r = check_linearizability(h)
    assert r.status == "violation" and f"#{i} get->" in r.detail, r.detail


def outage_run(nclients=64, nkeys=10, duration=1.0, outage=(0.3, 0.5), info_p=0.8, cas=0.3,
               seed=7):
    """Closed-loop clients on few hot keys; during an outage most ops time out (info) and half
    of those take effect anyway, up to 0.6 s later. Linearizable by construction."""
    rnd = random.Random(seed)
    recs = []  # [lp or None, t_inv, t_ret or None, client, op, key, value, expected]
    uid = 0
    for c in range(nclients):
        t = rnd.random() * 1e-3
        while t < duration:
            r = rnd.random()
            uid += 1
            op = GET if r < 0.5 else (PUT if r < 1 - cas else CAS)
            k = min(int(rnd.expovariate(0.5)), nkeys - 1)
            lat = rnd.expovariate(1e3)
            down = outage[0] <= t < outage[1]
            if down and rnd.random() < info_p:
                lp = t + rnd.random() * 0.6 if rnd.random() < 0.5 else None
                recs.append([lp, t, None, c, op, k, uid, 0])
                t += 0.05
                continue
            if down:
                lat += rnd.random() * 0.2
            recs.append([t + lat * rnd.random(), t, t + lat, c, op, k, uid, 0])
            t += lat
    state = {}
    result = {}
    for rec in sorted((r for r in recs if r[0] is not None), key=lambda r: r[0]):
        cur = state.get(rec[5], 0)
        if rec[4] == GET:
            result[id(rec)] = cur
        elif rec[4] == PUT:
            state[rec[5]] = rec[6]
            result[id(rec)] = 1
        else:
            rec[7] = cur if rnd.random() < 0.7 else rnd.randint(1, uid)
            result[id(rec)] = int(cur == rec[7])
            if cur == rec[7]:
                state[rec[5]] = rec[6]
    events = [(r[1], 0, n) for n, r in enumerate(recs)]
    events += [(r[2], 1, n) for n, r in enumerate(recs) if r[2] is not None]
    events.sort()
    h = History()
    idx = {}
    for t, what, n in events:
        rec = recs[n]
        if what == 0:
            idx[n] = h.invoke(rec[3], rec[4], rec[5], rec[6], rec[7], t)
        else:
            h.ok(idx[n], t, result[id(rec)])
    h.finish()
    return h


def test_outage_with_many_info_ops_on_hot_keys():
    h = outage_run()
    assert h.count(INFO) > 100
    r = check_linearizability(h, budget=5_000_000)
    assert r.status == "ok", r.detail
