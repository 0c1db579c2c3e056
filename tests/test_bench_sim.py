"""Simulator speed, as benchmarks (pytest-benchmark), never as timed assertions.

``pytest --benchmark-enable tests/test_bench_sim.py`` measures simulated protocol messages per
wall-clock second in a steady-state 5-node Raft and, in the same session, a bare event loop (a
priority queue delivering messages with no protocol logic and no cost model). The ratio of the two
is what to compare across machines. With benchmarks disabled (the default) each body runs once
as a smoke test.
"""

from __future__ import annotations

import time

from harness.network import Network
from harness.protocol import Message
from harness.runner import ConsensusWorld
from harness.sim import Simulator

RAFT5 = """
name: bench-raft5
protocol: raft
duration: 3s
warmup: 1s
cluster: {nodes: 5}
workload: {type: kv, clients: 64, keys: 10000, read_ratio: 0.5}
checkers: {linearizability: false}
"""

RESULTS: dict[str, float] = {}


def _steady_raft(suite) -> tuple[int, float]:
    (spec,) = suite.runs()
    world = ConsensusWorld(spec.config, spec.seed)
    cfg = spec.config
    for client in world.clients:
        client.start()
    world.sim.run(cfg.warmup)  # elect a leader and fill the pipeline first
    before = world.net.messages
    started = time.perf_counter()
    world.sim.run(cfg.duration)
    return world.net.messages - before, time.perf_counter() - started


def _bare_loop(messages: int) -> float:
    """Deliver ``messages`` messages through the engine's queue with no protocol and no costs."""
    sim = Simulator(1)
    rng = sim.rng("bare")
    left = [messages]

    def deliver(msg):
        left[0] -= 1
        if left[0] > 0:
            sim.at(sim.now + 0.0005 + rng.random() * 0.0001, deliver, msg)

    for k in range(64):
        sim.at(rng.random() * 0.001, deliver, k)
    started = time.perf_counter()
    sim.run(float("inf"))
    return time.perf_counter() - started


class _Ping(Message):
    __slots__ = ()

    def __init__(self) -> None:
        self.size = 100


def _network_loop(messages: int, network_cfg) -> float:
    """The same, through the simulated network (latency draws, loss checks), still no protocol."""
    sim = Simulator(1)
    net = Network(sim, network_cfg, 5, 0)
    left = [messages]
    for node in range(5):
        def receive(src, msg, node=node):
            left[0] -= 1
            if left[0] > 0:
                net.send(node, (node + 1 + left[0] % 4) % 5, msg, sim.now, 0)
        net.attach(node, receive, [float("inf")])
    for k in range(64):
        net.send(k % 5, (k + 1) % 5, _Ping(), 0.0, 0)
    started = time.perf_counter()
    sim.run(float("inf"))
    return time.perf_counter() - started


def test_raft_messages_per_second(benchmark, make_suite):
    suite = make_suite(RAFT5)
    messages, wall = benchmark.pedantic(_steady_raft, args=(suite,), rounds=1, iterations=1)
    rate = messages / wall
    RESULTS["raft"] = rate
    benchmark.extra_info["simulated_messages"] = messages
    benchmark.extra_info["messages_per_wall_s"] = round(rate)
    assert messages > 1000


def test_bare_loop_messages_per_second(benchmark):
    n = 300_000
    wall = benchmark.pedantic(_bare_loop, args=(n,), rounds=1, iterations=1)
    rate = n / wall
    RESULTS["bare"] = rate
    benchmark.extra_info["messages_per_wall_s"] = round(rate)
    if "raft" in RESULTS:
        benchmark.extra_info["raft_over_bare"] = round(RESULTS["raft"] / rate, 3)
        print(f"\nraft {RESULTS['raft']:,.0f} msg/s, bare loop {rate:,.0f} msg/s, "
              f"ratio {RESULTS['raft'] / rate:.3f}")


def test_network_loop_messages_per_second(benchmark, make_suite):
    n = 300_000
    network_cfg = make_suite(RAFT5).runs()[0].config.network
    wall = benchmark.pedantic(_network_loop, args=(n, network_cfg), rounds=1, iterations=1)
    rate = n / wall
    benchmark.extra_info["messages_per_wall_s"] = round(rate)
    if "raft" in RESULTS:
        benchmark.extra_info["raft_over_network_loop"] = round(RESULTS["raft"] / rate, 3)
        print(f"\nraft {RESULTS['raft']:,.0f} msg/s, network loop {rate:,.0f} msg/s, "
              f"ratio {RESULTS['raft'] / rate:.3f}")
