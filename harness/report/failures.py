"""Failure charts: throughput and p99 over simulated time with fault windows shaded and leader
changes marked, and the distribution of failover times per contender."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from matplotlib.figure import Figure

from harness.faults import STYLES

from .figure import (MAX_COLS, Chart, Ctx, bottom_of_column, figure, header, hide_unused, log_label, log_ticks,
                     point_mask, render, wrap)
from .load import CONTENDER
from harness.catalog.metrics import AVAILABILITY, metric_for
from harness.catalog.params import param_short

FAULT_KINDS = tuple(STYLES)  # the events that start a fault window, as each fault kind declares


def _skipped(r) -> bool:
    """A scheduled fault that found no target ("skipped: no leader to target") never happened."""
    return isinstance(r["detail"], str) and r["detail"].startswith("skipped")


def fault_windows(ev: pd.DataFrame, end_s: float) -> list[tuple[str, float, float, str]]:
    """(kind, start, end, node) for each fault in one run's events: its planned length
    (``duration_ms``) when known, else until its end event (restart, heal, restore; for a node
    fault, of the same node); a fault never ended lasts until ``end_s``."""
    ev = ev.sort_values("time_s", kind="stable")
    out = []
    for idx, r in ev.iterrows():
        kind = r["kind"]
        if kind not in STYLES or _skipped(r):
            continue
        start = float(r["time_s"])
        dur = r["duration_ms"]
        if dur is not None and np.isfinite(dur) and dur > 0:
            end = start + float(dur) / 1000.0
        else:
            style = STYLES[kind]
            later = ev[(ev["time_s"] >= start) & ev["kind"].isin(style.ends) & (ev.index != idx)]
            if style.per_node and r["node"] is not None:
                same = later[later["node"].astype(str) == str(r["node"])]
                later = same if not same.empty else later
            end = float(later["time_s"].iloc[0]) if not later.empty else end_s
        out.append((kind, start, min(max(end, start), end_s), str(r["node"]) if r["node"] is not None else ""))
    return out


def _node(v) -> str | None:
    """A leader column value as a node id ("3"), or None for no leader."""
    if v is None:
        return None
    if isinstance(v, float):
        return None if not np.isfinite(v) else (str(int(v)) if v.is_integer() else f"{v:g}")
    s = str(v).strip()
    if s.lower() in ("", "nan", "none", "-", "null"):
        return None
    try:
        f = float(s)
        return str(int(f)) if f.is_integer() else s
    except ValueError:
        return s


def leader_spans(rts: pd.DataFrame, ev: pd.DataFrame | None, bucket: float,
                 start_s: float = 0.0) -> list[tuple[float, float, str | None]]:
    """(start, end, leader or None) over the run, from timeseries.csv's ``leader`` column.

    The runner samples the leader at each bucket's *end*: the row at ``time_s`` = t says who led
    at t + bucket. A change between two samples is placed at the event that explains it (the new
    leader's election; for a loss, the fault that hit the leader or the start of the failover),
    else at the sample that first shows it. A leaderless stretch the samples miss (a leader
    stepped down and another was elected within one bucket) comes from the bucket's
    ``leaderless_ms``: it is placed at the step-down (or fault) in that bucket, else at its start."""
    if "leader" not in rts.columns or rts.empty or bucket <= 0:
        return []
    t = rts["time_s"].to_numpy(dtype=float) + bucket
    lead = [_node(v) for v in rts["leader"]]
    elections: list[tuple[float, str | None]] = []
    losses: list[float] = []
    if ev is not None and not ev.empty:
        for _, r in ev.iterrows():
            tt = float(r["time_s"])
            if r["kind"] == "leader":
                elections.append((tt, _node(r["node"])))
            elif r["kind"] == "failover" and r["duration_ms"] is not None and np.isfinite(r["duration_ms"]):
                losses.append(tt - float(r["duration_ms"]) / 1000.0)
            elif (r["kind"] in FAULT_KINDS and not _skipped(r)) or r["kind"] == "stepped-down":
                losses.append(tt)

    def change_time(lo: float, hi: float, new: str | None) -> float:
        if new is not None:
            hits = [tt for tt, n in elections if lo < tt <= hi + 1e-9 and n == new]
            if hits:
                return hits[-1]
        else:
            hits = [tt for tt in losses if lo < tt <= hi + 1e-9]
            if hits:
                return min(hits)
        return hi

    spans: list[tuple[float, float, str | None]] = []
    cur, since = lead[0], max(start_s, t[0] - bucket)
    if cur is not None:  # elected during the first bucket
        since = change_time(t[0] - bucket, t[0], cur) if elections else since
    for k in range(1, len(t)):
        if lead[k] != cur:
            at = change_time(t[k - 1], t[k], lead[k])
            spans.append((since, at, cur))
            cur, since = lead[k], at
    spans.append((since, float(t[-1]), cur))
    spans = [(a, b, n) for a, b, n in spans if b > a]
    if "leaderless_ms" in rts.columns:
        first = max(start_s, t[0] - bucket)
        if spans and spans[0][0] > first:  # before the first election
            spans.insert(0, (first, spans[0][0], None))
        for lo, ms in zip(t - bucket, rts["leaderless_ms"].to_numpy(dtype=float)):
            hi = lo + bucket
            missing = ms / 1000 - sum(min(b, hi) - max(a, lo) for a, b, n in spans
                                      if n is None and a < hi and b > lo)
            if missing > 1e-9:
                at = min((tt for tt in losses if lo <= tt < hi), default=lo)
                spans = _leaderless_between(spans, at, min(at + missing, hi))
    return spans


def _leaderless_between(spans: list[tuple[float, float, str | None]], lo: float,
                        hi: float) -> list[tuple[float, float, str | None]]:
    """``spans`` with ``[lo, hi)`` cut out of the spans that show a leader, as no leader."""
    out: list[tuple[float, float, str | None]] = []
    for a, b, n in spans:
        if n is None or b <= lo or a >= hi:
            out.append((a, b, n))
            continue
        if a < lo:
            out.append((a, lo, n))
        out.append((max(a, lo), min(b, hi), None))
        if b > hi:
            out.append((hi, b, n))
    return out


# Failover labels: text width estimate (inches) for 7 pt DejaVu Sans digits, and the lane layout.
LABEL_FONT = 7.0
LANE_BAR, LANE_LEVEL, LANE_PAD = 0.26, 0.2, 0.12


def _label_width_in(text: str) -> float:
    return 0.058 * len(text) + 0.09


MAX_LEVELS = 4


def layout_labels(items: list[tuple[float, float]], data_per_inch: float, lo: float, hi: float,
                  gap_in: float = 0.05, max_levels: int = MAX_LEVELS
                  ) -> tuple[list[tuple[float, int | None]], int]:
    """Greedy levels for labels (centre x, width in inches), left to right: each label takes the
    lowest level where it does not overlap the previous label of that level, and is shifted
    inside [lo, hi] so that none is cut off. A label that would need more than ``max_levels``
    levels gets level None (not drawn: too dense). Returns ((x, level) per label, levels used)."""
    placed: list[tuple[float, int | None]] = []
    right_edge: list[float] = []
    for x, w_in in items:
        half = w_in * data_per_inch / 2
        x = min(max(x, lo + half), hi - half) if hi - lo > 2 * half else (lo + hi) / 2
        left = x - half
        for level, edge in enumerate(right_edge):
            if left >= edge + gap_in * data_per_inch:
                right_edge[level] = x + half
                placed.append((x, level))
                break
        else:
            if len(right_edge) < max_levels:
                right_edge.append(x + half)
                placed.append((x, len(right_edge) - 1))
            else:
                placed.append((x, None))
    return placed, len(right_edge)


def _failover_labels(rev: pd.DataFrame) -> list[tuple[float, float, str]]:
    """(start, end, label) for each failover in one run's events."""
    out = []
    fo = rev[(rev["kind"] == "failover") & rev["duration_ms"].notna()].sort_values("time_s")
    for _, f in fo.iterrows():
        d = float(f["duration_ms"])
        end = float(f["time_s"])
        still = isinstance(f["detail"], str) and "no new leader" in f["detail"]
        out.append((end - d / 1000.0, end, f"≥{d:.0f} ms" if still else f"{d:.0f} ms"))
    return out


def timeline_chart(ctx: Ctx, out_dir: Path) -> Chart | None:
    ts, ev = ctx.res.timeseries, ctx.res.events
    if ts is None or ts.empty or ev is None or ev.empty:
        return None
    faulty = ev[ev["kind"].isin(FAULT_KINDS) & ~ev.apply(_skipped, axis=1)]
    if faulty.empty:
        return None
    runs = ctx.res.runs
    keys = ctx.res.param_keys
    # The first parameter point (matrix order) where every contender has a run with faults.
    faulty_runs = set(faulty["run_id"]) & set(ts["run_id"])
    chosen_point, chosen = None, {}
    for point in ctx.res.points:
        sel = runs[point_mask(runs, keys, point) & runs["run_id"].isin(faulty_runs)]
        picks = {}
        for proto in ctx.contenders:
            g = sel[sel[CONTENDER] == proto].sort_values(["seed", "run_id"])
            if not g.empty:
                picks[proto] = g.iloc[0]
        if picks and (chosen_point is None or len(picks) > len(chosen)):
            chosen_point, chosen = point, picks
            if len(picks) == len(ctx.contenders):
                break
    if not chosen:
        return None
    metrics = [m for m in (metric_for("throughput_ops_s"), metric_for("latency_p99_ms")) if m.key in ts.columns]
    if not metrics:
        return None
    protos = [p for p in ctx.contenders if p in chosen]

    # Everything per run first: the lane's height depends on how many label levels it needs.
    data = {}
    panel_w = 4.2
    for proto in protos:
        run = chosen[proto]
        rts = _regular(ts[ts["run_id"] == run["run_id"]].sort_values("time_s"))
        rev = ev[ev["run_id"] == run["run_id"]]
        b = _bucket(rts)
        end_s = float(rts["time_s"].max()) + b if not rts.empty else float(rev["time_s"].max())
        data[proto] = (run, rts, rev, b, end_s)
    x_hi = max(v[4] for v in data.values())
    x_lo = 0.0
    axes_w_in = panel_w - 0.75
    per_in = (x_hi - x_lo) * 1.04 / axes_w_in
    layouts = {}
    for proto, (run, rts, rev, b, end_s) in data.items():
        fos = _failover_labels(rev)
        items = [((a + e) / 2, _label_width_in(text)) for a, e, text in fos]
        placed, levels = layout_labels(items, per_in, x_lo, x_hi)
        layouts[proto] = (fos, placed, levels)
    levels = max((v[2] for v in layouts.values()), default=0)
    lane_h = LANE_BAR + LANE_LEVEL * levels + LANE_PAD
    has_leader = "leader" in ts.columns and ts["leader"].notna().any()
    rows = len(metrics) + (1 if has_leader or levels else 0)
    heights = [2.4] * len(metrics) + ([lane_h] if rows > len(metrics) else [])
    fig = Figure(figsize=(round(max(6.4, panel_w * len(protos) + 0.5), 2), round(sum(heights) + 1.3, 2)),
                 layout="constrained")
    axes = fig.subplots(rows, len(protos), squeeze=False, sharex=True, sharey="row",
                        gridspec_kw={"height_ratios": heights})
    kinds_seen: list[str] = []
    lat_vals = []
    any_leaderless = False
    timeout_drawn = None
    for j, proto in enumerate(protos):
        run, rts, rev, b, end_s = data[proto]
        windows = fault_windows(rev, end_s)
        leaders = rev[rev["kind"] == "leader"]["time_s"].to_numpy(dtype=float)
        for i, m in enumerate(metrics):
            ax = axes[i][j]
            for kind, a, e, _node_id in windows:
                label, color = STYLES[kind].label, STYLES[kind].colour
                ax.axvspan(a, e, color=color, alpha=0.13, lw=0, zorder=0)
                if kind not in kinds_seen:
                    kinds_seen.append(kind)
            for t in leaders:
                ax.axvline(t, color="0.25", lw=0.9, ls=(0, (4, 2)), zorder=1)
            y = rts[m.key].to_numpy(dtype=float) * m.scale
            if m.key.startswith("latency"):
                lat_vals.extend(y[np.isfinite(y)].tolist())
            tx = rts["time_s"].to_numpy(dtype=float)
            if len(tx) and b > 0:  # the last bucket lasts until the end of the run too
                tx, y = np.append(tx, tx[-1] + b), np.append(y, y[-1])
            ax.step(tx, y, where="post", color=ctx.colors[proto], lw=1.3, zorder=3,
                    clip_on=False)  # drawn over the x axis: a bucket at 0 ops/s must show
            if i == 0:
                ax.set_title(panel_title(f"{proto} (seed {_int(run['seed'])})", axes_w_in),
                             color=ctx.colors[proto], fontweight="bold")
            if j == 0:
                ax.set_ylabel(m.axis_label)
        if rows > len(metrics):
            lane = axes[-1][j]
            spans = leader_spans(rts, rev, b) if has_leader else []
            any_leaderless |= _draw_lane(lane, spans, layouts[proto], levels, per_in, windows)
            lane.set_ylim(0, 1.0 + levels + 0.3 if levels else 1.0)
            ticks, labels = [0.5], ["leader"]
            if levels:
                ticks.append(1.15 + (levels - 1) / 2 + 0.2)
                labels.append("failover")
            lane.set_yticks(ticks, labels)
            lane.tick_params(axis="y", left=False)
            lane.grid(False)
            for side in ("left", "top", "right"):
                lane.spines[side].set_visible(False)
        axes[-1][j].set_xlabel("simulated time (s)")
        axes[-1][j].set_xlim(x_lo - 0.02 * (x_hi - x_lo), x_hi + 0.02 * (x_hi - x_lo))
    for i, m in enumerate(metrics):
        if m.key.startswith("throughput"):  # once every panel of the shared row is drawn
            top = max((float(np.nanmax(ln.get_ydata())) for ax in axes[i] for ln in ax.lines
                       if np.isfinite(ln.get_ydata()).any()), default=0.0)
            axes[i][0].set_ylim(0, top * 1.05 if top > 0 else 1.0)
        if m.key.startswith("latency"):
            arr = np.asarray(lat_vals)
            arr = arr[arr > 0]
            if len(arr) and arr.max() / np.median(arr) > 15:
                axes[i][0].set_yscale("log")
                log_ticks(axes[i][0].yaxis)
                axes[i][0].set_ylabel(log_label(m.axis_label))
            else:
                axes[i][0].set_ylim(bottom=0)
            t_s = ctx.res.timeout_ms_at(chosen_point or ())
            if t_s and len(arr) and arr.max() >= 0.9 * t_s:
                for j in range(len(protos)):
                    axes[i][j].axhline(t_s, color="0.35", lw=0.9, ls=":", zorder=0.5)
                timeout_drawn = t_s
    point_text = ", ".join(f"{param_short(k)} = {v}" for k, v in zip(keys, chosen_point or ()))
    handles: list = []
    for kind in kinds_seen:
        label, color = STYLES[kind].label, STYLES[kind].colour
        handles.append(Patch(facecolor=color, alpha=0.25, label=label))
    handles = _dedupe(handles)
    if (ev[ev["run_id"].isin([r["run_id"] for r in chosen.values()])]["kind"] == "leader").any():
        handles.append(Line2D([], [], color="0.25", lw=0.9, ls=(0, (4, 2)), label="new leader"))
    if any_leaderless:
        handles.append(Patch(facecolor="white", edgecolor=NO_LEADER, hatch="/////", linewidth=0.0, label="no leader"))
    if timeout_drawn:
        handles.append(Line2D([], [], color="0.35", lw=0.9, ls=":", label=f"client timeout ({_ms(timeout_drawn)})"))
    title = f"Throughput and p99 latency over time under faults: {ctx.vs}"
    extra = "run shown: " + (point_text + ", " if point_text else "") + "lowest seed"
    unlabelled = sum(1 for _f, placed, _l in layouts.values() for _x, lv in placed if lv is None)
    if unlabelled:
        extra += f" · {unlabelled} failovers too dense to label (all in events.csv)"
    sub = " · ".join(s for s in (f"fixed: {ctx.fixed_text}" if ctx.fixed_text else "", extra) if s)
    header(fig, title, wrap(sub, fig.get_figwidth()), handles, ncol=min(len(handles), 6))
    cap = ("One run per contender at the same parameter point and seed, values per time bucket of "
           "simulated time. Shaded: fault windows.")
    if rows > len(metrics):  # only a consensus run has leaders to show
        cap += (" Dashed lines: a node became leader. Bottom lane: "
                "the leader (sampled at each bucket's end, changes placed at the election or fault "
                "events; an isolated leader still counts until a newer one is elected; red: none, "
                "including stretches shorter than a bucket), and "
                "above it each failover — from the fault that hit the leader until a newer "
                "leader was elected — with its length.")
    return render(fig, Chart("timeline", AVAILABILITY, title, cap), out_dir)


def panel_title(text: str, panel_w_in: float) -> str:
    """A panel title wrapped to the panel's width (bold 9.5 pt: about 12 characters per inch), so
    that neighbouring titles never run into each other."""
    width = max(12, int(panel_w_in * 12))
    return "\n".join(w for line in text.split("\n") for w in textwrap.wrap(line, width) or [""])


NO_LEADER = "#b22222"   # hatching of a span without a leader


def _draw_lane(ax, spans, layout, levels: int, per_in: float, windows) -> bool:
    """The leader bar (node id per span, red where there was none) and the failover brackets with
    their labels on the levels :func:`layout_labels` chose. True when a leaderless span was drawn."""
    leaderless = False
    for a, e, node in spans:
        if node is None:  # at least a hair wide: a leaderless stretch of 1 ms must show
            ax.broken_barh([(a, max(e - a, 0.02 * per_in))], (0.1, 0.8), facecolors="white",
                           edgecolor=NO_LEADER, hatch="/////", linewidth=0.0)
            leaderless = True
        else:
            ax.broken_barh([(a, e - a)], (0.1, 0.8), facecolors="0.86", edgecolor="white", linewidth=0.6)
            if (e - a) / per_in >= 0.22:
                ax.text((a + e) / 2, 0.5, f"n{node}", ha="center", va="center", fontsize=6.5, color="0.25")
    fos, placed, _levels = layout
    for (a, e, text), (x, level) in zip(fos, placed):
        if level is None:  # too dense to label: the bracket alone, on the lowest level
            ax.plot([a, e], [1.15, 1.15], color="0.2", lw=1.0, solid_capstyle="butt")
            continue
        base = 1.15 + level
        ax.plot([a, e], [base, base], color="0.2", lw=1.0, solid_capstyle="butt")
        ax.plot([a, a], [base - 0.18, base + 0.18], color="0.2", lw=0.8)
        ax.plot([e, e], [base - 0.18, base + 0.18], color="0.2", lw=0.8)
        ax.text(x, base + 0.12, text, ha="center", va="bottom", fontsize=LABEL_FONT, color="0.1")
    return leaderless


def _ms(ms: float) -> str:
    from harness.units import human_duration
    return human_duration(ms / 1000)


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
    """Failover times (one dot per failover, from events.csv, else each run's mean) and, beside
    them, each run's time unavailable: a quick failover can still leave a long outage."""
    ev = ctx.res.events
    d = None
    source = ""
    if ev is not None and not ev.empty:
        fo = ev[(ev["kind"] == "failover") & ev["duration_ms"].notna()][["run_id", "duration_ms"]]
        if not fo.empty:
            d = fo.merge(ctx.runs, on="run_id", how="inner").rename(columns={"duration_ms": "__fo"})
            source = "failover: each dot is one failover (events.csv)"
    if (d is None or d.empty) and ctx.res.has_metric("failover_ms_mean"):
        d = ctx.runs[ctx.runs["failover_ms_mean"].notna()].assign(__fo=lambda x: x["failover_ms_mean"])
        source = "failover: each dot is one run's mean failover time"
    if d is None or d.empty:
        return None
    panels = [("__fo", d, "failover time (ms)")]
    if ctx.res.has_metric("unavailable_ms"):
        u = ctx.runs[ctx.runs["unavailable_ms"].notna()].assign(__fo=lambda x: x["unavailable_ms"])
        if not u.empty:
            panels.append(("__fo", u, "time unavailable per run (ms)"))
            source += " · unavailable: one dot per run"
    facets = ctx.facets or [None]
    ncols = min(len(facets), MAX_COLS)  # many facets wrap into rows of at most MAX_COLS
    per = math.ceil(len(facets) / ncols)
    cells = [(i * per + k // ncols, k % ncols, i, facet) for i in range(len(panels))
             for k, facet in enumerate(facets)]
    xw = max(3.6, 1.2 * len(ctx.x.values)) if ctx.x else 3.6
    fig, axes = figure(len(panels) * per, ncols, panel=(xw, 2.6), sharey="row")
    any_boxes = False
    for i, (col, data, ylabel) in enumerate(panels):
        group = [CONTENDER, "__facet"] if ctx.facets else [CONTENDER]
        if ctx.x is not None:
            group.append(ctx.x.key)
        boxes = int(data.groupby(group).size().min()) >= 4  # a box of fewer points would only mislead
        any_boxes |= boxes
        for r, j, _i, facet in [c for c in cells if c[2] == i]:
            ax = axes[r][j]
            df = data if facet is None else data[data["__facet"] == facet]
            xkey, order = (CONTENDER, ctx.contenders) if ctx.x is None else (ctx.x.key, ctx.x.values)
            kw = dict(data=df, x=xkey, y=col, order=order, ax=ax, legend=False, hue=CONTENDER,
                      hue_order=ctx.contenders, palette=ctx.colors)
            if ctx.x is not None:
                kw.update(dodge=True)
            if boxes:
                sns.boxplot(**kw, showfliers=False, width=0.6, boxprops={"alpha": 0.35}, linewidth=0.9,
                            saturation=1.0)
            sns.swarmplot(**kw, size=3.5 if boxes else 5, edgecolor="white", linewidth=0.3, warn_thresh=1.0)
            ax.set_ylim(bottom=0)
            if ctx.x is None:
                ctx.contender_axis(ax)
            else:
                ax.set_xlabel(ctx.x.label if bottom_of_column(cells, r, j) else "")
            ax.set_ylabel(ylabel if j == 0 else "")
            if facet is not None and (r == 0 or per > 1):
                ax.set_title(facet)
    hide_unused(axes, cells)
    what = "Failover time and time unavailable" if len(panels) > 1 else "Failover time distribution"
    title = f"{what}: {ctx.vs}"
    header(fig, title, ctx.subtitle(extra=source, band="", width_in=fig.get_figwidth()),
           ctx.handles("patch"))
    cap = ("Failover time: for each fault that hit the leader (crash, isolation, minority side of a "
           "partition), the time until a newer leader was elected — not until requests were served "
           "again. ")
    if len(panels) > 1:
        cap += ("Time unavailable: per run, the commit gaps longer than metrics.unavailable_gap, "
                "wherever they fell (a heal can cause one too) — the outage clients actually saw. ")
    cap += ("Boxes: quartiles and median; dots: individual measurements." if any_boxes
            else "Each dot is one measurement.")
    return render(fig, Chart("failover", AVAILABILITY, title, cap), out_dir)
