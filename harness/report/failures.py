"""Failure charts: throughput and p99 over simulated time with fault windows shaded and leader
changes marked, and the distribution of failover times per protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .figure import Chart, Ctx, figure, header, log_ticks, point_mask, render, wrap
from .metrics import AVAILABILITY, metric_for, param_short

FAULT_STYLE = {  # start kind -> (legend label, colour, end kinds)
    "crash": ("crash", "#d62728", ("restart", "recover", "recovered")),
    "partition": ("partition", "#6a3d9a", ("heal",)),
    "isolate": ("isolation", "#6a3d9a", ("heal", "rejoin")),
    "slow": ("slow node", "#b8860b", ("restore", "recover")),
    "pause": ("pause", "#7f7f7f", ("resume",)),
}

FAULT_KINDS = tuple(FAULT_STYLE)


def fault_windows(ev: pd.DataFrame, end_s: float) -> list[tuple[str, float, float, str]]:
    """(kind, start, end, node) for each fault in one run's events, paired with its end event or
    measured from ``duration_ms``; a fault never ended lasts until ``end_s``."""
    ev = ev.sort_values("time_s", kind="stable")
    out = []
    for idx, r in ev.iterrows():
        kind = r["kind"]
        if kind not in FAULT_STYLE:
            continue
        start = float(r["time_s"])
        dur = r["duration_ms"]
        if dur is not None and np.isfinite(dur) and dur > 0:
            end = start + float(dur) / 1000.0
        else:
            ends = FAULT_STYLE[kind][2]
            later = ev[(ev["time_s"] >= start) & ev["kind"].isin(ends)]
            if kind in ("crash", "slow", "pause", "isolate") and r["node"] is not None:
                same = later[later["node"].astype(str) == str(r["node"])]
                later = same if not same.empty else later
            end = float(later["time_s"].iloc[0]) if not later.empty else end_s
        out.append((kind, start, max(end, start), str(r["node"]) if r["node"] is not None else ""))
    return out


def timeline_chart(ctx: Ctx, out_dir: Path) -> Chart | None:
    ts, ev = ctx.res.timeseries, ctx.res.events
    if ts is None or ts.empty or ev is None or ev.empty:
        return None
    faulty = ev[ev["kind"].isin(FAULT_KINDS)]
    if faulty.empty:
        return None
    runs = ctx.res.runs
    keys = ctx.res.param_keys
    # The first parameter point (matrix order) where every protocol has a run with faults.
    faulty_runs = set(faulty["run_id"]) & set(ts["run_id"])
    chosen_point, chosen = None, {}
    for point in ctx.res.points:
        sel = runs[point_mask(runs, keys, point) & runs["run_id"].isin(faulty_runs)]
        picks = {}
        for proto in ctx.protocols:
            g = sel[sel["protocol"] == proto].sort_values(["seed", "run_id"])
            if not g.empty:
                picks[proto] = g.iloc[0]
        if picks and (chosen_point is None or len(picks) > len(chosen)):
            chosen_point, chosen = point, picks
            if len(picks) == len(ctx.protocols):
                break
    if not chosen:
        return None
    metrics = [m for m in (metric_for("throughput_ops_s"), metric_for("latency_p99_ms")) if m.key in ts.columns]
    if not metrics:
        return None
    protos = [p for p in ctx.protocols if p in chosen]
    fig, axes = figure(len(metrics), len(protos), panel=(4.2, 2.4), sharex=True, sharey="row")
    kinds_seen: list[str] = []
    lat_vals = []
    for j, proto in enumerate(protos):
        run = chosen[proto]
        rts = _regular(ts[ts["run_id"] == run["run_id"]].sort_values("time_s"))
        rev = ev[ev["run_id"] == run["run_id"]]
        end_s = float(rts["time_s"].max()) if not rts.empty else float(rev["time_s"].max())
        windows = fault_windows(rev, end_s + _bucket(rts))
        leaders = rev[rev["kind"] == "leader"]["time_s"].to_numpy(dtype=float)
        failovers = rev[rev["kind"] == "failover"]
        for i, m in enumerate(metrics):
            ax = axes[i][j]
            for kind, a, b, _node in windows:
                label, color, _ = FAULT_STYLE[kind]
                ax.axvspan(a, b, color=color, alpha=0.13, lw=0, zorder=0)
                if kind not in kinds_seen:
                    kinds_seen.append(kind)
            for t in leaders:
                ax.axvline(t, color="0.25", lw=0.9, ls=(0, (4, 2)), zorder=1)
            y = rts[m.key].to_numpy(dtype=float) * m.scale
            if m.key.startswith("latency"):
                lat_vals.extend(y[np.isfinite(y)].tolist())
            ax.step(rts["time_s"], y, where="post", color=ctx.colors[proto], lw=1.3, zorder=3,
                    clip_on=False)  # drawn over the x axis: a bucket at 0 ops/s must show
            if i == 0:
                ax.set_title(f"{proto} (seed {_int(run['seed'])})", color=ctx.colors[proto], fontweight="bold")
                for _, f in failovers.head(3).iterrows():
                    if f["duration_ms"] is not None and np.isfinite(f["duration_ms"]):
                        ax.annotate(f"failover {f['duration_ms']:.0f} ms", xy=(f["time_s"], 0.04),
                                    xycoords=("data", "axes fraction"), xytext=(4, 0),
                                    textcoords="offset points", va="bottom", ha="left", fontsize=7,
                                    color="0.15", zorder=5,
                                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7", "lw": 0.5})
            if j == 0:
                ax.set_ylabel(m.axis_label)
            if i == len(metrics) - 1:
                ax.set_xlabel("simulated time (s)")
            if m.key.startswith("throughput"):
                ax.set_ylim(bottom=0)
    for i, m in enumerate(metrics):
        if m.key.startswith("latency"):
            arr = np.asarray(lat_vals)
            arr = arr[arr > 0]
            if len(arr) and arr.max() / np.median(arr) > 15:
                axes[i][0].set_yscale("log")
                log_ticks(axes[i][0].yaxis)
            else:
                axes[i][0].set_ylim(bottom=0)
    point_text = ", ".join(f"{param_short(k)} = {v}" for k, v in zip(keys, chosen_point or ()))
    handles: list = []
    for kind in kinds_seen:
        label, color, _ = FAULT_STYLE[kind]
        handles.append(Patch(facecolor=color, alpha=0.25, label=label))
    handles = _dedupe(handles)
    if (ev[ev["run_id"].isin([r["run_id"] for r in chosen.values()])]["kind"] == "leader").any():
        handles.append(Line2D([], [], color="0.25", lw=0.9, ls=(0, (4, 2)), label="new leader"))
    title = f"Throughput and p99 latency over time under faults: {ctx.vs}"
    extra = "run shown: " + (point_text + ", " if point_text else "") + "lowest seed"
    sub = " · ".join(s for s in (f"fixed: {ctx.fixed_text}" if ctx.fixed_text else "", extra) if s)
    header(fig, title, wrap(sub, fig.get_figwidth()), handles)
    cap = ("One run per protocol at the same parameter point and seed. Shaded: fault windows; dashed "
           "lines: a node became leader. Values are per time bucket of simulated time.")
    return render(fig, Chart("timeline", AVAILABILITY, title, cap), out_dir)


def _dedupe(handles: list) -> list:
    seen, out = set(), []
    for h in handles:
        if h.get_label() not in seen:
            seen.add(h.get_label())
            out.append(h)
    return out


def _regular(rts: pd.DataFrame) -> pd.DataFrame:
    """The run's series on its full bucket grid: a bucket without completions has throughput 0
    (not a gap in the line) and no latency."""
    if len(rts) < 2:
        return rts
    b = _bucket(rts)
    if b <= 0:
        return rts
    t0, t1 = float(rts["time_s"].min()), float(rts["time_s"].max())
    grid = np.round(t0 + b * np.arange(int(round((t1 - t0) / b)) + 1), 9)
    r = rts.assign(time_s=np.round(rts["time_s"].to_numpy(dtype=float), 9)).drop_duplicates("time_s")
    r = r.set_index("time_s").reindex(grid).rename_axis("time_s").reset_index()
    if "throughput_ops_s" in r.columns:
        r["throughput_ops_s"] = r["throughput_ops_s"].astype(float).fillna(0.0)
    return r


def _bucket(rts: pd.DataFrame) -> float:
    t = rts["time_s"].to_numpy(dtype=float)
    return float(np.median(np.diff(t))) if len(t) > 1 else 0.0


def _int(v) -> str:
    try:
        f = float(v)
        return str(int(f)) if f.is_integer() else f"{f:g}"
    except (TypeError, ValueError):
        return str(v)


# ---------------------------------------------------------------------------------------------
# Failover time distribution

def failover_chart(ctx: Ctx, out_dir: Path) -> Chart | None:
    ev = ctx.res.events
    d = None
    source = ""
    if ev is not None and not ev.empty:
        fo = ev[(ev["kind"] == "failover") & ev["duration_ms"].notna()][["run_id", "duration_ms"]]
        if not fo.empty:
            d = fo.merge(ctx.runs, on="run_id", how="inner").rename(columns={"duration_ms": "__fo"})
            source = "each dot is one failover (events.csv)"
    if (d is None or d.empty) and ctx.res.has_metric("failover_ms_mean"):
        d = ctx.runs[ctx.runs["failover_ms_mean"].notna()].assign(__fo=lambda x: x["failover_ms_mean"])
        source = "each dot is one run's mean failover time"
    if d is None or d.empty:
        return None
    group = ["protocol", "__facet"] if ctx.facets else ["protocol"]
    if ctx.x is not None:
        group.append(ctx.x.key)
    boxes = int(d.groupby(group).size().min()) >= 4  # a box of fewer points would only mislead
    facets = ctx.facets or [None]
    fig, axes = figure(1, len(facets), panel=(max(3.6, 1.2 * len(ctx.x.values) if ctx.x else 3.6), 3.0),
                        sharey=True)
    for j, facet in enumerate(facets):
        ax = axes[0][j]
        df = d if facet is None else d[d["__facet"] == facet]
        xkey, order = ("protocol", ctx.protocols) if ctx.x is None else (ctx.x.key, ctx.x.values)
        kw = dict(data=df, x=xkey, y="__fo", order=order, ax=ax, legend=False)
        if ctx.x is None:
            kw.update(hue="protocol", hue_order=ctx.protocols, palette=ctx.colors)
        else:
            kw.update(hue="protocol", hue_order=ctx.protocols, palette=ctx.colors, dodge=True)
        if boxes:
            sns.boxplot(**kw, showfliers=False, width=0.6, boxprops={"alpha": 0.35}, linewidth=0.9,
                        saturation=1.0)
        sns.swarmplot(**kw, size=3.5 if boxes else 5, edgecolor="white", linewidth=0.3, warn_thresh=1.0)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("" if ctx.x is None else ctx.x.label)
        ax.set_ylabel("failover time (ms)" if j == 0 else "")
        if facet is not None:
            ax.set_title(facet)
    title = f"Failover time distribution: {ctx.vs}"
    header(fig, title, ctx.subtitle(extra=source, band="", width_in=fig.get_figwidth()),
            ctx.handles("patch"))
    cap = ("Time from the loss of the leader until a new leader serves requests. "
           + ("Boxes: quartiles and median; dots: individual measurements." if boxes
              else "Each dot is one measurement."))
    return render(fig, Chart("failover", AVAILABILITY, title, cap), out_dir)
