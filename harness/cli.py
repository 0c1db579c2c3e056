"""The ``distbench`` command: run, validate, list, report, compare, gate, history.

User mistakes (a bad config, a missing results directory) end with a one-line message on stderr
and exit status 2, never a traceback. A safety violation ends ``run`` with exit status 1, after
every result has been written. ``compare`` exits 0 (no regression), 1 (a regression or a new
safety failure), 2 (bad input) or 3 (not comparable, or not enough evidence).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from harness import __version__, build
from harness.config import ConfigError, load_suite
from harness.execution.estimate import MAX_RUNS


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


def _load(config: str | None, overrides: tuple[str, ...], seeds: int | None, jobs: int = 1,
          force: bool = True):
    """The suite; unless ``force``, one of more than MAX_RUNS runs is refused before its matrix
    is expanded, with its cost estimated from a sample of its points."""
    from harness.config import TooManyRuns
    from harness.execution import estimate

    try:
        return load_suite(config, overrides, seeds, max_runs=None if force else estimate.MAX_RUNS)
    except TooManyRuns as exc:
        wall, memory = estimate.extrapolate(exc.sample, exc.runs)
        cores = min(jobs, exc.runs)
        _fail(f"{exc}: ~{estimate.duration(wall / cores)} on {cores} core{'s' if cores > 1 else ''}, up to "
              f"~{estimate.size(memory)} per run (estimated from {len(exc.sample)} of its points); use fewer seeds "
              "or matrix values, or pass --force to expand it anyway")
    except ConfigError as exc:
        _fail(str(exc))


def _estimates(suite) -> list[tuple[list, object]]:
    """(runs of a matrix point, its estimate) per point; seeds of a point cost the same."""
    from harness.execution.estimate import estimate

    points: dict[int, list] = {}
    for spec in suite.runs():
        points.setdefault(int(spec.run_id[1:5]), []).append(spec)
    return [(specs, estimate(specs[0].config)) for specs in points.values()]


def _guard(suite, jobs: int, force: bool) -> list[tuple[list, object]]:
    """Refuse (one line, naming the key) a suite with a run that plainly cannot fit this
    machine, unless ``force``."""
    from harness.execution.estimate import physical_memory, refusal

    estimates = _estimates(suite)
    ram = physical_memory()
    if not force:
        for specs, est in estimates:
            why = refusal(specs[0].config, est, ram)
            if why:
                where = f" (run {specs[0].run_id})" if suite.matrix else ""
                _fail(f"{suite.source}: {why}{where}; pass --force to run it anyway")
    return estimates


def _limit(text: str, option: str, parse, auto: float | None) -> float | None:
    if text == "auto":
        return auto
    if text in ("off", "none", "0"):
        return None
    try:
        value = float(parse(text))
    except ValueError as exc:
        _fail(f"{option}: {exc}; or 'auto' or 'off'")
    if value <= 0:
        _fail(f"{option}: expected a positive value, 'auto' or 'off', got {text!r}")
    return value


def _check_out(out: Path, suite, resume: bool, overwrite: bool) -> None:
    """--out: a new or empty directory; one holding results only with --resume (the same suite,
    keeping every finished run) or --overwrite (replacing only what distbench wrote); anything
    else is refused, naming what is there."""
    from harness.execution.cache import run_key
    from harness.execution.results import (contents, holds_results, read_manifest, refusal_to_replace,
                                           resume_refusal)

    if out.exists() and not out.is_dir():
        _fail(f"--out {out}: not a directory")
    if not out.exists() or not any(out.iterdir()):
        return
    if not holds_results(out):
        _fail(f"--out {out}: is not empty and is not a distbench results directory (it holds "
              f"{contents(out)}); choose a new or empty directory")
    manifest = read_manifest(out) or {}
    held = manifest.get("suite")
    if resume:
        if held != suite.name:
            _fail(f"--out {out}: holds results of suite {held!r}, not {suite.name!r}; --resume continues "
                  "the same suite (pass --overwrite to replace them)")
        if not any(isinstance(r, dict) and r.get("key") for r in manifest.get("runs", [])):
            _fail(f"--out {out}: was written without run keys (an older distbench), so it cannot be "
                  "resumed; pass --overwrite to replace it")
        why = resume_refusal(out, manifest, suite, {run_key(spec) for spec in suite.runs()})
        if why:
            _fail(f"--out {out}: --resume: {why}; pass --overwrite to replace them, or choose a new --out")
    elif overwrite:
        why = refusal_to_replace(out)
        if why:
            _fail(f"--out {out}: --overwrite: {why}; move them away first, or choose a new --out")
    else:
        _fail(f"--out {out}: already holds results of suite {held!r}, {manifest.get('completed_runs')} runs; "
              "pass --resume to finish it or --overwrite to replace it")


def _looks(suite, auto_seeds: int | None, gate: dict[str, Any]) -> tuple[int, int, float]:
    """The seeds of the first look, the most seeds ``--auto-seeds`` allows, and the error rate to
    spend over the looks (the ``--alpha`` given, else the suite's)."""
    first = suite.base.seeds
    if auto_seeds is not None and auto_seeds < first:
        _fail(f"--auto-seeds {auto_seeds}: expected at least the suite's {first} seeds")
    return first, auto_seeds or first, gate.get("alpha") or suite.base.gate.alpha


def _check_baseline(baseline: Path, suite, ignore: tuple[str, ...], auto_seeds: int | None) -> None:
    """``run --baseline``: a missing baseline, an unknown --ignore key or a baseline with fewer
    seeds than ``--auto-seeds`` may ask for is refused before any run starts, not after."""
    import itertools

    from harness.compare import CompareError
    from harness.compare.sides import check_ignore
    from harness.execution.results import holds_results, read_manifest

    if not holds_results(baseline):
        what = "no such directory" if not baseline.exists() else "no manifest.json written by distbench run"
        _fail(f"--baseline {baseline}: not a results directory ({what})")
    manifest = read_manifest(baseline) or {}
    runs = manifest.get("runs") or []
    have = len(manifest.get("seeds") or [])
    if auto_seeds is not None and have < auto_seeds:
        _fail(f"--baseline {baseline}: holds {have} seeds, --auto-seeds {auto_seeds} may need "
              f"{auto_seeds}: run the baseline with --seeds {auto_seeds}, or use `distbench gate`, "
              "which runs both sides")
    try:
        check_ignore(ignore, itertools.chain((config.to_dict() for _, config in suite.points),
                                             (r.get("config") or {} for r in runs if isinstance(r, dict))))
    except CompareError as exc:
        _fail(str(exc))


def _latest_out(suite_name: str) -> Path | None:
    """The newest results/<suite>/<stamp>/ holding results, for --resume without --out (not a
    hidden one: --overwrite writes beside the directory it replaces under a hidden name)."""
    from harness.execution.results import holds_results

    root = Path("results") / suite_name
    stamps = sorted((p for p in root.glob("*") if not p.name.startswith(".") and holds_results(p)),
                    key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    return stamps[-1] if stamps else None


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
        click.option("--allow-same-code", is_flag=True,
                     help="Accept two sides that ran the same code although they claim two versions "
                          "(different commits, e.g. a docs-only change); otherwise exit 3."),
        click.option("--allow-dirty", is_flag=True,
                     help="Accept a side run from uncommitted changes to simulating sources; otherwise exit 3."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _md_limit_options(command: Any) -> Any:
    """The options that cut the Markdown to fit a pull-request comment (``compare``, ``gate``)."""
    from harness.compare.cut import COMMENT_LIMIT

    command = click.option("--md-pointer", metavar="TEXT",
                           help="Where the full report is, said at the cut (default: the --md file, "
                                "else the JSON output and the job summary).")(command)
    command = click.option("--comment", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                           help="Write the Markdown cut to fit a pull-request comment here: at most "
                                f"--md-limit characters, {COMMENT_LIMIT:,} by default.")(command)
    return click.option("--md-limit", type=click.IntRange(min=1000), metavar="CHARS",
                        help="Cut the printed Markdown and the --comment file to at most CHARS "
                             "characters at a section or table row (a GitHub comment holds 65,536); "
                             "--md and $GITHUB_STEP_SUMMARY always get all of it.")(command)


def _check_comment(md: Path | None, comment: Path | None) -> None:
    """Refuse, before any work, a --comment that would overwrite the full report."""
    if comment is not None and md is not None and comment.resolve() == md.resolve():
        _fail(f"--comment {comment}: the same file as --md, which gets the full report; name another file")


def _parse_thresholds(items: tuple[str, ...]) -> dict:
    from harness.compare.policy import parse_threshold
    from harness.config import did_you_mean
    from harness.report.metrics import METRICS_BY_KEY

    out: dict = {}
    for item in items:
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        if not sep or not metric:
            _fail(f"--threshold {item}: expected METRIC=PERCENT, such as throughput_ops_s=3%")
        if metric not in METRICS_BY_KEY:
            _fail(f"--threshold {item}: unknown metric {metric!r}"
                  + did_you_mean(metric, list(METRICS_BY_KEY), list_all=False))
        if value.strip().lower() in ("off", "none", "null"):
            out[metric] = None
            continue
        try:
            out[metric] = parse_threshold(value)
        except ValueError as exc:
            _fail(f"--threshold {item}: {exc}")
    return out


def _judged(base: Path, new: Path, thresholds: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
            alpha: float | None = None, require_identical: bool | None = None,
            allow_same_code: bool = False, allow_dirty: bool = False, two_versions: bool = False,
            verified: bool = False, look_alpha: float | None = None) -> Any:
    """The comparison of NEW with BASE (a one-line error and exit 2 on bad input)."""
    from harness.compare import CompareError, gate

    try:
        return gate(base, new, _parse_thresholds(thresholds), ignore, alpha, require_identical,
                    allow_same_code, allow_dirty, two_versions, verified, look_alpha)
    except CompareError as exc:
        _fail(str(exc))


def _emit(result: Any, md: Path | None, json_path: Path | None, junit: Path | None,
          quiet: bool = False, quiet_unless_failing: bool = False, md_limit: int | None = None,
          md_pointer: str | None = None, comment: Path | None = None) -> int:
    """Print the Markdown (with ``quiet_unless_failing``, only when the gate does not pass), write
    the outputs; returns the exit code."""
    from harness.compare import write_outputs
    from harness.compare.provenance import blocking

    for finding in blocking(result.provenance):
        click.echo(f"compare: {finding.kind.upper()}: {finding.text}", err=True)
    try:
        written = write_outputs(result, md, json_path, junit, md_limit, md_pointer, comment)
    except OSError as exc:
        _fail(f"{getattr(exc, 'filename', None) or md}: cannot write the comparison ({exc.strerror or exc})")
    if not quiet or (quiet_unless_failing and result.exit_code != 0):
        click.echo(written["md_text"])
    click.echo(f"compare: {result.verdict} ({result.summary_line()}); exit {result.exit_code}", err=True)
    return result.exit_code


def _compare(base: Path, new: Path, md: Path | None, json_path: Path | None, junit: Path | None,
             quiet: bool = False, quiet_unless_failing: bool = False, md_limit: int | None = None,
             md_pointer: str | None = None, comment: Path | None = None, **judge: Any) -> int:
    """Compare NEW with BASE and emit the outputs; returns the exit code."""
    return _emit(_judged(base, new, **judge), md, json_path, junit, quiet, quiet_unless_failing,
                 md_limit, md_pointer, comment)


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
@click.option("--resume", is_flag=True,
              help="Continue an interrupted suite in --out (default: its newest results directory): "
                   "run only the runs with no result there.")
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), envvar="DISTBENCH_CACHE",
              help="Run cache directory: reuse any run with the same key (config, seed, code) "
                   "[env DISTBENCH_CACHE; default: none].")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: a process pool of --jobs workers; dask: a Dask cluster (a local one of "
                   "--jobs workers, or --scheduler's).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Address of a running Dask scheduler, e.g. tcp://host:8786 (implies --executor dask).")
@click.option("--time-limit", default="auto", show_default=True, metavar="DURATION|auto|off",
              help="Wall-clock limit per run (auto: 10x its estimate, at least 10 min).")
@click.option("--memory-limit", default="auto", show_default=True, metavar="SIZE|auto|off",
              help="Resident memory limit per run (auto: 80% of RAM shared by the parallel runs; "
                   "off with Dask).")
@click.option("--force", is_flag=True, help="Run even if the estimate says a run cannot fit this machine, "
                                            f"or the suite has more than {MAX_RUNS:,} runs.")
@click.option("--baseline", type=click.Path(path_type=Path),
              help="Then compare with this results directory (as `distbench compare BASELINE OUT`), "
                   "writing compare.md, compare.json and compare.xml into OUT; exit as compare does.")
@click.option("--auto-seeds", type=click.IntRange(min=2), metavar="MAX",
              help="With --baseline: while inconclusive, run more seeds (doubling, up to MAX; the "
                   "baseline must hold MAX) and look again, the error rate controlled across looks.")
@click.option("--live", is_flag=True, help="Run the nodes as real processes in real time (as mode: live; "
                                           "docs/live.md), one run at a time.")
@_gate_options
@_chart_options
def run(config: str | None, out: Path | None, overrides: tuple[str, ...], seeds: int | None,
        jobs: int, no_report: bool, quiet: bool, resume: bool, overwrite: bool, cache: Path | None,
        executor: str, scheduler: str | None, time_limit: str, memory_limit: str, force: bool,
        baseline: Path | None, auto_seeds: int | None, live: bool, no_subtitle: bool,
        figsize: str | None, font_scale: str | None, **gate: Any) -> None:
    """Run a suite (CONFIG, or the built-in quickstart when omitted) and write its results."""
    from harness.execution.estimate import physical_memory
    from harness.execution import provenance
    from harness.execution.executor import ExecutorError, Limits, run_suite
    from harness.execution.results import finished_runs, holds_results, staging_dir, swap_in
    from harness.execution.results import read_manifest
    from harness.units import parse_duration, parse_size

    kind = _build()
    if resume and overwrite:
        _fail("--resume and --overwrite: choose one")
    charts = _charts(no_subtitle, figsize, font_scale)
    suite = _load(config, (*overrides, "mode=live") if live else overrides, seeds, jobs, force)
    if any(spec.config.mode == "live" for spec in suite.runs()):
        jobs = 1  # live runs measure this machine: one at a time, never competing for its cores
    estimates = _guard(suite, jobs, force)
    if scheduler:
        executor = "dask"
    if executor == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            _fail("--executor dask: needs the dask extra: pip install 'distbench[dask]'")
    if out is None and resume:
        out = _latest_out(suite.name)
        if out is None:
            _fail(f"--resume: no results of suite {suite.name!r} under results/{suite.name}/ to resume; "
                  "name the directory with --out")
    out = out or _default_out(suite.name)
    _check_out(out, suite, resume, overwrite)
    if auto_seeds is not None and baseline is None:
        _fail("--auto-seeds: needs --baseline (or use `distbench gate`, which runs both sides)")
    looks = _looks(suite, auto_seeds, gate)
    if baseline is not None:
        _check_baseline(baseline, suite, gate.get("ignore") or (), auto_seeds)
    specs = suite.runs()
    parallel = max(1, min(jobs, len(specs)))
    longest = max(est.wall_s for _, est in estimates)
    limits = Limits(
        time=_limit(time_limit, "--time-limit", parse_duration, max(600.0, 10 * longest)),
        memory=_limit(memory_limit, "--memory-limit", parse_size,
                      None if executor == "dask" else max(2.0**30, 0.8 * physical_memory() / parallel)))
    if not quiet:
        click.echo(f"distbench: suite '{suite.name}' from {suite.source}: {_runs(len(specs))} -> {out} "
                   f"(build: {kind})", err=True)
    stats: dict[str, int] = {}
    # --overwrite writes beside the earlier results and swaps them only once every run is done.
    staged = staging_dir(out) if overwrite and holds_results(out) else None
    try:
        rows = run_suite(suite, staged or out, jobs=jobs, progress=not quiet, executor=executor,
                         scheduler=scheduler, resume=resume, cache=cache, limits=limits, stats=stats)
        if staged is not None:
            swap_in(staged, out)
    except KeyboardInterrupt:
        where = staged or out
        kept = f"{out} still holds the earlier results; " if staged is not None else ""
        click.echo(f"distbench: interrupted; {kept}the finished runs are in {where} "
                   f"(finish them with: distbench run ... --out {where} --resume)", err=True)
        sys.exit(130)
    except (ExecutorError, OSError) as exc:
        if staged is not None and not finished_runs(staged):
            shutil.rmtree(staged, ignore_errors=True)
        if isinstance(exc, ExecutorError):
            _fail(str(exc))
        _fail(f"{staged or out}: cannot write results: {exc.strerror or exc}")
    judged = None
    if baseline is not None:
        from harness.compare.sequential import decide

        def look(n: int, share: float) -> Any:
            nonlocal rows
            if n > suite.base.seeds:   # more seeds on this side; the finished ones are kept
                more = _load(config, overrides, n, jobs, force)
                rows = run_suite(more, out, jobs=jobs, progress=not quiet, executor=executor,
                                 scheduler=scheduler, resume=True, cache=cache, limits=limits)
            return _judged(baseline, out, look_alpha=share, **gate)

        judged, _ = decide(look, *looks)
    if not quiet and (stats.get("kept") or stats.get("cached")):
        click.echo(f"distbench: ran {stats['ran']} of {stats['runs']} runs ({stats['kept']} already in {out}, "
                   f"{stats['cached']} from the cache)", err=True)
    if not quiet:
        click.echo(_summary(rows, suite.swept, suite.compare))
    click.echo(f"results: {out}")
    foreign = provenance.foreign_code(read_manifest(out) or {})
    if foreign:
        click.echo(f"distbench: warning: {foreign}", err=True)
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
    code = 1 if bad else 0
    if judged is not None:
        compared = _emit(judged, out / "compare.md", out / "compare.json", out / "compare.xml",
                         quiet=quiet, quiet_unless_failing=True)
        code = 1 if bad else compared   # a safety violation is exit 1 whatever the comparison says
    sys.exit(code)


@main.command()
@click.argument("config")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="all cores", help="Parallel runs the time estimate assumes.")
@click.option("--force", is_flag=True, help="Do not refuse a suite whose runs cannot fit this machine, "
                                            f"or that has more than {MAX_RUNS:,} runs.")
def validate(config: str, overrides: tuple[str, ...], jobs: int, force: bool) -> None:
    """Check a suite without running it, and estimate what it will cost."""
    from harness.execution.estimate import count, duration, physical_memory, size

    suite = _load(config, overrides, None, jobs, force)
    estimates = _guard(suite, jobs, force)
    specs = suite.runs()
    protocols = sorted({s.config.protocol for s in specs})
    click.echo(f"{suite.source}: ok: suite '{suite.name}' ({suite.kind}), {_runs(len(specs))}, "
               f"protocols {', '.join(protocols)}, sweeping {', '.join(suite.swept) or 'nothing'}")
    click.echo(f"contenders: the values of {suite.compare}, each compared with {suite.reference}")
    click.echo("estimate per run (a model good to a small factor; see the README):")
    shown = estimates if len(estimates) <= 40 else estimates[:30]
    for point, est in shown:
        ids = point[0].run_id if len(point) == 1 else f"{point[0].run_id}..{point[-1].run_id.split('-')[-1]}"
        params = " ".join(f"{k}={v}" for k, v in point[0].params.items() if k != "protocol")
        click.echo(f"  {ids:<16} {point[0].config.protocol:<12} {params}  ~{count(est.ops)} ops, "
                   f"~{count(est.events)} events, ~{size(est.memory)}, ~{duration(est.wall_s)}")
    if len(shown) < len(estimates):
        point, est = max(estimates[len(shown):], key=lambda pe: pe[1].memory)
        click.echo(f"  ... {len(estimates) - len(shown)} more matrix points; the largest of them, {point[0].run_id}: "
                   f"~{count(est.ops)} ops, ~{count(est.events)} events, ~{size(est.memory)}, ~{duration(est.wall_s)}")
    total = sum(est.wall_s * len(point) for point, est in estimates)
    events = sum(est.events * len(point) for point, est in estimates)
    peak = max(est.memory for _, est in estimates)
    parallel = max(1, min(jobs, len(specs)))
    click.echo(f"suite: {_runs(len(specs))}, ~{count(events)} events, ~{duration(total / parallel)} on {parallel} "
               f"core{'s' if parallel > 1 else ''}, up to ~{size(peak)} per run "
               f"(~{size(peak * parallel)} with {parallel} in parallel; this machine has {size(physical_memory())})")


@main.command()
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--md", type=click.Path(dir_okay=False, path_type=Path), help="Write the full Markdown report here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the comparison as JSON here.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write JUnit XML here (one test case per point and metric, and per run's safety).")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the Markdown.")
@_md_limit_options
@_gate_options
def compare(base: Path, new: Path, md: Path | None, json_path: Path | None, junit: Path | None,
            quiet: bool, **gate: Any) -> None:
    """Compare two results directories of one suite (BASE, e.g. main; NEW, e.g. a pull request).

    Exit 0: no regression; 1: a regression or a new safety failure; 2: bad input; 3: not
    comparable or not enough evidence."""
    _check_comment(md, gate.get("comment"))
    sys.exit(_compare(base, new, md, json_path, junit, quiet=quiet, **gate))


@main.command(name="gate")
@click.argument("suite_path", metavar="SUITE")
@click.option("--base", "ref", required=True, metavar="REF",
              help="The commit to compare the working tree with (a branch, tag or commit id).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where both sides' results go: OUT/base and OUT/head (default: results/<suite>/<timestamp>/).")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a config key on both sides (repeatable).")
@click.option("--seeds", type=click.IntRange(min=1), help="Number of seeds per matrix point, on both sides.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="all cores", help="Runs executed in parallel processes, per side.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), envvar="DISTBENCH_CACHE",
              help="Run cache shared by both sides (an unchanged base costs nothing the second time); "
                   "base environments go in its envs/ [env DISTBENCH_CACHE].")
@click.option("--overwrite", is_flag=True, help="Replace results already in OUT/base and OUT/head.")
@click.option("--md", type=click.Path(dir_okay=False, path_type=Path), help="Write the full Markdown report here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the comparison as JSON here.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the Markdown.")
@click.option("--auto-seeds", type=click.IntRange(min=2), metavar="MAX",
              help="While inconclusive, run more seeds on both sides (doubling, up to MAX) and look "
                   "again; the error rate stays controlled across the looks (linear alpha spending).")
@_md_limit_options
@_gate_options
def gate_(suite_path: str, ref: str, out: Path | None, overrides: tuple[str, ...], seeds: int | None,
          jobs: int, cache: Path | None, overwrite: bool, md: Path | None, json_path: Path | None,
          junit: Path | None, quiet: bool, auto_seeds: int | None, md_limit: int | None,
          md_pointer: str | None, comment: Path | None, **gate: Any) -> None:
    """Run SUITE on commit REF (checked out into a temporary git worktree, with its own code) and on
    the working tree, and compare them as `compare` does.

    Exit codes as compare's: 0 no regression; 1 a regression or a new safety failure; 2 bad input;
    3 not comparable, not enough evidence, or both sides ran the same code."""
    from harness.compare.commits import GateError, TwoCommits, repository
    from harness.compare.sequential import decide
    from harness.execution.results import holds_results

    _check_comment(md, comment)
    suite = _load(suite_path, overrides, seeds)
    out = out or _default_out(suite.name)
    for role in ("base", "head"):
        side = out / role
        if side.is_dir() and any(side.iterdir()) and not (overwrite and holds_results(side)):
            what = "already holds results" if holds_results(side) else "is not empty and holds no results"
            _fail(f"--out {out}: {side} {what}; choose another --out"
                  + (" or pass --overwrite" if holds_results(side) else ""))
        if side.exists() and not side.is_dir():
            _fail(f"--out {out}: {side} is not a directory")
    looks = _looks(suite, auto_seeds, gate)
    try:
        with TwoCommits(repository(Path.cwd()), ref, Path(suite_path), out, overrides=overrides, jobs=jobs,
                        cache=cache, overwrite=overwrite) as two:
            def look(n: int, share: float) -> Any:
                for role in ("base", "head"):
                    two.run_side(role, n)
                return _judged(out / "base", out / "head", two_versions=True, verified=two.verified,
                               look_alpha=share, **gate)

            result, _ = decide(look, *looks)
    except GateError as exc:
        click.echo(f"distbench: error: {exc}", err=True)
        sys.exit(exc.code)
    except KeyboardInterrupt:
        click.echo(f"distbench: interrupted; the finished runs are in {out}", err=True)
        sys.exit(130)
    sys.exit(_emit(result, md, json_path, junit, quiet, False, md_limit, md_pointer, comment))


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


@main.group()
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
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{history_file}: cannot write the history ({exc.strerror or exc})")
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

    return dict(DEFAULT_POLICY.with_overrides(_parse_thresholds(items)).thresholds)


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
        _fail(f"--out {out}: expected a .png or .svg file")
    try:
        path = plot(history_file, out, metrics, _drift_thresholds(thresholds), log, alpha, min_size)
    except CompareError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{out}: cannot write the chart ({exc.strerror or exc})")
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
        _fail(f"--within {within}: expected at least --min-size ({min_size}), the fewest entries of a new segment")
    limits = _drift_thresholds(thresholds)
    try:
        entries = load(history_file)
        metrics = chosen_metrics(entries, history_file, metrics, tuple(limits))
    except CompareError as exc:
        _fail(str(exc))
    findings, checked = check(entries, metrics, limits, alpha, min_size, within)
    for finding in findings:
        click.echo(finding.line(entries))
    worse = sum(f.shift.verdict == WORSE for f in findings)
    click.echo(f"history check: {checked} series ({len(metrics)} metrics) over {len(entries)} entries: "
               f"{worse} worse, {len(findings) - worse} better in the newest {within} entries")
    sys.exit(1 if worse else 0)


@main.command(name="check")
@click.argument("history_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", required=True, type=click.Choice(["register", "cas-register", "kv"]),
              help="The object the history is of: one register (read, write), one cas-register "
                   "(and cas [expected new]), or a register per key (kv).")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "jepsen-edn", "porcupine", "distbench"]),
              help="jepsen-edn (Jepsen's history.edn), porcupine (the Jepsen log Porcupine reads) "
                   "or distbench (distbench export --format distbench); auto tells them apart.")
@click.option("--time-limit", default="off", show_default=True, metavar="DURATION|off",
              help="Give up after this long (e.g. 30s): the verdict is then unknown (exit 3).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="For an invalid history, write a timeline of the smallest window to this file.")
def check_(history_file: Path, model: str, fmt: str, time_limit: str, html_out: Path | None) -> None:
    """Check that HISTORY_FILE is linearizable. Exit 0 valid, 1 invalid (the smallest window of
    operations that cannot be linearized is printed), 2 bad input, 3 unknown within the time
    limit."""
    from harness.checkers import external
    from harness.checkers.formats import HistoryError
    from harness.units import parse_duration

    limit = _limit(time_limit, "--time-limit", parse_duration, None)
    if html_out is not None and html_out.exists():
        _fail(f"--html: {html_out} exists; name a new file")
    try:
        imported = external.load(history_file, fmt, model)
    except HistoryError as exc:
        _fail(str(exc))
    verdict = external.check(imported, limit)
    result = verdict.result
    n = len(imported.history)
    if result.status == "ok":
        click.echo(f"valid: {n} operations are linearizable ({model})")
        sys.exit(0)
    if result.status == "unknown":
        click.echo(f"unknown: {result.detail}")
        sys.exit(3)
    window = verdict.window or []
    click.echo(f"invalid: {n} operations are not linearizable ({model}); "
               + (f"these {len(window)} cannot be linearized together" if len(window) > 1
                  else "this one cannot be linearized")
               + ("" if verdict.minimal else " (time ran out before the window was minimal)")
               + ":")
    for i in window:
        click.echo(f"  {imported.show(i)}")
    if html_out is not None:
        try:
            html_out.write_text(external.html(verdict, f"{history_file.name}: not linearizable"))
        except OSError as exc:
            _fail(f"--html: cannot write {html_out} ({exc.strerror or exc})")
        click.echo(f"timeline: {html_out}")
    sys.exit(1)


@main.command()
@click.argument("protocol_name", metavar="PROTOCOL")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), envvar="DISTBENCH_DATA",
              help="Directory of the node's durable log, kept across restarts [env DISTBENCH_DATA; "
                   "default: a temporary one, removed at exit].")
@click.option("--seed", type=click.IntRange(min=0), default=1, envvar="DISTBENCH_SEED", show_default=True,
              help="Seed of the node's random stream [env DISTBENCH_SEED].")
@click.option("--options", metavar="JSON", envvar="DISTBENCH_OPTIONS",
              help='Protocol and replication options, e.g. \'{"replication": {"heartbeat": 0.05}}\' '
                   "(seconds) [env DISTBENCH_OPTIONS].")
@click.option("--observe", is_flag=True, envvar="DISTBENCH_OBSERVE",
              help="Also write the node's observations (elected, applied) to stderr for the checkers "
                   "[env DISTBENCH_OBSERVE].")
def node(protocol_name: str, data: Path | None, seed: int, options: str | None, observe: bool) -> None:
    """Run one node of a consensus PROTOCOL on stdin/stdout, speaking Maelstrom's node protocol
    and its lin-kv workload (as `distbench run --live` and Maelstrom run it)."""
    from harness.live.node_main import NodeError, run as run_node

    try:
        run_node(protocol_name, options, data, seed, observe)
    except NodeError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(130)


@main.command(name="export")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_id", required=False)
@click.option("--format", "fmt", default="jepsen-edn", show_default=True,
              type=click.Choice(["jepsen-edn", "distbench"]),
              help="jepsen-edn for Knossos, Porcupine or Elle; distbench keeps exact times.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (a new file) instead of to standard output.")
def export(results_dir: Path, run_id: str | None, fmt: str, out: Path | None) -> None:
    """Write the operation history of a consensus run of RESULTS_DIR (replayed from its
    manifest; RUN_ID may be left out when the directory holds one run)."""
    from harness.checkers import external
    from harness.checkers.formats import HistoryError

    if out is not None and out.exists():
        _fail(f"--out: {out} exists; name a new file")
    try:
        run_id, history = external.replay(results_dir, run_id)
    except HistoryError as exc:
        _fail(str(exc))
    text = external.write(history, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text)
    except OSError as exc:
        _fail(f"--out: cannot write {out} ({exc.strerror or exc})")
    click.echo(f"export: run {run_id}: {len(history)} operations -> {out}", err=True)
