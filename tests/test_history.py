import gc
import math
import tracemalloc
from array import array

import numpy as np
import pytest

from harness.history import FAIL, INFO, OK, PENDING, History
from workloads.kv import CAS, GET, PUT


def test_invoke_ok_info_roundtrip():
    h = History()
    a = h.invoke(3, PUT, 7, 101, 0, 0.5)
    b = h.invoke(4, GET, 7, 0, 0, 0.6)
    c = h.invoke(5, CAS, 8, 102, 101, 0.7)
    assert (a, b, c) == (0, 1, 2)
    assert len(h) == 3
    h.ok(b, 0.9, 101)
    h.ok(a, 1.0, 1)
    h.info(c)
    op = h[0]
    assert (op.client, op.op, op.key, op.value, op.status, op.result) == (3, PUT, 7, 101, OK, 1)
    assert op.t_invoke == 0.5 and op.t_return == 1.0
    assert h[1].result == 101 and h[1].status == OK
    assert h[2].status == INFO and h[2].expected == 101 and math.isinf(h[2].t_return)
    # completions remember how many ops had been invoked (orders same-timestamp events)
    assert h.ret_seq[1] == 3 and h.ret_seq[0] == 3
    assert [o.index for o in h] == [0, 1, 2]
    assert "put 101" in h.describe(0) and "get->101" in h.describe(1)
    assert "info" in h.describe(2)


def test_double_completion_and_time_travel_rejected():
    h = History()
    i = h.invoke(0, GET, 1, 0, 0, 1.0)
    h.ok(i, 1.5, 0)
    with pytest.raises(ValueError):
        h.ok(i, 2.0, 0)
    with pytest.raises(ValueError):
        h.info(i)
    j = h.invoke(0, GET, 1, 0, 0, 3.0)
    with pytest.raises(ValueError):
        h.ok(j, 2.0, 0)


def test_finish_turns_pending_into_info():
    h = History()
    ids = [h.invoke(c, PUT, c % 3, c + 1, 0, c * 0.1) for c in range(10)]
    for i in ids[::3]:
        h.ok(i, 5.0, 1)
    h.fail(ids[1], 5.0)
    assert h.count(PENDING) == 5
    h.finish()
    assert h.count(PENDING) == 0
    assert h.count(OK) == 4 and h.count(FAIL) == 1 and h.count(INFO) == 5
    for i in ids:
        if h.status[i] == INFO:
            assert math.isinf(h.t_return[i])
    h.finish()  # idempotent
    assert h.count(INFO) == 5


def test_completion_columns_filled_ahead_read_as_long_as_the_history():
    """The completion columns get their pending values a chunk at a time: whenever read, every
    column has one slot per invoked op, before and after a chunk boundary, and an index past
    the invoked ops is refused even where a pending value is already in place."""
    h = History()
    with pytest.raises(IndexError):
        h.ok(0, 1.0, 1)
    for n in (1, 2, 1023, 1024, 1025, 2500):
        while len(h) < n:
            h.invoke(0, PUT, 1, len(h), 0, 0.0)
        assert {len(getattr(h, c)) for c in History.COLUMNS} == {n}
        assert h.count(PENDING) == n - h.count(OK)
        h.ok(n - 1, 1.0, 1)  # an op completed after its columns were read and trimmed
        with pytest.raises(IndexError):
            h.ok(n, 1.0, 1)
        with pytest.raises(IndexError):
            h.info(-1)
    # and before any read, with pending slots past the last op
    h2 = History()
    for _ in range(3):
        h2.invoke(0, GET, 1, 0, 0, 0.0)
    with pytest.raises(IndexError):
        h2.info(-1)
    with pytest.raises(IndexError):
        h2.fail(3, 1.0)
    with pytest.raises(IndexError):
        h2.ok(1023, 1.0, 1)
    h2.ok(2, 1.0, 0)
    assert h2[-1].status == OK and h2.describe(-1) == h2.describe(2) == "#2 get->0 [0.000000,1.000000]"
    with pytest.raises(IndexError):
        h2[3]
    with pytest.raises(IndexError):
        h2.describe(3)
    assert h2.status.tolist() == [PENDING, PENDING, OK] and len(h2.t_return) == 3
    assert h.count(OK) == 6 and h.status[1023] == OK and h.ret_seq[1023] == 1024
    h.finish()
    assert h.count(INFO) == 2500 - 6 and len(h.status) == 2500


def test_storage_is_columnar():
    h = History()
    for name in History.COLUMNS:
        assert isinstance(getattr(h, name), array), name
    i = h.invoke(1, PUT, 2, 3, 0, 0.0)
    h.ok(i, 1.0, 1)
    # columns are zero-copy numpy views
    assert np.frombuffer(h.key, dtype=np.int64)[0] == 2
    assert np.frombuffer(h.t_return, dtype=np.float64)[0] == 1.0


def test_100k_ops_create_no_per_op_objects():
    n = 100_000
    h = History()
    gc.collect()
    tracked_before = len(gc.get_objects())
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    for k in range(n):
        i = h.invoke(k % 64, PUT if k % 2 else GET, k % 1000, (1 << 40) + k, 0, k * 1e-4)
        h.ok(i, k * 1e-4 + 5e-5, 1 if k % 2 else (1 << 40) + k - 1)
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    assert len(gc.get_objects()) - tracked_before < 100
    per_op = (used - base) / n
    assert per_op < 100, per_op  # ~62 bytes of columns per op, plus array over-allocation
    assert h.nbytes() == n * 62
