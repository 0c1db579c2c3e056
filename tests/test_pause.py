"""The ``pause`` fault: a node stops handling anything for a while, then carries on with its state
and timers as they were (a GC pause, a SIGSTOP). On one node host, and through whole runs."""

from __future__ import annotations

import pytest

from harness.suite.errors import ConfigError
from harness.execution import runner
from test_engine import Ping, world


# -- one node host -------------------------------------------------------------------------------

@pytest.mark.parametrize("queue", ["fifo", "peer_first"])
def test_a_paused_node_holds_messages_and_due_timers_and_serves_them_in_order_on_resume(queue):
    sim, net, hosts, replicas = world(queue=queue)
    hosts[1].set_timer("t", 0.030)
    sim.at(0.010, lambda _: hosts[1].pause())
    net.send(0, 1, Ping(1), 0.020, 0)  # arrives at 0.021, before the timer is due
    net.send(0, 1, Ping(2), 0.040, 0)  # arrives at 0.041, after
    sim.at(0.100, lambda _: hosts[1].resume())
    sim.run(1.0)
    assert replicas[1].seen == [(0.100, 0, 1), (0.100, -1, "t"), (0.100, 0, 2)]


def test_a_paused_node_serves_what_arrives_after_resume_as_usual():
    sim, net, hosts, replicas = world(cpu_per_message=0.002)
    sim.at(0.0, lambda _: hosts[1].pause())
    net.send(0, 1, Ping(1), 0.0, 0)
    sim.at(0.050, lambda _: hosts[1].resume())
    net.send(0, 1, Ping(2), 0.050, 0)
    sim.run(1.0)
    # the held message is served at resume, the next one queues behind it on the CPU
    assert replicas[1].seen == [(0.050, 0, 1), pytest.approx((0.052, 0, 2))]


def test_a_pause_keeps_the_disk_going_and_holds_the_output_waiting_for_it():
    def script(node, ctx, msg):
        if msg.n == 0:
            ctx.persist("record")
            ctx.send(0, Ping(9))  # leaves once the record is durable

    sim, net, hosts, replicas = world(script=script, fsync=0.010)
    net.send(0, 1, Ping(0), 0.0, 0)            # served at 0.001, durable at 0.011
    sim.at(0.002, lambda _: hosts[1].pause())  # the flush in flight completes meanwhile
    sim.at(0.050, lambda _: hosts[1].crash())
    sim.at(0.060, lambda _: hosts[1].restart())
    sim.run(1.0)
    assert replicas[1].records == ["record"]
    assert [n for _, _, n in replicas[0].seen] == [9]


def test_a_crash_during_a_pause_loses_what_was_held():
    sim, net, hosts, replicas = world()
    hosts[1].set_timer("t", 0.020)
    sim.at(0.010, lambda _: hosts[1].pause())
    net.send(0, 1, Ping(1), 0.015, 0)
    sim.at(0.030, lambda _: hosts[1].crash())
    sim.at(0.040, lambda _: hosts[1].restart())
    net.send(0, 1, Ping(2), 0.050, 0)
    sim.run(1.0)
    assert replicas[1].seen == [pytest.approx((0.051, 0, 2))]  # the fresh replica hears only what came after


# -- whole runs ----------------------------------------------------------------------------------

BASE = """
name: pause
protocol: raft
duration: 4s
warmup: 0.5s
cluster: {nodes: 5}
workload: {type: kv, clients: 8, keys: 20, timeout: 30ms, retries: 200}
"""


class _StepDowns:
    """Wraps a host's observer to record the protocol's ``stepped_down`` observations."""

    def __init__(self, inner, log, node):
        self._inner, self._log, self._node = inner, log, node

    def observe(self, node, event, value, t):
        if event == "stepped_down":
            self._log.append((node, value, t))
        self._inner.observe(node, event, value, t)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def run(make_suite, *overrides):
    suite = make_suite(BASE, *overrides)
    (spec,) = suite.runs()
    step_downs: list[tuple[int, int, float]] = []

    def watch(world):
        for host in world.hosts:
            host.observer = _StepDowns(host.observer, step_downs, host.node_id)

    return runner.run(spec, suite.name, on_world=watch), step_downs


@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
def test_pausing_the_leader_past_the_election_timeout_elects_another_and_the_old_one_steps_down(
        make_suite, protocol):
    r, step_downs = run(make_suite, f"protocol={protocol}", "faults.schedule=[{at: 2s, pause: leader, for: 1s}]")
    (pause,) = [e for e in r.events if e["kind"] == "pause"]
    old = pause["node"]
    elected = [e for e in r.events if e["kind"] == "leader" and e["time_s"] > 2.0]
    assert len(elected) == 1 and elected[0]["node"] != old and elected[0]["time_s"] < 3.0
    assert [e["time_s"] for e in r.events if e["kind"] == "resume"] == [3.0]
    # resuming, it hears the newer term and steps down, as soon as it serves again
    assert [(node, t) for node, _, t in step_downs if node == old] == [(old, pytest.approx(3.0, abs=0.01))]
    assert r.row["leader_changes"] == 1 and r.row["failover_ms_max"] < 500
    assert r.row["safety"] == "ok"
    assert "restart" not in [e["kind"] for e in r.events]  # its state and timers were kept
    assert sum(b["throughput_ops_s"] for b in r.timeseries if b["time_s"] >= 3.1) > 0


def test_a_leader_pause_shorter_than_the_election_timeout_causes_no_election(make_suite):
    r, step_downs = run(make_suite, "faults.schedule=[{at: 2s, pause: leader, for: 60ms}]")
    assert [e["kind"] for e in r.events if e["kind"] in ("leader", "pause", "resume")] == \
        ["leader", "pause", "resume"]
    assert r.row["leader_changes"] == 0 and not step_downs
    assert 50 <= r.row["unavailable_ms"] <= 150  # clients waited for the paused leader
    assert r.row["safety"] == "ok"


def test_a_pause_rate_pauses_nodes_that_all_resume(make_suite):
    r, _ = run(make_suite, "faults.pause={mtbf: 300ms, duration: 200ms, target: follower}")
    kinds = [e["kind"] for e in r.events]
    assert kinds.count("pause") >= 5 and kinds.count("resume") >= kinds.count("pause") - 1
    assert r.row["leader_changes"] == 0 and r.row["safety"] == "ok"
    assert r.row["unavailable_ms_fault"] == 0  # followers' pauses never stall a majority of 4 of 5


def test_a_scheduled_pause_needs_its_length(make_suite):
    with pytest.raises(ConfigError, match=r"faults\.schedule\.0\.for: expected 'for' with action pause"):
        make_suite(BASE, "faults.schedule=[{at: 2s, pause: leader}]")


def test_the_report_names_pauses_in_its_fixed_settings():
    from harness.report.fixed import describe_faults

    faults = {"pause": {"mtbf": 1.0, "duration": 0.2, "target": "follower"},
              "schedule": [{"at": 2.0, "pause": "leader", "for": 0.5}]}
    assert describe_faults(faults) == ("random pauses of follower (every ~1s, lasting 200ms); "
                                       "pause leader for 500ms at 2s")


@pytest.mark.parametrize("fault", ["pause", "isolate"])
def test_a_leader_fault_healed_before_any_election_is_a_failover_as_long_as_the_fault(make_suite, fault):
    """The same leader back before an election: the failover ends when it runs again in contact
    with a majority, not at the end of the run; the first commit follows it."""
    r, _ = run(make_suite, f"faults.schedule=[{{at: 2s, {fault}: leader, for: 60ms}}]")
    assert [e["detail"] for e in r.events if e["kind"] == "failover"] == ["same leader back"]
    assert r.row["leader_changes"] == 0
    assert r.row["failover_ms_mean"] == pytest.approx(60)
    assert r.row["failover_heard_ms_mean"] == pytest.approx(60)
    assert 60 <= r.row["failover_commit_ms_mean"] < 200


def test_a_leader_isolated_past_the_election_timeout_still_measures_the_election(make_suite):
    r, _ = run(make_suite, "faults.schedule=[{at: 2s, isolate: leader, for: 1s}]")
    assert [e["detail"] for e in r.events if e["kind"] == "failover"] == ["new leader established"]
    assert r.row["leader_changes"] >= 1 and r.row["failover_ms_mean"] < 500
