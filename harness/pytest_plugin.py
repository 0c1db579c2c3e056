"""A pytest plugin (entry point ``pytest11``) so a project's own tests can run a distbench suite
and assert on it, or gate it against a baseline:

    def test_my_protocol_did_not_regress(distbench):
        distbench.gate("bench/my-suite.yaml", baseline="bench/baseline")   # fails with the Markdown

    def test_throughput(distbench):
        runs = distbench.run("bench/my-suite.yaml", "cluster.nodes=5")   # runs.csv as a DataFrame
        assert (runs["safety"] == "ok").all()

``pytest --distbench-update-baseline`` writes the baselines instead of comparing with them (the
deliberate refresh after an intended change). It replaces only a baseline that is a results
directory (and holds nothing else), writing the new one beside it and swapping it in, so an
interrupted refresh never leaves no baseline; anything else at that path is refused.
pytest-benchmark remains the tool for timing code; this plugin judges what the simulated
protocols did.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("distbench")
    group.addoption("--distbench-update-baseline", action="store_true", default=False,
                    help="distbench.gate(): write the baseline instead of comparing with it.")


@dataclass
class Distbench:
    """The ``distbench`` fixture: runs suites into the test's temporary directory."""

    tmp: Path
    update_baseline: bool

    def run(self, suite: str | Path | None, *overrides: str, seeds: int | None = None,
            jobs: int = 1, out: Path | None = None) -> Any:
        """Run a suite (None: the built-in quickstart) and return its runs.csv as a DataFrame."""
        import pandas as pd

        from harness.execution.executor import run_suite
        from harness.suite.errors import ConfigError
        from harness.suite.loading import load_suite

        try:
            loaded = load_suite(suite, overrides, seeds)
        except ConfigError as exc:
            pytest.fail(f"distbench: {exc}", pytrace=False)
        self.last = out or self.tmp / f"distbench-{loaded.name}"
        run_suite(loaded, self.last, jobs=jobs, progress=False)
        return pd.read_csv(self.last / "runs.csv")

    def gate(self, suite: str | Path | None, baseline: str | Path, *overrides: str,
             seeds: int | None = None, jobs: int = 1, **options: Any) -> Any:
        """Run the suite and compare it with ``baseline``; fail the test, with the comparison's
        Markdown as the message, unless the gate passes (exit 0). ``options`` go to
        :func:`harness.compare.gate` (thresholds, ignore, alpha, require_identical). Returns the
        :class:`harness.compare.Comparison`."""
        from harness.compare import CompareError, gate, write_outputs

        self.run(suite, *overrides, seeds=seeds, jobs=jobs)
        baseline = Path(baseline)
        if self.update_baseline:
            from harness.execution.results import RefusedToReplace, replace_results

            try:
                replace_results(baseline, lambda new: shutil.copytree(self.last, new, dirs_exist_ok=True))
            except RefusedToReplace as exc:
                pytest.fail(f"distbench: --distbench-update-baseline: {exc}; name a new directory or "
                            "a results directory as the baseline", pytrace=False)
            return None
        try:
            result = gate(baseline, self.last, **options)
        except CompareError as exc:
            pytest.fail(f"distbench: {exc}", pytrace=False)
        if result.exit_code != 0:
            pytest.fail(write_outputs(result)["md_text"], pytrace=False)
        return result


@pytest.fixture
def distbench(tmp_path: Path, request: pytest.FixtureRequest) -> Distbench:
    """Run distbench suites and gate them against baselines from a test."""
    return Distbench(tmp_path, bool(request.config.getoption("--distbench-update-baseline")))
