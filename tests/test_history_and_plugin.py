"""distbench history (append-only trend over commits) and the pytest plugin's fixture."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.config import load_suite
from harness.execution.executor import run_suite

pytest_plugins = ["pytester"]

SUITE = """\
name: tiny-history
duration: 0.3s
warmup: 0.1s
seeds: 2
workload: {clients: 4, keys: 50}
checkers: {linearizability: false}
matrix:
  protocol: [raft, multipaxos]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("history")
    (root / "suite.yaml").write_text(SUITE)
    run_suite(load_suite(root / "suite.yaml"), root / "r", jobs=1, progress=False)
    return root / "r"


def test_history_appends_one_line_per_entry_and_draws_the_trend(results, tmp_path):
    history = tmp_path / "hist" / "tiny.jsonl"
    runner = CliRunner()
    for label in ("c1", "c2"):
        res = runner.invoke(main, ["history", "add", str(results), "--to", str(history), "--label", label])
        assert res.exit_code == 0, res.output
    lines = history.read_text().splitlines()
    assert [json.loads(line)["label"] for line in lines] == ["c1", "c2"]
    entry = json.loads(lines[0])
    point = entry["points"]["protocol=raft"]
    runs = __import__("pandas").read_csv(results / "runs.csv")
    expected = runs[runs["protocol"] == "raft"]["throughput_ops_s"].mean()
    assert point["n"] == 2 and point["throughput_ops_s"] == pytest.approx(expected)
    res = runner.invoke(main, ["history", "plot", str(history), "--out", str(tmp_path / "t.png"),
                               "--metric", "throughput_ops_s"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_history_refuses_another_suite_and_bad_lines(results, tmp_path):
    history = tmp_path / "h.jsonl"
    history.write_text(json.dumps({"suite": "other", "points": {}}) + "\n")
    res = CliRunner().invoke(main, ["history", "add", str(results), "--to", str(history)])
    assert res.exit_code == 2 and "one history file per suite" in res.output
    history.write_text("not json\n")
    res = CliRunner().invoke(main, ["history", "plot", str(history), "--out", str(tmp_path / "t.png")])
    assert res.exit_code == 2 and "line 1 is not JSON" in res.output


def test_plugin_gate_passes_then_fails_with_the_markdown(results, pytester):
    baseline = pytester.path / "baseline"
    shutil.copytree(results, baseline)
    (pytester.path / "suite.yaml").write_text(SUITE)
    pytester.makepyfile(textwrap.dedent("""
        def test_same(distbench):
            result = distbench.gate("suite.yaml", "baseline")
            assert result.verdict == "all runs identical"

        def test_slower(distbench):
            distbench.gate("suite.yaml", "baseline", "cluster.cpu_per_message=200us",
                           ignore=("cluster.cpu_per_message",))

        def test_run(distbench):
            runs = distbench.run("suite.yaml")
            assert len(runs) == 4 and (runs["safety"] == "ok").all()
    """))
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=2, failed=1)
    assert "distbench compare `tiny-history`: regression" in outcome.stdout.str()


def test_plugin_can_refresh_a_baseline(pytester):
    (pytester.path / "suite.yaml").write_text(SUITE)
    pytester.makepyfile("def test_it(distbench):\n    distbench.gate('suite.yaml', 'base')\n")
    pytester.runpytest_subprocess("--distbench-update-baseline").assert_outcomes(passed=1)
    assert (pytester.path / "base" / "runs.csv").is_file()
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_plugin_refreshes_only_a_results_directory(pytester):
    (pytester.path / "bench").mkdir()
    (pytester.path / "bench" / "suite.yaml").write_text(SUITE)
    (pytester.path / "bench" / "notes.md").write_text("mine")
    pytester.makepyfile(test_it="""
        def test_bench(distbench):
            distbench.gate('bench/suite.yaml', 'bench')

        def test_project(distbench):
            distbench.gate('bench/suite.yaml', '.')

        def test_results(distbench):
            distbench.gate('bench/suite.yaml', 'bench/baseline')
    """)
    outcome = pytester.runpytest_subprocess("--distbench-update-baseline", "-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1, failed=2)
    out = outcome.stdout.str()
    assert "bench: is not a distbench results directory (it holds notes.md, suite.yaml" in out
    assert ".: is not a distbench results directory" in out and "Traceback" not in out
    assert sorted(p.name for p in (pytester.path / "bench").iterdir()) == ["baseline", "notes.md", "suite.yaml"]
    assert (pytester.path / "test_it.py").is_file()
    # a results directory is replaced (written beside, then swapped in: nothing left over)
    manifest = pytester.path / "bench" / "baseline" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "started": "then"}))
    pytester.runpytest_subprocess("--distbench-update-baseline", "-k", "results").assert_outcomes(passed=1)
    assert json.loads(manifest.read_text())["started"] != "then"
    assert sorted(p.name for p in (pytester.path / "bench").iterdir()) == ["baseline", "notes.md", "suite.yaml"]
