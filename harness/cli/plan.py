"""Before a run: ``distbench list`` (what can be run) and ``distbench validate`` (whether a suite
is valid and what it will cost)."""

from __future__ import annotations

import os

import click

from harness.cli.common import guard, load
from harness.execution.estimate import MAX_RUNS


@click.command(name="list")
def list_() -> None:
    """Print the registered protocols, workloads, distributions and fault kinds."""
    from harness.catalog.listing import describe

    click.echo(describe())


@click.command()
@click.argument("config")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="all cores", help="Parallel runs the time estimate assumes.")
@click.option("--force", is_flag=True, help="Do not refuse a suite whose runs cannot fit this machine, "
                                            f"or that has more than {MAX_RUNS:,} runs.")
def validate(config: str, overrides: tuple[str, ...], jobs: int, force: bool) -> None:
    """Check a suite without running it, and estimate what it will cost."""
    from harness.execution.estimate import plan, runs_text

    suite = load(config, overrides, None, jobs, force)
    estimates = guard(suite, force)
    specs = suite.runs()
    protocols = sorted({s.config.protocol for s in specs})
    click.echo(f"{suite.source}: ok: suite '{suite.name}' ({suite.kind}), {runs_text(len(specs))}, "
               f"protocols {', '.join(protocols)}, sweeping {', '.join(suite.swept) or 'nothing'}")
    click.echo(f"contenders: the values of {suite.compare}, each compared with {suite.reference}")
    for line in plan(estimates, jobs):
        click.echo(line)
