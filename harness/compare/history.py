"""A suite's history over commits: one summary line per results directory in a JSON Lines
file, the trend of chosen metrics drawn from it, and the check that its newest entries did not
start a change for the worse.

A gate compares two commits; a slow drift of 1% per pull request passes every gate and still
halves throughput over a year. The history makes that drift visible (as asv and
github-action-benchmark do). Each line is self-contained, so the file merges and diffs well in a
repository. A history compares like with like: one entry per commit, and every entry with the
same seeds and the same matrix points; :mod:`harness.compare.drift` finds the changes in it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.catalog.metrics import metric_for
from harness.compare.changepoints import ALPHA, MIN_SIZE
from harness.compare.drift import BETTER, CHANGED, SMALL, WITHIN, WORSE, Shift, shifts, threshold_for
from harness.compare.judge import point_label
from harness.compare.policy import DEFAULT_THRESHOLDS, Threshold
from harness.compare.sides import CompareError, load_side, run_configs
from harness.execution.results import now_iso

DEFAULT_METRICS = ("throughput_ops_s", "latency_p99_ms")


def read_history(path: Path) -> list[dict[str, Any]]:
    """Every entry of a history file; a line that is not a JSON object is a one-line error."""
    entries = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path}: cannot read the history ({getattr(exc, 'strerror', None) or exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CompareError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("points"), dict) \
                or not all(isinstance(v, dict) for v in entry["points"].values()):
            raise CompareError(f"{path}: line {number} is not a history entry (expected an object with points)")
        entries.append(entry)
    return entries


def summarize_dir(results_dir: Path, label: str | None = None) -> dict[str, Any]:
    """One history entry: per matrix point, the mean over seeds of every numeric metric."""
    side = load_side(results_dir, "RESULTS")
    configs = run_configs(side)
    runs = side.runs.copy()
    runs["__point"] = runs["run_id"].map(lambda rid: point_label((configs.get(rid) or {}).get("params") or {}))
    skip = {"suite", "kind", "run_id", "protocol", "seed", "safety", "safety_detail", "wall_s", "__point"}
    metrics = [c for c in runs.columns if c not in skip and "." not in c]
    points: dict[str, dict[str, Any]] = {}
    for point, group in runs.groupby("__point", sort=False):
        values: dict[str, Any] = {"n": int(len(group))}
        for metric in metrics:
            column = pd.to_numeric(group[metric], errors="coerce")
            if column.notna().any():
                values[metric] = float(column.mean())
        values["unsafe"] = int((group["safety"] != "ok").sum())
        points[str(point)] = values
    commit = side.manifest.get("git_commit")
    return {"label": label or (str(commit)[:10] if commit else side.path.name), "commit": commit,
            "suite": side.suite, "seeds": side.seeds, "recorded": now_iso(),
            "finished": side.manifest.get("finished"), "results": str(side.path), "points": points}


def _identity(entry: dict[str, Any]) -> str:
    """What makes two entries the same measurement: the commit, or the label where none was recorded."""
    return str(entry.get("commit") or entry.get("label"))


def _seeds(entry: dict[str, Any], listed: bool) -> str:
    """The entry's seeds, or (``listed`` false: entries written before seeds were recorded) its
    runs per point."""
    if listed:
        return "seeds " + ", ".join(str(s) for s in entry["seeds"])
    counts = sorted({v.get("n") for v in entry["points"].values()}, key=str)
    return "runs per point " + ", ".join(str(n) for n in counts)


def _unlike(entry: dict[str, Any], other: dict[str, Any]) -> str | None:
    """How ``entry`` differs from ``other`` in seeds or matrix points, or None."""
    mine, theirs = set(entry["points"]), set(other["points"])
    if mine != theirs:
        extra, missing = sorted(mine - theirs), sorted(theirs - mine)
        parts = ([f"{len(extra)} point(s) the history lacks (first: {extra[0]})"] if extra else []) + \
                ([f"lacks {len(missing)} of its point(s) (first: {missing[0]})"] if missing else [])
        return "a different matrix: " + "; ".join(parts)
    listed = all(isinstance(e.get("seeds"), list) for e in (entry, other))
    if _seeds(entry, listed) != _seeds(other, listed):
        return f"{_seeds(entry, listed)} where the history has {_seeds(other, listed)}"
    return None


def add(history: Path, results_dir: Path, label: str | None = None,
        replace: bool = False) -> tuple[dict[str, Any], bool]:
    """Add ``results_dir``'s summary to ``history`` (one file per suite); returns the entry and
    whether it replaced one. A second entry for the same commit is refused unless ``replace``
    (the file is then rewritten beside and renamed over); so is an entry whose seeds or matrix
    points differ from the history's newest."""
    history = Path(history)
    entry = summarize_dir(results_dir, label)
    previous = read_history(history)
    if previous and previous[-1].get("suite") != entry["suite"]:
        raise CompareError(f"{history}: holds the history of suite {previous[-1].get('suite')!r}, not "
                           f"{entry['suite']!r}: keep one history file per suite")
    same = [i for i, e in enumerate(previous) if _identity(e) == _identity(entry)]
    if same and not replace:
        raise CompareError(f"{history}: already has an entry for commit {_identity(entry)} "
                           f"({previous[same[-1]].get('label')}): pass --replace to replace it")
    others = [e for i, e in enumerate(previous) if i not in same]
    if others and (why := _unlike(entry, others[-1])):
        raise CompareError(f"{history}: {results_dir} has {why} (newest entry: "
                           f"{others[-1].get('label')}): start a new history file for it")
    line = json.dumps(entry, sort_keys=True) + "\n"
    history.parent.mkdir(parents=True, exist_ok=True)
    raw = history.read_text(encoding="utf-8") if previous else ""
    if not same:
        with history.open("a", encoding="utf-8") as f:
            f.write(("\n" if raw and not raw.endswith("\n") else "") + line)
        return entry, False
    lines = [t if t.endswith("\n") else t + "\n" for t in raw.splitlines(keepends=True)]
    entry_lines = [n for n, t in enumerate(lines) if t.strip()]
    for i in same:
        lines[entry_lines[i]] = ""
    lines[entry_lines[same[0]]] = line
    fd, tmp = tempfile.mkstemp(dir=history.parent, prefix=f".{history.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(lines)
        os.chmod(tmp, history.stat().st_mode & 0o777)
        os.replace(tmp, history)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return entry, True


def series(entries: list[dict[str, Any]], point: str, metric: str) -> tuple[list[int], list[float]]:
    """The entries (their indices) that have a finite value of ``metric`` at ``point``, and the values."""
    at, values = [], []
    for order, entry in enumerate(entries):
        value = (entry["points"].get(point) or {}).get(metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            at.append(order)
            values.append(float(value))
    return at, values


def history_shifts(entries: list[dict[str, Any]], point: str, metric: str, threshold: Threshold,
                   alpha: float = ALPHA, min_size: int = MIN_SIZE) -> list[Shift]:
    """The change points of one series, as indices into ``entries``."""
    at, values = series(entries, point, metric)
    return [dataclasses.replace(s, start=at[s.start], since=at[s.since])
            for s in shifts(values, metric, threshold, alpha, min_size)]


def chosen_metrics(entries: list[dict[str, Any]], history: Path, metrics: tuple[str, ...],
                   default: tuple[str, ...]) -> tuple[str, ...]:
    """``metrics`` (each must have values in the history), or those of ``default`` that have."""
    present = {m for e in entries for values in e["points"].values() for m in values}
    missing = [m for m in metrics if m not in present]
    if missing:
        raise CompareError(f"{history}: no values of {missing[0]!r} in the history")
    return metrics or tuple(m for m in default if m in present)


def load(history: Path) -> list[dict[str, Any]]:
    """The entries of a history that must have some (for check and plot)."""
    entries = read_history(history)
    if not entries:
        raise CompareError(f"{history}: no history yet (add entries with `distbench history add`)")
    return entries


@dataclasses.dataclass(frozen=True)
class Finding:
    """A series whose newest segment began recently and moved beyond the threshold."""

    point: str
    metric: str
    shift: Shift
    threshold: Threshold

    def line(self, entries: list[dict[str, Any]]) -> str:
        spec = metric_for(self.metric)
        s = self.shift
        unit = f" {spec.unit}" if spec.unit else ""
        steps = f" ({s.steps} steps since {_label(entries, s.since)})" if s.steps > 1 else ""
        return (f"{s.verdict}: {self.point}: {spec.label} {_num(s.before * spec.scale)} -> "
                f"{_num(s.after * spec.scale)}{unit} ({s.relative:+.1%}, threshold {self.threshold.text()}) "
                f"since {_label(entries, s.start)}{steps}")


def _label(entries: list[dict[str, Any]], index: int) -> str:
    return str(entries[index].get("label", index))


def _num(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def check(entries: list[dict[str, Any]], metrics: tuple[str, ...], thresholds: Mapping[str, Threshold],
          alpha: float = ALPHA, min_size: int = MIN_SIZE, within: int = WITHIN) -> tuple[list[Finding], int]:
    """The series (point of the newest entry × metric) whose newest segment began within the last
    ``within`` entries and is worse or better than the segment before its run of steps, beyond the
    threshold; and how many series were checked."""
    findings, checked = [], 0
    for point in entries[-1]["points"]:
        for metric in metrics:
            at, _ = series(entries, point, metric)
            if not at:
                continue
            checked += 1
            threshold = threshold_for(metric, thresholds)
            found = history_shifts(entries, point, metric, threshold, alpha, min_size)
            if found and found[-1].start >= len(entries) - within and found[-1].verdict in (WORSE, BETTER):
                findings.append(Finding(point, metric, found[-1], threshold))
    return findings, checked


CHANGE_COLOURS = {WORSE: "#d62728", BETTER: "#2ca02c", SMALL: "#7f7f7f", CHANGED: "#1f77b4"}


def figure(entries: list[dict[str, Any]], metrics: tuple[str, ...], thresholds: Mapping[str, Threshold],
           log: bool = False, alpha: float = ALPHA, min_size: int = MIN_SIZE) -> Any:
    """One panel per metric over the recorded commits, one line per matrix point, each change
    point marked by a vertical line and a diamond coloured by its verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.lines import Line2D
    from matplotlib.ticker import LogFormatter

    points = list(dict.fromkeys(p for e in entries for p in e["points"]))
    palette = dict(zip(points, sns.color_palette(n_colors=len(points))))
    labels = [_label(entries, i)[:12] for i in range(len(entries))]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(6.0, 0.35 * len(entries) + 4), 2.8 * len(metrics) + 0.6),
                             squeeze=False, sharex=True)
    verdicts: set[str] = set()
    for ax, metric in zip(axes[:, 0], metrics):
        spec = metric_for(metric)
        for point in points:
            at, values = series(entries, point, metric)
            ax.plot(at, [v * spec.scale for v in values], marker="o", ms=3, lw=1.2, color=palette[point])
            for shift in history_shifts(entries, point, metric, threshold_for(metric, thresholds), alpha, min_size):
                colour = CHANGE_COLOURS[shift.verdict]
                verdicts.add(shift.verdict)
                ax.axvline(shift.start - 0.5, color=colour, ls="--", lw=1, alpha=0.7)
                ax.plot([shift.start], [values[at.index(shift.start)] * spec.scale], marker="D", ms=7,
                        color=colour, markeredgecolor="black", zorder=3)
        if log:
            ax.set_yscale("log", nonpositive="mask")
            for set_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
                set_formatter(LogFormatter(labelOnlyBase=False))   # 900, not 9×10²
        ax.set_ylabel(spec.axis_label)
        ax.set_title(f"{spec.label}" + (f" ({spec.better_text})" if spec.better_text else ""), fontsize=10)
        ax.grid(True, alpha=0.3)
    step = max(1, math.ceil(len(labels) / 40))
    ticks = list(range(0, len(labels), step))
    axes[-1, 0].set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right", fontsize=8)
    axes[-1, 0].set_xlabel("commit (oldest first)")
    handles = [Line2D([], [], color=palette[p], marker="o", ms=3, label=p) for p in points]
    handles += [Line2D([], [], color=CHANGE_COLOURS[v], marker="D", ls="--", label=f"change: {v}")
                for v in CHANGE_COLOURS if v in verdicts]
    fig.suptitle(f"{entries[-1].get('suite')} over commits; change points: E-divisive means, "
                 f"α = {alpha:g}, segments of ≥ {min_size}", fontsize=10)
    fig.tight_layout()
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=8, frameon=False)
    return fig


def plot(history: Path, out: Path, metrics: tuple[str, ...] = (),
         thresholds: Mapping[str, Threshold] = DEFAULT_THRESHOLDS, log: bool = False,
         alpha: float = ALPHA, min_size: int = MIN_SIZE) -> Path:
    """Write :func:`figure` for the history file to ``out`` (PNG or SVG)."""
    import matplotlib.pyplot as plt

    entries = load(history)
    metrics = chosen_metrics(entries, history, metrics, DEFAULT_METRICS)
    fig = figure(entries, metrics, thresholds, log, alpha, min_size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out
