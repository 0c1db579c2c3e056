"""``distbench run``: run a suite (or resume one) into a results directory, print its summary,
write its report, and with ``--baseline`` compare it as ``compare`` does.

A safety violation ends it with exit status 1, after every result has been written."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from harness.cli.common import build_kind, fail, guard, load, parse_limit
from harness.cli.compare import emit, gate_options, judged, seed_looks
from harness.cli.report import chart_options, charts_from
from harness.execution.estimate import MAX_RUNS


def _check_baseline(baseline: Path, suite: Any, ignore: tuple[str, ...], auto_seeds: int | None) -> None:
    """``--baseline``: a missing baseline, an unknown --ignore key or a baseline with fewer
    seeds than ``--auto-seeds`` may ask for is refused before any run starts, not after."""
    from harness.compare import CompareError
    from harness.compare.sides import check_ignore
    from harness.execution.reader import holds_results, read_manifest

    if not holds_results(baseline):
        what = "no such directory" if not baseline.exists() else "no manifest.json written by distbench run"
        fail(f"--baseline {baseline}: not a results directory ({what})")
    manifest = read_manifest(baseline) or {}
    runs = manifest.get("runs") or []
    have = len(manifest.get("seeds") or [])
    if auto_seeds is not None and have < auto_seeds:
        fail(f"--baseline {baseline}: holds {have} seeds, --auto-seeds {auto_seeds} may need "
             f"{auto_seeds}: run the baseline with --seeds {auto_seeds}, or use `distbench gate`, "
             "which runs both sides")
    try:
        check_ignore(ignore, itertools.chain((config.to_dict() for _, config in suite.points),
                                             (r.get("config") or {} for r in runs if isinstance(r, dict))))
    except CompareError as exc:
        fail(str(exc))


@click.command()
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
@gate_options
@chart_options
def run(config: str | None, out: Path | None, overrides: tuple[str, ...], seeds: int | None,
        jobs: int, no_report: bool, quiet: bool, resume: bool, overwrite: bool, cache: Path | None,
        executor: str, scheduler: str | None, time_limit: str, memory_limit: str, force: bool,
        baseline: Path | None, auto_seeds: int | None, live: bool, no_subtitle: bool,
        figsize: str | None, font_scale: str | None, **gate: Any) -> None:
    """Run a suite (CONFIG, or the built-in quickstart when omitted) and write its results."""
    from harness.units import parse_duration, parse_size
    from harness.execution import provenance
    from harness.execution.estimate import physical_memory, runs_text
    from harness.execution.executor import ExecutorError, Limits, run_suite
    from harness.execution.outdir import default_out, latest_out, out_refusal
    from harness.execution.reader import holds_results, read_manifest
    from harness.execution.results import finished_runs, staging_dir, swap_in

    kind = build_kind()
    if resume and overwrite:
        fail("--resume and --overwrite: choose one")
    charts = charts_from(no_subtitle, figsize, font_scale)
    suite = load(config, (*overrides, "mode=live") if live else overrides, seeds, jobs, force)
    if any(spec.config.mode == "live" for spec in suite.runs()):
        jobs = 1  # live runs measure this machine: one at a time, never competing for its cores
    estimates = guard(suite, force)
    if scheduler:
        executor = "dask"
    if executor == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            fail("--executor dask: needs the dask extra: pip install 'distbench[dask]'")
    if out is None and resume:
        out = latest_out(suite.name)
        if out is None:
            fail(f"--resume: no results of suite {suite.name!r} under results/{suite.name}/ to resume; "
                 "name the directory with --out")
    out = out or default_out(suite.name)
    why = out_refusal(out, suite, resume, overwrite)
    if why:
        fail(f"--out {out}: {why}")
    if auto_seeds is not None and baseline is None:
        fail("--auto-seeds: needs --baseline (or use `distbench gate`, which runs both sides)")
    looks = seed_looks(suite, auto_seeds, gate)
    if baseline is not None:
        _check_baseline(baseline, suite, gate.get("ignore") or (), auto_seeds)
    specs = suite.runs()
    parallel = max(1, min(jobs, len(specs)))
    longest = max(est.wall_s for _, est in estimates)
    limits = Limits(
        time=parse_limit(time_limit, "--time-limit", parse_duration, max(600.0, 10 * longest)),
        memory=parse_limit(memory_limit, "--memory-limit", parse_size,
                            None if executor == "dask" else max(2.0**30, 0.8 * physical_memory() / parallel)))
    if not quiet:
        click.echo(f"distbench: suite '{suite.name}' from {suite.source}: {runs_text(len(specs))} -> {out} "
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
            fail(str(exc))
        fail(f"{staged or out}: cannot write results: {exc.strerror or exc}")
    comparison = None
    if baseline is not None:
        from harness.compare.sequential import decide

        def look(n: int, share: float) -> Any:
            nonlocal rows
            if n > suite.base.seeds:   # more seeds on this side; the finished ones are kept
                more = load(config, overrides, n, jobs, force)
                rows = run_suite(more, out, jobs=jobs, progress=not quiet, executor=executor,
                                 scheduler=scheduler, resume=True, cache=cache, limits=limits)
            return judged(baseline, out, look_alpha=share, **gate)

        comparison, _ = decide(look, *looks)
    if not quiet and (stats.get("kept") or stats.get("cached")):
        click.echo(f"distbench: ran {stats['ran']} of {stats['runs']} runs ({stats['kept']} already in {out}, "
                   f"{stats['cached']} from the cache)", err=True)
    if not quiet:
        from harness.report.console import run_table

        click.echo(run_table(rows, suite.swept, suite.compare))
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
    for r in rows:  # a live run's nodes wrote what could not be routed: ignored, the run went on
        junk = (int(float(r.get("malformed_messages") or 0)), int(float(r.get("misaddressed_messages") or 0)))
        if any(junk):
            click.echo(f"distbench: warning: {r['run_id']} ({r['protocol']}): its nodes wrote {junk[0]} "
                       f"malformed line(s) and {junk[1]} message(s) to unknown nodes (ignored; "
                       "malformed_messages, misaddressed_messages in runs.csv)", err=True)
    if bad:
        for r in bad:
            click.echo(f"distbench: SAFETY {r['run_id']} ({r['protocol']}): {r['safety']}", err=True)
    code = 1 if bad else 0
    if comparison is not None:
        compared = emit(comparison, out / "compare.md", out / "compare.json", out / "compare.xml",
                        quiet=quiet, quiet_unless_failing=True)
        code = 1 if bad else compared   # a safety violation is exit 1 whatever the comparison says
    sys.exit(code)


