"""The quorum store against two models of its latency distributions (docs/fidelity.md, "A
leaderless quorum store"): a quorum read's latency is an order statistic of the replicas' round
trips, and the chance that a read at ``one`` misses a write follows from the write's propagation
delay (the WARS model of Bailis et al., "Probabilistically Bounded Staleness", VLDB 2012).

Both runs charge no CPU and use datagram links, so that nothing but the configured latencies
shapes the timing: client links a constant C, replica links exponential with mean M, each
message's delay drawn independently. Seeds are fixed; tolerances come from the sample sizes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from harness.kinds.consensus.world import ConsensusWorld
from workloads.kv import GET, PUT

C, M = 100e-6, 1e-3
SUITE = """
name: quorum-fidelity
protocol: quorum
duration: {duration}
warmup: 0.2s
cluster: {{nodes: {nodes}, cpu_per_message: 0us, cpu_per_send: 0us, cpu_per_byte: 0ns, fsync: 0us}}
network:
  transport: datagram
  latency: 100us
  links: [{{from: '*', to: '*', latency: {{dist: exponential, mean: 1ms}}}}]
checkers: {{linearizability: false}}
"""


def run(make_suite, nodes: int, duration: str, *overrides: str) -> ConsensusWorld:
    (spec,) = make_suite(SUITE.format(nodes=nodes, duration=duration), *overrides).runs()
    world = ConsensusWorld(spec.config, spec.seed)
    world.run()
    return world


def columns(world: ConsensusWorld) -> dict[str, np.ndarray]:
    h = world.history
    return {"op": np.asarray(h.op), "key": np.asarray(h.key), "value": np.asarray(h.value),
            "result": np.asarray(h._result), "client": np.asarray(h.client),
            "ok": np.asarray(h._status) == 1, "invoke": np.asarray(h.t_invoke),
            "ret": np.asarray(h._t_return)}


@pytest.mark.parametrize("r", [2, 3, 5])
def test_quorum_read_latency_is_the_order_statistic_of_the_replicas_round_trips(make_suite, r):
    """N = 5 on 5 nodes, so the coordinator is a replica and its own answer is instant: a read
    waits for the (R-1)-th fastest of the other 4 round trips (each the sum of two exponential
    legs, a gamma(2, M)), plus the client's two legs."""
    world = run(make_suite, 5, "1.5s", "workload.read_ratio=1.0", "workload.clients=8",
                "protocols.quorum.replication_factor=5", f"protocols.quorum.read_consistency={r}")
    h = columns(world)
    chosen = h["ok"] & (h["invoke"] >= 0.2)
    waited = h["ret"][chosen] - h["invoke"][chosen] - 2 * C
    k, n = r - 1, 4
    round_trip = stats.gamma(2, scale=M)

    def cdf(x):  # the k-th smallest of n draws: P(at least k below x)
        return stats.beta.cdf(round_trip.cdf(x), k, n - k + 1)

    mean = integrate.quad(lambda x: 1 - cdf(x), 0, np.inf)[0]
    se = waited.std() / np.sqrt(len(waited))
    assert len(waited) > 2000
    assert abs(waited.mean() - mean) < 4 * se, (waited.mean(), mean, se)
    assert stats.kstest(waited, cdf).pvalue > 0.01


def test_the_stale_share_of_one_reads_follows_the_write_propagation_delay(make_suite):
    """N = 3 on 3 nodes, R = W = one. A write is applied at its coordinator X at once and
    answered a client leg later; its copy reaches another replica Y an exponential delay E after
    X applied it. A read invoked t after the write completed reaches its coordinator Y (itself a
    replica, whose own copy answers at once) at 2C + t after X applied the write, so for Y != X

        P(stale | t) = P(E > t + 2C) = exp(-(t + 2C) / M),

    and 0 for Y = X. Reads are counted when the latest write of their key completed before they
    began and no other write of it overlapped them."""
    world = run(make_suite, 3, "1.6s", "workload.read_ratio=0.8", "workload.clients=12",
                "workload.keys=40", "protocols.quorum.read_consistency=one",
                "protocols.quorum.write_consistency=one")
    node_of = {client.endpoint: client.leader for client in world.clients}  # no faults: no moves
    h = columns(world)
    delays, stale = [], []
    order = np.argsort(h["invoke"], kind="stable")
    for key in np.unique(h["key"]):
        ops = order[h["key"][order] == key]
        writes = ops[h["op"][ops] == PUT]
        for i in ops[(h["op"][ops] == GET) & h["ok"][ops] & (h["invoke"][ops] >= 0.2)]:
            before = writes[h["invoke"][writes] < h["invoke"][i]]
            if not len(before):
                continue
            w = before[-1]
            overlapping = writes[(h["invoke"][writes] > h["invoke"][w]) & (h["invoke"][writes] <= h["ret"][i])]
            if not h["ok"][w] or h["ret"][w] >= h["invoke"][i] or len(overlapping) \
                    or node_of[h["client"][i]] == node_of[h["client"][w]]:
                continue
            delays.append(h["invoke"][i] - h["ret"][w])
            stale.append(h["result"][i] != h["value"][w])
    delays, stale = np.array(delays), np.array(stale)
    for lo, hi in [(0, 0.25e-3), (0.25e-3, 0.5e-3), (0.5e-3, 1e-3), (1e-3, 1.5e-3)]:
        sel = (delays >= lo) & (delays < hi)
        model = np.exp(-(delays[sel] + 2 * C) / M).mean()
        se = np.sqrt(model * (1 - model) / sel.sum())
        assert 0.10 * model > 3 * se, (lo, sel.sum())  # the sample can tell 10% apart
        assert abs(stale[sel].mean() - model) < 0.10 * model, (lo, hi, stale[sel].mean(), model)
