"""`distbench history check` and `plot` on histories built as JSON lines: a drift of steps each
below the gate's threshold fails the check, noise passes, change points are marked per panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compare.drift import SMALL, WORSE
from harness.compare.history import figure, history_shifts, read_history
from harness.compare.policy import DEFAULT_THRESHOLDS


def _write(path: Path, throughput: list[float], seed: int = 0, noise: float = 0.005) -> Path:
    """A history of one Raft point: throughput as given (times noise), p99 latency flat."""
    rng = np.random.default_rng(seed)
    with path.open("w") as f:
        for i, value in enumerate(throughput):
            point = {"n": 3, "unsafe": 0, "throughput_ops_s": value * (1 + rng.normal(0, noise)),
                     "latency_p99_ms": 3.0 * (1 + rng.normal(0, 2 * noise)), "abort_rate": 0.01}
            f.write(json.dumps({"label": f"c{i:02d}", "commit": f"{i:040x}", "suite": "s", "seeds": [1, 2, 3],
                                "points": {"protocol=raft": point}}) + "\n")
    return path


def _staircase(last: int) -> list[float]:
    """Ten entries at 1000, then three steps of -3% (each below the gate's 5%)."""
    return [1000 * 0.97 ** step for step, n in enumerate([10, 5, 5, last]) for _ in range(n)]


def _check(path: Path, *args: str):
    return CliRunner().invoke(main, ["history", "check", str(path), *args])


@pytest.mark.parametrize("seed", range(3))
def test_a_staircase_of_steps_below_the_threshold_fails_the_check(tmp_path, seed):
    history = _write(tmp_path / "h.jsonl", _staircase(last=4), seed)
    found = history_shifts(read_history(history), "protocol=raft", "throughput_ops_s",
                           DEFAULT_THRESHOLDS["throughput_ops_s"])
    assert len(found) == 3 and found[0].start == 10 and found[-1].start == 20
    assert found[0].verdict == SMALL and found[-1].verdict == WORSE   # one step passes a gate; three do not
    res = _check(history)
    assert res.exit_code == 1, res.output
    line = res.output.splitlines()[0]
    assert re.match(r"worse: protocol=raft: throughput [\d,.]+ -> 9\d\d\.\d ops/s \(-[89]\.\d%, threshold 5%\)", line)
    assert "since c20 (3 steps since c10)" in line
    assert "1 worse" in res.output.splitlines()[-1]


@pytest.mark.parametrize("seed", range(4))
def test_flat_noise_passes_the_check(tmp_path, seed):
    res = _check(_write(tmp_path / "h.jsonl", [1000.0] * 24, seed, noise=0.01))
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        "history check: 3 series (3 metrics) over 24 entries: 0 worse, 0 better in the newest 5 entries"]


def test_an_old_change_or_an_improvement_does_not_fail(tmp_path):
    old = _write(tmp_path / "old.jsonl", [1000.0] * 10 + [900.0] * 10)
    assert _check(old).exit_code == 0   # the newest segment began ten entries ago
    assert _check(old, "--within", "10").exit_code == 1
    better = _check(_write(tmp_path / "up.jsonl", [1000.0] * 10 + [1100.0] * 4))
    assert better.exit_code == 0 and better.output.startswith("better: protocol=raft: throughput"), better.output
    # a threshold of the user's own
    small = _write(tmp_path / "small.jsonl", [1000.0] * 10 + [970.0] * 4)
    assert _check(small).exit_code == 0
    assert _check(small, "--threshold", "throughput_ops_s=2%").exit_code == 1


@pytest.mark.parametrize("args, expected", [
    (["--metric", "nope_ms"], "no values of 'nope_ms' in the history"),
    (["--within", "2"], "--within 2: expected at least --min-size (3)"),
    (["--threshold", "throughput_ops_s=lots"], "--threshold throughput_ops_s=lots"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, expected):
    res = _check(_write(tmp_path / "h.jsonl", [1000.0] * 8), *args)
    assert res.exit_code == 2 and expected in res.output and len(res.output.strip().splitlines()) == 1
    (tmp_path / "bad.jsonl").write_text('{"points": {"protocol=raft": 3}}\n')
    res = _check(tmp_path / "bad.jsonl")
    assert res.exit_code == 2 and "line 1 is not a history entry" in res.output


def test_plot_draws_one_panel_per_metric_with_the_changes_marked(tmp_path):
    entries = read_history(_write(tmp_path / "h.jsonl", _staircase(last=4)))
    metrics = ("throughput_ops_s", "latency_p99_ms", "abort_rate")
    fig = figure(entries, metrics, DEFAULT_THRESHOLDS, log=True)
    assert len(fig.axes) == 3
    top = fig.axes[0]
    assert top.get_yscale() == "log" and top.get_ylabel() == "throughput (ops/s)"
    assert fig.axes[2].get_ylabel() == "abort rate (%)"
    assert [line.get_xdata()[0] for line in top.get_lines() if line.get_linestyle() == "--"] == [9.5, 14.5, 19.5]
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()][:2] == ["c00", "c01"]
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["protocol=raft", "change: worse", "change: below threshold"]
    res = CliRunner().invoke(main, ["history", "plot", str(tmp_path / "h.jsonl"), "--out", str(tmp_path / "t.png"),
                                    "--metric", "throughput_ops_s", "--metric", "latency_p99_ms"])
    assert res.exit_code == 0 and (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG", res.output
