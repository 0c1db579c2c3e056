"""Comparison reports: tables and charts from a results directory written by ``distbench run``.

    from harness.report import write_report, ReportError
    paths = write_report(Path("results/raft-vs-paxos/20250101-120000"))
    paths["html"], paths["md"], paths["summary"]  # report.html, report.md, summary.csv
    paths["charts"]                               # [charts/*.png, *.svg]
    write_report(path, charts=ChartOptions(subtitle=False, figsize=(6, 4), font_scale=1.2))

``write_report`` raises :class:`ReportError` (a one-line message naming the file and the problem)
for a results directory it cannot use; nothing else is expected to escape it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from .errors import ReportError
from .options import ChartOptions

__all__ = ["write_report", "ReportError", "ChartOptions", "FORMATS", "parse_figsize", "parse_font_scale"]

FORMATS = ("html", "md")
_ALIASES = {"html": "html", "htm": "html", "md": "md", "markdown": "md"}
log = logging.getLogger(__name__)


def _formats(formats: Sequence[str] | str) -> list[str]:
    if isinstance(formats, str):
        formats = [formats]
    out: list[str] = []
    for item in formats:
        for f in str(item).split(","):
            f = f.strip().lower()
            if not f:
                continue
            if f not in _ALIASES:
                raise ReportError(f"unknown report format {f!r} (expected one of: html, md)")
            if _ALIASES[f] not in out:
                out.append(_ALIASES[f])
    if not out:
        raise ReportError("no report format given (expected one or more of: html, md)")
    return out


def parse_figsize(text: str) -> tuple[float, float]:
    """``"6x4"`` (inches) -> (6.0, 4.0); a :class:`ReportError` for anything else."""
    w, sep, h = str(text).lower().partition("x")
    try:
        size = (float(w), float(h)) if sep else None
    except ValueError:
        size = None
    if size is None or not all(2.0 <= v <= 40.0 for v in size):
        raise ReportError(f"--figsize: expected WIDTHxHEIGHT in inches, each from 2 to 40, such as 6x4, got {text!r}")
    return size


def parse_font_scale(value: float | str) -> float:
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = float("nan")
    if not 0.5 <= scale <= 3.0:
        raise ReportError(f"--font-scale: expected a number from 0.5 to 3, such as 1.2, got {value!r}")
    return scale


def write_report(results_dir: Path | str, out_dir: Path | str | None = None,
                 formats: Sequence[str] | str = FORMATS, charts: ChartOptions | None = None) -> dict:
    """Write ``report.html`` / ``report.md``, ``summary.csv`` and ``charts/*.png|svg`` for
    ``results_dir``; ``charts`` sets how charts are drawn (subtitle, size, font scale).

    ``out_dir`` defaults to ``results_dir``. Returns ``{"html": Path, "md": Path, "summary": Path,
    "charts": [Path, ...]}`` (only the formats asked for; summary.csv and the chart files are always
    written, PNG then SVG per chart).
    """
    from .charts import CHART_NAMES, make_charts
    from .document import build_document
    from .html import render_html
    from .load import load_results
    from .markdown import render_markdown
    from .summary import write_summary

    fmts = _formats(formats)
    results_dir = Path(results_dir)
    out = Path(out_dir) if out_dir is not None else results_dir
    res = load_results(results_dir)
    charts_dir = out / "charts"
    try:
        charts_dir.mkdir(parents=True, exist_ok=True)
        for name in CHART_NAMES:  # charts of an earlier report that this one may not draw
            for suffix in (".png", ".svg"):
                stale = charts_dir / f"{name}{suffix}"
                if stale.exists():
                    stale.unlink()
    except OSError as exc:
        raise ReportError(f"{charts_dir}: cannot write the report here ({exc.strerror or exc})") from None
    options = charts
    try:
        paths: dict = {"summary": write_summary(res, out / "summary.csv")}
        charts = make_charts(res, charts_dir, options)
        doc = build_document(res, charts)
        if "html" in fmts:
            paths["html"] = out / "report.html"
            paths["html"].write_text(render_html(doc), encoding="utf-8")
        if "md" in fmts:
            paths["md"] = out / "report.md"
            paths["md"].write_text(render_markdown(doc, paths["md"]), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{getattr(exc, 'filename', None) or out}: cannot write the report "
                          f"({exc.strerror or exc})") from None
    paths["charts"] = [f for c in charts for f in c.files]
    for note in res.notes:
        log.info("%s", note)
    return paths
