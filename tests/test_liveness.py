"""The liveness policy Raft and Multi-Paxos share (implementations.replication.liveness),
scripted message by message: election timeouts redrawn at every reset, their range, and the
leader's quorum check."""

from __future__ import annotations

import pytest

from harness.engine.scripted import ScriptedCluster
from harness.testing.scenario import scripted_cluster
from implementations.multipaxos.roles import LEADER as PAXOS_LEADER
from implementations.raft.node import LEADER as RAFT_LEADER
from implementations.raft.node import RaftNode
from workloads.kv import PUT, Request

PROTOCOLS = ("raft", "multipaxos")


def make(protocol: str, n: int = 3, options: dict | None = None, **replication) -> ScriptedCluster:
    return scripted_cluster(protocol, n, **(options or {}), **replication)


def elect(c: ScriptedCluster, node: int) -> None:
    c.now += 1.0
    c.fire(node, "election")
    c.deliver_all()
    assert leads(c, node)


def leads(c: ScriptedCluster, node: int) -> bool:
    replica = c.replicas[node]
    return replica.role == (RAFT_LEADER if isinstance(replica, RaftNode) else PAXOS_LEADER)


def deadline(c: ScriptedCluster, node: int) -> float:
    return c.replicas[node].timer.deadline


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_heartbeat_redraws_the_timeout_within_the_range(protocol):
    c = make(protocol, election_timeout=0.150, election_timeout_max=0.155, heartbeat=0.05)
    elect(c, 0)
    drawn = []
    for _ in range(20):
        c.now += 0.05
        c.fire(0, "heartbeat")
        c.deliver_all()
        drawn.append(round(deadline(c, 1) - c.now, 9))
        assert c.ctx[1].timers["election"] <= deadline(c, 1) + 1e-9  # never fires late
    assert all(0.150 <= d <= 0.155 for d in drawn)
    assert len(set(drawn)) > 10  # a fresh draw each time, not one kept since the last election


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_shorter_draw_moves_the_armed_timer_earlier(protocol):
    c = make(protocol, election_timeout=0.1, election_timeout_max=1.0, heartbeat=0.05)
    elect(c, 0)
    for _ in range(30):
        c.now += 0.001
        c.fire(0, "heartbeat")
        c.deliver_all()
        armed, due = c.ctx[1].timers["election"], deadline(c, 1)
        assert armed <= due + 1e-9
    # firing before the deadline only re-arms (lazily) for it; no election starts
    c.now = armed
    c.fire(1, "election")
    assert not leads(c, 1) and not c.pending
    assert c.ctx[1].timers["election"] == pytest.approx(due)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_degenerate_range_is_a_fixed_timeout(protocol):
    c = make(protocol, election_timeout=0.150, election_timeout_max=0.150, heartbeat=0.05)
    elect(c, 0)
    c.now += 0.05
    c.fire(0, "heartbeat")
    c.deliver_all()
    assert deadline(c, 1) == pytest.approx(c.now + 0.150)
    assert deadline(c, 2) == pytest.approx(c.now + 0.150)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_replication_traffic_resets_the_timer_too(protocol):
    c = make(protocol, election_timeout=0.150, heartbeat=0.05)
    elect(c, 0)
    c.now += 0.2
    c.request(0, Request(1, 1, PUT, 1, 1, value_size=8))
    c.deliver_all()
    assert deadline(c, 1) >= c.now + 0.150


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_check_quorum_period_and_off_switch(protocol):
    c = make(protocol, options={"check_quorum_period": 0.4}, election_timeout=0.15, heartbeat=0.05)
    elect(c, 0)
    assert c.ctx[0].timers["quorum"] == pytest.approx(c.now + 0.4)
    assert "election" not in c.ctx[0].timers  # a leader runs no election timer
    c.isolate(0)
    c.fire(0, "quorum")  # the election's answers count for the first period
    c.fire(0, "quorum")  # nobody answered during the second
    assert not leads(c, 0)
    assert c.ctx[0].timers["election"] > c.now  # back to an election timer

    c = make(protocol, options={"check_quorum": False})
    elect(c, 0)
    assert "quorum" not in c.ctx[0].timers
    c.isolate(0)
    for _ in range(3):
        c.now += 1.0
        c.fire(0, "heartbeat")
        c.fire(0, "quorum")  # even a stray firing does nothing
    assert leads(c, 0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_lost_batch_is_resent_after_one_interval_and_only_then(protocol):
    c = make(protocol, batch_size=1, retransmit=0.02)
    elect(c, 0)
    c.deliver_all()
    first = c.pending[:]
    c.request(0, Request(1, 1, PUT, 1, 1, value_size=8))
    lost = [e for e in c.pending if e not in first and e.dst == 1]
    c.drop(lambda e: e in lost)  # node 1 never gets it; node 2 does
    c.request(0, Request(1, 2, PUT, 1, 2, value_size=8))
    c.deliver_all()
    c.now += 0.01
    c.fire(0, "heartbeat")
    c.fire(0, "retransmit")
    c.deliver_all()
    assert not any(e for _, e, _ in c.obs.observed if e == "retransmit")  # too early
    c.now += 0.015  # now a whole interval since the loss
    c.fire(0, "retransmit")
    # Raft probes with the first unacknowledged batch; the held second one is then acknowledged.
    # In Paxos node 2's answer chose the slot: nothing is left to re-send, and node 1 asks for
    # it (catch-up) once its gap has outlived replication.reorder_wait.
    expected = [1] if protocol == "raft" else []
    assert [v for _, e, v in c.obs.observed if e == "retransmit"] == expected
    assert all(e.dst == 1 for e in c.pending)
    c.deliver_all()
    c.fire(1, "gap")
    c.fire(0, "heartbeat")
    c.deliver_all()
    assert [cmd for _, cmd in c.obs.applied[1]][-2:] == [cmd for _, cmd in c.obs.applied[0]][-2:]
