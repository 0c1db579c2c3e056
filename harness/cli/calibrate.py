"""``distbench calibrate``: this machine's costs for the simulator's cost model, measured on
the live host (docs/fidelity.md)."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.common import fail


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the cost-model fragment (a suite's cluster keys) to this file "
                   "[default: standard output]; an existing file is never replaced.")
@click.option("--quick", is_flag=True, help="A few hundred messages, one repetition: checks the "
                                            "machinery in a second or two, the figures are rough.")
def calibrate(out: Path | None, quick: bool) -> None:
    """Measure the live host's CPU per message received and sent, per byte, the fsync time and
    the time a message spends relayed through the harness on this machine, and print them as a
    suite's cluster cost model."""
    from harness.live import calibrate as cal

    if out is not None and out.exists():
        fail(f"--out {out}: already exists; choose another file or remove it")
    if out is not None and not out.parent.is_dir():
        fail(f"--out {out}: no directory {out.parent}")
    settings = cal.QUICK if quick else cal.Settings()
    try:
        figures = cal.calibrate(settings)
    except (OSError, RuntimeError) as exc:
        fail(f"calibrate: {exc}")
    text = cal.fragment(figures, settings)
    if out is None:
        click.echo(text, nl=False)
    else:
        try:
            with out.open("x") as f:
                f.write(text)
        except OSError as exc:
            fail(f"--out {out}: cannot write: {exc.strerror or exc}")
        click.echo(f"calibration: {out}", err=True)
    click.echo(f"use: distbench run SUITE {cal.set_flags(figures)}", err=True)
