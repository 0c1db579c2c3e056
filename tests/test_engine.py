"""The simulation engine: event order, the cost model, stable storage and crash semantics."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest

from harness.engine.network import Latencies, Network
from harness.engine.node import NodeHost
from harness.protocol import Message, Node
from harness.engine.sim import Simulator, derive_seed


def cluster(**kw):
    base = dict(cpu_per_message=0.0, cpu_per_send=0.0, cpu_per_byte=0.0, cpu_dist="constant",
                fsync=0.001, group_commit=True, queue="fifo")
    base.update(kw)
    return SimpleNamespace(**base)


def network(**kw):
    base = dict(latency=SimpleNamespace(dist="constant", value=0.001), loss=0.0, duplicate=0.0,
                bandwidth=None, links=[], transport="datagram", rto=0.2)
    base.update(kw)
    return SimpleNamespace(**base)


class Ping(Message):
    __slots__ = ("n",)

    def __init__(self, n: int, size: int = 100):
        self.n = n
        self.size = size


class Recorder(Node):
    """A replica that logs what it sees and does what the test tells it to."""

    def __init__(self, script=None):
        self.seen: list[tuple[float, int, int]] = []
        self.script = script or (lambda node, ctx, msg: None)
        self.records: list = []

    def start(self, ctx, stable):
        self.records = list(stable)

    def on_message(self, ctx, src, msg):
        self.seen.append((ctx.now, src, msg.n))
        self.script(self, ctx, msg)

    def on_timer(self, ctx, name):
        self.seen.append((ctx.now, -1, name))

    def on_request(self, ctx, request):
        pass


class Observer:
    def leader(self, *a): pass
    def applied(self, *a): pass
    def restarted(self, *a): pass


def world(n=2, script=None, net_kw=None, **cluster_kw):
    sim = Simulator(7)
    net = Network(sim, network(**(net_kw or {})), n, 0)
    replicas = {}

    def make(i):
        def build():
            replicas[i] = Recorder(script)
            return replicas[i]
        return build

    hosts = [NodeHost(sim, net, i, tuple(range(n)), cluster(**cluster_kw), make(i), Observer()) for i in range(n)]
    return sim, net, hosts, replicas


def test_same_time_events_run_in_scheduling_order():
    sim = Simulator(1)
    seen = []
    for k in range(5):
        sim.at(1.0, seen.append, k)
    sim.at(0.5, seen.append, "first")
    sim.run(2.0)
    assert seen == ["first", 0, 1, 2, 3, 4]
    assert sim.now == 2.0


def test_no_full_garbage_collection_while_events_run_and_the_settings_come_back():
    sim = Simulator(1)
    during = []
    sim.at(1.0, lambda _: during.append(gc.get_threshold()))
    sim.at(2.0, lambda _: 1 / 0)
    before = gc.get_threshold()
    sim.run(1.5)
    assert during[0][:2] == before[:2] and during[0][2] > 10**6 and gc.get_threshold() == before
    with pytest.raises(ZeroDivisionError):
        sim.run(3.0)
    assert gc.get_threshold() == before


def test_named_streams_are_stable_and_independent():
    assert derive_seed(1, "network") == derive_seed(1, "network")
    assert derive_seed(1, "network") != derive_seed(2, "network")
    a = Simulator(3).rng("client/1").random()
    assert a == Simulator(3).rng("client/1").random()
    assert a != Simulator(3).rng("client/2").random()


def test_cpu_is_a_fifo_queue():
    sim, net, hosts, replicas = world(cpu_per_message=0.010)
    for k in range(3):  # three messages arrive together at t=0.001
        net.send(0, 1, Ping(k), 0.0, 0)
    sim.run(1.0)
    starts = [t for t, _, _ in replicas[1].seen]
    assert starts == pytest.approx([0.001, 0.011, 0.021])
    assert hosts[1].busy_time == pytest.approx(0.030)


def test_send_waits_for_cpu_and_persist_waits_for_fsync():
    def script(node, ctx, msg):
        if msg.n == 0:
            ctx.persist(("x", 1))
            ctx.send(0, Ping(1))

    sim, net, hosts, replicas = world(script=script, cpu_per_message=0.002, fsync=0.005)
    net.send(0, 1, Ping(0), 0.0, 0)
    sim.run(1.0)
    # arrives 0.001, CPU until 0.003, fsync until 0.008, then 0.001 on the wire
    assert replicas[0].seen == [(pytest.approx(0.009), 1, 1)]


def test_group_commit_shares_a_flush():
    sim, net, hosts, _ = world(fsync=0.010)
    h = hosts[0]
    for t in (0.0, 0.001, 0.002, 0.003):
        h._t = t
        h.persist(t)
    # the first flush runs 0..10 ms; the next three share the flush at 10..20 ms
    assert [end for end, _ in h.pending] == pytest.approx([0.010, 0.020, 0.020, 0.020])
    assert h.fsyncs == 2


def test_without_group_commit_every_persist_flushes():
    sim, net, hosts, _ = world(fsync=0.010, group_commit=False)
    h = hosts[0]
    for t in (0.0, 0.001, 0.002):
        h._t = t
        h.persist(t)
    assert [end for end, _ in h.pending] == pytest.approx([0.010, 0.020, 0.030])
    assert h.fsyncs == 3


def test_crash_loses_unflushed_records_and_voids_unsent_outputs():
    def script(node, ctx, msg):
        if msg.n == 0:
            ctx.persist("durable")
        elif msg.n == 1:
            ctx.persist("lost")
            ctx.send(0, Ping(9))   # may only leave after the flush, which the crash prevents

    sim, net, hosts, replicas = world(script=script, fsync=0.010)
    net.send(0, 1, Ping(0), 0.0, 0)      # persisted by 0.011
    net.send(0, 1, Ping(1), 0.020, 0)    # persist would be durable at 0.031
    sim.at(0.025, lambda _: hosts[1].crash())
    sim.at(0.100, lambda _: hosts[1].restart())
    sim.run(1.0)
    assert replicas[1].records == ["durable"]
    assert all(n != 9 for _, _, n in replicas[0].seen)


def test_crashed_node_drops_input_and_its_timers():
    sim, net, hosts, replicas = world()
    hosts[1].set_timer("t", 0.050)
    sim.at(0.010, lambda _: hosts[1].crash())
    net.send(0, 1, Ping(5), 0.020, 0)
    sim.run(1.0)
    assert replicas[1].seen == []


def test_slow_node_multiplies_cpu_cost():
    sim, net, hosts, replicas = world(cpu_per_message=0.002)
    hosts[1].slow = 5.0
    net.send(0, 1, Ping(0), 0.0, 0)
    net.send(0, 1, Ping(1), 0.0, 0)
    sim.run(1.0)
    assert [t for t, _, _ in replicas[1].seen] == pytest.approx([0.001, 0.011])


def test_partition_one_way_and_heal():
    sim, net, hosts, replicas = world()
    pairs = net.cut({0}, {1}, one_way=True)
    net.send(0, 1, Ping(0), 0.0, 0)
    net.send(1, 0, Ping(1), 0.0, 0)
    sim.run(0.5)
    assert replicas[1].seen == [] and [n for _, _, n in replicas[0].seen] == [1]
    net.restore(pairs)
    net.send(0, 1, Ping(2), 0.6, 0)
    sim.run(1.0)
    assert [n for _, _, n in replicas[1].seen] == [2]


def test_bandwidth_serialises_a_link():
    sim = Simulator(1)
    net = Network(sim, network(bandwidth=1_000_000.0), 2, 0)
    got = []
    net.attach(1, lambda src, msg: got.append(sim.now), [float("inf")])
    for k in range(3):
        net.send(0, 1, Ping(k, size=10_000), 0.0, 0)  # 10 ms each on a 1 MB/s link
    sim.run(1.0)
    assert got == pytest.approx([0.011, 0.021, 0.031])


@pytest.mark.parametrize("spec, mean", [
    (SimpleNamespace(dist="uniform", low=0.001, high=0.003), 0.002),
    (SimpleNamespace(dist="normal", mean=0.002, std=0.0005), 0.002),
    (SimpleNamespace(dist="exponential", mean=0.002), 0.002),
    (SimpleNamespace(dist="pareto", scale=0.001, shape=3.0), 0.0015),
])
def test_latency_distributions_have_their_mean(spec, mean):
    import random
    draws = Latencies(spec, random.Random(5))
    xs = [draws.next() for _ in range(20000)]
    assert min(xs) >= 0
    assert sum(xs) / len(xs) == pytest.approx(mean, rel=0.05)
