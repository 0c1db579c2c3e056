"""2PL deadlock detection: what it costs (``detect_cost_per_edge``) and when it runs (``detect``)."""

from __future__ import annotations

import pytest

from harness.execution import runner
from harness.kinds.transactions.contract import DEADLOCK, WRITE, OpReply, Outcome
from implementations.twopl.locking import LockingCC
from test_twopl import cc, cluster, last, op, tid

COST = 1e-6


def chain(c, length: int) -> None:
    """Transaction k holds key k and waits for key k-1: a waits-for chain, no cycle."""
    for k in range(1, length + 1):
        op(c, tid(k), 0, WRITE, k, 1, ts=k)
        if k > 1:
            op(c, tid(k), 1, WRITE, k - 1, 1, ts=k)


def test_search_charges_each_edge_it_examines():
    """The k-th waiter's search walks the chain below it: k-1 edges, each paid for."""
    c = cluster("detect", detect_cost_per_edge=COST)
    chain(c, 6)
    assert [s for _, s in c.obs.charged] == pytest.approx([COST * k for k in range(1, 6)])
    assert cc(c).edges == 15


def test_free_detection_charges_nothing():
    c = cluster("detect", detect_cost_per_edge=0.0)
    chain(c, 6)
    assert c.obs.charged == [] and cc(c).edges == 15


def deadlock(c) -> tuple[int, int]:
    """t1 holds key 1 and waits for key 2, t2 (younger) holds key 2 and waits for key 1."""
    t1, t2 = tid(1), tid(2)
    op(c, t1, 0, WRITE, 1, 1, ts=1)
    op(c, t2, 0, WRITE, 2, 1, ts=2)
    op(c, t1, 1, WRITE, 2, 1, ts=1)
    op(c, t2, 1, WRITE, 1, 1, ts=2)
    return t1, t2


def periodic(break_cc=None):
    c = cluster("detect", detect="periodic", detect_interval=0.010, lock_timeout=1.0)
    if break_cc:
        node = c.replicas[0]
        node.participant.cc = break_cc(node.participant, "detect", node.options)
    return c


def resolved_on_schedule(c) -> bool:
    """A deadlock formed at 6 ms, sweeps due at 5 ms and every 10 ms after: untouched at the
    10 ms tick, broken at the 15 ms one (the youngest dies, the other gets its lock)."""
    c.now = 0.005
    c.fire(0, "tick")                    # the first sweep: nothing waits; next one at 0.015
    c.now = 0.006
    t1, t2 = deadlock(c)
    assert last(c, t2).index == 0 and c.replicas[0].participant.txns[t2].wait == 1  # no search on wait
    c.now = 0.010
    c.fire(0, "tick")
    assert last(c, t2).index == 0        # not due yet
    c.now = 0.015
    c.fire(0, "tick")
    got = last(c, t1)
    return (isinstance(last(c, t2), Outcome) and last(c, t2).reason == DEADLOCK
            and isinstance(got, OpReply) and got.index == 1)


def test_periodic_detection_waits_for_its_period_then_breaks_the_cycle():
    c = periodic()
    assert resolved_on_schedule(c)
    assert [s for _, s in c.obs.charged] == pytest.approx([COST * 2])  # t1 -> t2 -> t1


class NeverSweeps(LockingCC):
    __slots__ = ()

    def tick(self, now: float) -> None:
        pass


def test_a_periodic_detector_that_never_runs_is_caught():
    assert not resolved_on_schedule(periodic(NeverSweeps))


def test_on_wait_detection_breaks_the_cycle_at_once():
    c = cluster("detect", lock_timeout=1.0)
    t1, t2 = deadlock(c)
    assert last(c, t2).reason == DEADLOCK and last(c, t1).index == 1


HOT = """
name: hot
kind: transactions
duration: 1s
warmup: 0.2s
cluster: {partitions: 1, cpu_per_message: 0s, cpu_per_send: 0s, cpu_per_byte: 0s, fsync: 0s}
workload: {type: ycsb, clients: 32, keys: 50, ops: 4, read_ratio: 0.2, timeout: 1s}
"""


def hot_run(make_suite, *overrides: str) -> tuple[dict, list]:
    worlds = []
    (spec,) = make_suite(HOT, "protocol=2pl-detect", *overrides).runs()
    return runner.run(spec, "hot", worlds.append).row, worlds


def test_detection_is_the_only_cpu_when_everything_else_is_free(make_suite):
    """With every other cost zero the partition's busy time is exactly what the searches
    charged: edges examined x detect_cost_per_edge (so it scales with the work, nothing else)."""
    row, (world,) = hot_run(make_suite, "protocols.2pl-detect.detect_cost_per_edge=5us")
    (host,) = world.hosts
    assert host.replica.participant.cc.edges > 1000
    assert host.busy_time == pytest.approx(host.replica.participant.cc.edges * 5e-6, rel=1e-9)
    free, (world,) = hot_run(make_suite, "protocols.2pl-detect.detect_cost_per_edge=0s")
    assert world.hosts[0].busy_time == 0.0
    assert row["latency_p50_ms"] > free["latency_p50_ms"]  # the searches delay the replies


def test_periodic_detection_keeps_transactions_serializable_and_moving(make_suite):
    """Every deadlock is broken by the sweep (none left for the lock timeout to break), the
    history stays serializable, and transactions commit."""
    row, _ = hot_run(make_suite, "protocols.2pl-detect.detect=periodic",
                     "protocols.2pl-detect.detect_interval=10ms",
                     "protocols.2pl-detect.lock_timeout=500ms")
    assert row["safety"] == "ok"
    assert row["aborts_deadlock"] > 0 and row["aborts_timeout"] == 0
    assert row["throughput_ops_s"] > 100


ABYSS = """
name: abyss
kind: transactions
duration: 1s
warmup: 250ms
cluster: {partitions: 1, cpu_per_message: 20us, fsync: 200us}
workload: {type: ycsb, keys: 100000, ops: 16, read_ratio: 0.5,
           distribution: {type: zipfian, theta: 0.8}, timeout: 1s, retries: 100,
           backoff_base: 1ms, backoff_cap: 20ms}
"""


def test_detection_collapses_as_concurrency_grows_as_in_the_abyss(make_suite):
    """Yu et al. (VLDB 2014), in small (configs/deadlock-abyss.yaml): at high contention
    DL_DETECT keeps up with WAIT_DIE with few concurrent transactions and falls far behind
    with many (waiters hold their locks while the graph grows)."""
    def throughput(protocol: str, clients: int) -> float:
        timeout = ["protocols.2pl-detect.lock_timeout=500ms"] if protocol == "2pl-detect" else []
        (spec,) = make_suite(ABYSS, f"protocol={protocol}", f"workload.clients={clients}",
                             *timeout).runs()
        return runner.run(spec, "abyss").row["throughput_ops_s"]

    assert throughput("2pl-detect", 8) >= 0.8 * throughput("2pl-waitdie", 8)
    assert throughput("2pl-detect", 128) < 0.5 * throughput("2pl-waitdie", 128)
