"""The ``distbench`` command: run, validate, list, report, compare, history.

User mistakes (a bad config, a missing results directory) end with a one-line message on stderr
and exit status 2, never a traceback. A safety violation ends ``run`` with exit status 1, after
every result has been written. ``compare`` exits 0 (no regression), 1 (a regression or a new
safety failure), 2 (bad input) or 3 (not comparable, or not enough evidence).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from harness import __version__, build
from harness.config import ConfigError, load_suite


def _fail(message: str) -> None:
    click.echo(f"distbench: error: {message}", err=True)
    sys.exit(2)


def _build() -> str:
    """``pure`` or ``compiled``; a mixed install is refused, never run silently."""
    try:
        return build.kind()
    except build.MixedBuild as exc:
        _fail(f"mixed build: {exc}")
        raise


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"distbench, version {__version__} (build: {_build()})")
        ctx.exit()


def _load(config: str | None, overrides: tuple[str, ...], seeds: int | None):
    try:
        return load_suite(config, overrides, seeds)
    except ConfigError as exc:
        _fail(str(exc))


def _default_out(suite_name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path("results") / suite_name / stamp
    k = 2
    while out.exists():
        out = Path("results") / suite_name / f"{stamp}-{k}"
        k += 1
    return out


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.{digits}f}"
    return str(value)


def _gate_options(command: Any) -> Any:
    """The options that tune the regression gate, shared by ``compare`` and ``run --baseline``."""
    options = [
        click.option("--threshold", "thresholds", multiple=True, metavar="METRIC=PCT",
                     help="Practical threshold of a metric, e.g. throughput_ops_s=3% (repeatable; "
                          "METRIC=off stops judging it)."),
        click.option("--ignore", "ignore", multiple=True, metavar="KEY",
                     help="A config key whose difference does not make runs incomparable (repeatable)."),
        click.option("--alpha", type=click.FloatRange(0.0, 0.5, min_open=True, max_open=True),
                     help="Significance level of the paired test (default 0.05, or the suite's gate.alpha)."),
        click.option("--require-identical", is_flag=True, default=None,
                     help="Fail (exit 1) unless every run is identical: for a change meant to alter nothing."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _parse_thresholds(items: tuple[str, ...]) -> dict:
    from harness.compare.policy import parse_threshold
    from harness.report.metrics import METRICS_BY_KEY

    out: dict = {}
    for item in items:
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        if not sep or not metric:
            _fail(f"--threshold {item}: expected METRIC=PERCENT, such as throughput_ops_s=3%")
        if metric not in METRICS_BY_KEY:
            import difflib
            close = difflib.get_close_matches(metric, list(METRICS_BY_KEY), n=1)
            _fail(f"--threshold {item}: unknown metric {metric!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
        if value.strip().lower() in ("off", "none", "null"):
            out[metric] = None
            continue
        try:
            out[metric] = parse_threshold(value)
        except ValueError as exc:
            _fail(f"--threshold {item}: {exc}")
    return out


def _compare(base: Path, new: Path, md: Path | None, json_path: Path | None, junit: Path | None,
             quiet: bool = False, thresholds: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
             alpha: float | None = None, require_identical: bool | None = None,
             quiet_unless_failing: bool = False) -> int:
    """Compare NEW with BASE, print the Markdown (with ``quiet_unless_failing``, only when the
    gate does not pass), write the outputs; returns the exit code."""
    from harness.compare import CompareError, gate, write_outputs

    try:
        result = gate(base, new, _parse_thresholds(thresholds), ignore, alpha, require_identical)
    except CompareError as exc:
        _fail(str(exc))
    try:
        written = write_outputs(result, md, json_path, junit)
    except OSError as exc:
        _fail(f"{getattr(exc, 'filename', None) or md}: cannot write the comparison ({exc.strerror or exc})")
    if not quiet or (quiet_unless_failing and result.exit_code != 0):
        click.echo(written["md_text"])
    click.echo(f"compare: {result.verdict} ({result.summary_line()}); exit {result.exit_code}", err=True)
    return result.exit_code


def _summary(rows: list[dict], swept: list[str]) -> str:
    keys = [k for k in swept if k != "protocol"]
    head = ["protocol", *keys, "seed", "ops/s", "p50 ms", "p99 ms", "abort %", "safety"]
    body = [[str(r.get("protocol")), *[str(r.get(k)) for k in keys], str(r.get("seed")),
             _fmt(r.get("throughput_ops_s", float("nan")), 0), _fmt(r.get("latency_p50_ms", float("nan")), 2),
             _fmt(r.get("latency_p99_ms", float("nan")), 2), _fmt(100 * r.get("abort_rate", float("nan")), 2),
             str(r.get("safety"))[:60]] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in [head, *body]]
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version and the build (pure or compiled) and exit.")
def main() -> None:
    """Benchmark and compare distributed protocols in deterministic simulation."""


@main.command()
@click.argument("config", required=False)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Results directory (default: results/<suite>/<timestamp>/).")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a config key, e.g. --set cluster.nodes=5 (repeatable).")
@click.option("--seeds", type=click.IntRange(min=1), help="Number of seeds per matrix point.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="all cores", help="Runs executed in parallel processes.")
@click.option("--no-report", is_flag=True, help="Do not write the report at the end.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
@click.option("--baseline", type=click.Path(path_type=Path),
              help="Then compare with this results directory (as `distbench compare BASELINE OUT`), "
                   "writing compare.md, compare.json and compare.xml into OUT; exit as compare does.")
@_gate_options
def run(config: str | None, out: Path | None, overrides: tuple[str, ...], seeds: int | None,
        jobs: int, no_report: bool, quiet: bool, baseline: Path | None, **gate: Any) -> None:
    """Run a suite (CONFIG, or the built-in quickstart when omitted) and write its results."""
    from harness.executor import run_suite

    kind = _build()
    suite = _load(config, overrides, seeds)
    out = out or _default_out(suite.name)
    specs = suite.runs()
    if not quiet:
        click.echo(f"distbench: suite '{suite.name}' from {suite.source}: {_runs(len(specs))} -> {out} "
                   f"(build: {kind})", err=True)
    try:
        rows = run_suite(suite, out, jobs=jobs, progress=not quiet)
    except KeyboardInterrupt:
        click.echo(f"distbench: interrupted; the finished runs are in {out}", err=True)
        sys.exit(130)
    except OSError as exc:
        _fail(f"{out}: cannot write results: {exc.strerror or exc}")
    if not quiet:
        click.echo(_summary(rows, suite.swept))
    click.echo(f"results: {out}")
    if not no_report:
        from harness.report import ReportError, write_report

        try:
            paths = write_report(out)
            click.echo(f"report: {paths['html']}")
        except ReportError as exc:
            click.echo(f"distbench: report not written: {exc}", err=True)
    bad = [r for r in rows if str(r.get("safety", "")).startswith(("violation", "error"))]
    unknown = [r for r in rows if r.get("safety") == "unknown"]
    if unknown:
        click.echo(f"distbench: warning: {len(unknown)} run(s) with safety 'unknown' "
                   "(linearizability budget exhausted; raise checkers.budget)", err=True)
    if bad:
        for r in bad:
            click.echo(f"distbench: SAFETY {r['run_id']} ({r['protocol']}): {r['safety']}", err=True)
    code = 1 if bad else 0
    if baseline is not None:
        code = max(code, _compare(baseline, out, out / "compare.md", out / "compare.json",
                                  out / "compare.xml", quiet=quiet, quiet_unless_failing=True, **gate))
    sys.exit(code)


@main.command()
@click.argument("config")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE")
def validate(config: str, overrides: tuple[str, ...]) -> None:
    """Check a suite without running it."""
    suite = _load(config, overrides, None)
    specs = suite.runs()
    protocols = sorted({s.config.protocol for s in specs})
    click.echo(f"{suite.source}: ok: suite '{suite.name}' ({suite.kind}), {_runs(len(specs))}, "
               f"protocols {', '.join(protocols)}, sweeping {', '.join(suite.swept) or 'nothing'}")


@main.command()
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--md", type=click.Path(dir_okay=False, path_type=Path), help="Write the Markdown summary here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the comparison as JSON here.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write JUnit XML here (one test case per point and metric, and per run's safety).")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the Markdown.")
@_gate_options
def compare(base: Path, new: Path, md: Path | None, json_path: Path | None, junit: Path | None,
            quiet: bool, **gate: Any) -> None:
    """Compare two results directories of one suite (BASE, e.g. main; NEW, e.g. a pull request).

    Exit 0: no regression; 1: a regression or a new safety failure; 2: bad input; 3: not
    comparable or not enough evidence."""
    sys.exit(_compare(base, new, md, json_path, junit, quiet=quiet, **gate))


@main.command(name="list")
def list_() -> None:
    """Print the registered protocols, workloads, distributions and fault kinds."""
    from harness import catalog

    click.echo(catalog.describe())


@main.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the report (default: RESULTS_DIR).")
@click.option("--format", "formats", default="html,md", show_default=True,
              help="Comma-separated: html, md.")
def report(results_dir: Path, out: Path | None, formats: str) -> None:
    """Write report.html / report.md and charts for a results directory."""
    from harness.report import ReportError, write_report

    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in ("html", "md")]
    if unknown or not wanted:
        _fail(f"--format: expected a comma-separated subset of html,md, got {formats!r}")
    try:
        paths = write_report(results_dir, out, wanted)
    except ReportError as exc:
        _fail(str(exc))
    for fmt in wanted:
        click.echo(f"{fmt}: {paths[fmt]}")


@main.group()
def history() -> None:
    """A suite's history over commits: append a results directory's summary, draw the trend."""


@history.command(name="add")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--to", "history_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The history file (JSON Lines, appended to; one file per suite).")
@click.option("--label", help="How this entry is named on the chart (default: its git commit).")
def history_add(results_dir: Path, history_file: Path, label: str | None) -> None:
    """Append RESULTS_DIR's per-point means to the history file."""
    from harness.compare import CompareError
    from harness.compare.history import append

    try:
        entry = append(history_file, results_dir, label)
    except CompareError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{history_file}: cannot write the history ({exc.strerror or exc})")
    click.echo(f"history: {history_file}: added {entry['label']} ({len(entry['points'])} points)")


@history.command(name="plot")
@click.argument("history_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The chart to write (PNG or SVG, by its suffix).")
@click.option("--metric", "metrics", multiple=True, metavar="METRIC",
              help="A runs.csv metric to draw (repeatable; default throughput_ops_s and latency_p99_ms).")
def history_plot(history_file: Path, out: Path, metrics: tuple[str, ...]) -> None:
    """Draw the trend of metrics over the commits recorded in HISTORY_FILE."""
    from harness.compare import CompareError
    from harness.compare.history import DEFAULT_METRICS, plot

    if out.suffix.lower() not in (".png", ".svg"):
        _fail(f"--out {out}: expected a .png or .svg file")
    try:
        path = plot(history_file, out, metrics or DEFAULT_METRICS)
    except CompareError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{out}: cannot write the chart ({exc.strerror or exc})")
    click.echo(f"chart: {path}")
