"""The mechanisms Raft and Multi-Paxos share (implementations.replication), on their own: the
batching window and a leader's view of its followers."""

from __future__ import annotations

import pytest

from implementations.replication.batching import BatchWindow
from implementations.replication.progress import Followers, Progress
from workloads.kv import PUT, Request


class Timers:
    """The part of a Context the batching window uses."""

    def __init__(self):
        self.armed: dict[str, float] = {}

    def set_timer(self, name, delay):
        self.armed[name] = delay

    def cancel_timer(self, name):
        self.armed.pop(name, None)


def req(seq: int) -> Request:
    return Request(1, seq, PUT, seq, seq)


def test_full_batches_go_at_once_and_a_partial_one_waits_for_the_timer():
    ctx, w = Timers(), BatchWindow(batch_size=2, batch_delay=0.01, pipeline=4, drain_when_due=False)
    assert not w.admit(ctx, req(1), inflight=0) and ctx.armed == {"batch": 0.01}
    assert w.admit(ctx, req(2), inflight=0)  # a full batch
    assert [r.seq for r in w.take(0)] == [1, 2] and w.take(1) is None
    w.settle(ctx)
    assert ctx.armed == {}  # nothing left to wait for
    w.admit(ctx, req(3), inflight=1)
    assert w.take(1) is None  # partial: waits
    assert w.fired() and [r.seq for r in w.take(1)] == [3]


def test_a_retry_of_a_request_not_yet_answered_is_not_queued_again():
    ctx, w = Timers(), BatchWindow(batch_size=8, batch_delay=0.0, pipeline=1, drain_when_due=False)
    assert w.admit(ctx, req(1), inflight=0)
    assert not w.admit(ctx, req(1), inflight=0) and len(w.queue) == 1
    w.pending.discard(req(1).uid)  # answered: a retry is a new command
    assert w.admit(ctx, req(1), inflight=0) and len(w.queue) == 2


def test_the_pipeline_bounds_the_batches_in_flight():
    ctx, w = Timers(), BatchWindow(batch_size=1, batch_delay=0.0, pipeline=2, drain_when_due=False)
    for seq in range(3):
        w.admit(ctx, req(seq), inflight=2)
    assert w.take(2) is None and len(w.queue) == 3
    assert [r.seq for r in w.take(1)] == [0]


@pytest.mark.parametrize("drain", [True, False])
def test_how_long_a_fired_timer_counts(drain):
    """Raft's rule (drain_when_due) lets every partial batch go once the timer fired until the
    queue is empty; Multi-Paxos's gives each partial batch a timer of its own."""
    ctx, w = Timers(), BatchWindow(batch_size=2, batch_delay=0.01, pipeline=1, drain_when_due=drain)
    for seq in range(3):
        w.admit(ctx, req(seq), inflight=1)  # window full: queued
    assert w.fired()
    assert [r.seq for r in w.take(0)] == [0, 1]
    assert (w.take(0) is not None) == drain  # the partial rest: at once, or after its own timer


def test_progress_probes_until_a_match_then_replicates():
    pr = Progress(2, next_index=5)
    assert pr.probing and pr.match == 0
    assert pr.maybe_update(4) and not pr.probing and pr.next == 5
    assert not pr.maybe_update(3)  # old news
    pr.next = 9  # streamed optimistically
    assert pr.maybe_update(6) and pr.next == 9
    pr.become_probe(7)
    assert pr.probing and pr.next == 7


def test_followers_commit_what_a_majority_holds_and_check_the_quorum():
    f = Followers((1, 2, 3, 4), next_index=1, quorum=3)
    for node, match in zip((1, 2, 3, 4), (7, 3, 9, 1)):
        f.by_id[node].match = match
    assert f.committed(leader_last=10) == 7  # the leader, 9 and 7
    assert not f.quorum_active()
    f.heard(2)
    f.heard(4)
    assert f.quorum_active() and not any(pr.active for pr in f.all)  # a new period starts
    assert Followers((), next_index=1, quorum=1).committed(leader_last=4) == 4
