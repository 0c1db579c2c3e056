"""Two-phase commit over replicated partitions (``protocols.2pc.replication``): records count once
the group's log applies them, a crashed coordinator's group finishes its transactions, and a
variant that answers before replicating is caught."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest

from harness.execution import runner
from harness.protocol import register
from harness.suite.errors import ConfigError
from harness.suite.loading import load_suite
from implementations.raft.node import RaftNode
from implementations.raft.options import RaftOptions
from implementations.twopc.options import TwoPCOptions
from implementations.twopc.replicated import ReplicatedPartition

SUITE = """
    name: replicated
    kind: transactions
    protocol: {protocol}
    duration: {duration}
    warmup: 200ms
    cluster: {{partitions: 3, fsync: 200us}}
    network: {{latency: {{dist: normal, mean: {latency}, std: 100us}}}}
    workload: {{type: bank, clients: 8, accounts: 300, multi_partition: 0.5, timeout: 100ms,
               retries: 100}}
    protocols: {{{protocol}: {{replication: {replication}}}}}
    faults: {faults}
    replication: {{batch_delay: {batch_delay}}}
"""
CRASH = "{schedule: [{at: 1s, action: crash, target: coordinator, for: 500ms}]}"


def run(protocol: str = "2pc", replication: str = "raft", faults: str = "{}",
        duration: str = "2s", latency: str = "500us", batch_delay: str = "0s") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suite.yaml"
        path.write_text(textwrap.dedent(SUITE.format(protocol=protocol, replication=replication,
                                                     faults=faults, duration=duration, latency=latency, batch_delay=batch_delay)))
        (spec,) = load_suite(path).runs()
    return runner.run(spec, "t").row


@pytest.mark.parametrize("log, message", [("raft", "AppendEntries"), ("multipaxos", "Accept")])
def test_transactions_commit_through_each_partitions_log(log, message):
    row = run(replication=log, duration="1s")
    assert row["safety"] == "ok", row["safety_detail"]
    assert row["ops_committed"] > 100
    assert message in row["messages_per_op_by_type"]  # the records went through the group's log


def test_a_crashed_coordinators_group_finishes_its_transactions_within_a_failover():
    alone = run(replication="none", faults=CRASH)
    grouped = run(replication="raft", faults=CRASH)
    assert alone["safety"] == grouped["safety"] == "ok", (alone["safety_detail"], grouped["safety_detail"])
    assert alone["blocked_ms_max"] > 450  # its participants wait out the whole 500 ms crash
    assert 0 < grouped["blocked_ms_max"] < 350  # ... here only until the group elects a leader


def test_a_group_that_does_not_fit_the_cluster_is_refused_in_one_line(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text("name: t\nkind: transactions\nprotocol: 2pc\ncluster: {partitions: 3, nodes: 7}\n"
                    "protocols: {2pc: {replication: raft}}\n")
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert "cluster.nodes: expected cluster.partitions x replicas = 3 x 3 = 9 nodes" in message
    assert message.endswith("got 7")


@register("bug-2pc-ack-before-replication", kind="transactions", options=TwoPCOptions)
class AckBeforeReplication(ReplicatedPartition):
    """Votes, decisions and answers go out as soon as the record is proposed, not replicated."""

    def __init__(self, host, nodes, replication, options, store):
        super().__init__(host, nodes, replication, options, store, RaftNode, RaftOptions())

    def output(self, kind, a, b):
        self._emit(kind, a, b)


def test_answering_before_the_record_is_replicated_is_caught_under_leader_crashes():
    # A 5 ms batching window keeps each record on its leader alone for a while: a crash then
    # loses records whose vote, decision or commit already went out.
    crashes = "{crash: {mtbf: 100ms, mttr: 200ms, target: coordinator}}"
    row = run(protocol="bug-2pc-ack-before-replication", faults=crashes, batch_delay="5ms")
    assert row["safety"].startswith("violation"), row["safety_detail"]
    ok = run(faults=crashes, batch_delay="5ms")
    assert ok["safety"] == "ok", ok["safety_detail"]


def test_a_commit_whose_leader_fell_before_telling_is_still_seen():
    """Any-node crashes: a leader may fall after its commit record is replicated but before it
    released the observation; the group's next leader vouches for it (else the atomicity check
    reports a commit missing at that partition)."""
    row = run(faults="{crash: {mtbf: 200ms, mttr: 200ms, target: any}}", batch_delay="2ms")
    assert row["safety"] == "ok", row["safety_detail"]


FIDELITY = """
    name: fidelity
    kind: transactions
    protocol: 2pc
    duration: 2s
    warmup: 500ms
    cluster: {{partitions: 2, fsync: 200us, cpu_per_message: 0s, cpu_per_send: 0s, cpu_per_byte: 0s}}
    network: {{latency: 500us}}
    workload: {{type: bank, clients: 1, accounts: 100, multi_partition: 1.0, timeout: 100ms}}
    protocols: {{2pc: {{replication: {replication}}}}}
"""


def fidelity_row(replication: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suite.yaml"
        path.write_text(textwrap.dedent(FIDELITY.format(replication=replication)))
        (spec,) = load_suite(path).runs()
    return runner.run(spec, "t").row


@pytest.mark.parametrize("log", ["raft", "multipaxos"])
def test_each_phase_costs_one_consensus_round(log):
    """docs/fidelity.md. Constant latency d, fsync f, no CPU cost, one client: one consensus round
    is 2d + f (to the followers, their fsync, back; the leader's own fsync in parallel). Replicated,
    each phase's record (prepare, decision) waits for a round instead of one fsync, so the commit
    takes the unreplicated commit + 2 x (2d + f - f); plus d for a commit request sent to a
    partition's first replica while another replica leads (forwarded: of the 2 operations and 1
    commit request of a transfer, each is forwarded when its group is led elsewhere, so that
    share is Forwarded per transaction / 3)."""
    d, f = 0.5, 0.2
    alone, grouped = fidelity_row("none"), fidelity_row(log)
    assert alone["safety"] == grouped["safety"] == "ok"
    round_ms = 2 * d + f
    assert grouped["replicate_prepare_ms_mean"] == pytest.approx(round_ms, rel=0.05)
    assert grouped["replicate_commit_ms_mean"] == pytest.approx(round_ms, rel=0.05)
    by_type = dict(kv.split("=") for kv in grouped["messages_per_op_by_type"].split())
    forwarded = float(by_type.get("Forwarded", 0)) / 3
    model = alone["twopc_ms_mean"] + 2 * (round_ms - f) + d * forwarded
    assert grouped["twopc_ms_mean"] == pytest.approx(model, rel=0.05)


def test_a_read_only_commit_waits_for_its_group():
    """A read-only commit logs nothing; its answer still waits for a log round, which a leader
    its group has deposed (cut off by a partition) never completes: no stale read is answered."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suite.yaml"
        path.write_text(textwrap.dedent("""
            name: reads
            kind: transactions
            protocol: 2pc
            duration: 1s
            warmup: 200ms
            cluster: {partitions: 2}
            workload: {type: ycsb, keys: 100, ops: 2, read_ratio: 1.0, multi_partition: 0.5}
            protocols: {2pc: {replication: raft}}
        """))
        (spec,) = load_suite(path).runs()
    row = runner.run(spec, "t").row
    assert row["safety"] == "ok" and row["ops_committed"] > 0
    assert row["replicate_commit_ms_mean"] > 0


PAUSED_LEADER = """
name: paused-leader
kind: transactions
protocol: 2pc
seed: 13
duration: 1.044s
warmup: 100ms
cluster: {partitions: 3}
network: {latency: {dist: lognormal, median: 500us, sigma: 0.5}, loss: 0.01}
protocols:
  2pc: {participants: occ, deadlock: detect, termination: cooperative, replication: multipaxos}
workload: {type: bank, clients: 8, distribution: {type: zipfian}, multi_partition: 0.3,
           timeout: 50ms, retries: 50, accounts: 60}
faults: {schedule: [{at: 787ms, action: pause, target: [7], for: 300ms}]}
"""


def test_a_commit_told_by_its_paused_leader_after_the_successor_vouched_for_it_counts_once(tmp_path):
    """Found by the swarm sweep: group 1's leader (host 7) is paused after logging a commit; its
    successor replays the commit (commit_replay); resumed, the old leader learns its record was
    applied and tells of the commit too. One commit, not one applied twice."""
    path = tmp_path / "suite.yaml"
    path.write_text(PAUSED_LEADER)
    (spec,) = load_suite(path).runs()
    row = runner.run(spec, "t").row
    assert row["safety"] == "ok", row["safety_detail"]
    assert row["ops_committed"] > 100
