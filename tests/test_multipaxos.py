"""Message-by-message tests of the Multi-Paxos replica on the scripted network."""

from __future__ import annotations

import random

import pytest

from harness.engine.scripted import ScriptedCluster
from harness.protocol import get
from harness.testing.scenario import node_factory
from implementations.multipaxos.messages import (Accept, Accepted, Catchup, CatchupReq, Heartbeat,
                                                 Prepare, Promise)
from implementations.multipaxos.node import MultiPaxosNode
from implementations.multipaxos.roles import FOLLOWER, LEADER
from implementations.multipaxos.options import MultiPaxosOptions
from workloads.kv import GET, OK, PUT, REDIRECT, Request


class SkipPhase1(MultiPaxosNode):
    """Deliberately broken: takes office with a new ballot without learning accepted values."""

    def takeover(self, ctx):
        self.new_ballot(ctx)
        self.lead(ctx)


def cluster(n=3, cls=MultiPaxosNode, classes=None, **options):
    """``classes``: a variant class for some nodes, by node id."""
    build = {c: node_factory("multipaxos", node_class=c, **options) for c in {cls, *(classes or {}).values()}}
    return ScriptedCluster(lambda i, nodes: build[(classes or {}).get(i, cls)](i, nodes), n)


def expire(c, node):
    """Let time pass beyond any election timeout, then fire ``node``'s election timer."""
    c.now += 1.0
    c.fire(node, "election")


def elect(c, node):
    expire(c, node)
    c.deliver_all()
    assert c.leader() == node
    return c.obs.leaders[-1][0]


def put(client, seq, key, value):
    return Request(client, seq, PUT, key, value, value_size=100)


def replies(c, status=OK):
    return [(node, req, rep) for node, req, rep in c.obs.replies if rep.status == status]


def commands(c, node):
    return [cmd for _, cmd in c.obs.applied.get(node, [])]


def assert_agreement(c):
    """No index holds two different commands on two replicas; no replica skips an index (a
    restarted one re-applies from 1)."""
    seen = {}
    for node, pairs in c.obs.applied.items():
        prev = 0
        for index, cmd in pairs:
            assert index in (prev + 1, 1), (node, prev, index)
            prev = index
            assert seen.setdefault(index, cmd) is cmd, (node, index, cmd, seen[index])


def test_registered():
    spec = get("multipaxos")
    assert spec.factory is MultiPaxosNode and spec.kind == "consensus" and spec.options is MultiPaxosOptions


def test_sizes_of_an_accept_and_of_a_read_reply():
    """What the scenario scripts do not print: the bytes a message costs (scenarios/multipaxos/write.txt)."""
    c = cluster(3)
    elect(c, 0)
    req = put(1, 0, 5, 42)
    c.request(0, req)
    assert c.messages(Accept)[0].msg.size == Accept.HEADER + 24 + req.size
    c.deliver_all()
    c.request(0, Request(2, 0, GET, 5))
    c.deliver_all()
    assert c.obs.replies[-1][2].value == 42 and c.obs.replies[-1][2].size == 32 + 100

def test_pipelined_burst_forms_bounded_batches():
    c = cluster(3, batch_size=3, pipeline=2)
    elect(c, 0)
    leader = c.replicas[0]
    reqs = [put(1, i, i, 1000 + i) for i in range(11)]
    for r in reqs:
        c.request(0, r)
    sizes, slots_in_flight = [], []
    while c.pending:
        slots_in_flight.append(len({e.msg.slot for e in c.messages(Accept)}))
        assert len(leader.leadership.proposals) <= 2
        sizes += [len(e.msg.value) for e in c.messages(Accept) if e.dst == 1]
        c.deliver()
    # The first two requests fill the window at once; the rest queue and batch naturally.
    assert sizes == [1, 1, 3, 3, 3]
    assert max(slots_in_flight) == 2
    assert [r for _, r, _ in replies(c)] == reqs
    c.fire(0, "heartbeat")
    c.deliver_all()
    assert commands(c, 0) == commands(c, 1) == commands(c, 2) == reqs


def test_restarted_replica_catches_up_from_disk_and_leader():
    c = cluster(3, batch_size=1, pipeline=2)  # catch-up: one slot per message, 2 per transfer
    elect(c, 0)
    reqs = [put(1, i, i, 500 + i) for i in range(12)]
    for r in reqs[:4]:
        c.request(0, r)
        c.deliver_all()
    assert commands(c, 2) == reqs[:3]  # commit index rides on the next accept
    c.crash(2)
    for r in reqs[4:]:
        c.request(0, r)
        c.deliver_all()
    before = len(c.obs.applied[2])
    c.restart(2)
    # Slots 0-2 were declared committed by the accepts it persisted: re-applied at boot.
    assert commands(c, 2)[before:] == reqs[:3] and list(c.replicas[2].accepted) == [3]
    c.fire(0, "heartbeat")
    c.deliver(lambda e: isinstance(e.msg, Heartbeat))
    # Slot 3 was accepted in the committing leader's ballot: applied too; 4-11 need catch-up,
    # asked for once the gap has outlived replication.reorder_wait.
    assert commands(c, 2)[before:] == reqs[:4]
    assert not c.messages(CatchupReq)
    c.fire(2, "gap")
    assert [e.msg.start for e in c.messages(CatchupReq)] == [4]
    transfers = []
    while c.pending:
        transfers.append([e.msg.values for e in c.messages(Catchup)])
        c.deliver()
    assert [len(t) for t in transfers if t] == [2, 2, 2, 2]  # transfers of 2 messages ...
    assert all(len(v) == 1 for t in transfers for v in t)  # ... of one slot each
    assert c.obs.applied[2][before:] == c.obs.applied[0]
    assert_agreement(c)


def test_lost_catchup_is_retried_and_lost_accept_retransmitted():
    c = cluster(3)
    elect(c, 0)
    r1, r2 = put(1, 0, 1, 1), put(1, 1, 1, 2)
    c.request(0, r1)
    c.drop(lambda e: e.dst == 2)
    c.deliver_all()
    c.request(0, r2)
    c.deliver()  # node 2 sees commit 1 but lacks slot 0: reordered, or lost?
    assert not c.messages(CatchupReq)
    c.fire(2, "gap")  # still missing after replication.reorder_wait: it asks the leader
    assert [(e.src, e.dst, e.msg.start) for e in c.messages(CatchupReq)] == [(2, 0, 0)]
    c.drop(lambda e: isinstance(e.msg, CatchupReq))
    c.deliver_all()
    assert commands(c, 2) == [] and c.ctx[2].timers["gap"] - c.now == pytest.approx(0.05)
    c.fire(2, "gap")  # asked again every retransmission interval (the heartbeat, 50 ms)
    c.deliver_all()
    assert commands(c, 2) == [r1, r2]
    r3 = put(1, 2, 1, 3)
    c.request(0, r3)
    c.drop()  # every accept lost
    c.now += 0.03
    c.fire(0, "retransmit")
    assert not c.messages(Accept)  # not yet a whole interval (the heartbeat, 50 ms)
    c.now += 0.03
    c.fire(0, "retransmit")
    assert sorted(e.dst for e in c.messages(Accept)) == [1, 2]
    c.deliver_all()
    assert replies(c)[-1][1] is r3
    # No fast retransmit: answers to later slots (reordering) re-send nothing.
    burst = [put(1, seq, 1, seq) for seq in range(3, 7)]
    for r in burst:
        c.request(0, r)
    c.drop(lambda e: e.dst == 2 or e.msg.slot == 3)
    c.deliver()
    c.deliver(lambda e: e.src == 1)
    assert not c.messages(Accept)
    c.now += 0.06
    c.fire(0, "retransmit")
    assert [(e.dst, e.msg.slot) for e in c.messages(Accept)] == [(1, 3), (2, 3)]
    c.deliver_all()
    assert [r for _, r, _ in replies(c)][-4:] == burst


@pytest.mark.parametrize("x_accepted_by_2", [True, False])
def test_dueling_proposers_never_choose_two_values(x_accepted_by_2):
    c = cluster(3)
    expire(c, 0)
    expire(c, 1)  # ballots 3 and 4
    c.deliver(lambda e: e.dst == 2 and e.src == 0)  # node 2 promises 3 ...
    c.deliver(lambda e: e.dst == 0 and isinstance(e.msg, Promise))
    assert c.leader() == 0
    x, y = put(1, 0, 9, 1), put(2, 0, 9, 2)
    c.request(0, x)
    if x_accepted_by_2:  # x is chosen by {0, 2}, though nobody knows it yet
        c.deliver(lambda e: isinstance(e.msg, Accept) and e.dst == 2)
    c.deliver(lambda e: e.dst == 2 and e.src == 1)  # ... then 4: x can no longer be accepted
    c.deliver(lambda e: e.dst == 1 and isinstance(e.msg, Promise))
    assert c.obs.leaders == [(3, 0), (4, 1)]
    c.request(1, y)
    c.deliver_all()
    c.fire(1, "heartbeat")
    c.deliver_all()
    assert c.replicas[0].promised == 4 and c.replicas[0].role == FOLLOWER  # preempted
    expected = [x, y] if x_accepted_by_2 else [y]
    assert commands(c, 0) == commands(c, 1) == commands(c, 2) == expected
    assert [(n, r) for n, r, _ in replies(c) if r is y] == [(1, y)]


def test_random_schedules_keep_agreement():
    for seed in range(25):
        rng = random.Random(seed)
        c = cluster(3, batch_size=2, pipeline=3)
        seq = 0
        for _ in range(300):
            roll = rng.random()
            node = rng.randrange(3)
            if roll < 0.05:
                expire(c, node)
            elif roll < 0.15:
                c.fire(node, "heartbeat")
            elif roll < 0.35:
                seq += 1
                c.request(node, put(node, seq, seq % 4, seq))
            elif roll < 0.38 and node not in c.crashed:
                c.crash(node)
            elif roll < 0.45 and c.crashed:
                c.restart(c.crashed.pop())
            elif c.pending:
                e = c.pending[rng.randrange(len(c.pending))]
                if rng.random() < 0.1:
                    c.drop(lambda m: m is e)
                else:
                    c.deliver(lambda m: m is e)
        assert_agreement(c)


def broken_scenario(cls):
    c = cluster(3, classes={2: cls})
    elect(c, 0)
    a = put(1, 0, 1, 111)
    c.request(0, a)
    c.drop(lambda e: e.dst == 2)
    c.deliver(lambda e: e.dst == 1)
    c.deliver(lambda e: isinstance(e.msg, Accepted))  # a is chosen by {0, 1} and applied at 0
    c.drop()
    assert c.obs.applied[0] == [(1, a)]
    expire(c, 2)
    c.deliver_all()
    b = put(2, 0, 1, 222)
    c.request(2, b)
    c.deliver_all()
    c.fire(2, "heartbeat")
    c.deliver_all()
    c.fire(1, "gap")  # node 1 lacks slot 0 (chosen in phase 1, never re-proposed): it asks
    c.deliver_all()
    return c, a, b


def test_skipping_phase1_breaks_agreement():
    c, a, b = broken_scenario(SkipPhase1)
    assert c.obs.applied[0][0] == (1, a)
    assert c.obs.applied[2][0] == (1, b) and c.obs.applied[1][0] == (1, b)  # divergence at index 1


def test_phase1_preserves_the_chosen_value():
    c, a, b = broken_scenario(MultiPaxosNode)
    assert_agreement(c)
    assert commands(c, 1) == commands(c, 2) == [a, b]


def test_duplicate_request_applied_once():
    c = cluster(3)
    elect(c, 0)
    first, other = put(1, 0, 4, 10), put(2, 0, 4, 20)
    retry = put(1, 0, 4, 10)  # same client and sequence number
    for r in (first, other, retry):
        c.request(0, r)
        c.deliver_all()
    assert [rep.value for _, _, rep in replies(c)] == [True, True, True]
    assert c.replicas[0].sm.data[4] == 20  # the retry went through the log but did not write
    assert [i for i, _ in c.obs.applied[0]] == [1, 2, 3]
    late = put(3, 0, 5, 1)
    c.request(0, late)
    c.request(0, put(3, 0, 5, 1))  # retried while still in flight: not proposed again
    assert len({e.msg.slot for e in c.messages(Accept)}) == 1
    c.deliver_all()
    assert replies(c)[-1][1] is late and len(replies(c)) == 4


def test_redirect_carries_leader_hint_and_isolated_leader_steps_down():
    c = cluster(3)
    r = put(1, 0, 1, 1)
    c.request(1, r)
    assert c.obs.replies[-1][2].status == REDIRECT and c.obs.replies[-1][2].leader is None
    elect(c, 2)
    c.request(1, r)
    assert c.obs.replies[-1][2].status == REDIRECT and c.obs.replies[-1][2].leader == 2
    c.isolate(2)
    c.fire(2, "quorum")  # quorum check: the promises of phase 1 count
    c.fire(2, "heartbeat")
    c.deliver_all()
    q = put(1, 1, 1, 2)
    c.replicas[2].leadership.window.limit = 0  # keep it queued: stepping down redirects it
    c.request(2, q)
    c.fire(2, "quorum")  # nobody answered for a whole period
    assert c.replicas[2].role == FOLLOWER and "heartbeat" not in c.ctx[2].timers
    assert c.obs.replies[-1][1] is q and c.obs.replies[-1][2].status == REDIRECT


def test_far_behind_candidate_is_refused_and_streamed_the_log():
    c = cluster(3, batch_size=1, pipeline=2)  # one transfer: 2 slots
    elect(c, 0)
    c.isolate(2)
    reqs = [put(1, i, i, i) for i in range(7)]
    for r in reqs:
        c.request(0, r)
        c.deliver_all()
    c.heal()
    expire(c, 2)
    c.deliver(lambda e: isinstance(e.msg, Prepare))
    # refused (7 slots behind): each acceptor streams a transfer, 2 messages of one slot each
    assert not c.messages(Promise) and len(c.messages(Catchup)) == 4
    c.deliver_all()
    assert commands(c, 2) == reqs and c.replicas[2].role == FOLLOWER  # abandoned its candidacy
    c.fire(0, "heartbeat")
    c.deliver_all()
    assert c.replicas[0].role == LEADER and c.obs.leaders[-1] == (3, 0)  # not disrupted
    expire(c, 2)  # now close enough: it leads and keeps everything
    c.deliver_all()
    assert c.leader() == 2
    c.request(2, put(2, 0, 1, 1))
    c.deliver_all()
    c.fire(2, "heartbeat")
    c.deliver_all()
    assert commands(c, 0) == commands(c, 1) == commands(c, 2) == reqs + [c.obs.replies[-1][1]]
    assert_agreement(c)
