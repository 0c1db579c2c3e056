"""Results files and metric definitions at their edges: errors, overload, outages, reuse."""

from __future__ import annotations

import json
import math

import pandas as pd
from click.testing import CliRunner

from harness.execution import runner
from harness.cli import main
from harness.protocol import Node, register


@register("boom-test", kind="consensus", description="raises on start (test only)")
class Boom(Node):
    def __init__(self, *args):
        pass

    def start(self, ctx, stable):
        raise RuntimeError("boom")


SUITE = """
name: edges
duration: 2s
warmup: 0.3s
cluster: {nodes: 3}
workload: {type: kv, clients: 8, keys: 20}
"""


def run(make_suite, *overrides):
    (spec,) = make_suite(SUITE, *overrides).runs()
    return runner.run(spec, "edges")


def test_a_failing_run_keeps_every_column_of_the_others(suite_file, tmp_path):
    path = suite_file(SUITE + "matrix: {protocol: [boom-test, raft]}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--jobs", "1", "-q", "--no-report"])
    assert result.exit_code == 1 and "error: RuntimeError: boom" in result.output
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["protocol"]) == ["boom-test", "raft"]
    assert runs["throughput_ops_s"].iloc[1] > 0 and pd.isna(runs["throughput_ops_s"].iloc[0])
    assert list(runs.columns[-4:]) == ["safety", "safety_detail", "sim_events", "wall_s"]
    assert "RuntimeError: boom" in (out / "errors.log").read_text()


def test_an_overwritten_results_directory_holds_only_the_new_invocation(suite_file, tmp_path):
    out = tmp_path / "out"
    command = ["run", str(suite_file(SUITE)), "--out", str(out), "-q", "--no-report"]
    assert CliRunner().invoke(main, command).exit_code == 0
    (out / "charts").mkdir()
    for stale in ("report.html", "errors.log", "charts/old.png"):
        (out / stale).write_text("old")
    result = CliRunner().invoke(main, [*command, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert not (out / "report.html").exists() and not (out / "errors.log").exists()
    assert not (out / "charts").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["completed_runs"] == 1 and manifest["interrupted"] is False


def test_an_unwritable_results_directory_is_a_clear_error(suite_file, tmp_path):
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(main, ["run", str(suite_file(SUITE)), "--out", str(tmp_path / "file" / "sub")])
    assert result.exit_code == 2 and "cannot write results" in result.output
    assert "Traceback" not in result.output


def test_swept_values_are_resolved_numbers(make_suite):
    suite = make_suite(SUITE + "matrix: {workload.think_time: [1ms, 2ms]}\n")
    rows = [runner.identity(spec, "x") for spec in suite.runs()]
    assert [r["workload.think_time"] for r in rows] == [0.001, 0.002]


def test_overload_keeps_latency_honest_and_rates_bounded(make_suite):
    # over datagrams jitter reorders the leader's batches and every gap repair waits behind the
    # leader's backlog too, so nothing invoked in the window commits (over streams some do, late)
    result = run(make_suite, "workload={type: kv, mode: open, rate: 35000/s, clients: 8, keys: 20, timeout: 10s}",
                 "duration=1.2s", "network.transport=datagram")
    row = result.row
    assert row["ops_outstanding"] > 1000           # a backlog that never got an answer ...
    assert row["outstanding_age_ms_max"] > 500      # ... shows with its ages, apart ...
    assert row["outstanding_age_ms_mean"] <= row["outstanding_age_ms_max"]
    # ... from completed operations: here every operation invoked in the window is still queued
    # at the end, so there is no latency to report rather than a distribution of ages
    assert not result.latencies and math.isnan(row["latency_p99_ms"])
    assert 0.95 < row["leader_cpu_utilization"] <= 1.0
    assert 0.0 <= row["abort_rate"] <= 1.0


def test_whole_cluster_down_gives_abort_rate_at_most_one(make_suite):
    row = run(make_suite, "faults.schedule=[{at: 0.5s, action: crash, target: [0, 1, 2]}]",
              "workload.retries=0", "workload.timeout=20ms").row
    assert 0.3 < row["abort_rate"] <= 1.0  # every attempt after the crash times out
    assert row["ops_failed"] > 0 and row["unavailable_ms"] > 1000


def test_time_series_leader_is_the_leader_at_each_bucket_end(make_suite):
    result = run(make_suite, "faults.schedule=[{at: 1s, crash: leader, for: 0.5s}]")
    changes = [(e["time_s"], e["node"]) for e in result.events if e["kind"] == "leader"]
    changes += [(e["time_s"], None) for e in result.events if e["kind"] == "crash"]
    changes.sort(key=lambda c: c[0])

    def leader_at(t):
        current = None
        for when, node in changes:
            if when <= t:
                current = node
        return current

    for bucket in result.timeseries:
        assert bucket["leader"] == leader_at(bucket["time_s"] + 0.1), bucket
    assert result.timeseries[0]["leader"] is None  # nobody leads before the first election


def test_a_one_way_cut_of_a_follower_is_not_a_failover(make_suite):
    row = run(make_suite, "faults.schedule=[{at: 0.8s, partition: follower, one_way: true, for: 0.5s}]").row
    assert row["failover_ms_max"] != row["failover_ms_max"]  # NaN: the leader kept its majority
    assert row["safety"] == "ok"
