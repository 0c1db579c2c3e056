"""The network's transports: ``stream`` (TCP-like: in order per link, a loss becomes a
retransmission the later messages wait behind, a partition or crash breaks the connection) and
``datagram`` (jitter reorders, a loss is gone)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.engine.network import Network
from harness.engine.sim import Simulator
from harness.suite.errors import ConfigError
from test_engine import Ping, network, world

INF = float("inf")


class Draws:
    """A stand-in for the network's random stream: the loss draws a test scripts."""

    def __init__(self, *values: float):
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0) if self.values else 1.0  # unscripted: never lost


def link(transport="stream", n=2, **kw):
    """A network of ``n`` endpoints recording (time, src, n) of every delivery."""
    sim = Simulator(3)
    net = Network(sim, network(transport=transport, **kw), n, 0)
    got: list[tuple[float, int, int]] = []
    for endpoint in range(n):
        net.attach(endpoint, lambda src, msg: got.append((sim.now, src, msg.n)), [INF])
    return sim, net, got


JITTER = SimpleNamespace(dist="uniform", low=0.0, high=0.010)


@pytest.mark.parametrize("transport, loss", [("stream", 0.0), ("stream", 0.5), ("datagram", 0.0)])
def test_jitter_reorders_datagrams_and_a_stream_delivers_in_order(transport, loss):
    sim, net, got = link(transport, latency=JITTER, loss=loss)
    net.rng = Draws()
    for k in range(200):
        net.send(0, 1, Ping(k), k * 0.0001, 0)
    sim.run(1.0)
    order = [n for _, _, n in got]
    assert sorted(order) == list(range(200))
    assert (order == list(range(200))) == (transport == "stream")


def test_a_lone_loss_waits_for_the_rto():
    """One message in flight: the probe timeout is 2 x SRTT + 200 ms, later than the timeout."""
    sim, net, got = link(loss=0.5)
    net.rng = Draws(0.0, 1.0)  # the message is lost, the timeout's copy gets through
    net.send(0, 1, Ping(0), 0.0, 0)
    sim.run(1.0)
    assert got == [(pytest.approx(0.201), 0, 0)]
    assert net.retransmitted == 1 and net.dropped == 0


def test_the_messages_behind_a_loss_wait_for_its_copy():
    sim, net, got = link(loss=0.5, rto=0.1)
    net.rng = Draws(0.0, 1.0, 1.0, 1.0, 0.0)  # the first is lost, and so is the copy RACK sends
    for k in range(3):
        net.send(0, 1, Ping(k), 0.0, 0)
    sim.run(1.0)
    assert got == [(pytest.approx(0.101), 0, k) for k in range(3)]
    assert net.retransmitted == 2


def test_each_lost_copy_doubles_the_timeout():
    sim, net, got = link(loss=0.5, rto=0.1)
    net.rng = Draws(0.0, 0.0, 0.0, 1.0)  # lost, and so are the copies after 100 ms and 200 ms
    net.send(0, 1, Ping(0), 0.0, 0)
    sim.run(2.0)
    assert got == [(pytest.approx(0.1 + 0.2 + 0.4 + 0.001), 0, 0)]
    assert net.retransmitted == 3


def test_a_message_behind_a_loss_repairs_it_after_racks_reordering_window():
    sim, net, got = link(loss=0.5)
    net.rng = Draws(0.0, 1.0)
    for k in range(3):
        net.send(0, 1, Ping(k), 0.0, 0)
    sim.run(1.0)
    # the first message behind the lost one arrives at 1 ms, its acknowledgement takes 1 ms
    # back, the sender waits a quarter of the 2 ms round trip, the copy takes 1 ms
    assert got == [(pytest.approx(0.0035), 0, k) for k in range(3)]
    assert net.retransmitted == 1


def test_three_messages_behind_a_loss_repair_it_at_once():
    sim, net, got = link(loss=0.5)
    net.rng = Draws(0.0, 1.0)
    for k in range(4):
        net.send(0, 1, Ping(k), [0.0, 0.0010, 0.0011, 0.0012][k], 0)
    sim.run(1.0)
    # the third one behind it arrives at 2.2 ms, before the window of the first (at 2 ms + 1 ms
    # + 0.5 ms) ends: the copy leaves at 3.2 ms and arrives at 4.2 ms
    assert got == [(pytest.approx(0.0042), 0, k) for k in range(4)]
    assert net.retransmitted == 1


def test_a_lost_copy_is_repaired_again_once_a_later_send_arrives():
    sim, net, got = link(loss=0.5, rto=0.1)
    net.rng = Draws(0.0, 1.0, 1.0, 1.0, 0.0)  # the first is lost, and so is RACK's copy (2.5 ms)
    for k in range(3):
        net.send(0, 1, Ping(k), 0.0, 0)
    sim.at(0.003, lambda _: net.send(0, 1, Ping(3), 0.003, 0))  # sent after the lost copy
    sim.run(1.0)
    # the fourth arrives at 4 ms; 1 ms back and the copy leaves at once (three are held)
    assert got == [(pytest.approx(0.006), 0, k) for k in range(4)]
    assert net.retransmitted == 2


def test_a_lost_tail_is_repaired_by_the_probe():
    """Two messages in flight, the second lost and nothing after it: the probe timeout (2 x SRTT
    + 2 ms after the latest send) re-sends it."""
    sim, net, got = link(loss=0.5)
    net.rng = Draws(1.0, 0.0, 1.0, 1.0)  # the second is lost; its probe gets through
    net.send(0, 1, Ping(0), 0.0, 0)
    net.send(0, 1, Ping(1), 0.0001, 0)
    sim.run(1.0)
    assert got == [(pytest.approx(0.001), 0, 0), (pytest.approx(0.0001 + 0.006 + 0.001), 0, 1)]
    assert net.retransmitted == 1


def test_a_later_send_rearms_the_probe():
    sim, net, got = link(loss=0.5)
    net.rng = Draws(1.0, 0.0, 1.0)
    net.send(0, 1, Ping(0), 0.0, 0)
    net.send(0, 1, Ping(1), 0.0001, 0)  # lost
    sim.at(0.005, lambda _: net.send(0, 1, Ping(2), 0.005, 0))  # before the probe at 6.1 ms
    sim.run(1.0)
    # RACK repairs it first: the third arrives at 6 ms, 1 ms back, 0.5 ms window, 1 ms forward
    assert [n for _, _, n in got] == [0, 1, 2]
    assert got[1][0] == pytest.approx(0.0085) and net.retransmitted == 1


# (a stream that may lose messages numbers them; one that cannot only keeps their order)
@pytest.mark.parametrize("loss", [0.0, 0.5])
def test_a_partition_breaks_the_stream_and_the_heal_opens_a_new_one(loss):
    sim, net, got = link(loss=loss)
    net.rng = Draws()  # nothing lost
    net.send(0, 1, Ping(0), 0.0, 0)                     # in flight (arrives at 1 ms)...
    sim.at(0.0004, lambda _: net.restore(net.cut({0}, {1})))  # ...when a short cut comes and goes
    sim.at(0.002, lambda _: net.send(0, 1, Ping(1), 0.002, 0))
    sim.run(1.0)
    assert got == [(pytest.approx(0.003), 0, 1)]


def test_a_datagram_in_flight_across_a_short_cut_arrives():
    sim, net, got = link("datagram")
    net.send(0, 1, Ping(0), 0.0, 0)
    sim.at(0.0004, lambda _: net.restore(net.cut({0}, {1})))
    sim.run(1.0)
    assert got == [(pytest.approx(0.001), 0, 0)]


@pytest.mark.parametrize("loss", [0.0, 0.5])
def test_a_crash_loses_what_was_in_flight_to_and_from_the_node(loss):
    sim, net, hosts, replicas = world(n=3, net_kw={"transport": "stream", "loss": loss})
    net.rng = Draws()
    net.send(0, 1, Ping(0), 0.0, 0)   # to the node that crashes, arriving after its restart
    net.send(1, 2, Ping(1), 0.0, 0)   # from it, sent before the crash
    net.send(0, 2, Ping(2), 0.0, 0)   # between the others: unaffected
    sim.at(0.0002, lambda _: hosts[1].crash())
    sim.at(0.0005, lambda _: hosts[1].restart())
    sim.at(0.002, lambda _: net.send(0, 1, Ping(3), 0.002, 0))  # a new connection
    sim.run(1.0)
    assert [n for _, _, n in replicas[1].seen] == [3]
    assert [n for _, _, n in replicas[2].seen] == [2]


def test_a_stream_discards_duplicates():
    sim, net, got = link(duplicate=1.0)
    for k in range(3):
        net.send(0, 1, Ping(k), 0.0, 0)
    sim.run(1.0)
    assert [n for _, _, n in got] == [0, 1, 2]


def test_the_transport_is_checked(make_suite):
    with pytest.raises(ConfigError, match=r"network\.transport.*'stream'.*'datagram'"):
        make_suite("name: t\nnetwork: {transport: tcp}\n")


RUN = """
name: transport
protocol: {protocol}
duration: 1.5s
warmup: 0.5s
cluster: {{nodes: 3}}
network: {{transport: {transport}, loss: 0.01}}
workload: {{type: kv, clients: 16, keys: 100}}
faults:
  schedule: [{{at: 0.8s, crash: leader, for: 0.3s}}]
"""


@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
@pytest.mark.parametrize("transport", ["stream", "datagram"])
def test_whole_runs_over_either_transport_stay_safe_and_count_the_transport_retransmissions(
        make_suite, protocol, transport):
    from harness.execution import runner

    (spec,) = make_suite(RUN.format(protocol=protocol, transport=transport)).runs()
    row = runner.run(spec, "transport").row
    assert row["safety"] == "ok" and row["throughput_ops_s"] > 0
    assert (row["transport_retransmissions_per_op"] > 0) == (transport == "stream")
