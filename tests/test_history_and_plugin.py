"""distbench history (append-only trend over commits) and the pytest plugin's fixture."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.execution.executor import run_suite
from harness.suite.loading import load_suite

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


def _older(entry: dict, commit: str, **changes) -> str:
    """A line for another commit's entry, as ``history add`` writes it (with ``changes``)."""
    return json.dumps({**entry, "commit": commit, "label": commit[:7], **changes}) + "\n"


def test_history_adds_one_entry_per_commit_and_draws_the_trend(results, tmp_path):
    history = tmp_path / "hist" / "tiny.jsonl"
    runner = CliRunner()
    res = runner.invoke(main, ["history", "add", str(results), "--to", str(history), "--label", "c1"])
    assert res.exit_code == 0, res.output
    entry = json.loads(history.read_text())
    point = entry["points"]["protocol=raft"]
    runs = __import__("pandas").read_csv(results / "runs.csv")
    expected = runs[runs["protocol"] == "raft"]["throughput_ops_s"].mean()
    assert point["n"] == 2 and point["throughput_ops_s"] == pytest.approx(expected)
    assert entry["seeds"] == sorted(runs["seed"].unique().tolist())
    # the same commit again is refused, and the file is left as it was
    before = history.read_text()
    res = runner.invoke(main, ["history", "add", str(results), "--to", str(history), "--label", "c2"])
    assert res.exit_code == 2 and "already has an entry for commit" in res.output and "--replace" in res.output
    assert history.read_text() == before
    # --replace rewrites that entry in place (others kept, in order)
    history.write_text(_older(entry, "a" * 40) + before + _older(entry, "b" * 40))
    res = runner.invoke(main, ["history", "add", str(results), "--to", str(history), "--label", "c2", "--replace"])
    assert res.exit_code == 0 and "replaced c2" in res.output, res.output
    assert [json.loads(line)["label"] for line in history.read_text().splitlines()] == ["aaaaaaa", "c2", "bbbbbbb"]
    assert [p.name for p in history.parent.iterdir()] == ["tiny.jsonl"]   # nothing left beside
    res = runner.invoke(main, ["history", "plot", str(history), "--out", str(tmp_path / "t.png"),
                               "--metric", "throughput_ops_s", "--log"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    res = runner.invoke(main, ["history", "check", str(history)])
    assert res.exit_code == 0 and "over 3 entries: 0 worse" in res.output, res.output


def test_history_refuses_other_seeds_or_matrix_and_reads_older_entries(results, tmp_path):
    history = tmp_path / "h.jsonl"
    runner = CliRunner()
    runner.invoke(main, ["history", "add", str(results), "--to", str(tmp_path / "mine.jsonl")])
    entry = json.loads((tmp_path / "mine.jsonl").read_text())
    for older, expected in [
        (_older(entry, "a" * 40, seeds=[7, 8]), "seeds 1, 2 where the history has seeds 7, 8"),
        (_older(entry, "a" * 40, points={"protocol=raft": entry["points"]["protocol=raft"]}),
         "a different matrix: 1 point(s) the history lacks (first: protocol=multipaxos)"),
    ]:
        history.write_text(older)
        res = runner.invoke(main, ["history", "add", str(results), "--to", str(history)])
        assert res.exit_code == 2 and expected in res.output and "start a new history file" in res.output, res.output
        assert history.read_text() == older
    # an entry written before seeds were recorded is compared by its runs per point
    older = {k: v for k, v in entry.items() if k != "seeds"}
    history.write_text(_older(older, "a" * 40))
    assert runner.invoke(main, ["history", "add", str(results), "--to", str(history)]).exit_code == 0
    history.write_text(_older({**older, "points": {p: {**v, "n": 3} for p, v in older["points"].items()}}, "a" * 40))
    res = runner.invoke(main, ["history", "add", str(results), "--to", str(history)])
    assert res.exit_code == 2 and "runs per point 2 where the history has runs per point 3" in res.output


def test_history_refuses_another_suite_and_bad_lines(results, tmp_path):
    history = tmp_path / "h.jsonl"
    history.write_text(json.dumps({"suite": "other", "points": {}}) + "\n")
    res = CliRunner().invoke(main, ["history", "add", str(results), "--to", str(history)])
    assert res.exit_code == 2 and "one history file per suite" in res.output
    history.write_text("not json\n")
    res = CliRunner().invoke(main, ["history", "plot", str(history), "--out", str(tmp_path / "t.png")])
    assert res.exit_code == 2 and "line 1 is not JSON" in res.output


def test_plugin_gate_passes_then_fails_with_the_markdown(pytester):
    # Four seeds: with two, even a tenfold CPU cost is not significant once Holm's correction
    # covers every point and metric (a t-quantile with one degree of freedom).
    suite = SUITE.replace("seeds: 2", "seeds: 4")
    (pytester.path / "suite.yaml").write_text(suite)
    run_suite(load_suite(pytester.path / "suite.yaml"), pytester.path / "baseline", jobs=1,
              progress=False)
    pytester.makepyfile(textwrap.dedent("""
        def test_same(distbench):
            result = distbench.gate("suite.yaml", "baseline")
            assert result.verdict == "all runs identical"

        def test_slower(distbench):
            distbench.gate("suite.yaml", "baseline", "cluster.cpu_per_message=200us",
                           ignore=("cluster.cpu_per_message",))

        def test_run(distbench):
            runs = distbench.run("suite.yaml")
            assert len(runs) == 8 and (runs["safety"] == "ok").all()
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
