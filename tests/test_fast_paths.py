"""The simulator's shortcuts are observationally identical to the plain paths they replace:
deferred state-machine application, runs of applied commands, lazy client timeouts and the
buffered latency histogram."""

from __future__ import annotations

import random

from hdrh.histogram import HdrHistogram

from harness.checkers.consensus import LogAgreement
from harness.metrics import US, Metrics
from harness.engine.scripted import ScriptedCluster
from harness.engine.sim import Simulator
from harness.testing.scenario import scripted_cluster
from implementations.raft.node import LEADER
from workloads.kv import CAS, GET, OK, PUT, KVStateMachine, Request
from workloads.keys import below
from workloads.pacing import Timeouts


def _commands() -> list[Request]:
    return [Request(1, 1, PUT, 5, 42, value_size=10), Request(2, 1, PUT, 6, 7, value_size=10),
            Request(1, 2, CAS, 5, 43, 42, ack=2, value_size=10)]


def _serves_after_failover(c: ScriptedCluster, elect, old: int, new: int) -> None:
    """Commit writes through ``old``, then fail over to ``new``, a follower that never read its
    state machine: a read and a retried write on it must see every committed write."""
    elect(c, old)
    for cmd in _commands():
        c.request(old, cmd)
        c.deliver_all()
    c.fire(old, "heartbeat")
    c.deliver_all()
    follower = c.replicas[new].sm
    assert follower._deferred  # committed but not applied yet
    c.isolate(old)
    elect(c, new)
    read, retry = Request(3, 1, GET, 5), Request(1, 2, CAS, 5, 43, 42, ack=2, value_size=10)
    for cmd in (read, retry):
        c.request(new, cmd)
        c.deliver_all()
    answers = {q.uid: r for _, q, r in c.obs.replies if r.status == OK}
    assert answers[read.uid].value == 43 and answers[read.uid].size == 32 + 10
    assert answers[retry.uid].value is True  # the session table came along: no second swap
    assert follower.data == {5: 43, 6: 7} and not follower._deferred


def test_raft_follower_applies_on_becoming_leader():
    c = scripted_cluster("raft", 3)

    def elect(c, n):
        for _ in range(4):
            c.now += 1.0
            c.fire(n, "election")
            c.deliver_all()
            if c.replicas[n].role == LEADER:
                return
        raise AssertionError("no leader")

    _serves_after_failover(c, elect, 0, 1)


def test_multipaxos_follower_applies_on_becoming_leader():
    c = scripted_cluster("multipaxos", 3)

    def elect(c, n):
        c.now += 1.0  # past any election timeout: a timer fired early is stale
        c.fire(n, "election")
        c.deliver_all()
        assert c.leader() == n

    _serves_after_failover(c, elect, 0, 1)


def test_deferred_commands_apply_in_order_before_any_read():
    direct, lazy = KVStateMachine(), KVStateMachine()
    cmds = _commands()
    results = [direct.apply(cmd) for cmd in cmds]
    lazy.defer([None, cmds[0]])
    lazy.defer(cmds[1:])
    assert lazy.read(5) == 43 and lazy.data == direct.data
    assert lazy.apply(cmds[2]) == results[2]  # a duplicate: answered from the session


def test_a_run_of_applied_commands_is_checked_like_each_one():
    rng = random.Random(7)
    for _ in range(300):
        one, run = LogAgreement(), LogAgreement()
        for node in range(3):
            one.restarted(node)
            run.restarted(node)
        t = 0.0
        for _ in range(12):
            node = rng.randrange(3)
            if rng.random() < 0.1:  # a restart, from the start or from a snapshot at some index
                k = rng.randint(0, len(one) + 3)
                one.restarted(node, k)
                run.restarted(node, k)
            first = max(1, len(one) + rng.randint(-4, 2)) if rng.random() < 0.8 else rng.randint(0, 9)
            uids = [i if rng.random() < 0.97 else -i for i in range(first, first + rng.randint(0, 5))]
            t += 1.0
            for i, uid in enumerate(uids, first):
                one.applied(node, i, uid, t)
            run.applied_run(node, first, uids, t)
        assert one.verdict() == run.verdict()
        assert list(one.uids) == list(run.uids) and one._last == run._last


def test_lazy_timeouts_fire_at_each_live_deadline():
    sim = Simulator(1)
    fired: list[tuple[float, str]] = []
    dead = {"b", "d"}
    timeouts = Timeouts(sim, 0.2, lambda k: fired.append((sim.now, k)), lambda k: k not in dead)
    for at, key in ((0.0, "a"), (0.05, "b"), (0.1, "c"), (0.3, "d"), (0.35, "e")):
        sim.at(at, timeouts.add, key)
    sim.at(0.36, lambda _: dead.add("e"))
    sim.run(10.0)
    assert fired == [(0.2, "a"), (0.1 + 0.2, "c")]
    # one timer, fired three times: at a's deadline, at c's (b is dead), at e's (d is dead, and
    # e too by then); plus the six events scheduled above
    assert sim.events_processed == 6 + 3


def test_buffered_histogram_equals_recording_each_value():
    rng = random.Random(3)
    m = Metrics(0.0, 0.1, 0.05)
    ref = HdrHistogram(1, 3600 * US, 3)
    t = 0.0
    for _ in range(5000):
        t += rng.random() * 1e-3
        latency = rng.expovariate(300.0)
        m.completed(t - latency if t > latency else 0.0, t)
        ref.record_value(max(1, int((t - (t - latency if t > latency else 0.0)) * US)))
    assert m.latency_histogram() == [(it.value_iterated_to / 1000, it.count_at_value_iterated_to)
                                     for it in ref.get_recorded_iterator()]
    row = m.finish(t)
    assert row["latency_mean_ms"] == ref.get_mean_value() / 1000
    for p in (50, 95, 99, 99.9):
        assert row[f"latency_p{str(p).replace('.', '')}_ms"] == ref.get_value_at_percentile(p) / 1000
    assert row["latency_max_ms"] == ref.get_max_value() / 1000


def test_below_draws_what_randrange_draws():
    for n in (1, 2, 3, 7, 8, 1000, 10_000, 2**40 + 1):
        a, b = random.Random(n), random.Random(n)
        assert [below(a, n) for _ in range(500)] == [b.randrange(n) for _ in range(500)]
