"""The nemesis (fault rates and schedules) and the failure metrics it feeds, through the runner."""

from __future__ import annotations

import pytest

from harness.execution import runner

BASE = """
name: faults
protocol: raft
duration: 6s
warmup: 0.5s
cluster: {nodes: 5}
workload: {type: kv, clients: 8, keys: 20, timeout: 30ms, retries: 200}
"""


def run(make_suite, *overrides):
    suite = make_suite(BASE, *overrides)
    (spec,) = suite.runs()
    return runner.run(spec, suite.name)


def kinds(result):
    return [e["kind"] for e in result.events]


def test_no_faults_means_no_failover_and_no_unavailability(make_suite):
    r = run(make_suite)
    assert r.row["safety"] == "ok"
    assert r.row["leader_changes"] == 0 and r.row["unavailable_ms"] == 0
    assert r.row["failover_ms_mean"] != r.row["failover_ms_mean"]  # NaN: nothing to measure
    assert kinds(r) == ["leader"]


def test_crash_rate_crashes_and_repairs_nodes(make_suite):
    r = run(make_suite, "faults.crash={mtbf: 2s, mttr: 300ms}")
    crashes, restarts = kinds(r).count("crash"), kinds(r).count("restart")
    # five nodes, each failing every 2 s on average for 6 s: about 14 crashes expected
    assert 5 <= crashes <= 30 and restarts >= crashes - 5
    assert r.row["safety"] == "ok"


def test_leader_crash_is_timed_as_a_failover_and_counts_as_unavailable(make_suite):
    r = run(make_suite, "faults.schedule=[{at: 2s, crash: leader, for: 1s}]")
    failovers = [e for e in r.events if e["kind"] == "failover"]
    assert len(failovers) == 1
    # election timeout 150 ms randomised to [150, 300) ms, plus the election itself
    assert 150 <= failovers[0]["duration_ms"] <= 450
    assert r.row["failover_ms_max"] == pytest.approx(failovers[0]["duration_ms"])
    assert 100 <= r.row["unavailable_ms"] <= 500
    assert r.row["leader_changes"] == 1


def test_follower_crash_is_not_a_failover(make_suite):
    r = run(make_suite, "faults.schedule=[{at: 2s, crash: follower, for: 1s}]")
    assert "failover" not in kinds(r) and r.row["leader_changes"] == 0


def test_partition_rate_and_minority_leader(make_suite):
    r = run(make_suite, "faults.partition={mtbf: 1s, duration: 400ms, kind: isolate-leader}")
    assert kinds(r).count("isolate") >= 2 and kinds(r).count("heal") >= 2
    assert r.row["leader_changes"] >= 1 and r.row["safety"] == "ok"


def test_slow_leader_becomes_the_bottleneck(make_suite):
    fast = run(make_suite).row
    slow = run(make_suite, "faults.schedule=[{at: 1s, slow: leader, factor: 20}]").row
    assert slow["throughput_ops_s"] < 0.5 * fast["throughput_ops_s"]   # the leader is the bottleneck
    assert slow["latency_p99_ms"] > 2 * fast["latency_p99_ms"]
    assert slow["leader_cpu_utilization"] > 0.9 > fast["leader_cpu_utilization"]


def test_majority_minority_split_with_a_named_group(make_suite):
    r = run(make_suite, "faults.schedule=[{at: 1s, partition: [0, 1], for: 1s}]")
    part = [e for e in r.events if e["kind"] == "partition"]
    assert part and part[0]["detail"] == "0,1 | 2,3,4"
    assert r.row["safety"] == "ok"


def test_link_overrides_make_a_wan(make_suite):
    near = run(make_suite, "cluster.nodes=3").row
    far = run(make_suite, "cluster.nodes=3",
              "network.links=[{from: '*', to: 2, latency: 20ms}, {from: 2, to: '*', latency: 20ms}]").row
    # a majority (2 of 3) can still commit without node 2, so only node 2's share slows down
    assert far["safety"] == "ok"
    assert far["latency_p99_ms"] > near["latency_p99_ms"]
