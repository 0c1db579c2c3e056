"""One reader of a results directory: the report, the comparison and the history refuse the same
broken file with the same one-line message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from report_fixtures import make_results


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return make_results(tmp_path / "r", seeds=[1, 2], params={"cluster.nodes": [3]})


def _refusals(results: Path, tmp_path: Path) -> list[str]:
    """The error line of report, compare (as NEW) and history add for ``results``."""
    lines = []
    for args in (["report", str(results), "--out", str(tmp_path / "report")],
                 ["compare", str(results), str(results)],
                 ["history", "add", str(results), "--to", str(tmp_path / "history.jsonl")]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        line = res.output.strip()
        assert "\n" not in line and "Traceback" not in line
        lines.append(line)
    return lines


def test_a_repeated_column_of_runs_csv_is_refused_alike(results, tmp_path):
    lines = (results / "runs.csv").read_text().splitlines()
    lines[0] = lines[0].replace("latency_p50_ms", "latency_p99_ms", 1)
    (results / "runs.csv").write_text("\n".join(lines) + "\n")
    refusals = _refusals(results, tmp_path)
    assert refusals == [f"distbench: error: {results / 'runs.csv'}: malformed CSV header "
                        "(duplicate column 'latency_p99_ms')"] * 3


def test_a_per_run_file_without_its_columns_is_refused_alike(results, tmp_path):
    (results / "events.csv").write_text("run_id,when,kind\nr1,1.0,crash\n")
    refusals = _refusals(results, tmp_path)
    assert len(set(refusals)) == 1
    assert refusals[0].startswith(f"distbench: error: {results / 'events.csv'}: missing column 'time_s'")


def test_a_directory_that_is_not_one_names_what_is_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    refusals = _refusals(empty, tmp_path)
    assert set(refusals) == {f"distbench: error: {empty / 'runs.csv'}: not found (is {empty} a directory "
                             "written by `distbench run`?)"}
