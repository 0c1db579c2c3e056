"""OCC (backward and Silo-style validation), message by message on ScriptedCluster."""

from __future__ import annotations

import pytest

from harness.engine.scripted import ScriptedCluster
from harness.kinds.transactions.contract import (
    ADD, COMMITTED, READ, VALIDATION, WRITE, CommitRequest, OpReply, OpRequest, make_tid,
)
from harness.testing.scenario import scripted_cluster

CLIENT = 50


def cluster(validation: str = "backward") -> ScriptedCluster:
    return scripted_cluster("occ", 1, initial=0, validation=validation)


def tid(seq: int) -> int:
    return make_tid(CLIENT, seq, 1)


def op(c, t, index, kind, key, arg=0, node=0):
    c.request(node, OpRequest(CLIENT, t, t, index, kind, key, arg))


def last(c, t):
    got = [r for _, _, r in c.obs.replies if r.tid == t]
    return got[-1] if got else None


def commit(c, t, parts=(0,)):
    c.request(0, CommitRequest(CLIENT, t, tuple(parts)))
    return last(c, t)


@pytest.mark.parametrize("validation", ["backward", "silo"])
def test_reads_never_wait_and_see_only_committed_data(validation):
    c = cluster(validation)
    w, r = tid(1), tid(2)
    op(c, w, 0, WRITE, 1, 42)
    op(c, r, 0, READ, 1)
    assert isinstance(last(c, r), OpReply) and last(c, r).value == 0
    op(c, w, 1, READ, 1)
    assert last(c, w).value == 42  # its own write
    assert commit(c, w).committed
    assert c.replicas[0].committed().get(1) == (42, w)


@pytest.mark.parametrize("validation", ["backward", "silo"])
def test_a_read_overwritten_before_commit_fails_validation(validation):
    c = cluster(validation)
    t1, t2 = tid(1), tid(2)
    op(c, t1, 0, READ, 1)
    op(c, t2, 0, ADD, 1, 5)
    assert commit(c, t2).committed
    op(c, t1, 1, WRITE, 2, 9)
    got = commit(c, t1)
    assert got.reason == VALIDATION and got.conflict
    assert c.replicas[0].committed().get(2) == (0, 0)  # nothing of t1 installed
    assert t1 not in c.replicas[0].participant.txns


@pytest.mark.parametrize("validation", ["backward", "silo"])
def test_lost_update_is_prevented(validation):
    c = cluster(validation)
    t1, t2 = tid(1), tid(2)
    op(c, t1, 0, ADD, 1, 1)
    op(c, t2, 0, ADD, 1, 1)
    assert commit(c, t1).committed
    assert commit(c, t2).reason == VALIDATION
    assert c.replicas[0].committed().get(1) == (1, t1)


def test_backward_validation_aborts_on_a_write_committed_since_start_even_if_read_after():
    """Kung-Robinson's false positive: t1 read key 2 after t2 committed it, but t2 committed after
    t1 started, so backward validation still aborts t1; Silo checks versions and commits it."""
    for validation, expected in (("backward", VALIDATION), ("silo", COMMITTED)):
        c = cluster(validation)
        t1, t2 = tid(1), tid(2)
        op(c, t1, 0, READ, 1)      # t1 starts
        op(c, t2, 0, WRITE, 2, 5)
        assert commit(c, t2).committed
        op(c, t1, 1, READ, 2)      # reads t2's version: consistent
        assert last(c, t1).value == 5
        assert commit(c, t1).reason == expected, validation


def test_backward_log_is_pruned():
    c = cluster("backward")
    for seq in range(1, 6):
        op(c, tid(seq), 0, WRITE, seq, seq)
        assert commit(c, tid(seq)).committed
    cc = c.replicas[0].participant.cc
    assert len(cc.log) == 5
    c.fire(0, "tick")
    assert not cc.log  # no active transaction needs it


def test_read_only_transactions_commit_without_logging():
    c = cluster("silo")
    t = tid(1)
    op(c, t, 0, READ, 1)
    before = len(c.ctx[0].stable)
    assert commit(c, t).committed
    assert len(c.ctx[0].stable) == before
    (obs,) = [v for _, e, v in c.obs.observed if e == "commit"]
    assert obs.reads == [(1, 0)] and obs.installs == []


@pytest.mark.parametrize("validation", ["backward", "silo"])
def test_validation_locks_of_a_prepared_transaction_fail_conflicting_validations(validation):
    c = scripted_cluster("2pc", 2, initial=0, participants="occ", validation=validation)
    p, w, r = tid(1), tid(2), tid(3)
    op(c, p, 0, READ, 0, node=0)       # p reads key 0, writes key 1 (on node 1)
    op(c, p, 1, WRITE, 1, 7, node=1)
    c.request(0, CommitRequest(CLIENT, p, (0, 1)))
    assert c.replicas[0].participant.txns[p].state == 1  # prepared at node 0, Prepare to 1 pending
    c.deliver(lambda e: e.dst == 1)          # prepared at node 1 too; the vote is pending
    op(c, w, 0, WRITE, 0, 9, node=0)         # w writes what p read: fails against p's lock
    assert commit(c, w).reason == VALIDATION
    op(c, r, 0, READ, 1, node=1)             # r reads what p will write: fails too
    c.request(1, CommitRequest(CLIENT, r, (1,)))
    assert last(c, r).reason == VALIDATION
    c.deliver_all()
    assert last(c, p).committed and c.replicas[1].committed().get(1) == (7, p)
    assert not c.replicas[0].participant.cc.plocks and not c.replicas[1].participant.cc.plocks
