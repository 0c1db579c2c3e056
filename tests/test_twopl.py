"""Strict 2PL, message by message on harness.engine.scripted.ScriptedCluster (one partition, no clock)."""

from __future__ import annotations

import pytest

from harness.engine.scripted import ScriptedCluster
from harness.kinds.transactions.contract import (
    ADD, CONFLICT, DEADLOCK, READ, TIMEOUT, WRITE, AbortRequest, CommitRequest, OpReply,
    OpRequest, Outcome, make_tid,
)
from harness.testing.scenario import scripted_cluster
from implementations.twopl.locking import LockingCC
from implementations.txn.locks import S, X
from implementations.txn.log import CommittedAlone

CLIENT = 50


def cluster(deadlock: str = "wait_die", n: int = 1, **kw) -> ScriptedCluster:
    return scripted_cluster("2pl", n, initial=100, deadlock=deadlock, **kw)


def tid(seq: int, attempt: int = 1) -> int:
    return make_tid(CLIENT, seq, attempt)


def op(c: ScriptedCluster, t: int, index: int, kind: int, key: int, arg: int = 0, ts: int | None = None,
       node: int = 0) -> OpRequest:
    req = OpRequest(CLIENT, t, t if ts is None else ts, index, kind, key, arg)
    c.request(node, req)
    return req


def answers(c: ScriptedCluster, t: int) -> list:
    return [r for _, _, r in c.obs.replies if r.tid == t]


def last(c: ScriptedCluster, t: int):
    got = answers(c, t)
    return got[-1] if got else None


def commit(c: ScriptedCluster, t: int, parts=(0,)) -> None:
    c.request(0, CommitRequest(CLIENT, t, tuple(parts)))


def cc(c: ScriptedCluster, node: int = 0) -> LockingCC:
    return c.replicas[node].participant.cc


def test_shared_locks_are_compatible_and_exclusive_ones_are_not():
    c = cluster("no_wait")
    t1, t2, t3 = tid(1), tid(2), tid(3)
    op(c, t1, 0, READ, 7)
    op(c, t2, 0, READ, 7)
    assert isinstance(last(c, t1), OpReply) and isinstance(last(c, t2), OpReply)
    assert last(c, t1).value == 100 and not last(c, t2).conflict
    op(c, t3, 0, WRITE, 7, 5)
    assert isinstance(last(c, t3), Outcome) and last(c, t3).reason == CONFLICT  # refused, not queued
    lock = cc(c).locks[7]
    assert set(lock.holders) == {t1, t2} and lock.exclusive == 0 and not lock.queue


def test_locks_are_held_until_commit_and_writes_invisible_before():
    c = cluster("wait_die")
    writer, reader = tid(2), tid(1)  # the reader is older: it waits instead of dying
    op(c, writer, 0, ADD, 3, 10, ts=20)
    op(c, reader, 0, READ, 3, ts=10)
    assert last(c, reader) is None  # queued behind the exclusive lock
    assert cc(c).locks[3].queue[0].tid == reader
    c.now = 0.001
    op(c, writer, 1, READ, 4, ts=20)  # more work by the writer: still holding
    assert last(c, reader) is None
    c.now = 0.004
    commit(c, writer)
    assert last(c, writer).committed
    got = last(c, reader)
    assert isinstance(got, OpReply) and got.value == 110 and got.conflict  # sees the commit, waited
    waits = [v for _, e, v in c.obs.observed if e == "lock_wait"]
    assert waits == [pytest.approx(0.004)]  # from queueing (t=0) to the grant at the commit
    assert cc(c).locks[3].holders == {reader: c.replicas[0].participant.txns[reader]}


def test_abort_releases_locks_to_waiters():
    c = cluster("wait_die")
    young, old = tid(2), tid(1)
    op(c, young, 0, WRITE, 1, 9, ts=20)
    op(c, old, 0, WRITE, 1, 8, ts=10)
    assert last(c, old) is None
    c.request(0, AbortRequest(CLIENT, young))
    assert isinstance(last(c, old), OpReply) and last(c, old).value == 100
    op(c, young, 1, READ, 2, ts=20)  # a late operation of the aborted attempt is refused
    assert isinstance(last(c, young), Outcome) and not last(c, young).committed


def test_wait_die_older_waits_younger_dies():
    c = cluster("wait_die")
    old, young = tid(1), tid(2)
    op(c, old, 0, READ, 5, ts=1)
    op(c, young, 0, WRITE, 5, 1, ts=2)
    assert last(c, young).reason == CONFLICT and last(c, young).conflict
    c2 = cluster("wait_die")
    op(c2, young, 0, READ, 5, ts=2)
    op(c2, old, 0, WRITE, 5, 1, ts=1)
    assert last(c2, old) is None and c2.replicas[0].participant.txns[old].wait == 5


def test_wait_die_compares_with_queued_requests_too():
    c = cluster("wait_die")
    a, b, d = tid(1), tid(2), tid(3)
    op(c, b, 0, WRITE, 5, 1, ts=20)   # holder
    op(c, a, 0, WRITE, 5, 2, ts=10)   # older than the holder: queued
    op(c, d, 0, WRITE, 5, 3, ts=15)   # older than the holder, younger than the queued one: dies
    assert last(c, a) is None and last(c, d).reason == CONFLICT


def test_wound_wait_older_wounds_younger_younger_waits():
    c = cluster("wound_wait")
    old, young = tid(1), tid(2)
    op(c, young, 0, WRITE, 5, 1, ts=2)
    op(c, old, 0, WRITE, 5, 7, ts=1)
    assert isinstance(last(c, young), Outcome) and last(c, young).reason == CONFLICT  # wounded
    assert isinstance(last(c, old), OpReply) and last(c, old).conflict  # got the lock at once
    assert young not in c.replicas[0].participant.txns
    c2 = cluster("wound_wait")
    op(c2, old, 0, WRITE, 5, 1, ts=1)
    op(c2, young, 0, WRITE, 5, 7, ts=2)
    assert last(c2, young) is None and c2.replicas[0].participant.txns[young].wait == 5  # young waits


def test_wound_wait_never_wounds_a_prepared_transaction():
    c = cluster("wound_wait", n=2)
    young, old = tid(2), tid(1)
    op(c, young, 0, WRITE, 0, 1, ts=2, node=0)
    op(c, young, 1, WRITE, 1, 1, ts=2, node=1)
    c.request(0, CommitRequest(CLIENT, young, (0, 1)))  # node 0 prepares locally, Prepare to 1 pending
    assert c.replicas[0].participant.txns[young].state == 1
    op(c, old, 0, WRITE, 0, 9, ts=1, node=0)
    assert last(c, old) is None and young in c.replicas[0].participant.txns  # waits for the prepared one
    c.deliver_all()
    assert last(c, young).committed and isinstance(last(c, old), OpReply)


def test_detect_breaks_a_cycle_by_aborting_the_youngest():
    c = cluster("detect")
    t1, t2 = tid(1), tid(2)
    op(c, t1, 0, WRITE, 1, 1, ts=1)
    op(c, t2, 0, WRITE, 2, 1, ts=2)
    op(c, t1, 1, WRITE, 2, 1, ts=1)   # t1 waits for t2
    assert last(c, t1).index == 0 and c.replicas[0].participant.txns[t1].wait == 2
    op(c, t2, 1, WRITE, 1, 1, ts=2)   # t2 waits for t1: a cycle; t2 is younger
    assert last(c, t2).reason == DEADLOCK
    got = last(c, t1)
    assert isinstance(got, OpReply) and got.index == 1  # t1 got t2's lock


def test_detect_victim_is_deterministic_and_can_be_another_waiter():
    c = cluster("detect")
    a, b, d = tid(1), tid(2), tid(3)
    op(c, d, 0, WRITE, 3, 1, ts=30)   # youngest
    op(c, a, 0, WRITE, 1, 1, ts=10)
    op(c, b, 0, WRITE, 2, 1, ts=20)
    op(c, d, 1, WRITE, 1, 1, ts=30)   # d waits for a
    op(c, a, 1, WRITE, 2, 1, ts=10)   # a waits for b
    op(c, b, 1, WRITE, 3, 1, ts=20)   # b waits for d: cycle a -> b -> d -> a
    assert last(c, d).reason == DEADLOCK            # the youngest of the cycle, not the requester
    assert isinstance(last(c, b), OpReply) and last(c, b).index == 1
    assert cc(c).find_cycle(c.replicas[0].participant.txns[a]) is None


def test_no_deadlock_without_a_cycle_under_detect():
    c = cluster("detect")
    t1, t2 = tid(1), tid(2)
    op(c, t1, 0, WRITE, 1, 1, ts=1)
    op(c, t2, 0, READ, 1, ts=2)
    assert last(c, t2) is None and cc(c).find_cycle(c.replicas[0].participant.txns[t2]) is None


def test_lock_wait_timeout_aborts_the_waiter():
    c = cluster("wait_die", lock_timeout=0.05)
    holder, waiter = tid(2), tid(1)
    op(c, holder, 0, WRITE, 1, 1, ts=2)
    op(c, waiter, 0, WRITE, 1, 1, ts=1)
    c.now = 0.04
    c.fire(0, "tick")
    assert last(c, waiter) is None
    c.now = 0.06
    c.fire(0, "tick")
    assert last(c, waiter).reason == TIMEOUT and last(c, waiter).conflict
    assert waiter not in c.replicas[0].participant.txns and not cc(c).locks[1].queue


def test_idle_transactions_are_aborted():
    c = cluster("no_wait")
    t = tid(1)
    op(c, t, 0, WRITE, 1, 1)
    c.now = 1.0
    c.fire(0, "tick")
    assert last(c, t).reason == TIMEOUT and not cc(c).locks


def test_upgrade_for_a_sole_reader_and_queued_otherwise():
    c = cluster("wait_die")
    t1, t2 = tid(1), tid(2)
    op(c, t1, 0, READ, 1, ts=1)
    op(c, t1, 1, WRITE, 1, 5, ts=1)
    assert isinstance(last(c, t1), OpReply) and c.replicas[0].participant.txns[t1].held[1] == X
    c2 = cluster("wait_die")
    op(c2, t1, 0, READ, 1, ts=1)
    op(c2, t2, 0, READ, 1, ts=2)
    op(c2, t1, 1, WRITE, 1, 5, ts=1)  # upgrade blocked by the other reader: older, so it waits
    assert last(c2, t1).index == 0 and c2.replicas[0].participant.txns[t1].wait == 1
    assert c2.replicas[0].participant.txns[t1].held[1] == S
    c2.request(0, AbortRequest(CLIENT, t2))
    assert last(c2, t1).index == 1 and c2.replicas[0].participant.txns[t1].held[1] == X


def test_one_phase_commit_installs_versions_logs_and_reports():
    c = cluster("no_wait")
    t = tid(1)
    op(c, t, 0, READ, 1)
    op(c, t, 1, ADD, 2, -30)
    op(c, t, 2, WRITE, 3, 7)
    commit(c, t)
    assert last(c, t).committed
    store = c.replicas[0].committed()
    assert store.get(2) == (70, t) and store.get(3) == (7, t) and store.get(1) == (100, 0)
    logged = c.ctx[0].stable[-1]
    assert isinstance(logged, CommittedAlone) and (logged.tid, logged.writes) == (t, [(2, 70), (3, 7)])
    (obs,) = [v for _, e, v in c.obs.observed if e == "commit"]
    assert obs.reads == [(1, 0), (2, 0), (3, 0)] and obs.installs == [(2, 0, 70), (3, 0, 7)]
    assert not cc(c).locks and not c.replicas[0].participant.txns
    commit(c, t)  # a duplicate commit request: the same answer, nothing applied twice
    assert last(c, t).committed and len([1 for _, e, _ in c.obs.observed if e == "commit"]) == 1


def test_duplicate_operations_are_ignored():
    c = cluster("no_wait")
    t = tid(1)
    req = op(c, t, 0, ADD, 1, 5)
    c.request(0, req)
    assert len(answers(c, t)) == 1
    op(c, t, 1, ADD, 1, 5)
    commit(c, t)
    assert c.replicas[0].committed().get(1) == (110, t)


def test_a_new_attempt_supersedes_a_leftover_one():
    c = cluster("wait_die")
    first, second = tid(1, 1), tid(1, 2)
    op(c, first, 0, WRITE, 1, 5, ts=1)  # its abort request was lost
    op(c, second, 0, WRITE, 1, 6, ts=1)
    assert isinstance(last(c, second), OpReply) and first not in c.replicas[0].participant.txns


@pytest.mark.parametrize("policy", ["no_wait", "wait_die", "wound_wait", "detect"])
def test_recovery_retakes_the_locks_of_prepared_transactions(policy):
    c = cluster(policy, n=2)
    t = tid(1)
    op(c, t, 0, WRITE, 0, 1, ts=5, node=0)
    op(c, t, 1, READ, 1, ts=5, node=1)
    c.request(0, CommitRequest(CLIENT, t, (0, 1)))
    c.deliver(lambda e: e.dst == 1)  # node 1 prepares and votes
    c.crash(1)
    c.restart(1)
    held = c.replicas[1].participant.txns[t]
    assert held.state == 1 and c.replicas[1].participant.cc.locks[1].holders == {t: held}


def test_detect_records_only_real_lock_waits():
    """Regression (review finding 7): under detect, a requester that closed a cycle and was
    itself the victim, or that got the victim's lock in the same step, was recorded as a lock
    wait of 0 ms, dragging lock_wait_ms_mean down. Only waits that began count."""
    c = cluster("detect")
    t1, t2 = tid(1), tid(2)
    op(c, t1, 0, WRITE, 1, 1, ts=1)
    op(c, t2, 0, WRITE, 2, 1, ts=2)
    op(c, t1, 1, WRITE, 2, 1, ts=1)   # t1 really waits for t2, from t=0
    c.now = 0.004
    op(c, t2, 1, WRITE, 1, 1, ts=2)   # closes the cycle; t2, the youngest, is the victim
    assert last(c, t2).reason == DEADLOCK and last(c, t1).index == 1
    waits = [v for _, e, v in c.obs.observed if e == "lock_wait"]
    assert waits == [pytest.approx(0.004)]  # t1's; none for t2, which never waited

    c = cluster("detect")
    a, b, d = tid(1), tid(2), tid(3)
    op(c, d, 0, WRITE, 3, 1, ts=30)
    op(c, a, 0, WRITE, 1, 1, ts=10)
    op(c, b, 0, WRITE, 2, 1, ts=20)
    op(c, d, 1, WRITE, 1, 1, ts=30)   # d waits for a from t=0
    c.now = 0.002
    op(c, a, 1, WRITE, 2, 1, ts=10)   # a waits for b from t=0.002
    c.now = 0.005
    op(c, b, 1, WRITE, 3, 1, ts=20)   # cycle: d (youngest) dies; b gets its lock at once
    assert last(c, d).reason == DEADLOCK and last(c, b).index == 1
    waits = sorted(v for _, e, v in c.obs.observed if e == "lock_wait")
    assert waits == [pytest.approx(0.005)]  # d's wait, ended by its abort; none for b
