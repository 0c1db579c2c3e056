"""Two-phase commit, message by message on ScriptedCluster: the protocol's messages and log
records, idempotence under duplicates, participant and coordinator crashes, termination."""

from __future__ import annotations

import pytest

from harness.engine.scripted import ScriptedCluster
from harness.kinds.transactions.contract import (
    ADD, COMMITTED, FAILURE, READ, WRITE, CommitRequest, Inquiry, OpReply, OpRequest, Outcome,
    Store, make_tid,
)
from implementations.twopc.node import TwoPC
from implementations.twopc.options import TwoPCOptions
from implementations.txn.log import (
    Aborted, Committed, Decided, Ended, EpochStarted, Prepared, PreparedAborted,
)
from implementations.txn.messages import Decision, Vote
from implementations.txn.records import PREPARED

CLIENT = 90


def cluster(n: int = 3, **kw) -> ScriptedCluster:
    opts = TwoPCOptions(**kw)
    return ScriptedCluster(lambda i, nodes: TwoPC(i, nodes, None, opts, Store(100)), n)


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


def test_two_phase_commit_message_by_message():
    c = cluster()
    t = tid(1)
    transfer(c, t)
    assert kinds(c) == ["Prepare"]                        # to node 1; node 0 prepared locally
    prepared = records(c, 0, Prepared)[0]
    assert (prepared.tid, prepared.coordinator, prepared.epoch, prepared.participants) == (t, 0, 1, (0, 1))
    assert isinstance(last(c, t), OpReply)                # no answer to the commit yet
    c.deliver()                                            # node 1 prepares and votes
    assert records(c, 1, Prepared) and kinds(c) == ["Vote"] and c.pending[0].msg.yes
    c.deliver()                                            # the coordinator decides
    assert [(r.tid, r.participants) for r in records(c, 0, Decided)] == [(t, (0, 1))]
    assert last(c, t).committed and kinds(c) == ["Decision"]
    assert c.replicas[0].committed().get(0) == (90, t) and c.replicas[1].committed().get(1) == (100, 0)
    c.deliver()                                            # node 1 commits and acks
    assert c.replicas[1].committed().get(1) == (110, t) and [r.tid for r in records(c, 1, Committed)] == [t]
    assert kinds(c) == ["Ack"]
    c.deliver()
    assert [r.tid for r in records(c, 0, Ended)] == [t] and c.replicas[0].idle() and c.replicas[1].idle()
    assert sorted(n for n, _ in commits(c, t)) == [0, 1]
    assert all(obs.participants == (0, 1) for _, obs in commits(c, t))
    doubt = [v for _, e, v in c.obs.observed if e == "in_doubt"]
    assert sorted(v[2] for v in doubt) == [0.02, float("inf")]  # never overdue at the coordinator
    assert all(v[0] == t for v in doubt)


def test_one_phase_fast_path_and_its_option():
    c = cluster()
    t = tid(1)
    run_ops(c, t, [(0, ADD, 0, 1), (0, ADD, 3, 1)])
    c.request(0, CommitRequest(CLIENT, t, (0,)))
    assert last(c, t).committed and not c.pending
    assert logged(c, 0) == ["CommittedAlone"]
    c2 = cluster(one_phase=False)
    run_ops(c2, t, [(0, ADD, 0, 1), (0, ADD, 3, 1)])
    c2.request(0, CommitRequest(CLIENT, t, (0,)))
    assert last(c2, t).committed and not c2.pending
    assert logged(c2, 0) == ["Prepared", "Decided", "Committed", "Ended"]


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


def test_duplicated_messages_never_apply_twice():
    c = cluster()
    t = tid(1)
    transfer(c, t)
    prepare = c.pending[0]
    c.pending.append(prepare)                 # a duplicated Prepare
    c.deliver()
    assert [type(e.msg) for e in c.pending] == [Vote, Vote] and all(e.msg.yes for e in c.pending)
    c.deliver()                               # the second vote is for a decided round
    decisions = [e for e in c.pending if isinstance(e.msg, Decision)]
    assert decisions and all(e.msg.commit for e in decisions)
    c.pending += decisions                    # duplicate the decisions too
    c.deliver_all()
    assert c.replicas[1].committed().get(1) == (110, t)
    assert len(commits(c, t)) == 2            # once per partition
    c.request(0, CommitRequest(CLIENT, t, (0, 1)))   # a late copy of the commit request
    assert last(c, t).committed and len(commits(c, t)) == 2
    c.request(1, OpRequest(CLIENT, t, t, 1, ADD, 1, 10))  # a late copy of an operation
    assert len(commits(c, t)) == 2 and c.replicas[1].committed().get(1) == (110, t)


def test_lost_votes_and_acks_are_recovered_by_retransmission():
    c = cluster(retransmit=0.01)
    t = tid(1)
    transfer(c, t)
    c.deliver()            # node 1 votes
    c.drop()               # the vote is lost
    c.now = 0.02
    c.fire(0, "tick")      # Prepare re-sent, same vote again
    assert kinds(c) == ["Prepare"]
    c.deliver()
    c.deliver()            # vote -> decision
    c.deliver()            # decision -> ack
    c.drop()               # the ack is lost
    c.now = 0.04
    c.fire(0, "tick")      # Decision re-sent; node 1 acks again without re-applying
    c.deliver_all()
    assert records(c, 0, Ended) and len(commits(c, t)) == 2


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


def test_coordinator_crash_between_prepare_and_decision_blocks_until_it_returns():
    c = cluster(resolve_interval=0.01, lock_timeout=1.0)
    t = tid(1)
    transfer(c, t)
    c.deliver()            # node 1 prepared and voted yes
    c.crash(0)             # the coordinator dies before deciding
    c.drop()
    blocked = tid(2)
    c.request(1, OpRequest(CLIENT, blocked, 1, 0, WRITE, 1, 5))  # older: waits on the lock
    assert last(c, blocked) is None
    for step in range(1, 6):  # node 1 keeps asking; nobody answers
        c.now = 0.02 * step
        c.fire(1, "tick")
        assert kinds(c) == ["Query"]
        c.deliver()
    assert c.replicas[1].participant.txns[t].state == PREPARED and last(c, blocked) is None
    c.now = 0.2
    c.restart(0)           # presumed abort: it has no decision for t
    assert c.replicas[0].participant.epoch == 2 and c.replicas[0].committed().get(0) == (100, 0)
    c.now = 0.25
    c.fire(1, "tick")
    c.deliver_all()
    assert t not in c.replicas[1].participant.txns and isinstance(last(c, blocked), OpReply)
    doubt = [v for n, e, v in c.obs.observed if e == "in_doubt" and n == 1]
    assert doubt == [(t, 0.0, 0.01, 0.25)]  # in doubt from prepare, overdue after 10 ms
    c.request(0, Inquiry(CLIENT, t, (0, 1)))
    assert last(c, t).reason == FAILURE


def test_a_recovered_coordinator_finishes_a_decided_commit():
    c = cluster()
    t = tid(1)
    transfer(c, t)
    c.deliver()            # vote
    c.deliver()            # decision logged, Decision(commit) pending to node 1
    c.crash(0)
    c.drop()
    c.restart(0)
    assert c.replicas[0].coordinator.commits[t].awaiting == {1}
    c.fire(0, "tick")
    c.deliver_all()
    assert c.replicas[1].committed().get(1) == (110, t) and records(c, 0, Ended)


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


def test_an_inquiry_about_an_unknown_attempt_aborts_it_for_good():
    c = cluster()
    t = tid(1)
    run_ops(c, t, [(0, ADD, 0, 1), (1, ADD, 1, 1)])
    c.request(0, Inquiry(CLIENT, t, (0, 1)))       # the commit request was lost
    assert last(c, t).reason == FAILURE and [r.tid for r in records(c, 0, Aborted)] == [t]
    c.deliver_all()
    assert not c.replicas[1].participant.txns
    c.request(0, CommitRequest(CLIENT, t, (0, 1)))  # ... or just late: still aborted
    assert last(c, t).reason == FAILURE and not c.pending
    c.crash(0)
    c.restart(0)
    c.request(0, CommitRequest(CLIENT, t, (0, 1)))  # even after a crash
    assert last(c, t).reason == FAILURE and not commits(c)


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
