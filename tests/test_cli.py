"""End-to-end: the ``distbench`` command on small suites, as a user would run it."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from harness.cli import main

TINY = """
name: tiny
duration: 1.2s
warmup: 0.2s
seeds: 2
cluster: {nodes: 3}
workload: {type: kv, clients: 8, keys: 50}
network: {loss: 0.01, duplicate: 0.01}
faults:
  schedule: [{at: 0.6s, action: crash, target: leader, for: 0.3s}]
matrix:
  protocol: [raft, multipaxos]
"""


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_run_writes_every_result_file_and_safety_ok(suite_file, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", str(suite_file(TINY)), "--out", str(out), "--no-report", "--jobs", "1", "-q")
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["protocol"]) == ["raft", "raft", "multipaxos", "multipaxos"]
    assert set(runs["safety"]) == {"ok"}
    assert (runs["throughput_ops_s"] > 0).all()
    assert (runs["leader_changes"] >= 1).all()          # the scheduled leader crash forced one
    assert runs["failover_ms_max"].notna().all()
    events = pd.read_csv(out / "events.csv")
    assert {"crash", "restart", "leader", "failover"} <= set(events["kind"])
    series = pd.read_csv(out / "timeseries.csv")
    assert len(series) == 4 * 12  # 4 runs x 1.2 s / 100 ms
    latencies = pd.read_csv(out / "latencies.csv")
    assert latencies.groupby("run_id")["count"].sum().min() > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["swept"] == ["protocol"] and manifest["finished"]
    assert [r["run_id"] for r in manifest["runs"]] == list(runs["run_id"])
    assert manifest["runs"][0]["config"]["cluster"]["nodes"] == 3


def test_same_suite_twice_gives_identical_results(suite_file, tmp_path):
    path = suite_file(TINY)
    for name in ("a", "b"):
        assert invoke("run", str(path), "--out", str(tmp_path / name), "--no-report", "--jobs", "2",
                      "-q").exit_code == 0
    for csv in ("runs.csv", "events.csv", "timeseries.csv", "latencies.csv"):
        a = pd.read_csv(tmp_path / "a" / csv).drop(columns=["wall_s"], errors="ignore")
        b = pd.read_csv(tmp_path / "b" / csv).drop(columns=["wall_s"], errors="ignore")
        pd.testing.assert_frame_equal(a, b)


def test_overrides_and_seeds(suite_file, tmp_path):
    out = tmp_path / "o"
    result = invoke("run", str(suite_file(TINY)), "--out", str(out), "--no-report", "-q", "--jobs", "1",
                    "--seeds", "1", "--set", "matrix.protocol=[raft]", "--set", "cluster.nodes=5")
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 1 and runs["protocol"].iat[0] == "raft"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"][0]["config"]["cluster"]["nodes"] == 5


def test_typo_in_a_key_is_one_line_naming_it(suite_file):
    path = suite_file(TINY.replace("keys: 50", "kyes: 50"))
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0] and "workload.kyes" in lines[0] and "'keys'" in lines[0]
    assert "Traceback" not in result.output


def test_out_of_range_value_is_reported_with_its_path(suite_file):
    result = CliRunner().invoke(main, ["validate", str(suite_file(TINY.replace("loss: 0.01", "loss: 1.5")))])
    assert result.exit_code == 2
    assert "network.loss" in result.output and "Traceback" not in result.output


def test_missing_config_file_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["run", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "nope.yaml" in result.output and "Traceback" not in result.output


def test_validate_and_list(suite_file):
    result = invoke("validate", str(suite_file(TINY)))
    assert result.exit_code == 0 and "4 runs" in result.output
    listing = invoke("list").output
    for word in ("raft", "multipaxos", "zipfian", "pareto", "crash", "partition", "slow"):
        assert word in listing


def test_shipped_suites_validate():
    from pathlib import Path

    for path in sorted(Path(__file__).parent.parent.glob("configs/*.yaml")):
        result = invoke("validate", str(path))
        assert result.exit_code == 0, result.output
