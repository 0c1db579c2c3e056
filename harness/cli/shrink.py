"""``distbench shrink``: reduce a failing run to the smallest run that still fails the same check."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import fail, parse_limit


@click.command(name="shrink")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.argument("run_id")
@click.option("--out", type=click.Path(path_type=Path),
              help="A new directory for the result (default: RESULTS_DIR-shrink-RUN_ID beside it).")
@click.option("--time-limit", default="10m", show_default=True, metavar="DURATION|off",
              help="Stop after this long (wall clock) and write the smallest failing run found so far.")
@click.option("--allow-other-code", is_flag=True,
              help="Try even when the run was simulated by other distbench code than this one.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def shrink(results_dir: Path, run_id: str, out: Path | None, time_limit: str, allow_other_code: bool,
           quiet: bool) -> None:
    """Re-run the failing run RUN_ID of RESULTS_DIR and shrink it -- its faults (delta debugging
    over the faults it injected), its duration, clients and cluster size -- keeping only what
    still fails the same check. Writes the smallest failing suite (suite.yaml), its history and
    results, and an account. Exit 0 when the written suite fails the same check, 1 when it does
    not, 2 when the run cannot be shrunk (it passed, it does not fail again, bad input)."""
    from harness.shrink import ShrinkError, failing_run
    from harness.shrink import shrink as shrink_run
    from harness.units import parse_duration

    limit = parse_limit(time_limit, "--time-limit", parse_duration, None)
    if out is None:
        results_dir = results_dir.resolve()
        out = results_dir.with_name(f"{results_dir.name}-shrink-{run_id}")
        k = 2
        while out.exists():
            out = results_dir.with_name(f"{results_dir.name}-shrink-{run_id}-{k}")
            k += 1
    try:
        source = failing_run(results_dir, run_id, allow_other_code)
        outcome = shrink_run(source, out, limit, progress=not quiet)
    except ShrinkError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"--out {out}: cannot write ({exc.strerror or exc})")
    for line in outcome.account:
        click.echo(line)
    click.echo(f"shrunk: {out}")
    sys.exit(0 if outcome.reproduced else 1)
