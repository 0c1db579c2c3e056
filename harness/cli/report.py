"""``distbench report``: report.html / report.md, summary.csv and charts for a results directory;
and the chart options, which ``run`` shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.cli.common import fail


def chart_options(command: Any) -> Any:
    """The report's chart options, shared by ``run`` and ``report``."""
    command = click.option("--font-scale", default=None, metavar="X",
                           help="Multiply every chart font size (0.5 to 3).")(command)
    command = click.option("--figsize", default=None, metavar="WxH",
                           help="Size of every chart in inches, e.g. 6x4.")(command)
    return click.option("--no-subtitle", is_flag=True,
                        help="Charts without the subtitle naming the fixed setting and method.")(command)


def charts_from(no_subtitle: bool, figsize: str | None, font_scale: str | None) -> Any:
    """ChartOptions from the command line; a bad value is a one-line error (exit 2)."""
    from harness.report import ChartOptions, ReportError, parse_figsize, parse_font_scale

    try:
        return ChartOptions(subtitle=not no_subtitle,
                            figsize=parse_figsize(figsize) if figsize is not None else None,
                            font_scale=parse_font_scale(font_scale) if font_scale is not None else 1.0)
    except ReportError as exc:
        fail(str(exc))


@click.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the report (default: RESULTS_DIR).")
@click.option("--format", "formats", default="html,md", show_default=True,
              help="Comma-separated: html, md.")
@chart_options
def report(results_dir: Path, out: Path | None, formats: str, no_subtitle: bool, figsize: str | None,
           font_scale: str | None) -> None:
    """Write report.html / report.md, summary.csv and charts for a results directory."""
    from harness.report import ReportError, write_report

    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in ("html", "md")]
    if unknown or not wanted:
        fail(f"--format: expected a comma-separated subset of html,md, got {formats!r}")
    charts = charts_from(no_subtitle, figsize, font_scale)
    try:
        paths = write_report(results_dir, out, wanted, charts=charts)
    except ReportError as exc:
        fail(str(exc))
    for fmt in wanted:
        click.echo(f"{fmt}: {paths[fmt]}")
    click.echo(f"summary: {paths['summary']}")

