"""The delay fault (``action: delay``): one message held on the wire, then delivered late."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.engine.network import Network
from harness.engine.sim import Simulator
from harness.execution import runner
from harness.faults.trigger import Triggers
from harness.protocol import Message
from harness.suite.errors import ConfigError

SUITE = """
name: delayed
protocol: {protocol}
duration: 1.5s
warmup: 0.1s
cluster: {{nodes: 5}}
network: {{latency: {{dist: normal, mean: 500us, std: 100us}}}}
workload: {{type: kv, clients: 8, keys: 5, read_ratio: 0.5, timeout: 50ms, retries: 50}}
"""


class Ping(Message):
    __slots__ = ("n",)

    def __init__(self, n: int):
        self.n = n
        self.size = 100


def _wire(transport: str, held_for: float, ends: list[float] | None = None):
    """Two endpoints, a 1 ms link, and a delay step held on the first ``Ping n=0`` node 0 sends."""
    sim = Simulator(1)
    cfg = SimpleNamespace(latency=SimpleNamespace(dist="constant", value=0.001), loss=0.0,
                          duplicate=0.0, bandwidth=None, links=[], transport=transport, rto=0.2)
    net = Network(sim, cfg, 2, 0)
    got: list[tuple[float, int]] = []
    fired: list[tuple] = []
    net.attach(0, lambda src, msg: None, ends or [float("inf")])
    net.attach(1, lambda src, msg: got.append((round(sim.now, 6), msg.n)), [float("inf")])
    step = SimpleNamespace(at=0.0, after="Ping n=0", action="delay", for_=held_for)
    triggers = Triggers(net, 2, sim.at, lambda *item: fired.append(item), lambda s: s.for_)
    triggers.add(step)
    return sim, net, got, fired


@pytest.mark.parametrize("transport", ["datagram", "stream"])
def test_a_held_message_arrives_after_the_hold_and_after_what_was_sent_later(transport):
    sim, net, got, fired = _wire(transport, 0.05)
    first, second = Ping(0), Ping(1)
    net.send(0, 1, first, 0.0, 0)
    net.send(0, 1, second, 0.0, 0)
    sim.run(1.0)
    assert got == [(0.001, 1), (0.051, 0)]
    assert [(src, dst, msg) for _, src, dst, msg in fired] == [(0, 1, first)]
    assert net.messages == 2  # counted once, when sent


def test_a_sender_that_crashes_while_its_message_is_held_loses_it():
    sim, net, got, _ = _wire("datagram", 0.05, ends=[0.02])  # node 0's incarnation 0 ends at 20 ms
    net.send(0, 1, Ping(0), 0.0, 0)
    sim.run(1.0)
    assert got == []


def run(make_suite, protocol, schedule):
    suite = make_suite(SUITE.format(protocol=protocol), f"faults.schedule={schedule}")
    (spec,) = suite.runs()
    return runner.run(spec, suite.name)


def _kinds(result, *kinds):
    return [e for e in result.events if e["kind"] in kinds]


def test_an_old_leaders_accept_is_delivered_after_a_newer_ballots_prepare(make_suite):
    result = run(make_suite, "multipaxos", "[{at: 0.5s, isolate: leader, for: 400ms}, "
                                           "{at: 0.5s, action: delay, after: Accept, for: 600ms}]")
    (delay,) = _kinds(result, "delay")
    (delivered,) = _kinds(result, "delivered")
    old = delay["node"]
    assert delay["detail"].startswith("Accept to ") and delay["duration_ms"] == 600.0
    assert delivered["node"] == old and delivered["time_s"] == pytest.approx(delay["time_s"] + 0.6)
    # another node took a newer ballot (its Prepare reached a majority) while the Accept was held
    newer = [e for e in _kinds(result, "leader") if delay["time_s"] < e["time_s"] < delivered["time_s"]]
    assert newer and all(e["node"] != old for e in newer)
    assert result.row["safety"] == "ok"


def test_a_vote_request_is_delivered_after_its_election_is_over(make_suite):
    result = run(make_suite, "raft", "[{at: 0.5s, crash: leader, for: 500ms}, "
                                     "{at: 0.5s, action: delay, after: RequestVote, for: 300ms}]")
    (delay,) = _kinds(result, "delay")
    (delivered,) = _kinds(result, "delivered")
    assert delay["detail"].startswith("RequestVote to ")
    elected = [e for e in _kinds(result, "leader") if delay["time_s"] < e["time_s"] < delivered["time_s"]]
    assert elected, result.events
    assert result.row["safety"] == "ok"


def test_a_delay_step_is_written_again_from_its_event(make_suite):
    from harness.faults.nemesis import as_step
    result = run(make_suite, "multipaxos", "[{at: 0.5s, action: delay, after: Accept, for: 50ms}]")
    (delay,) = _kinds(result, "delay")
    step = as_step(delay["time_s"], delay["node"], "delay", delay["detail"], delay["duration_ms"])
    assert step == {"at": delay["time_s"], "action": "delay", "target": [delay["node"]],
                    "after": "Accept", "for": 0.05}


@pytest.mark.parametrize("step, expected", [
    ("{at: 1s, action: delay, after: Accept}",
     "expected 'for' with action delay (how long it lasts)"),
    ("{at: 1s, action: delay, after: Accept, target: leader, for: 50ms}",
     "faults.schedule.0.target: expected any or node ids as the senders of the message delay waits "
     "for, not a role"),
])
def test_a_bad_delay_step_is_refused_in_one_line(make_suite, step, expected):
    with pytest.raises(ConfigError) as err:
        make_suite(SUITE.format(protocol="raft"), f"faults.schedule=[{step}]")
    message = str(err.value)
    assert expected in message and "\n" not in message, message


def test_without_after_the_next_message_of_the_target_is_held(make_suite):
    result = run(make_suite, "raft", "[{at: 0.5s, action: delay, target: [2], for: 50ms}]")
    (delay,) = _kinds(result, "delay")
    assert delay["node"] == 2 and 0.5 <= delay["time_s"] < 0.56  # its next heartbeat answer


def test_a_delay_rate_holds_a_message_every_mtbf(make_suite):
    suite = make_suite(SUITE.format(protocol="multipaxos"), "faults.delay={mtbf: 200ms, duration: 30ms}")
    (spec,) = suite.runs()
    result = runner.run(spec, suite.name)
    delays, delivered = _kinds(result, "delay"), _kinds(result, "delivered")
    assert len(delays) >= 3 and len(delivered) == len(delays)
    assert result.row["safety"] == "ok"
