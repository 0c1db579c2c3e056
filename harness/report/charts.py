"""Charts chosen from what the matrix sweeps, drawn with seaborn on the Agg backend.

Every chart is a :class:`Chart`: a PNG (embedded in the HTML, linked from the Markdown) and an SVG
next to it. The x axis is the first numeric swept parameter; further swept parameters become
small multiples (one column per value). Colours come from :mod:`palette`, so a protocol has the
same colour in every chart of every report. Bands and error bars are the same 95% Student-t
intervals the tables use.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable

import numpy as np
import seaborn as sns
from matplotlib.patches import Patch

from .failover_cdf import failover_cdf_chart
from .failures import failover_chart, panel_title, timeline_chart
from .figure import (PANEL_H, PANEL_W, Chart, ChartOptions, Ctx, bottom_of_column, category_ticks, figure,
                     MAX_COLS, header, hide_unused, log_label, panel_grid,
                     render, style, wants_log, x_axis, y_axis)
from .latency import knee_chart, latency_cdf_chart
from .load import CONTENDER, Results
from harness.catalog.metrics import ABORT_CAUSES, CONTENTION, COST, LATENCY, THROUGHPUT, Metric, metric_for
from harness.units import human_duration
from harness.compare.stats import t_interval
from .tables import TAIL_METRICS, timeout_k

__all__ = ["CHART_NAMES", "Chart", "make_charts"]

log = logging.getLogger(__name__)

CAUSE_COLORS = {"aborts_conflict": "#66c2a5", "aborts_deadlock": "#fc8d62",
                "aborts_validation": "#8da0cb", "aborts_timeout": "#e78ac3", "aborts_failure": "#a6a6a6"}


# ---------------------------------------------------------------------------------------------
# Metric vs swept parameter (lines with CI bands, or grouped bars)

def _metric_chart(ctx: Ctx, out_dir: Path, name: str, section: str, metrics: list[Metric],
                  what: str, style: str = "line", caption: str = "", title: str = "") -> Chart | None:
    metrics = [m for m in metrics if ctx.res.has_metric(m.key)]
    if not metrics:
        return None
    d = ctx.runs.copy()
    for m in metrics:
        d[m.key] = d[m.key] * m.scale
    if ctx.x is None or not ctx.x.numeric:
        style = "bar"  # categories have no order to draw a line through
    cells, nrows, ncols = panel_grid(ctx, metrics)
    panel = (PANEL_W, PANEL_H) if ncols > 1 or nrows > 1 else (5.6, 3.5)
    fig, axes = figure(nrows, ncols, panel=panel, sharex=True, sharey="row" if ctx.facets else False)
    logs = {m.key: style == "line" and wants_log(m, d[m.key].to_numpy(dtype=float)) for m in metrics}
    for i, j, m, facet in cells:
        ax = axes[i][j]
        df = d if facet is None else d[d["__facet"] == facet]
        if style == "line":
            errorbar = t_interval
            if logs[m.key]:  # a band reaching below zero cannot be drawn on a log axis: clip it
                vals = d[m.key].to_numpy(dtype=float)
                floor = float(vals[np.isfinite(vals) & (vals > 0)].min()) / 2
                errorbar = lambda v, _f=floor: tuple(max(b, _f) for b in t_interval(v))  # noqa: E731
            sns.lineplot(data=df, x="__x", y=m.key, hue=CONTENDER, hue_order=ctx.contenders,
                         palette=ctx.colors, style=CONTENDER, style_order=ctx.contenders,
                         markers=ctx.markers, dashes=False, errorbar=errorbar,
                         err_kws={"alpha": 0.14, "linewidth": 0}, ax=ax, legend=False)
            x_axis(ax, ctx, label=bottom_of_column(cells, i, j))
        else:
            if ctx.x is None:
                sns.barplot(data=df, x=CONTENDER, y=m.key, hue=CONTENDER, order=ctx.contenders,
                            hue_order=ctx.contenders, palette=ctx.colors, errorbar=t_interval,
                            capsize=0.15, err_kws={"linewidth": 1.0, "color": "0.2"}, ax=ax, legend=False,
                            width=0.6, saturation=1.0)
                ctx.contender_axis(ax)
            else:
                sns.barplot(data=df, x=ctx.x.key, y=m.key, hue=CONTENDER, order=ctx.x.values,
                            hue_order=ctx.contenders, palette=ctx.colors, errorbar=t_interval,
                            capsize=0.12, err_kws={"linewidth": 1.0, "color": "0.2"}, ax=ax, legend=False,
                            saturation=1.0)
                category_ticks(ax, ctx.x.values)
                ax.set_xlabel(ctx.x.label if bottom_of_column(cells, i, j) else "")
        label = log_label(m.axis_label) if logs[m.key] else m.axis_label
        ax.set_ylabel(label if j == 0 or not ctx.facets else "")
        if facet is not None and (i == 0 or len(ctx.facets) > MAX_COLS):
            ax.set_title(facet)
    hide_unused(axes, cells)
    # Limits only once every panel is drawn: panels of a row share their y axis.
    for i, j, m, facet in cells:
        y_axis(axes[i][j], m, d[m.key].to_numpy(dtype=float), log=logs[m.key])
    if style == "line":
        # With few seeds a t-interval can be many times the mean (n=2: t = 12.7). Let such a band
        # run off the top of the panel rather than squash every line to the floor.
        group = [CONTENDER, "__x"] + (["__facet"] if ctx.facets else [])
        for m in metrics:
            if logs[m.key]:
                continue
            top_mean = float(d.groupby(group)[m.key].mean().max())
            for i, j, mm, _f in cells:
                if mm is m and top_mean > 0 and axes[i][j].get_ylim()[1] > 2.2 * top_mean:
                    axes[i][j].set_ylim(top=1.6 * top_mean)
    marked = _timeout_lines(ctx, d, cells, axes, metrics, group_keys=[CONTENDER, ctx.x.key] if ctx.x else [CONTENDER])
    xname = f" vs {ctx.x.label.split(' (')[0]}" if ctx.x is not None else ""
    title = title or f"{what}{xname}: {ctx.vs}"
    band = "band" if style == "line" else "error bars"
    extra = ""
    if marked:
        extra = (f"dotted k×T: multiples of the client timeout T = {human_duration(ctx.res.timeout_s or 0)} — "
                 f"a percentile on one measures the retry timer, not the protocol")
    sub = ctx.subtitle(extra=extra, band=band, width_in=fig.get_figwidth())
    header(fig, title, sub, ctx.handles("line" if style == "line" else "patch"))
    chart = Chart(name, section, title, caption or _default_caption(ctx, style))
    return render(fig, chart, out_dir)


def _timeout_lines(ctx: Ctx, d, cells, axes, metrics: list[Metric], group_keys: list[str]) -> bool:
    """Dotted lines at k × the client timeout in the panels of tail percentiles whose means lie on
    one (under message loss, p99 is the retry timer). True when any was drawn."""
    t_s = ctx.res.timeout_s
    if not t_s:
        return False
    t_ms = t_s * 1000
    drawn = False
    for i, j, m, facet in cells:
        if m.key not in TAIL_METRICS:
            continue
        df = d if facet is None else d[d["__facet"] == facet]
        base = "latency_p50_ms" if "latency_p50_ms" in df.columns else None
        ks = sorted({k for _g, g in df.groupby(group_keys)
                     if (k := timeout_k(g[m.key].to_numpy(dtype=float), t_ms,
                                        g[base].to_numpy(dtype=float) if base else None))})
        ax = axes[i][j]
        for k in ks:
            ax.axhline(k * t_ms, color="0.35", lw=0.9, ls=":", zorder=0.5)
            ax.annotate(f"{k}×T", xy=(1.0, k * t_ms), xycoords=("axes fraction", "data"), xytext=(2, 0),
                        textcoords="offset points", ha="left", va="center", fontsize=6.5, color="0.3",
                        annotation_clip=False)
            drawn = True
    return drawn


def _default_caption(ctx: Ctx, style: str) -> str:
    if ctx.nmax <= 1:
        return "One run per point (single seed): no confidence interval."
    shape = "Lines are means across seeds, bands" if style == "line" else "Bars are means across seeds, whiskers"
    text = f"{shape} the 95% confidence interval (Student's t)."
    if ctx.nmin == 2:
        text += (" With 2 seeds the interval uses t with 1 degree of freedom (12.7 × the standard "
                 "error): it is very wide and says little.")
    return text


# ---------------------------------------------------------------------------------------------
# Aborts by cause (stacked bars), per contender

def _aborts_by_cause(ctx: Ctx, out_dir: Path) -> Chart | None:
    causes = [c for c in ABORT_CAUSES if ctx.res.has_metric(c) and ctx.runs[c].fillna(0).gt(0).any()]
    if not causes or not ctx.res.has_metric("abort_rate"):
        return None
    d = ctx.runs.copy()
    total = d[causes].fillna(0).sum(axis=1)
    for c in causes:
        share = np.where(total > 0, d[c].fillna(0) / total.replace(0, np.nan), 0.0)
        d[c] = d["abort_rate"].fillna(0) * 100 * np.nan_to_num(share)
    panels = [(proto, facet) for facet in ctx.facets or [None] for proto in ctx.contenders]
    ncols = cause_columns(len(ctx.contenders), len(panels))
    nrows = math.ceil(len(panels) / ncols)
    cells = [(k // ncols, k % ncols, proto, facet) for k, (proto, facet) in enumerate(panels)]
    fig, axes = figure(nrows, ncols, panel=(3.1, PANEL_H), sharex=True, sharey=True)
    xvals = ctx.x.values if ctx.x is not None else [""]
    tallest = 0.0
    for i, j, proto, facet in cells:
        df = d if facet is None else d[d["__facet"] == facet]
        ax = axes[i][j]
        g = df[df[CONTENDER] == proto]
        means = (g.groupby(ctx.x.key)[causes].mean().reindex(xvals) if ctx.x is not None
                 else g[causes].mean().to_frame().T)
        bottom = np.zeros(len(xvals))
        pos = np.arange(len(xvals))
        for c in causes:
            vals = means[c].fillna(0).to_numpy()
            ax.bar(pos, vals, bottom=bottom, color=CAUSE_COLORS[c], width=0.62,
                   edgecolor="white", linewidth=0.5)
            bottom += vals
        tallest = max(tallest, float(bottom.max()) if len(bottom) else 0.0)
        category_ticks(ax, [str(v) for v in xvals])
        ax.grid(axis="x", visible=False)
        title = proto if facet is None else f"{proto}\n{facet}"
        ax.set_title(panel_title(title, 2.6), color=ctx.colors[proto], fontweight="bold")
        if j == 0:
            ax.set_ylabel("abort rate by cause (%)")
        if ctx.x is not None and bottom_of_column(cells, i, j):
            ax.set_xlabel(ctx.x.label)
    hide_unused(axes, cells)
    if tallest > 0:
        axes[0][0].set_ylim(0, tallest * 1.08)  # shared: headroom above the tallest stack
    handles = [Patch(facecolor=CAUSE_COLORS[c], label=c.split("_", 1)[1]) for c in causes]
    seeds = ("single seed" if ctx.nmax <= 1 else
             f"mean of {ctx.nmin if ctx.nmin == ctx.nmax else f'{ctx.nmin}–{ctx.nmax}'} seeds")
    xname = f" vs {ctx.x.label.split(' (')[0]}" if ctx.x is not None else ""
    title = f"Aborts by cause{xname}: {ctx.vs}"
    extra = f"bar height = abort rate ({seeds}), split by the share of each cause"
    header(fig, title, ctx.subtitle(extra=extra, band="", width_in=fig.get_figwidth()), handles)
    cap = ("Each bar is the mean abort rate across seeds; its segments split it by the cause the "
           "protocol reported for each abort.")
    return render(fig, Chart("aborts_by_cause", CONTENTION, title, cap), out_dir)


def cause_columns(contenders: int, panels: int) -> int:
    """Columns of the aborts-by-cause grid: whole rows of contenders (so that a column keeps one
    contender) up to ``MAX_COLS`` panels wide, or one row of contenders when there are more."""
    if contenders >= MAX_COLS:
        return contenders
    return min(panels, contenders * max(1, MAX_COLS // contenders))


# ---------------------------------------------------------------------------------------------

CHART_NAMES = ("throughput", "latency_percentiles", "latency_cdf", "latency_throughput",
               "contention", "aborts_by_cause", "timeline", "failover", "failover_cdf", "cost")


def _joined(metrics: list[Metric]) -> str:
    """"Abort rate", "Abort and conflict rate"."""
    labels = [mm.label for mm in metrics]
    if len(labels) == 2 and labels[0].endswith(" rate") and labels[1].endswith(" rate"):
        text = f"{labels[0][:-5]} and {labels[1]}"
    else:
        text = " and ".join(labels)
    return text[:1].upper() + text[1:]


def _contention_caption(ctx: Ctx, kind: str) -> str:
    if kind == "transactions":
        what = "Abort rate: aborted transaction attempts ÷ attempts."
    else:
        what = ("Abort rate: client attempts that timed out ÷ attempts sent in the measurement window "
                "(message loss and faults, not contention).")
    return f"{what} {_default_caption(ctx, 'line' if ctx.x is not None and ctx.x.numeric else 'bar')}"


def _cost_caption(ctx: Ctx, res: Results) -> str:
    text = "Messages per committed operation (every message on the network, lost ones included)."
    if _nonzero(res, "leader_cpu_utilization"):
        text += (" Leader CPU utilisation is the leader's busy fraction over the window: a load, not a "
                 "per-operation cost.")
    return f"{text} {_default_caption(ctx, 'bar')}"


def _nonzero(res: Results, key: str) -> bool:
    return res.has_metric(key) and bool(res.runs[key].fillna(0).ne(0).any())


def make_charts(res: Results, out_dir: Path, options: ChartOptions | None = None) -> list[Chart]:
    """Render every chart the results support into ``out_dir``; returns them in report order."""
    charts: list[Chart] = []
    with style(options):
        ctx = Ctx(res)
        m = metric_for
        contention = [m(k) for k in ("abort_rate", "conflict_rate") if _nonzero(res, k)]
        builders: list[tuple[str, Callable[[], Chart | None]]] = [
            ("throughput", lambda: _metric_chart(ctx, out_dir, "throughput", THROUGHPUT,
                                                 [m("throughput_ops_s")], "Throughput")),
            ("latency_percentiles", lambda: _metric_chart(
                ctx, out_dir, "latency_percentiles", LATENCY,
                [m("latency_p50_ms"), m("latency_p99_ms"), m("latency_p999_ms")], "Latency percentiles")),
            ("latency_cdf", lambda: latency_cdf_chart(ctx, out_dir)),
            ("latency_throughput", lambda: knee_chart(ctx, out_dir)),
            ("contention", lambda: _metric_chart(
                ctx, out_dir, "contention", CONTENTION, contention,
                _joined(contention) if res.kind == "transactions" else "Abort rate (timed-out attempts)",
                caption=_contention_caption(ctx, res.kind))),
            ("aborts_by_cause", lambda: _aborts_by_cause(ctx, out_dir)),
            ("timeline", lambda: timeline_chart(ctx, out_dir)),
            ("failover", lambda: failover_chart(ctx, out_dir)),
            ("failover_cdf", lambda: failover_cdf_chart(ctx, out_dir)),
            ("cost", lambda: _metric_chart(
                ctx, out_dir, "cost", COST,
                [m(k) for k in ("messages_per_op", "leader_cpu_utilization") if _nonzero(res, k)],
                "Cost and leader load" if _nonzero(res, "leader_cpu_utilization") else "Cost per operation",
                style="bar", caption=_cost_caption(ctx, res))),
        ]
        for name, build in builders:
            try:
                chart = build()
            except Exception as exc:  # one chart that cannot be drawn must not cost the whole report
                log.warning("chart %s could not be drawn: %s", name, exc, exc_info=True)
                res.notes.append(f"Chart {name} could not be drawn ({type(exc).__name__}: {exc}).")
                continue
            if chart is not None:
                charts.append(chart)
    return charts
