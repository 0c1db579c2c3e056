"""The ``distbench`` command: run, validate, list, report.

User mistakes (a bad config, a missing results directory) end with a one-line message on stderr
and exit status 2, never a traceback. A safety violation ends ``run`` with exit status 1, after
every result has been written.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from pathlib import Path

import click

from harness import __version__
from harness.config import ConfigError, load_suite


def _fail(message: str) -> None:
    click.echo(f"distbench: error: {message}", err=True)
    sys.exit(2)


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


def _summary(rows: list[dict], swept: list[str], compare: str = "protocol") -> str:
    """One line per matrix point and contender: mean ± 95% CI half-width over its seeds, swept
    values as written (``2k/s``, ``150ms``, labels), and the safety verdicts."""
    from harness.compare.stats import summarize
    from harness.report.load import canonical_param, display_value
    from harness.report.metrics import param_short

    keys = [k for k in dict.fromkeys([compare, *swept]) if k != "protocol" or compare == "protocol"
            or "protocol" in swept]
    shown = {}
    for k in keys:
        raw = [display_value(r.get(k)) for r in rows]
        shown[k] = canonical_param(k, raw)[1] if k != "protocol" else {v: v for v in raw}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(display_value(r.get(k)) for k in keys), []).append(r)

    def stat(group: list[dict], key: str, scale: float, digits: int) -> str:
        s = summarize([scale * float(r[key]) for r in group if isinstance(r.get(key), (int, float))])
        if s is None:
            return "-"
        return _fmt(s.mean, digits) + (f" ± {_fmt(s.half, digits)}" if s.half is not None else "")

    def safety(group: list[dict]) -> str:
        verdicts = [str(r.get("safety")) for r in group]
        ok = verdicts.count("ok")
        if ok == len(verdicts):
            return "ok"
        worst = next((v for v in verdicts if v.startswith(("violation", "error"))), None)
        worst = worst or next(v for v in verdicts if v != "ok")
        return f"{ok}/{len(verdicts)} ok; {worst[:60]}"

    head = [param_short(k) if k != "protocol" else k for k in keys]
    head += ["n", "ops/s", "p50 ms", "p99 ms", "abort %", "safety"]
    body = [[*[shown[k].get(v, v) for k, v in zip(keys, point)], str(len(g)),
             stat(g, "throughput_ops_s", 1, 0), stat(g, "latency_p50_ms", 1, 2),
             stat(g, "latency_p99_ms", 1, 2), stat(g, "abort_rate", 100, 2), safety(g)]
            for point, g in groups.items()]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *body]]
    seeds = {len(g) for g in groups.values()}
    if max(seeds, default=0) > 1:
        lines.append("(mean ± 95% CI half-width over n seeds)")
    return "\n".join(lines)


def _chart_options(command):
    """The report's chart options, shared by ``run`` and ``report``."""
    command = click.option("--font-scale", default=None, metavar="X",
                           help="Multiply every chart font size (0.5 to 3).")(command)
    command = click.option("--figsize", default=None, metavar="WxH",
                           help="Size of every chart in inches, e.g. 6x4.")(command)
    return click.option("--no-subtitle", is_flag=True,
                        help="Charts without the subtitle naming the fixed setting and method.")(command)


def _charts(no_subtitle: bool, figsize: str | None, font_scale: str | None):
    """ChartOptions from the command line; a bad value is a one-line error (exit 2)."""
    from harness.report import ChartOptions, ReportError, parse_figsize, parse_font_scale

    try:
        return ChartOptions(subtitle=not no_subtitle,
                            figsize=parse_figsize(figsize) if figsize is not None else None,
                            font_scale=parse_font_scale(font_scale) if font_scale is not None else 1.0)
    except ReportError as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distbench")
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
@_chart_options
def run(config: str | None, out: Path | None, overrides: tuple[str, ...], seeds: int | None,
        jobs: int, no_report: bool, quiet: bool, no_subtitle: bool, figsize: str | None,
        font_scale: str | None) -> None:
    """Run a suite (CONFIG, or the built-in quickstart when omitted) and write its results."""
    from harness.executor import run_suite

    charts = _charts(no_subtitle, figsize, font_scale)
    suite = _load(config, overrides, seeds)
    out = out or _default_out(suite.name)
    specs = suite.runs()
    if not quiet:
        click.echo(f"distbench: suite '{suite.name}' from {suite.source}: {_runs(len(specs))} -> {out}", err=True)
    try:
        rows = run_suite(suite, out, jobs=jobs, progress=not quiet)
    except KeyboardInterrupt:
        click.echo(f"distbench: interrupted; the finished runs are in {out}", err=True)
        sys.exit(130)
    except OSError as exc:
        _fail(f"{out}: cannot write results: {exc.strerror or exc}")
    if not quiet:
        click.echo(_summary(rows, suite.swept, suite.compare))
    click.echo(f"results: {out}")
    if not no_report:
        from harness.report import ReportError, write_report

        try:
            paths = write_report(out, charts=charts)
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
        sys.exit(1)


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
@_chart_options
def report(results_dir: Path, out: Path | None, formats: str, no_subtitle: bool, figsize: str | None,
           font_scale: str | None) -> None:
    """Write report.html / report.md, summary.csv and charts for a results directory."""
    from harness.report import ReportError, write_report

    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in ("html", "md")]
    if unknown or not wanted:
        _fail(f"--format: expected a comma-separated subset of html,md, got {formats!r}")
    charts = _charts(no_subtitle, figsize, font_scale)
    try:
        paths = write_report(results_dir, out, wanted, charts=charts)
    except ReportError as exc:
        _fail(str(exc))
    for fmt in wanted:
        click.echo(f"{fmt}: {paths[fmt]}")
    click.echo(f"summary: {paths['summary']}")
