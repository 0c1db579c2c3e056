"""Simulator speed, as benchmarks (pytest-benchmark), never as timed assertions.

``pytest -n 0 --benchmark-enable tests/test_bench_sim.py -s`` measures simulated messages per
CPU second of the process (wall-clock seconds on one idle core, but robust to a busy machine) of
a steady-state workload per built-in protocol -- a 5-node cluster for each consensus protocol (64
closed-loop KV clients) and a 4-partition YCSB transaction workload for each transaction protocol --
and, in the same session, of a *reference loop*: a priority queue delivering messages with no
protocol, written here so that it stays interpreted Python in every build (pure or compiled).
The ratio of a workload's rate to the reference's is what to compare across machines and
builds. ``--benchmark-autosave`` (or ``--benchmark-json FILE``) saves the results, and a later
run compares with ``--benchmark-compare``. With benchmarks disabled (the default) each body
runs once as a smoke test.
"""

from __future__ import annotations

import heapq
import random
import time

import pytest

from harness import build
from harness.kinds.consensus.world import ConsensusWorld
from harness.kinds.transactions.world import TransactionWorld

CONSENSUS = """
name: bench-{protocol}5
protocol: {protocol}
duration: 3s
warmup: 1s
cluster: {{nodes: 5}}
workload: {{type: kv, clients: 64, keys: 10000, read_ratio: 0.5}}
checkers: {{linearizability: false}}
"""

TRANSACTIONS = """
name: bench-{protocol}4
kind: transactions
protocol: {protocol}
duration: 3s
warmup: 1s
cluster: {{partitions: 4}}
workload: {{type: ycsb, clients: 32, keys: 10000, ops: 8, multi_partition: 0.2,
           distribution: {{type: zipfian, theta: 0.6}}}}
"""
BANK = """
name: bench-{protocol}4
kind: transactions
protocol: {protocol}
duration: 3s
warmup: 1s
cluster: {{partitions: 4}}
workload: {{type: bank, clients: 32, accounts: 10000, multi_partition: 0.5,
           distribution: {{type: zipfian, theta: 0.6}}}}
"""
# every built-in protocol: its kind's workload above (Saga and TCC run only the bank)
CONSENSUS_PROTOCOLS = ["raft", "multipaxos", "zab", "quorum"]
TRANSACTION_PROTOCOLS = ["2pl-waitdie", "occ", "tso", "mvcc-si"]
BANK_PROTOCOLS = ["saga", "tcc"]

RESULTS: dict[str, float] = {}


def _steady(world) -> tuple[int, float]:
    """Messages simulated, and wall seconds, from the end of warm-up to the end of the run."""
    cfg = world.cfg
    world._start()
    world.sim.run(cfg.warmup)  # elect a leader and fill the pipeline first
    before = world.net.messages
    started = time.process_time()
    world.sim.run(cfg.duration)
    return world.net.messages - before, time.process_time() - started


def _reference_loop(messages: int) -> float:
    """Deliver ``messages`` messages through a plain heapq event loop, nothing else."""
    heap: list = []
    rng = random.Random(1)
    seq = 0
    for k in range(64):
        seq += 1
        heapq.heappush(heap, (rng.random() * 0.001, seq, k))
    left = messages
    started = time.process_time()
    while heap and left:
        now, _, msg = heapq.heappop(heap)
        left -= 1
        seq += 1
        heapq.heappush(heap, (now + 0.0005 + rng.random() * 0.0001, seq, msg))
    return time.process_time() - started


def test_reference_loop_messages_per_second(benchmark):
    n = 300_000
    wall = benchmark.pedantic(_reference_loop, args=(n,), rounds=1, iterations=1)
    RESULTS["reference"] = n / wall
    benchmark.extra_info["messages_per_wall_s"] = round(n / wall)


@pytest.mark.parametrize("workload", CONSENSUS_PROTOCOLS + TRANSACTION_PROTOCOLS + BANK_PROTOCOLS)
def test_messages_per_second(benchmark, make_suite, workload):
    if workload in TRANSACTION_PROTOCOLS or workload in BANK_PROTOCOLS:
        text = TRANSACTIONS if workload in TRANSACTION_PROTOCOLS else BANK
        (spec,) = make_suite(text.format(protocol=workload)).runs()
        world = TransactionWorld(spec.config, spec.seed)
    else:
        (spec,) = make_suite(CONSENSUS.format(protocol=workload)).runs()
        world = ConsensusWorld(spec.config, spec.seed)
    messages, wall = benchmark.pedantic(_steady, args=(world,), rounds=1, iterations=1)
    rate = messages / wall
    benchmark.extra_info["simulated_messages"] = messages
    benchmark.extra_info["build"] = build.kind()
    benchmark.extra_info["messages_per_wall_s"] = round(rate)
    if "reference" in RESULTS:
        ratio = rate / RESULTS["reference"]
        benchmark.extra_info["over_reference_loop"] = round(ratio, 4)
        print(f"\n{workload} ({build.kind()}) {rate:,.0f} msg/s, reference loop {RESULTS['reference']:,.0f} "
              f"msg/s, ratio {ratio:.4f}")
    assert messages > 1000
