"""The transaction metrics as docs/transactions.md defines them (its worked example, number for number) and
the client behaviour they rest on: one timestamp per transaction across retries, and the
capped exponential back-off ``min(base * 2^n, cap)`` plus jitter, n = earlier aborts."""

from __future__ import annotations

import math

import pytest

from harness.checkers.serializability import TxnChecker
from harness.engine.sim import Simulator
from harness.kinds.transactions.stats import TxnStats
from harness.kinds.transactions.contract import (
    COMMITTED, CONFLICT, TIMEOUT, CommitRequest, OpReply, OpRequest, Outcome, tid_attempt,
)
from harness.suite.workloads import YCSBWorkload
from workloads.txn import TxnClient, YCSBGenerator


# -- TxnStats: the worked example of docs/transactions.md -------------------------------------------------------

def test_the_readme_worked_example():
    """docs/transactions.md, "A worked example": transaction T (three attempts under wound_wait) and U."""
    stats = TxnStats(warmup=1.0, end=10.0, checker=TxnChecker())
    # T, attempt 1: waits 3 ms for a lock and gets it, then is wounded -> aborted, conflict
    stats.waited(2.003, 0.003)
    stats.attempt(2.010, CONFLICT, True)
    # T, attempt 2: a lost message, the client times out -> aborted, timeout, no conflict
    stats.attempt(2.200, TIMEOUT, False)
    # T, attempt 3: waits 2 ms, gets the lock, commits -> a conflict that did not abort
    stats.waited(2.302, 0.002)
    stats.attempt(2.310, COMMITTED, True)
    stats.commit_phase(2.310, 0.004)
    stats.finished(2.310, 2)
    # U: one attempt, committed without waiting
    stats.attempt(3.0, COMMITTED, False)
    stats.commit_phase(3.0, 0.002)
    stats.finished(3.0, 0)
    # outside the window: not counted
    stats.attempt(0.5, CONFLICT, True)
    stats.waited(0.5, 0.1)
    stats.finished(0.5, 7)

    row = stats.columns()
    assert row["txn_attempts"] == 4
    assert row["abort_rate"] == pytest.approx(0.50)
    assert row["conflict_rate"] == pytest.approx(0.50)  # attempts 1 and 3 of T
    assert (row["aborts_conflict"], row["aborts_timeout"]) == (1, 1)
    assert row["aborts_deadlock"] == row["aborts_validation"] == row["aborts_failure"] == 0
    assert row["retries_per_txn"] == pytest.approx(1.0)
    assert row["lock_wait_ms_mean"] == pytest.approx(2.5)
    assert row["twopc_ms_mean"] == pytest.approx(3.0)


def test_in_doubt_and_blocked_time():
    stats = TxnStats(warmup=1.0, end=10.0, checker=TxnChecker())
    stats.doubted(2.0, 2.02, 2.5)            # blocked from 2.02 (decision overdue) to 2.5
    stats.doubted(3.0, math.inf, 3.1)        # the coordinator's own participant: never blocked
    stats.doubted(9.9, 9.92, 10.4)           # runs past the end of the window: clipped
    row = stats.columns()
    assert row["in_doubt_ms"] == pytest.approx(500 + 100 + 100)
    assert row["blocked_ms"] == pytest.approx(480 + 80)
    assert row["blocked_ms_max"] == pytest.approx(480)


# -- TxnClient: timestamps and back-off ----------------------------------------------------------

class FakeNet:
    def __init__(self) -> None:
        self.sent: list[tuple[float, int, object]] = []
        self.receive = None

    def attach(self, endpoint, receive, ends) -> None:
        self.receive = receive

    def send(self, src, dst, msg, depart, incarnation) -> None:
        self.sent.append((depart, dst, msg))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


def client_under(workload: YCSBWorkload, seed: int = 3):
    sim, net = Simulator(seed), FakeNet()
    client = TxnClient(sim, net, 7, 1, workload, YCSBGenerator(workload, 1), Recorder(), Recorder(),
                       None, 100.0)
    client.start()
    sim.run(0.002)
    return sim, net, client


def ops_sent(net):
    return [(t, m) for t, _, m in net.sent if isinstance(m, OpRequest)]


def abort_repeatedly(sim, net, times: int) -> list[tuple[float, float, OpRequest]]:
    """Abort each attempt right after its first operation is sent; return, per abort, (abort
    time, next attempt's first send time, that operation)."""
    out = []
    for _ in range(times):
        _, first = ops_sent(net)[-1]
        at = sim.now + 0.0005
        sim.at(at, lambda _, tid=first.tid: net.receive(0, Outcome(tid, CONFLICT, True)))
        before = len(ops_sent(net))
        sim.run(at + 1.0)
        (t1, nxt), = ops_sent(net)[before:]
        out.append((at, t1, nxt))
    return out


def test_a_transaction_keeps_its_timestamp_across_retries():
    """Its priority under wait_die / wound_wait: an aborted transaction gets older, not
    starved. A new timestamp per retry would make it the youngest again every time."""
    sim, net, _ = client_under(YCSBWorkload(keys=100, ops=2, timeout="10s", retries=10))
    first = ops_sent(net)[0][1]
    retries = [op for _, _, op in abort_repeatedly(sim, net, 4)]
    assert [tid_attempt(op.tid) for op in retries] == [2, 3, 4, 5]
    assert len({op.tid for op in [first, *retries]}) == 5
    assert {op.ts for op in retries} == {first.ts}
    assert all(op.key == first.key and op.index == 0 and op.prior == 0 for op in retries)


@pytest.mark.parametrize("jitter", [0.0, 0.5])
def test_back_off_is_capped_exponential_in_the_earlier_aborts_plus_jitter(jitter):
    base, cap = 0.001, 0.012
    sim, net, _ = client_under(YCSBWorkload(keys=100, ops=2, timeout="10s", retries=20,
                                            backoff_base=base, backoff_cap=cap,
                                            backoff_jitter=jitter))
    delays = [t1 - at for at, t1, _ in abort_repeatedly(sim, net, 7)]
    expected = [min(base * 2 ** n, cap) for n in range(7)]  # 1, 2, 4, 8, 12, 12, 12 ms
    for n, (got, want) in enumerate(zip(delays, expected)):
        assert want - 1e-12 <= got <= want * (1 + jitter) + 1e-12, (n, got, want)
    if jitter == 0.0:
        assert delays == pytest.approx(expected)
    else:
        assert len({round(d / w, 9) for d, w in zip(delays, expected)}) > 1  # jitter is drawn


def test_the_client_tells_each_partition_what_ran_there_and_reports_what_it_saw():
    """Operations carry the count of earlier operations at their partition and the epoch that
    answered them; the commit request names every participant's epoch; a commit is reported
    with the versions read and the keys written."""
    w = YCSBWorkload(keys=100, ops=3, read_ratio=0.0, timeout="10s")
    sim = Simulator(5)
    net = FakeNet()
    stats = Recorder()
    client = TxnClient(sim, net, 9, 2, w, YCSBGenerator(w, 2), stats, Recorder(), None, 100.0)
    client.start()
    sim.run(0.002)
    epochs = {0: 4, 1: 6}
    for i in range(3):
        t, op = ops_sent(net)[-1]
        p = op.key % 2
        earlier = [o for _, o in ops_sent(net)[:-1] if o.key % 2 == p]
        assert op.prior == len(earlier) and op.epoch == (epochs[p] if earlier else 0)
        sim.at(sim.now + 0.001, lambda _, op=op, p=p: net.receive(
            p, OpReply(op.tid, op.index, 100, False, 8, 1000 + op.key, epochs[p])))
        sim.run(sim.now + 0.001)
    (t, _, commit), = [s for s in net.sent if isinstance(s[2], CommitRequest)]
    assert commit.epochs == tuple(epochs[p] for p in commit.participants)
    sim.at(sim.now + 0.001, lambda _: net.receive(0, Outcome(commit.tid, COMMITTED)))
    sim.run(sim.now + 0.001)
    keys = [op.key for _, op in ops_sent(net)[:3]]
    (acked,) = [c for c in stats.calls if c[0] == "acked"]
    assert acked[1] == commit.tid
    assert acked[2] == [(k, 1000 + k) for k in keys] and acked[3] == keys
