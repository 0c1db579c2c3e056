"""``distbench history``: a suite's history over commits (add a results directory's summary,
draw the trend, check the newest entries for drift)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness.cli.common import fail
from harness.cli.compare import parse_thresholds


@click.group()
def history() -> None:
    """A suite's history over commits: add a results directory's summary, draw the trend, check
    the newest entries for drift."""


@history.command(name="add")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--to", "history_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The history file (JSON Lines, appended to; one file per suite).")
@click.option("--label", help="How this entry is named on the chart (default: its git commit).")
@click.option("--replace", is_flag=True,
              help="Replace the history's entry for the same commit instead of refusing a second one.")
def history_add(results_dir: Path, history_file: Path, label: str | None, replace: bool) -> None:
    """Append RESULTS_DIR's per-point means to the history file. A second entry for a commit, or
    one whose seeds or matrix points differ from the history's, is refused."""
    from harness.compare import CompareError
    from harness.compare.history import add

    try:
        entry, replaced = add(history_file, results_dir, label, replace)
    except CompareError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{history_file}: cannot write the history ({exc.strerror or exc})")
    click.echo(f"history: {history_file}: {'replaced' if replaced else 'added'} {entry['label']} "
               f"({len(entry['points'])} points)")


def _drift_options(within: bool = False) -> Any:
    """How ``history plot`` and ``history check`` find change points and judge them (and, with
    ``within``, how recent a change must be for ``check`` to fail)."""
    from harness.compare.changepoints import ALPHA, MIN_SIZE
    from harness.compare.drift import WITHIN

    options = [
        click.option("--alpha", type=click.FloatRange(0.0, 0.5, min_open=True), default=ALPHA, show_default=True,
                     help="Significance level of each change point (E-divisive means, permutation test)."),
        click.option("--min-size", type=click.IntRange(min=2), default=MIN_SIZE, show_default=True,
                     help="Fewest entries in a segment between change points."),
        click.option("--threshold", "thresholds", multiple=True, metavar="METRIC=PCT",
                     help="Practical size of a change of a metric, e.g. throughput_ops_s=3% (repeatable; "
                          "default: the gate's thresholds)."),
    ]
    if within:
        options.append(click.option("--within", type=click.IntRange(min=2), default=WITHIN, show_default=True,
                                    help="Fail when a series' newest segment began within this many "
                                         "newest entries."))

    def decorate(command: Any) -> Any:
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def _drift_thresholds(items: tuple[str, ...]) -> dict:
    from harness.compare.policy import DEFAULT_POLICY

    return dict(DEFAULT_POLICY.with_overrides(parse_thresholds(items)).thresholds)


@history.command(name="plot")
@click.argument("history_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The chart to write (PNG or SVG, by its suffix).")
@click.option("--metric", "metrics", multiple=True, metavar="METRIC",
              help="A runs.csv metric to draw (repeatable; default throughput_ops_s and latency_p99_ms).")
@click.option("--log", is_flag=True, help="Log-scale value axes.")
@_drift_options()
def history_plot(history_file: Path, out: Path, metrics: tuple[str, ...], log: bool, alpha: float,
                 min_size: int, thresholds: tuple[str, ...]) -> None:
    """Draw the trend of metrics over the commits recorded in HISTORY_FILE, one panel per metric,
    change points marked (red worse, green better, grey below the threshold)."""
    from harness.compare import CompareError
    from harness.compare.history import plot

    if out.suffix.lower() not in (".png", ".svg"):
        fail(f"--out {out}: expected a .png or .svg file")
    try:
        path = plot(history_file, out, metrics, _drift_thresholds(thresholds), log, alpha, min_size)
    except CompareError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: cannot write the chart ({exc.strerror or exc})")
    click.echo(f"chart: {path}")


@history.command(name="check")
@click.argument("history_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--metric", "metrics", multiple=True, metavar="METRIC",
              help="A runs.csv metric to check (repeatable; default: every metric the gate judges).")
@_drift_options(within=True)
def history_check(history_file: Path, metrics: tuple[str, ...], alpha: float, min_size: int,
                  thresholds: tuple[str, ...], within: int) -> None:
    """Exit 1 when the newest entries of HISTORY_FILE start a change for the worse: a series
    (point x metric) whose newest segment began within the last --within entries and is worse
    than the segment before its run of steps by more than the threshold."""
    from harness.compare import CompareError
    from harness.compare.drift import WORSE
    from harness.compare.history import chosen_metrics, check, load

    if within < min_size:
        fail(f"--within {within}: expected at least --min-size ({min_size}), the fewest entries of a new segment")
    limits = _drift_thresholds(thresholds)
    try:
        entries = load(history_file)
        metrics = chosen_metrics(entries, history_file, metrics, tuple(limits))
    except CompareError as exc:
        fail(str(exc))
    findings, checked = check(entries, metrics, limits, alpha, min_size, within)
    for finding in findings:
        click.echo(finding.line(entries))
    worse = sum(f.shift.verdict == WORSE for f in findings)
    click.echo(f"history check: {checked} series ({len(metrics)} metrics) over {len(entries)} entries: "
               f"{worse} worse, {len(findings) - worse} better in the newest {within} entries")
    sys.exit(1 if worse else 0)


