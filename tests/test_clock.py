"""The ``clock`` fault: a node's clock off by a skew and running fast or slow by a drift rate.
What the node reads as ``ctx.now`` and when its timers fire change; what is recorded does not."""

from __future__ import annotations

import pytest

from harness import build
from harness.suite.errors import ConfigError
from harness.execution import runner
from test_engine import Ping, world


def timer_on_message(node, ctx, msg):
    ctx.set_timer("t", 0.100)


# -- one node host -------------------------------------------------------------------------------

def test_a_skew_shows_in_what_the_node_reads_as_now():
    sim, net, hosts, replicas = world()
    sim.at(0.010, lambda _: hosts[1].set_clock(0.050, 0.0))
    net.send(0, 1, Ping(1), 0.020, 0)  # arrives at 0.021
    sim.run(1.0)
    assert replicas[1].seen == [(pytest.approx(0.071), 0, 1)]
    assert replicas[0].seen == []


def test_a_drifting_clock_gains_its_rate_and_its_timers_fire_early_by_the_factor():
    sim, net, hosts, replicas = world(script=timer_on_message)
    sim.at(0.010, lambda _: hosts[1].set_clock(0.0, 0.25))
    net.send(0, 1, Ping(1), 0.020, 0)  # arrives at 0.021: the node reads 0.021 + 0.25 * 0.011
    sim.run(1.0)
    (t_msg, _, _), (t_fire, _, name) = replicas[1].seen
    assert t_msg == pytest.approx(0.02375) and name == "t"
    # 100 ms on its clock is 80 ms of true time: it fires at 0.101, reading 0.02375 + 0.100
    assert t_fire == pytest.approx(0.12375)
    assert hosts[1].busy_at(1.0) == 0.0  # (no CPU cost configured: true time accounts)


@pytest.mark.skipif(build.kind() == "compiled", reason="watches the run by replacing a method, which a compiled class does not allow")
def test_a_slow_clock_fires_late_and_re_times_a_timer_armed_before():
    sim, net, hosts, replicas = world(script=timer_on_message)
    net.send(0, 1, Ping(1), 0.0, 0)  # arms 100 ms at 0.001, due at 0.101
    fired = []
    fire = hosts[1]._fire
    # record the firings that run the timer (a re-timed timer's earlier event is stale)
    hosts[1]._fire = lambda item: (hosts[1].timers.get(item[0]) == item[1] and fired.append(sim.now),
                                   fire(item))
    sim.at(0.051, lambda _: hosts[1].set_clock(0.0, -0.5))  # 50 ms left, at half speed
    sim.run(1.0)
    assert fired == [pytest.approx(0.151)]


def test_setting_the_clock_right_heals_it():
    sim, net, hosts, replicas = world()
    sim.at(0.010, lambda _: hosts[1].set_clock(-0.030, 0.5))
    sim.at(0.050, lambda _: hosts[1].set_clock(0.0, 0.0))
    net.send(0, 1, Ping(1), 0.020, 0)
    net.send(0, 1, Ping(2), 0.060, 0)
    sim.run(1.0)
    assert [t for t, _, _ in replicas[1].seen] == [pytest.approx(0.021 - 0.030 + 0.5 * 0.011),
                                                   pytest.approx(0.061)]
    assert not hosts[1].clocked


# -- whole runs ----------------------------------------------------------------------------------

ALONE = """
name: clock
protocol: raft
duration: 1s
warmup: 0.5s
cluster: {nodes: 1, cpu_per_message: 0s, cpu_per_send: 0s, cpu_per_byte: 0s, fsync: 0s}
workload: {type: kv, clients: 1}
"""


def first_election(make_suite, *overrides) -> float:
    (spec,) = make_suite(ALONE, *overrides).runs()
    r = runner.run(spec, "clock")
    return next(e["time_s"] for e in r.events if e["kind"] == "leader")


@pytest.mark.parametrize("drift", [0.5, -0.2])
def test_a_drifting_node_s_election_timer_fires_early_or_late_by_the_factor(make_suite, drift):
    plain = first_election(make_suite)
    drifting = first_election(make_suite, f"faults.schedule=[{{at: 0s, action: clock, target: 0, drift: {drift}}}]")
    assert 0.15 <= plain <= 0.3
    assert drifting == pytest.approx(plain / (1 + drift), rel=1e-9)


FIVE = """
name: clock
protocol: raft
duration: 3s
warmup: 0.5s
cluster: {nodes: 5}
workload: {type: kv, clients: 1, keys: 20, think_time: 100ms}
"""


def test_a_follower_whose_clock_runs_fast_enough_times_out_between_heartbeats(make_suite):
    def leader_changes(*overrides):
        (spec,) = make_suite(FIVE, *overrides).runs()
        r = runner.run(spec, "clock")
        assert r.row["safety"] == "ok"
        return r.row["leader_changes"], [e["kind"] for e in r.events if e["kind"] in ("clock", "sync")]

    assert leader_changes() == (0, [])
    # (an idle cluster: the follower hears the leader only every heartbeat) 4x fast: its 150-300 ms election timeouts last 37-75 ms, against 50 ms heartbeats
    changes, events = leader_changes("faults.schedule=[{at: 1s, action: clock, target: follower, drift: 3.0, for: 1s}]")
    assert changes > 0 and events == ["clock", "sync"]


def test_a_clock_rate_sets_clocks_off_and_right_again(make_suite):
    (spec,) = make_suite(FIVE, "faults.clock={mtbf: 300ms, duration: 100ms, skew: -20ms, drift: 0.001}").runs()
    r = runner.run(spec, "clock")
    kinds = [e["kind"] for e in r.events]
    assert kinds.count("clock") >= 4 and kinds.count("sync") == kinds.count("clock")
    assert next(e for e in r.events if e["kind"] == "clock")["detail"] == "skew -20ms drift +0.001"
    assert r.row["safety"] == "ok"


@pytest.mark.parametrize("override, message", [
    ("faults.schedule=[{at: 1s, action: clock, target: 0, drift: -1.0}]",
     r"faults\.schedule\.0\.drift: expected a number > -1, got -1\.0"),
    ("faults.schedule=[{at: 1s, action: crash, target: 0, skew: 5ms}]",
     r"faults\.schedule\.0\.skew: expected skew only with action clock"),
    ("faults.clock={mtbf: 1s, duration: 1s, skew: soon}", r"faults\.clock\.skew: expected a duration"),
    ("faults.schedule=[{at: 1s, action: clock, target: 7, skew: 5ms}]",
     r"faults\.schedule\.0\.target: expected node ids < 5"),
])
def test_bad_clock_faults_are_one_line_errors(make_suite, override, message):
    with pytest.raises(ConfigError, match=message) as caught:
        make_suite(FIVE, override)
    assert "\n" not in str(caught.value)
