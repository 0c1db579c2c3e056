"""distbench compare: the regression gate end to end on tiny suites, and its bad inputs."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compare import gate
from harness.compare.policy import Threshold, parse_threshold
from harness.compare.stats import paired, significant
from harness.execution.executor import run_suite
from harness.suite.loading import load_suite

SUITE = """\
name: tiny-gate
duration: 0.4s
warmup: 0.1s
seeds: 3
cluster: {nodes: 3, cpu_per_message: 20us}
workload: {clients: 8, keys: 100}
checkers: {linearizability: false}
matrix:
  protocol: [raft, multipaxos]
"""


def _run(path: Path, out: Path, *overrides: str) -> Path:
    run_suite(load_suite(path, overrides), out, jobs=1, progress=False)
    return out


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """BASE, the same again, and a variant whose CPU is 5x slower (throughput falls)."""
    root = tmp_path_factory.mktemp("gate")
    suite = root / "suite.yaml"
    suite.write_text(SUITE)
    return {"suite": suite, "base": _run(suite, root / "base"), "again": _run(suite, root / "again"),
            "slow": _run(suite, root / "slow", "cluster.cpu_per_message=100us")}


def _variant(src: Path, dst: Path, file: str = "runs.csv", **cells: str) -> Path:
    """A copy of results directory ``src`` with cells of ``file`` replaced: ``safety_1="..."``
    sets column ``safety`` of data row 1."""
    shutil.copytree(src, dst)
    frame = pd.read_csv(dst / file, dtype=str, keep_default_na=False)
    for name, value in cells.items():
        column, _, row = name.rpartition("_")
        frame.loc[int(row), column] = value
    frame.to_csv(dst / file, index=False)
    return dst


def _cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_same_suite_twice_is_all_identical(dirs, tmp_path):
    res = _cli("compare", str(dirs["base"]), str(dirs["again"]), "--json", str(tmp_path / "c.json"))
    assert res.exit_code == 0, res.output
    assert "all runs identical" in res.output and "6 of 6 runs identical" in res.output
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["identical"] == data["runs"] == 6 and data["exit_code"] == 0


def test_a_slower_cpu_is_a_latency_regression(dirs, tmp_path):
    """Five times the CPU per message: p50 latency +18% at every seed, significant after Holm's
    correction even with three seeds; throughput -15% is not, over 0.3 s runs whose throughput
    varies as much between seeds (inconclusive, and said so)."""
    res = _cli("compare", str(dirs["base"]), str(dirs["slow"]), "--ignore", "cluster.cpu_per_message",
               "--junit", str(tmp_path / "j.xml"))
    assert res.exit_code == 1, res.output
    changes = res.output.split("#### Changes")[1].split("<details>")[0]
    assert "| p50 latency |" in changes and "**worse**" in changes
    assert "| throughput |" in changes and "`?` inconclusive" in changes
    suite = ET.parse(tmp_path / "j.xml").getroot()
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert int(suite.get("failures")) == len(failed) > 0
    assert any(c.get("classname").endswith("latency_p50_ms") for c in failed)


def test_a_generous_threshold_lets_the_same_change_pass(dirs):
    res = _cli("compare", str(dirs["base"]), str(dirs["slow"]), "--ignore", "cluster.cpu_per_message",
               *[f"--threshold={m}=off" for m in ("latency_p50_ms", "latency_p99_ms", "messages_per_op",
                                                   "abort_rate", "unavailable_ms", "failover_ms_mean")],
               "--threshold", "throughput_ops_s=95%")
    assert res.exit_code == 0, res.output
    assert "no regression" in res.output


def test_a_config_difference_is_not_comparable_unless_ignored(dirs):
    res = _cli("compare", str(dirs["base"]), str(dirs["slow"]))
    assert res.exit_code == 3, res.output
    assert "config differs in cluster.cpu_per_message" in res.output
    assert "--ignore cluster.cpu_per_message" in res.output


def test_a_new_safety_violation_fails_whatever_the_numbers(dirs, tmp_path):
    new = _variant(dirs["again"], tmp_path / "new", safety_1="violation: log agreement: two commands at index 7")
    res = _cli("compare", str(dirs["base"]), str(new))
    assert res.exit_code == 1, res.output
    assert "New safety failures" in res.output and "violation: log agreement" in res.output


def test_an_unknown_verdict_also_fails_the_gate(dirs, tmp_path):
    new = _variant(dirs["again"], tmp_path / "new", safety_0="unknown")
    assert gate(dirs["base"], new).exit_code == 1


def test_require_identical_fails_on_any_divergence(dirs, tmp_path):
    new = _variant(dirs["again"], tmp_path / "new", "timeseries.csv", latency_p99_ms_3="123.456")
    assert gate(dirs["base"], new).exit_code == 0      # no judged metric moved
    result = gate(dirs["base"], new, require_identical=True)
    assert result.exit_code == 1 and len(result.identical) == 5
    assert [p.changed for p in result.pairs if not p.identical] == [["timeseries.csv"]]


def test_sim_events_alone_is_reported_not_judged(dirs, tmp_path):
    new = _variant(dirs["again"], tmp_path / "new", sim_events_0="1")
    result = gate(dirs["base"], new, require_identical=True)
    assert result.exit_code == 0 and any("sim_events" in n for n in result.notes)


def test_one_seed_cannot_judge_a_change(tmp_path, suite_file):
    suite = suite_file(SUITE.replace("seeds: 3", "seeds: 1"))
    base = _run(suite, tmp_path / "b")
    new = _run(suite, tmp_path / "n", "cluster.cpu_per_message=100us")
    result = gate(base, new, ignore=("cluster.cpu_per_message",))
    assert result.exit_code == 3 and result.verdict.startswith("inconclusive")
    assert any("n = 1" in r.why for r in result.rows)


@pytest.mark.parametrize("damage, message", [
    (lambda d: shutil.rmtree(d), "no such directory"),
    (lambda d: (d / "manifest.json").unlink(), "no manifest.json"),
    (lambda d: _edit_manifest(d, interrupted=True), "was interrupted"),
    (lambda d: _edit_manifest(d, suite="other"), "same suite"),
    (lambda d: _edit_manifest(d, seeds=[1, 2, 3, 4]), "same seeds"),
    (lambda d: _drop_row(d), "partial"),
    (lambda d: (d / "events.csv").unlink(), "no events.csv"),
])
def test_bad_input_is_one_line_and_exit_2(dirs, tmp_path, damage, message):
    new = tmp_path / "new"
    shutil.copytree(dirs["again"], new)
    damage(new)
    res = _cli("compare", str(dirs["base"]), str(new))
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert "\n" not in line and line.startswith("distbench: error: ") and message in line
    assert "Traceback" not in res.output


def _edit_manifest(d: Path, **changes) -> None:
    manifest = json.loads((d / "manifest.json").read_text())
    manifest.update(changes)
    (d / "manifest.json").write_text(json.dumps(manifest))


def _drop_row(d: Path) -> None:
    runs = pd.read_csv(d / "runs.csv", dtype=str, keep_default_na=False)
    runs.iloc[1:].to_csv(d / "runs.csv", index=False)


def test_bad_threshold_option_is_one_line(dirs):
    res = _cli("compare", str(dirs["base"]), str(dirs["again"]), "--threshold", "throughput=5%")
    assert res.exit_code == 2 and "did you mean 'throughput_ops_s'" in res.output
    res = _cli("compare", str(dirs["base"]), str(dirs["again"]), "--threshold", "throughput_ops_s=fast")
    assert res.exit_code == 2 and "expected a percentage" in res.output


def test_suite_gate_section_sets_the_policy(tmp_path, suite_file):
    suite = suite_file(SUITE + "gate:\n  thresholds: {throughput_ops_s: 95%, latency_p50_ms: null}\n"
                               "  ignore: [cluster.cpu_per_message]\n")
    base = _run(suite, tmp_path / "b")
    new = _run(suite, tmp_path / "n", "cluster.cpu_per_message=100us")
    policy = gate(base, new).policy
    assert policy.thresholds["throughput_ops_s"] == Threshold(0.95)
    assert "latency_p50_ms" not in policy.thresholds and policy.ignore == ("cluster.cpu_per_message",)


def test_github_step_summary_gets_the_markdown(dirs, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    res = _cli("compare", str(dirs["base"]), str(dirs["again"]), "-q",
               env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "all runs identical" in text


def test_run_with_baseline_runs_then_gates(dirs, tmp_path):
    out = tmp_path / "out"
    res = _cli("run", str(dirs["suite"]), "--out", str(out), "--no-report", "-q", "--jobs", "1",
               "--baseline", str(dirs["base"]))
    assert res.exit_code == 0, res.output
    assert "all runs identical" in (out / "compare.md").read_text()
    assert json.loads((out / "compare.json").read_text())["identical"] == 6
    ET.parse(out / "compare.xml")


def test_paired_test_sees_a_shift_welch_misses():
    """Common random numbers: seeds differ a lot, the change is a small consistent shift."""
    base = [100.0, 140.0, 90.0, 120.0, 110.0]
    new = [b * 0.97 for b in base]
    assert paired(base, new).significant is True
    assert significant(base, new) is False


def test_thresholds_parse_or_say_what_they_expect():
    assert parse_threshold("5%") == Threshold(0.05)
    assert parse_threshold(0.1) == Threshold(0.1)
    assert parse_threshold({"relative": "10%", "absolute": 2}) == Threshold(0.1, 2.0)
    for bad in ("fast", -1, {"absolute": 2}, True):
        with pytest.raises(ValueError, match="expected"):
            parse_threshold(bad)


def _with_schedule(src: Path, dst: Path, schedule: list) -> Path:
    """A copy of results directory ``src`` whose runs' resolved configs have ``schedule``."""
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    for run in manifest["runs"]:
        run["config"]["faults"]["schedule"] = schedule
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def test_a_setting_a_newer_version_adds_to_every_schedule_step_is_not_a_difference(dirs, tmp_path):
    step = {"at": 0.2, "action": "crash", "target": "leader", "for": 0.1, "factor": 10.0}
    base = _with_schedule(dirs["base"], tmp_path / "base", [step])
    new = _with_schedule(dirs["again"], tmp_path / "new", [{**step, "skew": 0.0}])
    result = gate(base, new, require_identical=True)
    assert result.exit_code == 0 and len(result.identical) == 6
    assert any("only in NEW" in n and "faults.schedule.0.skew" in n for n in result.notes)
    # a step more, or a step changed, is a difference
    longer = _with_schedule(dirs["again"], tmp_path / "longer", [step, step])
    assert "faults.schedule" in gate(base, longer).pairs[0].differs_in
    later = _with_schedule(dirs["again"], tmp_path / "later", [{**step, "at": 0.3}])
    assert gate(base, later).pairs[0].differs_in == ["faults.schedule.0.at"]
