"""The ``distbench`` command: run, validate, list, report, compare, gate, history, check, export,
node, calibrate.

User mistakes (a bad config, a missing results directory) end with a one-line message on stderr
and exit status 2, never a traceback. A safety violation ends ``run`` with exit status 1, after
every result has been written. ``compare`` exits 0 (no regression), 1 (a regression or a new
safety failure), 2 (bad input) or 3 (not comparable, or not enough evidence).

Each command group is a module of this package holding its options and the calls into the
modules that do the work; this one only gathers them.
"""

from __future__ import annotations

import click

from harness import __version__
from harness.cli.calibrate import calibrate
from harness.cli.check import check_, export
from harness.cli.common import build_kind
from harness.cli.compare import compare, gate_
from harness.cli.history import history
from harness.cli.node import node
from harness.cli.plan import list_, validate
from harness.cli.report import report
from harness.cli.run import run
from harness.cli.shrink import shrink


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"distbench, version {__version__} (build: {build_kind()})")
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version and the build (pure or compiled) and exit.")
def main() -> None:
    """Benchmark and compare distributed protocols in deterministic simulation."""


for _command in (run, validate, list_, report, compare, gate_, history, check_, export, node):
    main.add_command(_command)
main.add_command(shrink)
main.add_command(calibrate)
