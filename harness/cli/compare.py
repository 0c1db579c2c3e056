"""``distbench compare`` (two results directories) and ``distbench gate`` (a suite run on two
commits), and the gate's options and outputs, which ``run --baseline`` shares.

Exit 0: no regression; 1: a regression or a new safety failure; 2: bad input; 3: not comparable
or not enough evidence."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from harness.cli.common import fail, load


def gate_options(command: Any) -> Any:
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


def md_limit_options(command: Any) -> Any:
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


def check_comment(md: Path | None, comment: Path | None) -> None:
    """Refuse, before any work, a --comment that would overwrite the full report."""
    if comment is not None and md is not None and comment.resolve() == md.resolve():
        fail(f"--comment {comment}: the same file as --md, which gets the full report; name another file")


def parse_thresholds(items: tuple[str, ...]) -> dict:
    """``--threshold METRIC=PCT`` options as {metric: threshold, or None for ``off``}."""
    from harness.compare.policy import parse_threshold
    from harness.catalog.metrics import METRICS_BY_KEY
    from harness.suite.errors import did_you_mean

    out: dict = {}
    for item in items:
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        if not sep or not metric:
            fail(f"--threshold {item}: expected METRIC=PERCENT, such as throughput_ops_s=3%")
        if metric not in METRICS_BY_KEY:
            fail(f"--threshold {item}: unknown metric {metric!r}"
                 + did_you_mean(metric, list(METRICS_BY_KEY), list_all=False))
        if value.strip().lower() in ("off", "none", "null"):
            out[metric] = None
            continue
        try:
            out[metric] = parse_threshold(value)
        except ValueError as exc:
            fail(f"--threshold {item}: {exc}")
    return out


def judged(base: Path, new: Path, thresholds: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
           alpha: float | None = None, require_identical: bool | None = None,
           allow_same_code: bool = False, allow_dirty: bool = False, two_versions: bool = False,
           verified: bool = False, look_alpha: float | None = None) -> Any:
    """The comparison of NEW with BASE (a one-line error and exit 2 on bad input)."""
    from harness.compare import CompareError, gate

    try:
        return gate(base, new, parse_thresholds(thresholds), ignore, alpha, require_identical,
                    allow_same_code, allow_dirty, two_versions, verified, look_alpha)
    except CompareError as exc:
        fail(str(exc))


def emit(result: Any, md: Path | None, json_path: Path | None, junit: Path | None,
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
        fail(f"{getattr(exc, 'filename', None) or md}: cannot write the comparison ({exc.strerror or exc})")
    if not quiet or (quiet_unless_failing and result.exit_code != 0):
        click.echo(written["md_text"])
    click.echo(f"compare: {result.verdict} ({result.summary_line()}); exit {result.exit_code}", err=True)
    return result.exit_code


def seed_looks(suite, auto_seeds: int | None, gate: dict[str, Any]) -> tuple[int, int, float]:
    """The seeds of the first look, the most seeds ``--auto-seeds`` allows, and the error rate to
    spend over the looks (the ``--alpha`` given, else the suite's)."""
    first = suite.base.seeds
    if auto_seeds is not None and auto_seeds < first:
        fail(f"--auto-seeds {auto_seeds}: expected at least the suite's {first} seeds")
    return first, auto_seeds or first, gate.get("alpha") or suite.base.gate.alpha


@click.command()
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--md", type=click.Path(dir_okay=False, path_type=Path), help="Write the full Markdown report here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the comparison as JSON here.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write JUnit XML here (one test case per point and metric, and per run's safety).")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the Markdown.")
@md_limit_options
@gate_options
def compare(base: Path, new: Path, md: Path | None, json_path: Path | None, junit: Path | None,
            quiet: bool, md_limit: int | None, md_pointer: str | None, comment: Path | None,
            **gate: Any) -> None:
    """Compare two results directories of one suite (BASE, e.g. main; NEW, e.g. a pull request).

    Exit 0: no regression; 1: a regression or a new safety failure; 2: bad input; 3: not
    comparable or not enough evidence."""
    check_comment(md, comment)
    sys.exit(emit(judged(base, new, **gate), md, json_path, junit, quiet, False, md_limit, md_pointer, comment))


@click.command(name="gate")
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
@md_limit_options
@gate_options
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
    from harness.execution.outdir import default_out, side_refusal

    check_comment(md, comment)
    suite = load(suite_path, overrides, seeds)
    out = out or default_out(suite.name)
    for role in ("base", "head"):
        why = side_refusal(out / role, overwrite)
        if why:
            fail(f"--out {out}: {why}")
    looks = seed_looks(suite, auto_seeds, gate)
    try:
        with TwoCommits(repository(Path.cwd()), ref, Path(suite_path), out, overrides=overrides, jobs=jobs,
                        cache=cache, overwrite=overwrite) as two:
            def look(n: int, share: float) -> Any:
                for role in ("base", "head"):
                    two.run_side(role, n)
                return judged(out / "base", out / "head", two_versions=True, verified=two.verified,
                              look_alpha=share, **gate)

            result, _ = decide(look, *looks)
    except GateError as exc:
        click.echo(f"distbench: error: {exc}", err=True)
        sys.exit(exc.code)
    except KeyboardInterrupt:
        click.echo(f"distbench: interrupted; the finished runs are in {out}", err=True)
        sys.exit(130)
    sys.exit(emit(result, md, json_path, junit, quiet, False, md_limit, md_pointer, comment))

