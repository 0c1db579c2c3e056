"""Sweeps at scale: resume, the run cache, safe paths, guardrails, per-run limits, writer cost."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.execution import executor
from harness.execution import runner
from harness.cli import main
from harness.execution.results import ResultsWriter

TINY = """
name: tiny
duration: 1s
warmup: 0.2s
seeds: 2
cluster: {nodes: 3}
workload: {type: kv, clients: 8, keys: 50}
network: {loss: 0.01}
faults:
  schedule: [{at: 0.5s, action: crash, target: leader, for: 0.2s}]
matrix:
  protocol: [raft, multipaxos]
"""
FILES = ("runs.csv", "events.csv", "timeseries.csv", "latencies.csv")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def same_results(a, b):
    for name in FILES:
        fa = pd.read_csv(a / name, dtype=str, keep_default_na=False).drop(columns=["wall_s"], errors="ignore")
        fb = pd.read_csv(b / name, dtype=str, keep_default_na=False).drop(columns=["wall_s"], errors="ignore")
        pd.testing.assert_frame_equal(fa, fb)
    for name in ("events.csv", "timeseries.csv", "latencies.csv"):  # byte for byte
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture
def counted(monkeypatch):
    """Counts the runs actually simulated; ``counted.stop_after = n`` interrupts after n runs."""
    state = {"ran": [], "stop_after": None}
    real = runner.run

    def run(spec, suite, on_world=None):
        if state["stop_after"] is not None and len(state["ran"]) >= state["stop_after"]:
            raise KeyboardInterrupt
        state["ran"].append(spec.run_id)
        return real(spec, suite, on_world)

    monkeypatch.setattr(runner, "run", run)
    return state


def test_resume_after_an_interruption_gives_identical_files_and_runs_only_the_missing(
        suite_file, tmp_path, counted):
    path = str(suite_file(TINY))
    full, part = tmp_path / "full", tmp_path / "part"
    assert invoke("run", path, "--out", str(full), "--no-report", "-q", "-j", "1").exit_code == 0
    counted["ran"].clear()
    counted["stop_after"] = 2
    assert invoke("run", path, "--out", str(part), "--no-report", "-q", "-j", "1").exit_code == 130
    manifest = json.loads((part / "manifest.json").read_text())
    assert manifest["interrupted"] is True and manifest["completed_runs"] == 2
    partial = pd.read_csv(part / "runs.csv")
    assert list(partial["protocol"]) == ["raft", "multipaxos"]  # both protocols, not one twice
    # without --resume the directory is not silently replaced
    refused = CliRunner().invoke(main, ["run", path, "--out", str(part), "-q"])
    assert refused.exit_code == 2 and "--resume" in refused.output and "Traceback" not in refused.output
    counted["ran"].clear()
    counted["stop_after"] = None
    result = invoke("run", path, "--out", str(part), "--no-report", "-q", "-j", "1", "--resume")
    assert result.exit_code == 0, result.output
    assert counted["ran"] == ["r0000-s2", "r0001-s2"]          # only the missing runs ran
    same_results(full, part)
    manifest = json.loads((part / "manifest.json").read_text())
    assert manifest["interrupted"] is False and manifest["completed_runs"] == 4
    assert manifest["resumed"]["kept_runs"] == 2 and all(r["key"] for r in manifest["runs"])


def test_resume_after_a_hard_stop_drops_lines_cut_short(suite_file, tmp_path, counted):
    path = str(suite_file(TINY))
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert invoke("run", path, "--out", str(full), "--no-report", "-q", "-j", "1").exit_code == 0
    import shutil

    shutil.copytree(full, cut)
    runs = (cut / "runs.csv").read_text().splitlines(keepends=True)
    (cut / "runs.csv").write_text("".join(runs[:-1]) + runs[-1][: len(runs[-1]) // 2])  # killed mid-line
    with (cut / "events.csv").open("a") as f:
        f.write("r0001-s2,0.7,")                                                   # and mid-line here
    counted["ran"].clear()
    assert invoke("run", path, "--out", str(cut), "--no-report", "-q", "-j", "1", "--resume").exit_code == 0
    assert counted["ran"] == ["r0001-s2"]
    same_results(full, cut)


def test_resume_keeps_every_finished_run_or_refuses_naming_the_changed_keys(suite_file, tmp_path, counted):
    path = str(suite_file(TINY))
    out = tmp_path / "out"
    assert invoke("run", path, "--out", str(out), "--no-report", "-q", "-j", "1").exit_code == 0
    before = (out / "runs.csv").read_bytes()
    counted["ran"].clear()
    assert invoke("run", path, "--out", str(out), "--no-report", "-q", "--resume").exit_code == 0
    assert counted["ran"] == []
    # a changed setting would discard all four finished runs: refused, naming it, nothing touched
    result = invoke("run", path, "--out", str(out), "--no-report", "-q", "-j", "1", "--resume",
                    "--set", "matrix.protocol=[raft, multipaxos]", "--set", "workload.keys=60")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "4 of its 4 finished runs" in lines[0] and "workload.keys: 50 → 60" in lines[0]
    assert "--overwrite" in lines[0] and "new --out" in lines[0] and "protocol" not in lines[0]
    assert counted["ran"] == [] and (out / "runs.csv").read_bytes() == before
    # so would fewer seeds (two of them)
    result = invoke("run", path, "--out", str(out), "--no-report", "-q", "--resume", "--seeds", "1")
    assert result.exit_code == 2 and "2 of its 4 finished runs" in result.output and "seeds: 2 → 1" in result.output
    # so would other simulating code (every run key changes)
    from harness.execution import cache

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache, "code_digest", lambda: "edited")
        result = invoke("run", path, "--out", str(out), "--no-report", "-q", "--resume")
    assert result.exit_code == 2 and "simulated by other distbench code" in result.output
    assert counted["ran"] == []
    # more seeds keep every finished run and add the new ones
    assert invoke("run", path, "--out", str(out), "--no-report", "-q", "-j", "1", "--resume",
                  "--seeds", "3").exit_code == 0
    assert counted["ran"] == ["r0000-s3", "r0001-s3"]
    counted["ran"].clear()
    assert invoke("run", path, "--out", str(out), "--no-report", "-q", "-j", "1", "--overwrite",
                  "--set", "workload.keys=60").exit_code == 0
    assert len(counted["ran"]) == 4


def test_the_run_cache_reuses_an_unchanged_run_across_suites(suite_file, tmp_path, counted):
    cache = tmp_path / "cache"
    first = tmp_path / "first"
    assert invoke("run", str(suite_file(TINY)), "--out", str(first), "--cache", str(cache), "--no-report",
                  "-q", "-j", "1").exit_code == 0
    assert len(counted["ran"]) == 4
    counted["ran"].clear()
    other = suite_file(TINY.replace("name: tiny", "name: other").replace("seeds: 2", "seeds: 3"), "other.yaml")
    second = tmp_path / "second"
    assert invoke("run", str(other), "--out", str(second), "--cache", str(cache), "--no-report",
                  "-q", "-j", "1").exit_code == 0
    assert counted["ran"] == ["r0000-s3", "r0001-s3"]           # 4 of 6 runs came from the cache
    a = pd.read_csv(first / "runs.csv").drop(columns=["suite"])
    b = pd.read_csv(second / "runs.csv")
    b = b[b["seed"] != 3].drop(columns=["suite"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert set(pd.read_csv(second / "events.csv")["run_id"]) >= set(a["run_id"])


def test_a_suite_name_cannot_escape_the_results_directory(suite_file):
    for name in ("..", ".", "../x", "/tmp/x", "a/b"):
        result = CliRunner().invoke(main, ["validate", str(suite_file(TINY.replace("name: tiny", f"name: '{name}'")))])
        assert result.exit_code == 2 and "name:" in result.output, name
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["run", str(suite_file(TINY)), "--set", "name=.."])
    assert result.exit_code == 2 and "name" in result.output


def test_out_onto_another_suites_results_is_refused(suite_file, tmp_path):
    out = tmp_path / "out"
    assert invoke("run", str(suite_file(TINY)), "--out", str(out), "--no-report", "-q", "-j", "1",
                  "--seeds", "1", "--set", "matrix.protocol=[raft]").exit_code == 0
    other = str(suite_file(TINY.replace("name: tiny", "name: other"), "other.yaml"))
    for flags in ([], ["--resume"]):
        result = CliRunner().invoke(main, ["run", other, "--out", str(out), "-q", *flags])
        assert result.exit_code == 2 and "'tiny'" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert json.loads((out / "manifest.json").read_text())["suite"] == "tiny"   # untouched
    result = invoke("run", other, "--out", str(out), "--no-report", "-q", "-j", "1", "--overwrite",
                    "--seeds", "1", "--set", "matrix.protocol=[raft]")
    assert result.exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["suite"] == "other"


def one_line_refusal(result, *needles: str) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def test_out_onto_a_directory_that_is_not_results_is_refused_whatever_the_flags(suite_file, tmp_path, counted):
    path = str(suite_file(TINY))
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "notes.md").write_text("mine")
    (bench / "suite.yaml").write_text(TINY)
    for flags in ([], ["--resume"], ["--overwrite"]):
        result = CliRunner().invoke(main, ["run", path, "--out", str(bench), "-q", "--no-report", *flags])
        one_line_refusal(result, str(bench), "notes.md, suite.yaml", "not a distbench results directory")
    assert sorted(p.name for p in bench.iterdir()) == ["notes.md", "suite.yaml"] and counted["ran"] == []
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("run", path, "--out", str(empty), "--no-report", "-q", "-j", "1", "--seeds", "1").exit_code == 0
    assert (empty / "runs.csv").is_file()


def test_overwrite_replaces_only_what_distbench_wrote_and_only_once_done(suite_file, tmp_path, counted):
    path = str(suite_file(TINY))
    out = tmp_path / "out"
    assert invoke("run", path, "--out", str(out), "--no-report", "-q", "-j", "1").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "notes.md").write_text("mine")
    result = CliRunner().invoke(main, ["run", path, "--out", str(out), "-q", "--no-report", "--overwrite"])
    one_line_refusal(result, "--overwrite", "notes.md")
    (out / "notes.md").unlink()
    # interrupted halfway: the earlier results are all still there, the new runs beside them
    counted["ran"].clear()
    counted["stop_after"] = 2
    result = invoke("run", path, "--out", str(out), "--no-report", "-q", "-j", "1", "--overwrite",
                    "--set", "workload.keys=60")
    assert result.exit_code == 130 and "still holds the earlier results" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    (staged,) = [p for p in tmp_path.iterdir() if p.name.startswith(".out.new-")]
    assert str(staged) in result.output and len(pd.read_csv(staged / "runs.csv")) == 2
    counted["stop_after"] = None
    assert invoke("run", path, "--out", str(out), "--no-report", "-q", "-j", "1", "--overwrite",
                  "--set", "workload.keys=60").exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["suite_config"]["workload"]["keys"] == 60
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", staged.name, "suite.yaml"])


def test_resume_without_out_never_picks_a_hidden_overwrite_in_progress(suite_file, tmp_path, monkeypatch, counted):
    import os
    import shutil

    path = str(suite_file(TINY))
    monkeypatch.chdir(tmp_path)
    visible = tmp_path / "results" / "tiny" / "a"
    assert invoke("run", path, "--out", str(visible), "--no-report", "-q", "-j", "1").exit_code == 0
    hidden = visible.with_name(".a.new-x")                          # as an interrupted --overwrite left it
    shutil.copytree(visible, hidden)
    later = visible.stat().st_mtime + 60
    os.utime(hidden, (later, later))
    counted["ran"].clear()
    result = invoke("run", path, "--no-report", "-q", "--resume")
    assert result.exit_code == 0 and "results/tiny/a\n" in result.output and counted["ran"] == []


def test_run_with_a_missing_baseline_fails_before_running_anything(suite_file, tmp_path, counted):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(suite_file(TINY)), "--out", str(out), "-q",
                                       "--baseline", str(tmp_path / "missing")])
    one_line_refusal(result, "--baseline", "missing", "not a results directory")
    assert counted["ran"] == [] and not out.exists()


def test_ignore_keys_are_checked_against_the_suites_config_keys(suite_file, tmp_path, counted):
    path = str(suite_file(TINY))
    base = tmp_path / "base"
    assert invoke("run", path, "--out", str(base), "--no-report", "-q", "-j", "1", "--seeds", "1").exit_code == 0
    counted["ran"].clear()
    result = CliRunner().invoke(main, ["compare", str(base), str(base), "-q", "--ignore", "cluster.cpu_per_mesage"])
    one_line_refusal(result, "--ignore cluster.cpu_per_mesage", "did you mean 'cluster.cpu_per_message'?")
    for valid in ("cluster.cpu_per_message", "cluster"):     # a key, or a prefix of keys
        assert CliRunner().invoke(main, ["compare", str(base), str(base), "-q", "--ignore", valid]).exit_code == 0
    result = CliRunner().invoke(main, ["run", path, "--out", str(tmp_path / "new"), "-q", "--seeds", "1",
                                       "--baseline", str(base), "--ignore", "workload.kyes"])
    one_line_refusal(result, "did you mean 'workload.keys'?")
    assert counted["ran"] == []
    bad = suite_file(TINY + "gate: {ignore: [network.los]}\n", "bad.yaml")
    for command in ("validate", "run"):
        one_line_refusal(CliRunner().invoke(main, [command, str(bad)]), "gate.ignore", "'network.los'",
                         "did you mean 'network.loss'?")
    assert invoke("validate", str(suite_file(TINY + "gate: {ignore: [network]}\n", "ok.yaml"))).exit_code == 0


HUGE = TINY.replace("seeds: 2", "seeds: 1000").replace("  protocol: [raft, multipaxos]\n", """\
  protocol: [raft, multipaxos]
  cluster.nodes: [3, 5, 7, 9, 11]
  workload.clients: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
  network.loss: [0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.1]
  workload.keys: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200]
""")


def test_twenty_million_runs_are_refused_before_the_matrix_is_expanded(suite_file, monkeypatch):
    import tracemalloc

    from harness.suite import loading

    validated = []
    real = loading._validate_point

    def validate_point(*args, **kwargs):
        validated.append(1)
        assert len(validated) <= 100, "the matrix is being expanded"
        return real(*args, **kwargs)

    monkeypatch.setattr(loading, "_validate_point", validate_point)
    path = str(suite_file(HUGE))
    for command in ("validate", "run"):
        validated.clear()
        tracemalloc.start()
        result = CliRunner().invoke(main, [command, path, "-j", "2"])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        line = one_line_refusal(result, "20,000,000 runs (20,000 matrix points × 1,000 seeds)",
                                "limit of 100,000 runs", "on 2 cores", "--force")
        assert "days" in line or "years" in line           # the cost, estimated from a sample
        assert len(validated) <= loading.SAMPLE_POINTS and peak < 20 * 2**20, (len(validated), peak)


def test_the_run_limit_gives_way_to_force(suite_file, monkeypatch):
    from harness.execution import estimate

    monkeypatch.setattr(estimate, "MAX_RUNS", 3)
    path = str(suite_file(TINY))
    for command in ("validate", "run"):
        one_line_refusal(CliRunner().invoke(main, [command, path]), "4 runs (2 matrix points × 2 seeds)")
    assert invoke("validate", path, "--force").exit_code == 0


RUNAWAY = {
    "workload.clients": "workload.clients=1000000000",
    "duration": "duration=1000h",
    "workload.rate": "workload={type: kv, mode: open, rate: 1e12/s, clients: 8}",
}


@pytest.mark.parametrize("key", list(RUNAWAY))
def test_runaway_configs_are_refused_quickly_naming_the_key(suite_file, key):
    path = str(suite_file(TINY))
    for command in ("validate", "run"):
        result = CliRunner().invoke(main, [command, path, "--set", RUNAWAY[key]])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].split(": ")[3] == key and "would fit" in lines[0], lines
        assert "--force" in lines[0]


def test_validate_prints_the_estimates(suite_file):
    result = invoke("validate", str(suite_file(TINY)))
    assert result.exit_code == 0
    assert "r0000-s1..s2" in result.output and "events" in result.output and "suite: 4 runs" in result.output


@pytest.mark.parametrize("kind", ["consensus", "transactions"])
def test_a_cluster_that_charges_no_cpu_is_estimated_not_divided_by_zero(suite_file, kind):
    size = "nodes: 3" if kind == "consensus" else "partitions: 1"
    free = "cluster: {%s, cpu_per_message: 0s, cpu_per_send: 0s, cpu_per_byte: 0s}" % size
    text = TINY.replace("cluster: {nodes: 3}", free)
    if kind == "transactions":
        text = text.replace("workload: {type: kv, clients: 8, keys: 50}",
                            "kind: transactions\nworkload: {type: ycsb, mode: open, rate: 100, keys: 50}")
        text = text.replace("protocol: [raft, multipaxos]", "protocol: [occ]").split("faults:")[0] + \
            "matrix:\n  protocol: [occ]\n"
    result = invoke("validate", str(suite_file(text)))
    assert result.exit_code == 0, result.output
    assert "suite: " in result.output


# The watchdog raises in the running thread wherever it is; when that is a gc callback (here
# Hypothesis's) Python reports it as unraisable and the watchdog raises again a period later.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_limits_turn_a_runaway_run_into_an_error_row(suite_file, tmp_path):
    path = str(suite_file(TINY.replace("duration: 1s", "duration: 600s")))
    out = tmp_path / "slow"
    result = CliRunner().invoke(main, ["run", path, "--out", str(out), "--no-report", "-q", "-j", "1",
                                       "--seeds", "1", "--set", "matrix.protocol=[raft]", "--time-limit", "1s"])
    assert result.exit_code == 1
    row = pd.read_csv(out / "runs.csv").iloc[0]
    assert row["safety"].startswith("error: exceeded wall-clock limit of 1.0 s"), row["safety"]
    out = tmp_path / "big"
    result = CliRunner().invoke(main, ["run", path, "--out", str(out), "--no-report", "-q", "-j", "1",
                                       "--seeds", "1", "--set", "matrix.protocol=[raft]", "--memory-limit", "1MiB"])
    assert result.exit_code == 1
    assert pd.read_csv(out / "runs.csv")["safety"].iloc[0].startswith("error: exceeded memory limit")


def test_bad_limit_is_one_line(suite_file):
    result = CliRunner().invoke(main, ["run", str(suite_file(TINY)), "--time-limit", "soon"])
    assert result.exit_code == 2 and "--time-limit" in result.output and "Traceback" not in result.output


def test_a_pool_run_past_its_limit_is_stopped(make_suite, tmp_path):
    suite = make_suite(TINY.replace("duration: 1s", "duration: 600s"))   # ~10 min a run unstopped
    rows = executor.run_suite(suite, tmp_path / "o", jobs=2, progress=False, limits=executor.Limits(time=1.0))
    assert all(r["safety"].startswith("error: exceeded wall-clock limit") for r in rows)


class _Result:
    def __init__(self, i: int):
        rid = f"r{i:04d}-s1"
        self.row = {"suite": "w", "kind": "consensus", "run_id": rid, "protocol": "raft", "seed": 1,
                    **{f"metric_{k}": i * 0.1 + k for k in range(20)}, "safety": "ok", "safety_detail": "",
                    "sim_events": 1000, "wall_s": 0.1}
        self.events = [{"run_id": rid, "time_s": 0.5, "node": 0, "kind": "crash", "detail": "", "duration_ms": 1}]
        self.timeseries = [{"run_id": rid, "time_s": t / 10, "throughput_ops_s": 1.0, "latency_p50_ms": 1.0,
                            "latency_p99_ms": 2.0, "leader": 0} for t in range(10)]
        self.latencies = [{"run_id": rid, "latency_ms": 1.0, "count": 3}]


def _writer_cpu_per_run(tmp_path, make_suite, n: int) -> float:
    suite = make_suite(f"name: w\nseeds: {n}\n")
    specs = suite.runs()
    writer = ResultsWriter(tmp_path / f"w{n}", suite, specs)
    started = time.process_time()
    for i in range(n):
        writer.add(_Result(i))
    return (time.process_time() - started) / n


def test_writing_a_result_costs_the_same_at_the_2000th_run_as_at_the_first(tmp_path, make_suite):
    small = min(_writer_cpu_per_run(tmp_path, make_suite, 200) for _ in range(2))
    large = _writer_cpu_per_run(tmp_path, make_suite, 2000)
    assert large < 3 * small, (small, large)
