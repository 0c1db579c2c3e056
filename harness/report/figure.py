"""Shared figure machinery: style, layout, titles, axes and saving.

Every chart is drawn on a :class:`matplotlib.figure.Figure` (no pyplot state) inside
:func:`style`, with the title, a subtitle naming the fixed parameters and the method, and the
legend in a band above the panels. Output is deterministic: fixed sizes, no PNG software tag, no
SVG date, a fixed SVG hash salt.
"""

from __future__ import annotations

import io
import math
import textwrap
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, Locator, MaxNLocator, NullLocator  # noqa: E402

from .load import CONTENDER, Param, Results  # noqa: E402
from harness.catalog.metrics import Metric  # noqa: E402
from harness.catalog.params import param_label, param_short  # noqa: E402
from .options import ChartOptions  # noqa: E402
from .palette import contender_colors, contender_markers  # noqa: E402

PNG_DPI = 150
PANEL_W, PANEL_H = 3.7, 2.75
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8.5,
    "legend.title_fontsize": 8.5,
    "figure.titlesize": 11.5,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.7,
    "lines.markersize": 5,
    "svg.hashsalt": "distbench-report",
    "svg.fonttype": "path",
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    "figure.constrained_layout.h_pad": 0.06,
    "figure.constrained_layout.w_pad": 0.06,
}

@dataclass
class Chart:
    name: str               # file stem
    section: str            # metric family it illustrates
    title: str
    caption: str
    png: bytes = b""
    files: list[Path] = field(default_factory=list)
    size_px: tuple[int, int] = (0, 0)   # CSS pixels to show it at (100 px per figure inch)


_OPTIONS: ContextVar[ChartOptions] = ContextVar("chart_options", default=ChartOptions())


def options() -> ChartOptions:
    """The options of the charts being drawn (set by :func:`style`)."""
    return _OPTIONS.get()


@contextmanager
def style(opts: ChartOptions | None = None) -> Iterator[None]:
    opts = opts or ChartOptions()
    rc = {k: (v * opts.font_scale if k.endswith(("size", "fontsize")) and isinstance(v, (int, float)) else v)
          for k, v in RC.items()}
    token = _OPTIONS.set(opts)
    try:
        with sns.axes_style("whitegrid"), sns.plotting_context("paper"), mpl.rc_context(rc):
            yield
    finally:
        _OPTIONS.reset(token)


# ---------------------------------------------------------------------------------------------
# Layout helpers

class Ctx:
    """What every chart needs: data, colours, the x parameter and the facets."""

    def __init__(self, res: Results):
        self.res = res
        self.contenders = res.contenders
        self.colors = contender_colors(res.contenders, res.compare, res.values)
        self.markers = contender_markers(res.contenders)
        varying = [p for p in res.params if len(p.values) > 1]
        numeric = [p for p in varying if p.numeric]
        self.x: Param | None = numeric[0] if numeric else (varying[0] if varying else None)
        self.facet_params = [p for p in varying if p is not self.x]
        runs = res.runs.copy()
        if self.x is not None:
            runs["__x"] = runs[self.x.key].map(self.x_pos)
        if self.facet_params:
            runs["__facet"] = runs.apply(lambda r: self.facet_label(tuple(r[p.key] for p in self.facet_params)), axis=1)
        self.runs = runs
        combos = sorted({tuple(r) for r in runs[[p.key for p in self.facet_params]].itertuples(index=False)},
                        key=lambda t: tuple(p.values.index(v) for p, v in zip(self.facet_params, t))) \
            if self.facet_params else []
        self.facets = [self.facet_label(c) for c in combos]
        seeds = runs.groupby([CONTENDER, *res.param_keys], dropna=False).size()
        self.nmin, self.nmax = int(seeds.min()), int(seeds.max())
        fixed = [str(f) for f in res.fixed]
        fixed += [f"{param_short(p.key)} = {short(p.values[0])}" for p in res.params if len(p.values) == 1]
        self.fixed_text = ", ".join(fixed)

    def x_pos(self, v: str) -> float:
        assert self.x is not None
        return self.x.numbers[v] if self.x.numbers else float(self.x.values.index(v))

    def facet_label(self, values: tuple[str, ...]) -> str:
        return ", ".join(f"{param_short(p.key)} = {short(v)}" for p, v in zip(self.facet_params, values))

    @property
    def vs(self) -> str:
        return " vs ".join(self.contenders)

    def seeds_text(self, band: str = "band") -> str:
        if self.nmax <= 1:
            return "single seed (n=1, no CI)"
        n = f"{self.nmin}" if self.nmin == self.nmax else f"{self.nmin}–{self.nmax}"
        text = f"mean of {n} seeds, {band}: 95% CI (Student t)"
        if self.nmin == 2:
            text += " — with 2 seeds t has 1 degree of freedom (×12.7): very wide"
        return text

    def subtitle(self, extra: str = "", band: str = "band", width_in: float = 8.0) -> str:
        parts = [s for s in (f"fixed: {self.fixed_text}" if self.fixed_text else "", extra,
                             self.seeds_text(band) if band else "") if s]
        return wrap(" · ".join(parts), width_in)

    def contender_axis(self, ax) -> None:
        """Label an axis of contenders (bars at 0..n-1): a compared setting's values ("150ms")
        under the setting's name, else the contenders' names."""
        r = self.res
        if r.compare in ("protocol", "contender"):
            category_ticks(ax, self.contenders)
            ax.set_xlabel("")
        else:
            category_ticks(ax, [r.values.get(c, c) for c in self.contenders])
            ax.set_xlabel(param_label(r.compare))

    def handles(self, kind: str = "line") -> list:
        if kind == "patch":
            return [Patch(facecolor=self.colors[p], label=p) for p in self.contenders]
        return [Line2D([], [], color=self.colors[p], marker=self.markers[p], label=p)
                for p in self.contenders]


TITLE_CHARS = 32


def short(value: str, limit: int = TITLE_CHARS) -> str:
    """A value short enough for a panel title: a swept section without a label (a whole YAML
    mapping) is cut, with an ellipsis; label it in the suite to get a readable name."""
    return value if len(value) <= limit else value[:limit - 1].rstrip() + "…"


def wrap(text: str, width_in: float) -> str:
    """Wrap a subtitle to the figure width, breaking between its " · " parts when possible."""
    if not text:
        return ""
    width = max(50, int(width_in * 17))
    lines: list[str] = []
    for part in text.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        elif len(part) <= width:
            lines.append(part)
        else:
            lines.extend(textwrap.wrap(part, width))
    return "\n".join(lines)


def figure(nrows: int, ncols: int, *, panel=(PANEL_W, PANEL_H), sharex=False, sharey: bool | str = False,
            min_w: float = 6.4) -> tuple[Figure, np.ndarray]:
    w = max(min_w, panel[0] * ncols + 0.5)
    h = panel[1] * nrows + 1.3
    fig = Figure(figsize=(round(w, 2), round(h, 2)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    return fig, axes


def header(fig: Figure, title: str, subtitle: str, handles: list, ncol: int | None = None) -> None:
    """Title, subtitle (fixed parameters, method) and legend in a band above the panels.

    Positions are computed in inches, and the panels are laid out below the band, so the header
    never overlaps a panel whatever the figure size."""
    opts = options()
    k = opts.font_scale
    if opts.figsize is not None:
        fig.set_figwidth(opts.figsize[0])
    if not opts.subtitle:
        subtitle = ""
    elif k != 1 or opts.figsize is not None:  # re-wrap to the new width and font size
        subtitle = wrap(subtitle.replace("\n", " "), fig.get_figwidth() / k)
    lines = subtitle.count("\n") + 1 if subtitle else 0
    # A title longer than the figure is wide wraps (bold 11.5 pt: about 9.5 characters per inch).
    title = "\n".join(textwrap.wrap(title, max(20, int(fig.get_figwidth() * 9.5 / k)), break_long_words=False)) or title
    top, title_h, line_h = 0.10 * k, (0.30 + 0.21 * title.count("\n")) * k, 0.175 * k
    ncol = legend_columns(handles, fig.get_figwidth() / k, ncol)
    legend_h = (0.32 + 0.2 * (math.ceil(len(handles) / ncol) - 1)) * k if handles else 0.0
    header = top + title_h + line_h * lines + legend_h + 0.06
    h = fig.get_figheight() + header if opts.figsize is None else max(opts.figsize[1], header + 1.0)
    fig.set_figheight(round(h, 2))
    fig.get_layout_engine().set(rect=(0, 0, 1, 1 - header / h))
    fig.text(0.5, 1 - top / h, title, ha="center", va="top", fontsize=RC["figure.titlesize"] * k,
             fontweight="bold")
    if subtitle:
        fig.text(0.5, 1 - (top + title_h) / h, subtitle, ha="center", va="top", fontsize=8 * k,
                 color="0.3", multialignment="center", linespacing=1.35)
    if handles:
        fig.legend(handles=handles, loc="upper center", ncols=ncol,
                   bbox_to_anchor=(0.5, 1 - (top + title_h + line_h * lines) / h), frameon=False,
                   columnspacing=1.6, handlelength=2.2, borderaxespad=0.0, borderpad=0.2)


def legend_columns(handles: list, width_in: float, wanted: int | None = None) -> int:
    """Legend entries per row: ``wanted`` (at most six) or fewer, so that a row of the longest
    label fits the figure's width (8.5 pt: about 0.065 inch a character, plus the handle)."""
    if not handles:
        return 1
    longest = max(len(str(h.get_label())) for h in handles)
    fits = max(1, int((width_in - 0.3) / (0.065 * longest + 0.5)))
    return max(1, min(wanted or 6, len(handles), fits))


def render(fig: Figure, chart: Chart, out_dir: Path) -> Chart:
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI, metadata={"Software": None})
    chart.png = buf.getvalue()
    png, svg = out_dir / f"{chart.name}.png", out_dir / f"{chart.name}.svg"
    png.write_bytes(chart.png)
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    chart.files = [png, svg]
    chart.size_px = (round(fig.get_figwidth() * 100), round(fig.get_figheight() * 100))
    return chart


def x_axis(ax, ctx: Ctx, label: bool = True) -> None:
    x = ctx.x
    if x is None:
        return
    pos = [ctx.x_pos(v) for v in x.values]
    if x.numeric and min(pos) > 0 and max(pos) / min(pos) >= 16:
        base = 2 if all(float(p).is_integer() and (int(p) & (int(p) - 1)) == 0 for p in pos) else 10
        ax.set_xscale("log", base=base)
    if len(pos) <= 10:
        ax.xaxis.set_major_locator(FixedLocator(pos))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _i, _p=pos, _l=x.values: _l[_p.index(v)]
                                                   if v in _p else ""))
        ax.xaxis.set_minor_locator(NullLocator())
    if not x.numeric:
        ax.set_xlim(min(pos) - 0.4, max(pos) + 0.4)
    if label:
        ax.set_xlabel(x.label)


def category_ticks(ax, labels: list[str], width: int = 22) -> None:
    """Label category positions 0..n-1; long labels (a swept section such as ``faults``) wrap
    and shrink so that neighbours never overlap."""
    ax.set_xticks(range(len(labels)), [textwrap.fill(v, width) for v in labels])
    if any(len(v) > width for v in labels):
        ax.tick_params(axis="x", labelsize="x-small")


def wants_log(metric: Metric, values: np.ndarray) -> bool:
    """Latencies spanning more than a decade are drawn on a log axis (a 3 ms line and a 100 ms
    line sharing a linear axis would leave the first flat on the floor)."""
    vals = values[np.isfinite(values) & (values > 0)]
    return metric.unit == "ms" and len(vals) > 0 and vals.max() / vals.min() > 10


def y_axis(ax, metric: Metric, values: np.ndarray, *, zero: bool = True, log: bool = False) -> None:
    vals = values[np.isfinite(values) & (values > 0)]
    if log:
        ax.set_yscale("log")
        log_ticks(ax.yaxis)
    elif zero:
        ax.set_ylim(bottom=0)
        if metric.unit == "%" and len(vals) and vals.max() > 60:
            ax.set_ylim(top=min(104.0, ax.get_ylim()[1]))


MAX_COLS = 4


def panel_grid(ctx: Ctx, metrics: list[Metric]) -> tuple[list[tuple[int, int, Metric, str | None]], int, int]:
    """(row, col, metric, facet) for every panel: metrics side by side, or for each metric its
    facets (when a second parameter is swept), wrapped into rows of at most ``MAX_COLS``."""
    if ctx.facets:
        ncols = min(len(ctx.facets), MAX_COLS)
        per = math.ceil(len(ctx.facets) / ncols)
        cells = [(i * per + k // ncols, k % ncols, m, f) for i, m in enumerate(metrics)
                 for k, f in enumerate(ctx.facets)]
        return cells, len(metrics) * per, ncols
    return [(0, j, m, None) for j, m in enumerate(metrics)], 1, len(metrics)


def hide_unused(axes, cells) -> None:
    """Hide the grid's panels no cell uses (the end of a wrapped row)."""
    used = {(i, j) for i, j, *_ in cells}
    for i, row in enumerate(axes):
        for j, ax in enumerate(row):
            if (i, j) not in used:
                ax.set_visible(False)
            elif bottom_of_column(cells, i, j):  # shared x: the last panel of a column shows its ticks
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.xaxis.label.set_visible(True)


def bottom_of_column(cells, i: int, j: int) -> bool:
    """Whether no used panel sits below (i, j): its x axis gets the label."""
    return not any(ii > i and jj == j for ii, jj, *_ in cells)



class _LogTicks(Locator):
    """Ticks at 1-2-5 steps on a log axis; 1..9 steps, or a few linear ticks, when the visible
    range is too narrow for 1-2-5 to give at least two labels."""

    def __call__(self):
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def tick_values(self, vmin, vmax):
        lo, hi = sorted((float(vmin), float(vmax)))
        if not (hi > 0):
            return []
        lo = max(lo, hi * 1e-9)
        for subs in ((1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)):
            ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
                     for m in subs]
            inside = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
            if len(inside) >= 2:
                return inside
        return [t for t in MaxNLocator(4).tick_values(lo, hi) if t > 0]


def log_ticks(axis) -> None:
    """Plain-number ticks on a log axis (no 10^x, no unlabeled minor clutter), at least two."""
    axis.set_major_locator(_LogTicks())
    axis.set_major_formatter(FuncFormatter(plain))
    axis.set_minor_locator(NullLocator())


LOG_NOTE = "log scale"


def log_label(label: str) -> str:
    """"p99 latency (ms)" -> "p99 latency (ms, log scale)": a log axis always says so."""
    if LOG_NOTE in label:
        return label
    if label.endswith(")"):
        return label[:-1] + f", {LOG_NOTE})"
    return f"{label} ({LOG_NOTE})"


def plain(v: float, _pos=None) -> str:
    """Tick label without scientific notation: 0.1, 2.5, 10, 1,000."""
    if v <= 0:
        return ""
    if v >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.3g}"


def point_mask(d: pd.DataFrame, keys: list[str], point: tuple[str, ...]) -> pd.Series:
    mask = pd.Series(True, index=d.index)
    for k, v in zip(keys, point):
        mask &= d[k] == v
    return mask
