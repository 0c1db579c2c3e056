"""Raft, scripted message by message on harness.engine.scripted.ScriptedCluster (no wall clock)."""

from __future__ import annotations

from collections import Counter

from harness.engine.scripted import ScriptedCluster
from harness.protocol import get
from harness.testing.scenario import scripted_cluster
from implementations.raft.messages import AppendEntries, AppendReply, RequestVote, Vote
from implementations.raft.node import LEADER, RaftNode
from workloads.kv import GET, OK, PUT, REDIRECT, Request

def make(n: int = 5, cls: type = RaftNode, **kw) -> ScriptedCluster:
    return scripted_cluster("raft", n, node_class=cls, **kw)


def put(client: int, seq: int, key: int, value: int) -> Request:
    return Request(client, seq, PUT, key, value, value_size=100)


def timeout(c: ScriptedCluster, n: int) -> None:
    """Let time pass beyond any election timeout, then fire ``n``'s election timer."""
    c.now += 1.0
    c.fire(n, "election")


def elect(c: ScriptedCluster, n: int, tries: int = 4) -> None:
    """Time out ``n`` until it wins, delivering only election traffic (the rest stays pending)."""
    for _ in range(tries):
        timeout(c, n)
        while c.deliver(lambda e: isinstance(e.msg, (RequestVote, Vote))):
            pass
        if c.replicas[n].role == LEADER:
            return
    raise AssertionError(f"node {n} did not win an election")


def flow(c: ScriptedCluster) -> list:
    """Deliver until quiet; return the envelopes that actually reached a live, connected node."""
    seen = []
    while c.pending:
        batch = list(c.pending)
        c.deliver()
        seen += [e for e in batch if not ({e.src, e.dst} & c.isolated) and e.dst not in c.crashed]
    return seen


def step_until(c: ScriptedCluster, pred) -> None:
    """Deliver pending messages one at a time until one matching ``pred`` has been delivered."""
    while c.pending:
        e = c.pending[0]
        c.deliver(lambda x: x is e)
        if pred(e):
            return
    raise AssertionError("condition never met")


def replies(c: ScriptedCluster, req: Request) -> list:
    return [r for _, q, r in c.obs.replies if q is req]


def conflicts(c: ScriptedCluster) -> list[int]:
    """Log indices at which two replicas applied different commands."""
    first, bad = {}, []
    for applied in c.obs.applied.values():
        for idx, cmd in applied:
            if first.setdefault(idx, cmd) is not cmd:
                bad.append(idx)
    return bad


def heartbeat(c: ScriptedCluster, n: int) -> list:
    c.fire(n, "heartbeat")
    return flow(c)


def retransmit(c: ScriptedCluster, n: int) -> list:
    """A retransmission interval passes at leader ``n``: it re-sends what is unacknowledged."""
    c.now += 0.05
    c.fire(n, "retransmit")
    return flow(c)


# -- election, replication, redirects ------------------------------------------------------------

def test_registered():
    assert get("raft").factory is RaftNode and get("raft").kind == "consensus"


def test_batching_and_pipeline_window():
    c = make(3, batch_size=4, pipeline=1)
    elect(c, 0)
    flow(c)
    for s in range(10):
        c.request(0, put(1, s + 1, s, s))
    seen = flow(c)
    sizes = [len(e.msg.terms) for e in seen
             if isinstance(e.msg, AppendEntries) and e.dst == 1 and e.msg.terms]
    assert sizes == [1, 4, 4, 1]  # first goes at once; the rest queue while the window is full
    assert sum(r.status == OK for _, _, r in c.obs.replies) == 10

    c = make(3, batch_size=4, batch_delay=0.01)
    elect(c, 0)
    flow(c)
    c.request(0, put(1, 1, 1, 1))
    c.request(0, put(1, 2, 1, 2))
    assert not c.messages(AppendEntries) and "batch" in c.ctx[0].timers  # waiting to fill
    c.fire(0, "batch")
    assert [len(e.msg.terms) for e in c.messages(AppendEntries)] == [2, 2]
    flow(c)
    for s in range(3, 7):
        c.request(0, put(1, s, 1, s))
    assert [len(e.msg.terms) for e in c.messages(AppendEntries)] == [4, 4]  # full: no waiting


def test_catchup_sends_batch_size_entries_per_message_pipeline_at_a_time():
    c = make(3, batch_size=1, pipeline=4)
    elect(c, 0)
    flow(c)
    c.crash(2)
    for s in range(10):
        c.request(0, put(1, s, s, s))
        flow(c)
    c.restart(2)
    c.now += 0.05
    c.fire(0, "retransmit")  # it lacks 10 entries: probed with one
    sizes = []
    while c.pending:
        sizes.append([len(e.msg.terms) for e in c.messages(AppendEntries) if e.dst == 2])
        c.deliver()
    sizes = [s for s in sizes if s]
    assert sizes[0] == [1] and max(map(len, sizes)) == 4 and {n for s in sizes for n in s} == {1}
    assert c.replicas[2].last_index == c.replicas[0].last_index


# -- failures -------------------------------------------------------------------------------------

def test_lagging_and_divergent_followers_catch_up_in_few_round_trips():
    c = make(5)
    elect(c, 0)
    flow(c)
    c.crash(4)  # misses everything below
    for s in range(20):
        c.request(0, put(1, s + 1, s, s))
        flow(c)
    c.isolate(0)  # node 0 appends a tail of 10 entries (term 1) that never commits
    for s in range(10):
        c.request(0, put(2, s + 1, s, s))
        flow(c)
    elect(c, 1)
    flow(c)
    for s in range(30):
        c.request(1, put(3, s + 1, s, s))
        flow(c)
    elect(c, 2)  # term 3; its probes start at index 53
    flow(c)
    c.heal()
    c.restart(4)
    seen = retransmit(c, 2) + retransmit(c, 2)
    rejections = Counter(e.src for e in seen
                         if isinstance(e.msg, AppendReply) and not e.msg.success)
    assert rejections[0] == 2  # too short, then a whole conflicting term skipped at once
    assert rejections[4] == 1  # too short: jumps straight to its last index + 1
    heartbeat(c, 2)  # carries the commit index
    logs = {(tuple(r.terms), tuple(r.cmds)) for r in c.replicas.values()}
    assert len(logs) == 1 and c.replicas[0].last_index == 53
    assert all(c.replicas[i].commit == 53 for i in range(5))
    assert not conflicts(c)


def test_isolated_leader_cannot_commit_and_is_overwritten_after_heal():
    c = make(5)
    elect(c, 0)
    flow(c)
    w = put(1, 1, 1, 1)
    c.request(0, w)
    flow(c)
    c.isolate(0)
    lost = put(1, 2, 1, 2)
    c.request(0, lost)
    flow(c)
    assert replies(c, lost) == [] and c.replicas[0].commit == 2
    elect(c, 1)
    v = put(2, 1, 1, 3)
    c.request(1, v)
    flow(c)
    assert replies(c, v)[0].status == OK
    # check quorum: the deposed leader notices it has no majority and steps down
    c.fire(0, "quorum")
    c.fire(0, "quorum")
    assert c.replicas[0].role != LEADER
    c.request(0, x := put(3, 1, 1, 4))
    assert replies(c, x)[0].status == REDIRECT
    c.heal()
    heartbeat(c, 1)
    retransmit(c, 1)  # node 0 missed the new leader's no-op ...
    retransmit(c, 1)  # ... and its write: re-sent one batch at a time
    heartbeat(c, 1)
    assert c.replicas[0].term == 2 and c.replicas[0].leader == 1
    assert c.replicas[0].cmds[3] is c.replicas[1].cmds[3] is not lost  # tail overwritten
    assert all(cmd is not lost for a in c.obs.applied.values() for _, cmd in a)
    assert all(r.sm.data[1] == 3 for r in c.replicas.values())
    assert not conflicts(c)


def test_restart_recovers_term_vote_and_log_from_stable_records():
    c = make(3)
    elect(c, 0)
    flow(c)
    r = put(1, 1, 9, 90)
    c.request(0, r)
    flow(c)
    heartbeat(c, 0)
    c.crash(1)
    c.restart(1)
    n1 = c.replicas[1]
    assert (n1.term, n1.voted_for, n1.terms, n1.cmds) == (1, 0, [0, 1, 1], [None, None, r])
    assert n1.commit == 0 and n1.sm.data == {}  # volatile state is relearnt
    heartbeat(c, 0)
    assert c.obs.applied[1] == [(1, None), (2, r)] * 2 and n1.sm.data[9] == 90

    c = make(3)  # a vote survives a crash: no second vote in the same term
    timeout(c, 2)
    c.deliver(lambda e: e.dst == 1)
    c.drop()
    c.crash(1)
    c.restart(1)
    assert (c.replicas[1].term, c.replicas[1].voted_for) == (1, 2)
    timeout(c, 0)  # node 0 campaigns in the same term 1
    c.deliver(lambda e: e.dst == 1)
    [vote] = [e.msg for e in c.messages(Vote) if e.src == 1]
    assert vote.term == 1 and not vote.granted


# -- the commit rule (Figure 8 of the Raft paper) -------------------------------------------------

class CountingRaft(RaftNode):
    """Deliberately broken: commits entries of earlier terms by counting replicas."""

    def _can_commit(self, index: int) -> bool:
        return True


def figure8(cls: type) -> ScriptedCluster:
    c = make(5, cls, batch_size=1, pipeline=1)  # catch-up carries one entry at a time
    x, y = put(1, 1, 1, 100), put(2, 1, 1, 200)
    # (a) node 0 leads term 1; its entry x (index 2) reaches node 1 only
    elect(c, 0)
    for i in (2, 3, 4):
        c.isolate(i)
    c.request(0, x)
    flow(c)
    c.heal()
    # (b) node 0 crashes; node 4 leads term 2 with votes of 2 and 3; y (index 2) stays local
    c.crash(0)
    c.isolate(1)
    elect(c, 4)
    c.isolate(2)
    c.isolate(3)
    c.request(4, y)
    flow(c)
    c.heal()
    # (c) node 4 crashes; node 0 restarts and leads term 3 (votes of 1, 2); x reaches node 2 too,
    #     so it is on a majority, but node 0's term-3 no-op is only on nodes 0 and 1
    c.crash(4)
    c.restart(0)
    c.isolate(3)
    elect(c, 0)
    step_until(c, lambda e: e.src == 2 and isinstance(e.msg, AppendReply) and e.msg.success
               and e.msg.index == 2)
    c.crash(0)
    c.drop(lambda e: e.src == 0)
    c.heal()
    # (d) node 4 restarts and leads a later term with votes of 2 and 3: it overwrites index 2
    c.restart(4)
    elect(c, 4)
    flow(c)
    heartbeat(c, 4)
    assert all(c.replicas[i].cmds[2] is y for i in (1, 2, 3, 4))
    return c


def test_figure8_counting_previous_term_entries_is_unsafe():
    c = figure8(CountingRaft)
    assert (2, c.replicas[1].cmds[2]) in c.obs.applied[4]
    assert any(cmd is not None and cmd.value == 100 for idx, cmd in c.obs.applied[0] if idx == 2)
    assert set(conflicts(c)) == {2}


def test_figure8_current_term_rule_is_safe():
    c = figure8(RaftNode)
    assert all(idx != 2 for idx, _ in c.obs.applied.get(0, []))  # x was never committed
    assert not conflicts(c)


# -- pre-vote and reads ---------------------------------------------------------------------------

def test_readindex_returns_latest_committed_value_without_the_log():
    c = make(3, read="readindex")
    elect(c, 0)  # its no-op is not committed yet, so its commit index may be stale
    c.request(0, g0 := Request(2, 1, GET, 7))
    assert len(c.messages(AppendEntries)) == 2  # only the no-op: no confirmation round yet
    flow(c)
    assert replies(c, g0)[0].value == 0
    c.request(0, put(1, 1, 7, 70))
    flow(c)
    g = Request(2, 2, GET, 7)
    c.request(0, g)
    assert replies(c, g) == []  # leadership not yet confirmed
    flow(c)
    [reply] = replies(c, g)
    assert reply.status == OK and reply.value == 70 and reply.size == 32 + 100
    assert all(cmd is not g for a in c.obs.applied.values() for _, cmd in a)
    c.isolate(0)  # a leader cut off from the majority cannot confirm a read
    c.request(0, g2 := Request(2, 3, GET, 7))
    flow(c)
    assert replies(c, g2) == []
