"""The mechanisms Raft and Multi-Paxos share (implementations.replication), on their own: the
batching window and a leader's view of its followers."""

from __future__ import annotations

import pytest

from harness.contract import Context
from implementations.replication.batching import BatchWindow
from implementations.replication.progress import Followers, Progress
from workloads.kv import PUT, Request


class Timers(Context):
    """The part of a Context the batching window uses (a Context: the compiled window takes no other)."""

    def __init__(self):
        self.armed: dict[str, float] = {}
        self.now = 0.0

    def set_timer(self, name, delay):
        self.armed[name] = delay

    def cancel_timer(self, name):
        self.armed.pop(name, None)


def req(seq: int) -> Request:
    return Request(1, seq, PUT, seq, seq)


def test_full_batches_go_at_once_and_a_partial_one_waits_for_the_timer():
    ctx, w = Timers(), BatchWindow(batch_size=2, batch_delay=0.01, pipeline=4)
    assert not w.admit(ctx, req(1), inflight=0) and ctx.armed == {"batch": 0.01}
    assert w.admit(ctx, req(2), inflight=0)  # a full batch
    assert [r.seq for r in w.take(ctx, 0)] == [1, 2] and w.take(ctx, 1) is None
    w.settle(ctx)
    assert ctx.armed == {}  # nothing left to wait for
    w.admit(ctx, req(3), inflight=1)
    assert w.take(ctx, 1) is None  # partial: waits
    assert w.fired() and [r.seq for r in w.take(ctx, 1)] == [3]


def test_a_retry_of_a_request_not_yet_answered_is_not_queued_again():
    ctx, w = Timers(), BatchWindow(batch_size=8, batch_delay=0.0, pipeline=1)
    assert w.admit(ctx, req(1), inflight=0)
    assert not w.admit(ctx, req(1), inflight=0) and len(w.queue) == 1
    w.pending.discard(req(1).uid)  # answered: a retry is a new command
    assert w.admit(ctx, req(1), inflight=0) and len(w.queue) == 2


def test_the_pipeline_bounds_the_batches_in_flight():
    ctx, w = Timers(), BatchWindow(batch_size=1, batch_delay=0.0, pipeline=2)
    for seq in range(3):
        w.admit(ctx, req(seq), inflight=2)
    assert w.take(ctx, 2) is None and len(w.queue) == 3
    assert [r.seq for r in w.take(ctx, 1)] == [0]


def test_a_partial_batch_waits_batch_delay_from_its_oldest_command():
    """Each partial batch goes once its first command has waited batch_delay (Kafka's
    linger.ms), never sooner and never a second delay for commands that already waited."""
    ctx, w = Timers(), BatchWindow(batch_size=2, batch_delay=0.01, pipeline=1)
    for seq, now in enumerate((0.0, 0.001, 0.002)):
        ctx.now = now
        assert not w.admit(ctx, req(seq), inflight=1)  # window full: queued
    assert ctx.armed == {"batch": 0.01}  # for the oldest command, set once
    ctx.now = 0.01
    assert w.fired() and w.take(ctx, 1) is None  # due, but the window is full
    ctx.now = 0.011  # the window opens after the oldest waited 10 ms: it goes
    assert [r.seq for r in w.take(ctx, 0)] == [0, 1]
    assert w.take(ctx, 0) is None  # command 2 arrived at 2 ms: it may wait until 12 ms
    w.settle(ctx)
    assert ctx.armed == {"batch": pytest.approx(0.001)}
    ctx.now = 0.013  # the window opens again only after command 2 has waited its 10 ms
    w.admit(ctx, req(3), inflight=1)
    assert ctx.armed == {}  # nothing left to wait for but the window
    assert [r.seq for r in w.take(ctx, 0)] == [2, 3]


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
