"""distbench gate, end to end on a fresh clone of this repository: each side runs its own commit's
code, a slowed commit is caught, a docs-only commit passes, the same commit twice is no change.

The clone holds three commits: the repository's HEAD, a docs-only change on top, and on top of
that a node host whose CPU cost per message is doubled (a deliberate, deterministic slowdown).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
SUITE = """\
name: gate-e2e
duration: 1s
warmup: 0.2s
seeds: 2
cluster: {nodes: 3, cpu_per_message: 50us}
workload: {type: kv, clients: 32, keys: 100}
checkers: {linearizability: false}
matrix:
  protocol: [raft, multipaxos]
"""
CPU_LINE = "self.cpu_message = cluster.cpu_per_message\n"

if not (ROOT / ".git").exists():
    pytest.skip("the tests do not run from a git checkout: nothing to clone", allow_module_level=True)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone with the commits ``plain`` (HEAD), ``docs`` and ``slow``; the suite and a
    run cache shared by every gate here (each distinct code runs the suite once)."""
    root = tmp_path_factory.mktemp("gate")
    repo = root / "repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(repo)], check=True)
    commits = {"plain": _git(repo, "rev-parse", "HEAD")}
    with (repo / "README.md").open("a") as f:
        f.write("\nA line of documentation.\n")
    _git(repo, "commit", "-qam", "docs only")
    commits["docs"] = _git(repo, "rev-parse", "HEAD")
    node = repo / "harness" / "engine" / "node.py"
    text = node.read_text()
    assert text.count(CPU_LINE) == 1, "the node host's CPU cost line moved: update this test's slowdown"
    node.write_text(text.replace(CPU_LINE, CPU_LINE.rstrip("\n") + " * 2\n"))
    _git(repo, "commit", "-qam", "slow: twice the CPU per message")
    commits["slow"] = _git(repo, "rev-parse", "HEAD")
    (root / "suite.yaml").write_text(SUITE)
    return {"repo": repo, "root": root, "suite": root / "suite.yaml", "cache": root / "cache", **commits}


def _gate(clone, monkeypatch, head: str, base: str, name: str, *extra: str):
    """``distbench gate`` in the clone with ``head`` checked out; returns (result, JSON)."""
    _git(clone["repo"], "checkout", "-q", "--detach", clone[head])
    monkeypatch.chdir(clone["repo"])
    out = clone["root"] / name
    res = CliRunner().invoke(main, ["gate", str(clone["suite"]), "--base", clone[base], "--out", str(out),
                                    "--cache", str(clone["cache"]), "--jobs", "1", "-q",
                                    "--json", str(out / "gate.json"), *extra], catch_exceptions=False)
    assert _git(clone["repo"], "worktree", "list").count("\n") == 0, "the base's worktree was left behind"
    data = json.loads((out / "gate.json").read_text()) if (out / "gate.json").is_file() else None
    return res, data


def test_gate_catches_a_slowed_head_and_its_base_ran_its_own_code(clone, monkeypatch):
    res, data = _gate(clone, monkeypatch, "slow", "docs", "slowed")
    assert res.exit_code != 0, res.output
    assert data["identical"] == 0
    assert data["provenance"]["base"]["git_commit"] == clone["docs"]
    assert data["provenance"]["new"]["git_commit"] == clone["slow"]
    assert not any(f["blocking"] for f in data["provenance"]["findings"])
    throughput = [m for m in data["metrics"] if m["metric"] == "throughput_ops_s"]
    assert len(throughput) == 2 and all(m["delta_pct"] < -20 for m in throughput)
    assert data["exit_code"] == res.exit_code == 1                  # a regression, at every point
    assert {m["point"] for m in data["metrics"] if m["mark"] == "worse"} == {m["point"] for m in throughput}
    # the other way round: the base is the slowed commit, the head the plain one
    res, data = _gate(clone, monkeypatch, "docs", "slow", "sped-up")
    assert data["provenance"]["base"]["git_commit"] == clone["slow"] and data["identical"] == 0
    throughput = [m for m in data["metrics"] if m["metric"] == "throughput_ops_s"]
    assert all(m["delta_pct"] > 20 for m in throughput) and res.exit_code != 1


def test_gate_passes_a_docs_only_change(clone, monkeypatch):
    res, data = _gate(clone, monkeypatch, "docs", "plain", "docs")
    assert res.exit_code == 0, res.output
    assert data["identical"] == data["runs"] == 4
    assert data["provenance"]["base"]["git_commit"] == clone["plain"]
    notes = data["provenance"]["findings"]
    assert len(notes) == 1 and not notes[0]["blocking"] and "touches no simulating source" in notes[0]["text"]


def test_gate_of_a_commit_against_itself_is_no_change(clone, monkeypatch):
    res, data = _gate(clone, monkeypatch, "plain", "plain", "itself")
    assert res.exit_code == 3 and data["verdict"] == "same code on both sides", res.output
    res, data = _gate(clone, monkeypatch, "plain", "plain", "itself-allowed", "--allow-same-code")
    assert res.exit_code == 0 and data["identical"] == 4


def test_the_readme_trap_base_run_with_the_heads_code_is_caught(clone, tmp_path):
    """The old CI recipe: check out the base, cd there and run the `distbench` on PATH -- which is
    the head's. The base side then runs the head's (slowed) code and every run is identical."""
    repo = clone["repo"]
    _git(repo, "checkout", "-q", "--detach", clone["slow"])
    shim = tmp_path / "distbench.py"    # the head's console script: imports from PYTHONPATH, not the cwd
    shim.write_text("from harness.cli import main\nmain(prog_name='distbench')\n")
    env = {**os.environ, "PYTHONPATH": str(repo)}
    run = [sys.executable, str(shim), "run", str(clone["suite"]), "--no-report", "-q", "--jobs", "1",
           "--cache", str(clone["cache"])]
    base = tmp_path / "base-checkout"
    _git(repo, "worktree", "add", "-q", "--detach", str(base), clone["docs"])
    try:
        subprocess.run([*run, "--out", str(tmp_path / "base")], cwd=base, env=env, check=True,
                       capture_output=True)
    finally:
        _git(repo, "worktree", "remove", "--force", str(base))
    subprocess.run([*run, "--out", str(tmp_path / "head")], cwd=repo, env=env, check=True, capture_output=True)
    res = CliRunner().invoke(main, ["compare", str(tmp_path / "base"), str(tmp_path / "head")])
    assert "4 of 4 runs identical" in res.output            # the base really ran the head's code
    assert res.exit_code == 3, res.output                    # and that is no longer a pass
    assert "same code on both sides" in res.output and "not that checkout's" in res.output


def test_worktree_is_removed_when_the_gate_fails(clone):
    from harness.compare.commits import temporary_worktree

    with pytest.raises(RuntimeError):
        with temporary_worktree(clone["repo"], clone["plain"]) as base:
            assert (base / "harness" / "__init__.py").is_file()
            raise RuntimeError("a side failed")
    assert not base.exists()
    assert _git(clone["repo"], "worktree", "list").count("\n") == 0


def test_bad_base_and_occupied_out_are_one_line_errors(clone, monkeypatch, tmp_path):
    monkeypatch.chdir(clone["repo"])
    res = CliRunner().invoke(main, ["gate", str(clone["suite"]), "--base", "no-such-ref", "--out",
                                    str(tmp_path / "g")])
    assert res.exit_code == 2 and "--base no-such-ref: not a commit" in res.output
    (tmp_path / "g" / "base").mkdir(parents=True)
    (tmp_path / "g" / "base" / "runs.csv").write_text("run_id\n")
    res = CliRunner().invoke(main, ["gate", str(clone["suite"]), "--base", "HEAD", "--out", str(tmp_path / "g")])
    assert res.exit_code == 2 and "is not empty and holds no results" in res.output
    (tmp_path / "h" / "head").mkdir(parents=True)
    (tmp_path / "h" / "head" / "notes.txt").write_text("mine\n")
    res = CliRunner().invoke(main, ["gate", str(clone["suite"]), "--base", "HEAD", "--out", str(tmp_path / "h"),
                                    "--overwrite"])
    assert res.exit_code == 2 and "is not empty and holds no results" in res.output
    assert (tmp_path / "h" / "head" / "notes.txt").read_text() == "mine\n"
