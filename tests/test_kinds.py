"""Kinds as units: a suite's ``kind`` picks its world from ``harness.kinds.KINDS``, each kind
computes only its own columns, and leadership is optional for a consensus protocol."""

from __future__ import annotations

import pytest

import math

import pandas as pd
from click.testing import CliRunner

from harness.cli import main
from harness.engine.world import World
from harness.execution import runner
from harness.kinds import KINDS
from harness.protocol import Node, register
from workloads.kv import REDIRECT, Reply


@register("sequencer-test", kind="consensus", leaderless=True,
          description="node 0 orders every command; no leader (test only)")
class Sequencer(Node):
    """Node 0 applies every command in arrival order and answers; the others send the client
    there. No node ever reports leading: a leaderless protocol, as far as the harness knows."""

    def __init__(self, node_id, nodes, replication, options, state_machine):
        self.id = node_id
        self.sm = state_machine
        self.index = 0

    def start(self, ctx, stable):
        pass

    def on_message(self, ctx, src, msg):
        raise AssertionError("the sequencer sends no peer messages")

    def on_timer(self, ctx, name):
        pass

    def on_request(self, ctx, request):
        if self.id != 0:
            ctx.reply(request, Reply(request, REDIRECT, leader=0))
            return
        self.index += 1
        result = self.sm.apply(request)
        ctx.applied(self.index, request)
        ctx.reply(request, self.sm.answer(request, result))


LEADERLESS = """
name: leaderless
protocol: sequencer-test
duration: 1s
warmup: 200ms
cluster: {nodes: 3}
workload: {type: kv, clients: 4, keys: 100}
faults:
  schedule: [{at: 500ms, action: crash, target: 1, for: 200ms}]
"""
LEADERSHIP = ["leader_changes", "failover_ms_mean", "failover_ms_max", "failover_heard_ms_mean",
              "failover_commit_ms_mean", "failover_commit_ms_max", "leader_cpu_utilization"]
REPLICATION = ["retransmissions_per_op", "repairs_per_op", "loss_blocked_share"]


def test_a_leaderless_protocol_runs_with_no_leadership_made_up(suite_file, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(suite_file(LEADERLESS)), "--out", str(out),
                                       "--jobs", "1", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (run,) = pd.read_csv(out / "runs.csv").to_dict("records")
    assert run["safety"] == "ok" and run["ops_committed"] > 0
    assert all(math.isnan(run[key]) for key in LEADERSHIP)
    series = pd.read_csv(out / "timeseries.csv")
    assert series["leader"].isna().all() and series["leaderless_ms"].isna().all()
    events = pd.read_csv(out / "events.csv")
    assert set(events["kind"]) == {"crash", "restart"}  # no leader, failover or step-down made up
    assert (out / "report.html").is_file()  # the report copes with no leader


@pytest.mark.parametrize("faults", [
    "schedule: [{at: 500ms, action: crash, target: leader, for: 200ms}]",
    "crash: {mtbf: 1s, mttr: 100ms, target: follower}",
    "partition: {mtbf: 1s, duration: 100ms, kind: isolate-leader}",
])
def test_a_fault_aimed_at_a_leader_of_a_leaderless_protocol_is_refused(suite_file, faults):
    text = LEADERLESS.replace("  schedule: [{at: 500ms, action: crash, target: 1, for: 200ms}]", "  " + faults)
    result = CliRunner().invoke(main, ["validate", str(suite_file(text))])
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert "faults." in line and "sequencer-test is leaderless" in line, line


def test_a_transactions_run_has_no_consensus_columns(make_suite):
    suite = make_suite("""
        name: txn
        kind: transactions
        protocol: occ
        duration: 300ms
        warmup: 100ms
        cluster: {partitions: 2}
        workload: {type: ycsb, clients: 4, keys: 100, multi_partition: 0.5}
    """)
    (spec,) = suite.runs()
    row = runner.run(spec, suite.name).row
    assert row["safety"] == "ok" and row["txn_attempts"] > 0
    assert not set(row) & set(LEADERSHIP + REPLICATION)


def test_every_kind_names_its_world_and_the_fault_targets_it_provides():
    assert set(KINDS) == {"consensus", "transactions"}
    for name, kind in KINDS.items():
        assert issubclass(kind.world(), World) and kind.name == name
    assert KINDS["consensus"].roles == ("leader", "follower")
    assert KINDS["transactions"].roles == ("coordinator", "participant")
