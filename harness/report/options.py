"""How charts are drawn, as the command line sets it: a module of its own so that naming the
options (``harness.report.ChartOptions``) does not import matplotlib and seaborn, which only
drawing needs (``distbench run`` without a report never loads them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartOptions:
    """How charts are drawn: ``subtitle`` False drops the line naming the fixed setting and the
    method (for a paper, whose caption says it); ``figsize`` (width, height in inches) sets every
    chart's size, header included; ``font_scale`` multiplies every font size."""

    subtitle: bool = True
    figsize: tuple[float, float] | None = None
    font_scale: float = 1.0
