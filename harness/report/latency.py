"""Latency charts beyond percentiles: the CDF per contender and latency vs throughput (the knee)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from .figure import PANEL_H, PANEL_W, Chart, Ctx, figure, header, log_label, log_ticks, point_mask, render
from .load import CONTENDER
from harness.catalog.metrics import LATENCY, metric_for
from harness.catalog.params import param_short
from .metrics import is_load_param
from harness.compare.stats import summarize

MAX_CDF_PANELS = 6

# ---------------------------------------------------------------------------------------------
# Latency CDF

def latency_cdf_chart(ctx: Ctx, out_dir: Path) -> Chart | None:
    lat = ctx.res.latencies
    if lat is None or lat.empty:
        return None
    keys = ctx.res.param_keys
    runs = ctx.res.runs[["run_id", CONTENDER, *keys]]
    d = lat.merge(runs, on="run_id", how="inner")
    d = d[(d["count"] > 0) & (d["latency_ms"] > 0)]
    if d.empty:
        return None
    points = [p for p in ctx.res.points if not d[point_mask(d, keys, p)].empty]
    shown = points
    if len(points) > MAX_CDF_PANELS:
        idx = np.linspace(0, len(points) - 1, MAX_CDF_PANELS).round().astype(int)
        shown = [points[i] for i in sorted(set(idx))]
    ncols = 2 if len(shown) == 4 else min(3, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    panel = (PANEL_W, PANEL_H) if len(shown) > 1 else (5.6, 3.6)
    fig, axes = figure(nrows, ncols, panel=panel, sharex=True, sharey=True)
    ticks = [0.1, 0.5, 0.9, 0.99, 0.999, 0.9999]
    total_min = None
    ylo = 0.05
    xlo, xhi = math.inf, 0.0
    for k, point in enumerate(shown):
        ax = axes[k // ncols][k % ncols]
        dp = d[point_mask(d, keys, point)]
        for proto in ctx.contenders:
            g = dp[dp[CONTENDER] == proto].groupby("latency_ms", as_index=False)["count"].sum()
            if g.empty:
                continue
            g = g.sort_values("latency_ms")
            cdf = g["count"].cumsum().to_numpy() / g["count"].sum()
            total = g["count"].sum()
            total_min = total if total_min is None else min(total_min, total)
            lat_ms = g["latency_ms"].to_numpy(dtype=float)
            xlo = min(xlo, float(lat_ms[np.searchsorted(cdf, ylo)]) if cdf[-1] >= ylo else lat_ms[0])
            xhi = max(xhi, float(lat_ms[-1]))
            ax.step(g["latency_ms"], cdf, where="post", color=ctx.colors[proto], lw=1.6, label=proto)
        ax.set_xscale("log")
        ax.set_yscale("logit")
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _i: f"{v * 100:g}%"))
        ax.yaxis.set_minor_locator(NullLocator())
        for q in (0.5, 0.99):
            ax.axhline(q, color="0.55", lw=0.7, ls=":", zorder=0)
        if k // ncols == nrows - 1:
            ax.set_xlabel("latency (ms, log scale)")
        if k % ncols == 0:
            ax.set_ylabel("operations ≤ latency (%, logit scale)")
        if point:
            ax.set_title(", ".join(f"{param_short(p)} = {v}" for p, v in zip(keys, point)))
    n = max(total_min or 1000, 1000)
    top = min(0.9999, 1 - 1 / n) if n < 1e4 else 0.9999
    axes[0][0].set_ylim(ylo, top)
    if xhi > 0 and math.isfinite(xlo):
        axes[0][0].set_xlim(xlo / 1.25, xhi * 1.25)
    log_ticks(axes[0][0].xaxis)
    for k in range(len(shown), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
        above = axes[k // ncols - 1][k % ncols]  # now the lowest panel of its column: label its x axis
        above.tick_params(labelbottom=True)
        above.set_xlabel("latency (ms, log scale)")
    title = f"Latency CDF: {ctx.vs}"
    extra = "seeds pooled"
    if len(shown) < len(points):
        extra += f" · {len(shown)} of {len(points)} points shown"
    header(fig, title, ctx.subtitle(extra=extra, band="", width_in=fig.get_figwidth()),
            [Line2D([], [], color=ctx.colors[p], label=p) for p in ctx.contenders])
    cap = ("Cumulative distribution of client latency, histograms of all seeds pooled; the y axis "
           "is on a logit scale so that the median, p99 and p99.9 are equally visible (dotted: p50, p99).")
    return render(fig, Chart("latency_cdf", LATENCY, title, cap), out_dir)



# ---------------------------------------------------------------------------------------------
# Latency vs throughput (the knee), when offered load or clients are swept

def load_param(ctx: Ctx):
    """The swept offered-load parameter (workload.rate, workload.clients, ...), if any. In open
    loop the clients share a fixed total rate: their number does not set the load."""
    cfg = ctx.res.manifest.get("suite_config") or {}
    w = cfg.get("workload") if isinstance(cfg.get("workload"), dict) else {}
    open_loop = w.get("mode") == "open" and "workload.mode" not in ctx.res.param_keys
    load = [p for p in ctx.res.params if is_load_param(p.key) and len(p.values) > 1
            and not (open_loop and p.key.endswith(".clients"))]
    return load[0] if load else None


def knee_points(sub, lp, metric_key: str) -> list[tuple[str, float, float, float, float]]:
    """(load value, throughput mean, its CI half, latency mean, its CI half) for one protocol,
    in the order of the numeric offered load (never the order of the rows or of the strings), so
    that the curve is drawn from light to heavy load."""
    values = lp.values
    if lp.numbers:
        values = sorted(values, key=lambda v: lp.numbers[v])
    out = []
    for v in values:
        gv = sub[sub[lp.key] == v]
        sx, sy = summarize(gv["throughput_ops_s"]), summarize(gv[metric_key])
        if sx is None or sy is None:
            continue
        out.append((v, sx.mean, sx.half or 0.0, sy.mean, sy.half or 0.0))
    return out


def knee_chart(ctx: Ctx, out_dir: Path) -> Chart | None:
    lp = load_param(ctx)
    if lp is None or not ctx.res.has_metric("throughput_ops_s"):
        return None
    others = [p for p in ctx.res.params if p is not lp and len(p.values) > 1]
    lat = [metric_for(k) for k in ("latency_p50_ms", "latency_p99_ms") if ctx.res.has_metric(k)]
    if not lat:
        return None
    combos = sorted({tuple(r) for r in ctx.runs[[p.key for p in others]].itertuples(index=False)},
                    key=lambda t: tuple(p.values.index(v) for p, v in zip(others, t))) if others else [()]
    nrows, ncols = len(combos), len(lat)
    fig, axes = figure(nrows, ncols, sharex=False, sharey=False)
    for i, combo in enumerate(combos):
        sub = ctx.runs
        for p, v in zip(others, combo):
            sub = sub[sub[p.key] == v]
        for j, m in enumerate(lat):
            ax = axes[i][j]
            allv = []
            for k, proto in enumerate(ctx.contenders):
                pts = knee_points(sub[sub[CONTENDER] == proto], lp, m.key)
                if not pts:
                    continue
                labels, xs, xe, ys, ye = zip(*pts)
                allv += ys
                ax.errorbar(xs, ys, xerr=xe, yerr=ye, color=ctx.colors[proto], marker=ctx.markers[proto],
                            lw=1.6, ms=5, capsize=2, elinewidth=0.8)
                if k == 0:  # name each load setting once, next to the first protocol's markers
                    for lab, x, y in zip(labels, xs, ys):
                        ax.annotate(lab, xy=(x, y), xytext=(4, -3 if y == max(ys) else 4),
                                    textcoords="offset points", fontsize=6.5, color="0.3",
                                    ha="left", va="top" if y == max(ys) else "bottom")
            ax.set_xlim(left=0)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
            arr = np.asarray(allv)
            ylabel = m.axis_label
            if len(arr) and arr.min() > 0 and arr.max() / arr.min() > 20:
                ax.set_yscale("log")
                log_ticks(ax.yaxis)
                ylabel = log_label(ylabel)
            else:
                ax.set_ylim(bottom=0)
            ax.set_xlabel("throughput (ops/s)" if i == nrows - 1 else "")
            ax.set_ylabel(ylabel)
            ttl = m.label if not combo else f"{m.label} · " + ", ".join(
                f"{param_short(p.key)} = {v}" for p, v in zip(others, combo))
            ax.set_title(ttl)
    title = f"Latency vs throughput across {lp.label.split(' (')[0]}: {ctx.vs}"
    extra = (f"one point per {param_short(lp.key)} value, joined in order of increasing load "
             f"({lp.values[0]} … {lp.values[-1]}, labelled)")
    header(fig, title, ctx.subtitle(extra=extra, band="error bars", width_in=fig.get_figwidth()), ctx.handles())
    cap = ("Each marker is one offered-load setting, joined from light to heavy load; the curve bends "
           "upward at the knee, where the system saturates and queueing dominates latency. Past "
           "saturation throughput can fall while latency keeps rising: the curve then turns back left.")
    return render(fig, Chart("latency_throughput", LATENCY, title, cap), out_dir)


def _thousands(v: float, _pos=None) -> str:
    """Throughput tick: 16000 -> "16k"."""
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"
