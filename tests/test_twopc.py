"""Two-phase commit, message by message on ScriptedCluster: the protocol's messages and log
records, idempotence under duplicates, participant and coordinator crashes, termination."""

from __future__ import annotations

import pytest

from harness.engine.scripted import ScriptedCluster
from harness.kinds.transactions.contract import (
    ADD, COMMITTED, FAILURE, READ, CommitRequest, OpReply, OpRequest, Outcome, make_tid,
)
from harness.testing.scenario import scripted_cluster
from implementations.txn.log import Decided, Ended, EpochStarted, PreparedAborted
from implementations.txn.records import PREPARED

CLIENT = 90


def cluster(n: int = 3, **kw) -> ScriptedCluster:
    return scripted_cluster("2pc", n, initial=100, **kw)


def tid(seq: int, attempt: int = 1) -> int:
    return make_tid(CLIENT, seq, attempt)


def run_ops(c, t, ops, ts=None):
    """ops: [(node, kind, key, arg)], each answered before the next."""
    for i, (node, kind, key, arg) in enumerate(ops):
        c.request(node, OpRequest(CLIENT, t, t if ts is None else ts, i, kind, key, arg))
        assert isinstance(last(c, t), OpReply), last(c, t)


def last(c, t):
    got = [r for _, _, r in c.obs.replies if r.tid == t]
    return got[-1] if got else None


def records(c, node, kind=None):
    return [r for r in c.ctx[node].stable if kind is None or isinstance(r, kind)]


def logged(c, node):
    """The names of the records node logged, its epochs left out."""
    return [type(r).__name__ for r in records(c, node) if not isinstance(r, EpochStarted)]


def commits(c, t=None):
    return [(n, v) for n, e, v in c.obs.observed if e == "commit" and (t is None or v.tid == t)]


def kinds(c):
    return [type(e.msg).__name__ for e in c.pending]


def transfer(c, t, parts=(0, 1)):
    """t adds -10 to key 0 (node 0) and +10 to key 1 (node 1), then asks node 0 to commit."""
    run_ops(c, t, [(0, ADD, 0, -10), (1, ADD, 1, 10)])
    c.request(0, CommitRequest(CLIENT, t, parts))


def test_a_no_vote_aborts_everywhere_without_a_coordinator_record():
    c = cluster()
    t = tid(1)
    transfer(c, t)
    c.replicas[1].participant.txns.pop(t)  # node 1 lost the transaction (as after a crash)
    c.deliver_all()
    out = last(c, t)
    assert isinstance(out, Outcome) and out.reason == FAILURE
    assert not records(c, 0, Decided) and records(c, 0, PreparedAborted)  # presumed abort
    assert c.replicas[0].committed().get(0) == (100, 0) and not commits(c)
    assert not c.replicas[0].participant.cc.locks


def test_participant_crash_recovers_in_doubt_and_asks_the_coordinator():
    c = cluster(resolve_interval=0.01)
    t, other = tid(1), tid(2)
    transfer(c, t)
    c.deliver()            # node 1 prepared (durably) and voted
    c.crash(1)
    c.deliver()            # the vote arrives: commit decided; the decision to node 1 is lost
    assert last(c, t).committed
    c.drop()
    c.restart(1)
    p = c.replicas[1].participant.txns[t]
    assert p.state == PREPARED and c.replicas[1].participant.cc.locks[1].exclusive == t   # in doubt, lock re-taken
    c.request(1, OpRequest(CLIENT, other, other, 0, READ, 1, 0))       # younger: dies on the lock
    assert isinstance(last(c, other), Outcome)
    c.now = 0.05
    c.fire(1, "tick")
    assert kinds(c) == ["Query"] and c.pending[0].msg.epoch == 1
    c.deliver_all()
    assert c.replicas[1].committed().get(1) == (110, t) and not c.replicas[1].participant.txns
    assert records(c, 0, Ended)
    assert len(commits(c, t)) == 2


def test_a_committed_participant_that_restarts_replays_its_writes():
    c = cluster()
    t = tid(1)
    transfer(c, t)
    c.deliver_all()
    c.crash(1)
    c.restart(1)
    assert c.replicas[1].committed().get(1) == (110, t) and not c.replicas[1].participant.txns
    assert c.replicas[1].participant.done[t] == COMMITTED


def test_cooperative_termination_resolves_when_a_participant_has_not_voted():
    for termination, resolved in (("none", False), ("cooperative", True)):
        c = cluster(termination=termination, termination_timeout=0.05, resolve_interval=0.01)
        t = tid(1)
        run_ops(c, t, [(0, ADD, 0, -10), (1, ADD, 1, 5), (2, ADD, 2, 5)])
        c.request(0, CommitRequest(CLIENT, t, (0, 1, 2)))
        c.deliver(lambda e: e.dst == 1)   # node 1 prepares
        c.drop()                          # the Prepare to node 2 and node 1's vote are lost
        c.crash(0)
        for step in range(1, 10):
            c.now = 0.01 * step
            c.fire(1, "tick")
            c.deliver_all()
        assert (t not in c.replicas[1].participant.txns) == resolved, termination
        if resolved:  # node 2 aborted its part and will vote no
            assert c.replicas[2].participant.done[t] == FAILURE and not c.replicas[1].participant.cc.locks


def test_cooperative_termination_stays_blocked_when_everyone_voted_yes():
    c = cluster(termination="cooperative", termination_timeout=0.02, resolve_interval=0.01)
    t = tid(1)
    transfer(c, t)
    c.deliver()            # node 1 prepared; the vote is lost with the coordinator
    c.crash(0)
    c.drop()
    for step in range(1, 10):
        c.now = 0.01 * step
        c.fire(1, "tick")
        c.deliver_all()
    assert c.replicas[1].participant.txns[t].state == PREPARED  # node 0 is the only other participant


def test_a_re_run_commit_after_a_coordinator_restart_cannot_commit_an_old_round():
    c = cluster()
    t = tid(1)
    transfer(c, t)
    c.deliver()            # node 1 prepared in epoch 1
    c.crash(0)
    c.drop()
    c.restart(0)           # epoch 2; its own prepare of t was presumed aborted
    c.request(0, CommitRequest(CLIENT, t, (0, 1)))   # a late copy of the commit request
    c.deliver_all()
    assert last(c, t).reason == FAILURE
    assert c.replicas[1].committed().get(1) == (100, 0) and not commits(c)


@pytest.mark.parametrize("participants", ["2pl", "occ"])
def test_in_doubt_participant_crash_then_peer_says_committed(participants):
    c = cluster(participants=participants, termination="cooperative", termination_timeout=0.01,
                resolve_interval=0.01)
    t = tid(1)
    run_ops(c, t, [(0, ADD, 0, -10), (1, ADD, 1, 5), (2, ADD, 2, 5)])
    c.request(0, CommitRequest(CLIENT, t, (0, 1, 2)))
    c.deliver()                                   # nodes 1 and 2 prepare
    c.deliver()                                   # votes: decided; decisions pending
    c.deliver(lambda e: e.dst == 2)               # node 2 commits; its ack pending
    c.drop()                                      # the decision to node 1 is lost
    c.crash(0)                                    # and the coordinator goes down
    c.now = 0.05
    c.fire(1, "tick")                             # node 1 asks node 0 (down) and node 2
    c.deliver_all()
    assert c.replicas[1].committed().get(1) == (105, t) and t not in c.replicas[1].participant.txns


# -- regressions: a crash must never let a transaction lose the operations it ran -----------------

@pytest.mark.parametrize("participants", ["2pl", "occ"])
def test_a_partition_that_lost_an_active_transaction_aborts_its_next_operation(participants):
    """Regression: a partition that forgot an active transaction in a crash used to start it
    afresh at its next operation, so the commit installed only the operations after the crash
    (half a transfer). The operation now says how many earlier ones ran there: it aborts."""
    c = cluster(n=1, participants=participants)
    t = tid(1)
    c.request(0, OpRequest(CLIENT, t, t, 0, ADD, 1, -10))
    first = last(c, t)
    assert isinstance(first, OpReply) and first.epoch == 1
    c.crash(0)
    c.restart(0)
    c.request(0, OpRequest(CLIENT, t, t, 1, ADD, 2, 10, prior=1, epoch=first.epoch))
    out = last(c, t)
    assert isinstance(out, Outcome) and out.reason == FAILURE
    assert c.replicas[0].participant.done[t] == FAILURE and t not in c.replicas[0].participant.txns
    c.request(0, OpRequest(CLIENT, t, t, 1, ADD, 2, 10, prior=1, epoch=first.epoch))  # a duplicate
    assert last(c, t).reason == FAILURE and t not in c.replicas[0].participant.txns
    c.request(0, CommitRequest(CLIENT, t, (0,)))
    assert last(c, t).reason == FAILURE and not commits(c)
    assert c.replicas[0].committed().get(1) == (100, 0) and c.replicas[0].committed().get(2) == (100, 0)


def test_a_duplicate_operation_cannot_revive_a_transaction_a_crash_erased():
    """A late duplicate of an attempt's first operation at a partition, arriving after that
    partition restarted, re-creates the attempt there with a fresh read; the client saw the old
    one. The next operation (it names the incarnation that answered) or the prepare (the commit
    request names every participant's incarnation) must refuse it."""
    c = cluster(n=2)
    t = tid(1)
    op0 = OpRequest(CLIENT, t, t, 0, ADD, 0, -10)
    c.request(0, op0)
    r0 = last(c, t)
    c.crash(0)
    c.restart(0)
    c.request(0, op0)                                     # the duplicate: re-created, epoch 2
    assert t in c.replicas[0].participant.txns
    c.request(0, OpRequest(CLIENT, t, t, 1, ADD, 3, 10, prior=1, epoch=r0.epoch))
    assert last(c, t).reason == FAILURE and t not in c.replicas[0].participant.txns

    c = cluster(n=2)
    t = tid(2)
    op0 = OpRequest(CLIENT, t, t, 0, ADD, 0, -10)
    op1 = OpRequest(CLIENT, t, t, 1, ADD, 1, 10)
    c.request(0, op0)
    r0 = last(c, t)
    c.request(1, op1)
    r1 = last(c, t)
    c.crash(1)
    c.restart(1)
    c.request(1, op1)                                     # its duplicate, after the restart
    assert t in c.replicas[1].participant.txns
    c.request(0, CommitRequest(CLIENT, t, (0, 1), epochs=(r0.epoch, r1.epoch)))
    c.deliver_all()
    assert last(c, t).reason == FAILURE and not commits(c)
    assert c.replicas[0].committed().get(0) == (100, 0) and c.replicas[1].committed().get(1) == (100, 0)
