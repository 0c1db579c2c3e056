"""ZAB (implementations/zab): the synchronisation a new leader chooses, the promise each read
mode makes, one-line refusals of bad options, and a faulted sweep of whole runs judged
linearizable with sync reads. The message-level behaviour is in tests/scenarios/zab/*.txt."""

from __future__ import annotations

import pytest

from harness.contract import Context
from harness.execution import runner
from harness.kinds.consensus.contract import LINEARIZABLE, SEQUENTIAL, promise
from harness.protocol import ReplicationOptions
from harness.suite.errors import ConfigError
from implementations.zab.leader import sync_point
from implementations.zab.messages import DIFF, SNAP, TRUNC
from implementations.zab.node import ZabNode
from implementations.zab.options import ZabOptions
from workloads.kv import GET, OK, KVStateMachine, Request

SUITE = """
name: zab
protocol: zab
duration: 2s
warmup: 0.2s
cluster: {nodes: 5}
network: {loss: 0.01}
workload: {type: kv, clients: 8, keys: 5, read_ratio: 0.5, timeout: 50ms, retries: 50}
protocols: {zab: {read: sync}}
faults:
  crash: {mtbf: 500ms, mttr: 100ms}
  partition: {mtbf: 500ms, duration: 150ms}
"""

E1 = 1 << 32  # the first zxid of epoch 1 is E1 + 1
HISTORY = [0, E1 + 1, E1 + 2, E1 + 3, 2 * E1 + 1, 2 * E1 + 2]  # index 0 is the sentinel


@pytest.mark.parametrize("peer_last, threshold, expected", [
    (2 * E1 + 2, 10, (DIFF, 5)),  # up to date: an empty DIFF
    (E1 + 2, 10, (DIFF, 2)),  # behind on the leader's history: the rest
    (0, 10, (DIFF, 0)),  # empty: everything
    (E1 + 4, 10, (TRUNC, 3)),  # logged a proposal of epoch 1 the leader lacks: back to E1 + 3
    (3 * E1 + 1, 10, (TRUNC, 5)),  # ahead of the leader (a deposed leader's epoch): truncated
    (E1 + 1, 3, (SNAP, 0)),  # four behind, more than the threshold: a snapshot
])
def test_a_new_leader_synchronises_with_diff_trunc_or_snap(peer_last, threshold, expected):
    assert sync_point(HISTORY, peer_last, threshold) == expected


@pytest.mark.parametrize("read, model", [("local", SEQUENTIAL), ("sync", LINEARIZABLE)])
def test_local_reads_promise_sequential_consistency_and_sync_reads_linearizability(read, model):
    node = ZabNode(0, (0, 1, 2), ReplicationOptions(), ZabOptions(read=read), KVStateMachine())
    assert promise(node) == model


@pytest.mark.parametrize("setting, message", [
    ("protocols.zab.read=lease", "protocols.zab.read:"),
    ("protocols.zab.snap_threshold=-1", "protocols.zab.snap_threshold:"),
    ("protocols.zab.finalize_wait=-1ms", "protocols.zab.finalize_wait:"),
])
def test_bad_options_are_refused_in_one_line_naming_the_key(make_suite, setting, message):
    with pytest.raises(ConfigError) as err:
        make_suite(SUITE, setting)
    text = str(err.value)
    assert message in text and "\n" not in text, text


def test_a_faulted_sweep_with_sync_reads_stays_safe(make_suite):
    suite = make_suite(SUITE, "seeds=8")
    rows = [runner.run(spec, suite.name).row for spec in suite.runs()]
    assert [r["safety"] for r in rows] == ["ok"] * 8
    assert all(r["throughput_ops_s"] > 0 for r in rows)


class _Replies(Context):
    """The part of a Context a server's sessions use to answer."""

    def __init__(self):
        self.replies = []

    def reply(self, request, reply):
        self.replies.append(reply)


def test_a_client_that_has_seen_further_waits_for_its_new_server_to_catch_up():
    """ZooKeeper refuses a session whose lastZxidSeen is ahead of the server: a client that
    moved from a failed server must not read an older state than it already saw."""
    node = ZabNode(0, (0, 1, 2), ReplicationOptions(), ZabOptions(), KVStateMachine())
    node.applied = 1
    ctx = _Replies()
    node.reads.request(ctx, Request(7, 1, GET, 5, seen=3))
    assert ctx.replies == []
    node.applied = 3
    node.reads.serve(ctx)
    (reply,) = ctx.replies
    assert reply.status == OK and reply.index == 3
