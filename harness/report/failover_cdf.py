"""Failover times as cumulative distributions, one curve per contender and setting of the swept
parameters: the way the Raft paper draws its leader-crash experiment (Ongaro & Ousterhout 2014,
Figure 16), one curve per election-timeout range."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from .figure import Chart, Ctx, figure, header, log_label, log_ticks, render
from .load import CONTENDER
from harness.catalog.metrics import AVAILABILITY
from harness.catalog.params import param_short

# (event kind, what its duration measures), the first one present is drawn
END_POINTS = (
    ("failover-majority-heard", "from the leader's crash until a majority heard from the new leader"),
    ("failover", "from the fault until a newer leader was elected"),
)
MIN_FAILOVERS = 5  # fewer make no distribution worth a curve
# One per setting of the swept parameters, in order (a contender keeps its colour).
LINESTYLES = ("-", "--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)), (0, (9, 3)))


def failover_cdf_chart(ctx: Ctx, out_dir: Path) -> Chart | None:
    ev = ctx.res.events
    if ev is None or ev.empty:
        return None
    for kind, what in END_POINTS:
        fo = ev[(ev["kind"] == kind) & ev["duration_ms"].notna()]
        if len(fo) >= MIN_FAILOVERS:
            break
    else:
        return None
    d = fo[["run_id", "duration_ms"]].merge(ctx.runs, on="run_id", how="inner")
    varying = [p for p in ctx.res.params if len(p.values) > 1]
    keys = [CONTENDER] + [p.key for p in varying]
    groups = sorted(d.groupby(keys, sort=False), key=lambda kv: _order(ctx, varying, kv[0]))
    fig, axes = figure(1, 1, panel=(6.0, 3.4))
    ax = axes[0][0]
    handles = []
    settings: dict[str, int] = {}
    for point, g in groups:
        x = np.sort(g["duration_ms"].to_numpy(dtype=float))
        y = np.arange(1, len(x) + 1) / len(x)
        # The contender's colour, as in every other chart; its settings differ by line style.
        k = settings[point[0]] = settings.get(point[0], -1) + 1
        style = LINESTYLES[k % len(LINESTYLES)]
        color = ctx.colors[point[0]]
        label = _label(ctx, varying, point, len(x))
        ax.step(x, y, where="post", color=color, linestyle=style, linewidth=1.4)
        handles.append(Line2D([], [], color=color, linestyle=style, label=label))
    ax.set_xscale("log")
    log_ticks(ax.xaxis)
    ax.set_xlabel(log_label("failover time (ms)"))
    ax.set_ylabel("failovers ≤ time (fraction)")
    ax.set_ylim(0, 1.02)
    ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=True, framealpha=0.9)
    title = f"Failover time distribution: {ctx.vs}"
    extra = "one curve per contender (colour)" + (" and setting (line style)" if varying else "")
    header(fig, title, ctx.subtitle(extra=extra + "; n = failovers", band="",
                                    width_in=fig.get_figwidth()), [])
    cap = (f"Cumulative distribution of failover times ({what}; events.csv rows '{kind}'), one "
           "curve per contender (its colour, as in the other charts) and swept setting (its line "
           "style), all seeds together. A curve far to the right or that never reaches 1 within the "
           "runs means split votes and repeated elections.")
    return render(fig, Chart("failover_cdf", AVAILABILITY, title, cap), out_dir)


def _order(ctx: Ctx, varying: list, point: tuple) -> tuple:
    return (ctx.contenders.index(point[0]),
            *(p.values.index(v) if v in p.values else 0 for p, v in zip(varying, point[1:])))


def _label(ctx: Ctx, varying: list, point: tuple, n: int) -> str:
    parts = [point[0]] if len(ctx.contenders) > 1 or not varying else []
    parts += [f"{param_short(p.key)} = {v}" for p, v in zip(varying, point[1:])]
    return f"{', '.join(parts)} (n={n})"
