"""What code a run ran (commit, dirty flag, code digest in the manifest), and compare refusing
two sides that did not run the code they claim."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compare.commits import dependencies
from harness.execution import provenance
from harness.execution.cache import code_digest
from harness.execution.executor import run_suite
from harness.suite.loading import load_suite

SUITE = """\
name: tiny-provenance
duration: 0.3s
warmup: 0.1s
seeds: 2
cluster: {nodes: 3}
workload: {clients: 4, keys: 50}
checkers: {linearizability: false}
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results directory as a clean checkout writes it: whether the checkout running the tests
    has uncommitted changes (a developer's usually has) must not decide the comparisons below;
    the tests about dirtiness set the flag themselves."""
    root = tmp_path_factory.mktemp("provenance")
    (root / "suite.yaml").write_text(SUITE)
    here = os.getcwd()
    os.chdir(root)   # started outside any checkout, whatever directory the tests run from
    try:
        run_suite(load_suite(root / "suite.yaml"), root / "out", jobs=1, progress=False)
    finally:
        os.chdir(here)
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    (root / "out" / "manifest.raw.json").write_text(json.dumps(manifest))
    manifest["git_dirty"] = False if manifest.get("git_dirty") is not None else None
    (root / "out" / "manifest.json").write_text(json.dumps(manifest))
    return root / "out"


def _edited(src: Path, dst: Path, **fields) -> Path:
    """A copy of a results directory with manifest fields replaced."""
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest.update(fields)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _compare(*args: str):
    return CliRunner().invoke(main, ["compare", *args], catch_exceptions=False)


def test_the_manifest_records_commit_dirty_flag_and_digest(results):
    manifest = json.loads((results / "manifest.raw.json").read_text())
    assert manifest["code_digest"] == code_digest()
    top = provenance.source_top()
    assert manifest["code_dir"] == str(top)
    if provenance.work_tree(top) == top:   # the tests run from a git checkout, as in CI
        assert manifest["git_commit"] == _git(top, "rev-parse", "HEAD")
        assert isinstance(manifest["git_dirty"], bool)
    assert manifest["launched_in"] is None


def test_dirty_means_a_simulating_source_differs_from_its_commit(tmp_path):
    for rel in ("harness/__init__.py", "harness/cli/__init__.py", "implementations/proto.py", "README.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    assert provenance.git_commit(tmp_path) == _git(tmp_path, "rev-parse", "HEAD")
    assert provenance.git_dirty(tmp_path) is False
    (tmp_path / "README.md").write_text("docs\n")
    (tmp_path / "harness/cli/__init__.py").write_text("x = 2\n")       # the CLI does not decide what a run computes
    assert provenance.git_dirty(tmp_path) is False
    (tmp_path / "implementations/proto.py").write_text("x = 2\n")
    assert provenance.git_dirty(tmp_path) is True
    _git(tmp_path, "checkout", "-q", "--", "implementations/proto.py")
    (tmp_path / "harness/new.py").write_text("x = 3\n")        # untracked, but the digest covers it
    assert provenance.git_dirty(tmp_path) is True


def test_outside_a_checkout_the_commit_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(provenance.COMMIT_ENV, raising=False)
    assert provenance.git_commit(tmp_path) is None and provenance.git_dirty(tmp_path) is None
    monkeypatch.setenv(provenance.COMMIT_ENV, "0123456789abcdef")
    assert provenance.git_commit(tmp_path) == "0123456789abcdef"


def test_same_code_under_two_commits_is_refused_unless_allowed(results, tmp_path):
    other = _edited(results, tmp_path / "other", git_commit="f" * 40)
    res = _compare(str(results), str(other))
    assert res.exit_code == 3, res.output
    assert "same code on both sides" in res.output and "--allow-same-code" in res.output
    assert _compare(str(results), str(other), "--allow-same-code", "-q").exit_code == 0
    # a change meant to alter nothing: the same code is the surest way
    assert _compare(str(results), str(other), "--require-identical", "-q").exit_code == 0


def test_a_side_from_modified_sources_is_refused_unless_allowed(results, tmp_path):
    dirty = _edited(results, tmp_path / "dirty", git_dirty=True, code_digest="0" * 64)
    res = _compare(str(results), str(dirty), "--json", str(tmp_path / "c.json"))
    assert res.exit_code == 3, res.output
    assert "modified sources" in res.output and "--allow-dirty" in res.output
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["provenance"]["new"]["git_dirty"] is True
    assert [f["kind"] for f in data["provenance"]["findings"] if f["blocking"]] == ["modified sources"]
    assert _compare(str(results), str(dirty), "--allow-dirty", "-q").exit_code == 0


def test_the_same_code_at_the_same_commit_passes_and_says_so(results, tmp_path):
    again = _edited(results, tmp_path / "again")
    res = _compare(str(results), str(again), "--json", str(tmp_path / "c.json"))
    assert res.exit_code == 0, res.output
    assert "whatever differs, no code change made it" in res.output
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["provenance"]["base"]["code_digest"] == data["provenance"]["new"]["code_digest"] == code_digest()


def test_a_side_run_in_another_checkout_with_the_same_code_is_refused(results, tmp_path):
    trap = _edited(results, tmp_path / "trap",
                   launched_in={"dir": "/src/base", "commit": "b" * 40, "code_digest": "1" * 64})
    res = _compare(str(trap), str(results))
    assert res.exit_code == 3 and "the distbench on PATH is not that checkout's" in res.output
    assert _compare(str(trap), str(results), "--require-identical", "-q").exit_code == 3


def test_dependencies_compare_as_sets_of_requirements(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for tree, deps in ((a, '["numpy>=1.26", "pandas >= 2.1"]'), (b, '["pandas>=2.1", "NumPy>=1.26"]')):
        tree.mkdir()
        (tree / "pyproject.toml").write_text(f"[project]\nname = 'x'\ndependencies = {deps}\n")
    assert dependencies(a) == dependencies(b) == ["numpy>=1.26", "pandas>=2.1"]
    assert dependencies(tmp_path) is None
