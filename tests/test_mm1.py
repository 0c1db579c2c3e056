"""The cost model against queueing theory, and a protocol registered from outside the harness.

An open-loop Poisson load on one node whose service time is exponential is an M/M/1 queue: the
mean response time must be 1 / (mu - lambda). The node runs a one-replica "protocol" registered
here, in the test module, without touching harness code.
"""

from __future__ import annotations

import pytest

from harness.execution import runner
from harness.protocol import Node, register
from workloads.kv import OK, Reply


@register("single-test", kind="consensus", description="one replica, no replication (test only)")
class SingleNode(Node):
    def __init__(self, node_id, nodes, replication, options, state_machine):
        self.sm = state_machine
        self.index = 0

    def start(self, ctx, stable):
        ctx.became_leader(1)

    def on_message(self, ctx, src, msg):
        raise AssertionError("a single node gets no peer messages")

    def on_timer(self, ctx, name):
        pass

    def on_request(self, ctx, request):
        self.index += 1
        result = self.sm.apply(request)
        ctx.applied(self.index, request)
        ctx.reply(request, Reply(request, OK, result))


MM1 = """
name: mm1
protocol: single-test
duration: 30s
warmup: 2s
cluster: {nodes: 1, cpu_per_message: 100us, cpu_per_send: 0s, cpu_per_byte: 0s, cpu_dist: exponential}
network: {latency: 0s}
workload: {type: kv, mode: open, rate: 1000/s, clients: 4, timeout: 60s, keys: 100}
"""


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.8])
def test_single_queue_matches_mm1_mean_response_time(make_suite, rho):
    mu = 10_000.0  # 1 / 100us
    lam = rho * mu
    suite = make_suite(MM1, f"workload.rate={lam}")
    (spec,) = suite.runs()
    row = runner.run(spec, suite.name).row
    expected_ms = 1000.0 / (mu - lam)
    assert row["safety"] == "ok"
    assert row["throughput_ops_s"] == pytest.approx(lam, rel=0.03)
    assert row["latency_mean_ms"] == pytest.approx(expected_ms, rel=0.08)
    # M/M/1 response time is exponential: its median is ln 2 times the mean
    assert row["latency_p50_ms"] == pytest.approx(0.693 * expected_ms, rel=0.10)
