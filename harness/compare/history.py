"""A suite's history over commits: one summary line per results directory, appended to a JSON
Lines file, and the trend of chosen metrics drawn from it.

A gate compares two commits; a slow drift of 1% per pull request passes every gate and still
halves throughput over a year. The history makes that drift visible (as asv and
github-action-benchmark do). The file is append-only: each line is self-contained, so it merges
and diffs well in a repository.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from harness.compare.judge import point_label
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
        if not isinstance(entry, dict) or not isinstance(entry.get("points"), dict):
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
            "suite": side.suite, "recorded": now_iso(), "finished": side.manifest.get("finished"),
            "results": str(side.path), "points": points}


def append(history: Path, results_dir: Path, label: str | None = None) -> dict[str, Any]:
    """Append ``results_dir``'s summary to ``history`` (one file per suite)."""
    entry = summarize_dir(results_dir, label)
    previous = read_history(history)
    if previous and previous[-1].get("suite") != entry["suite"]:
        raise CompareError(f"{history}: holds the history of suite {previous[-1].get('suite')!r}, not "
                           f"{entry['suite']!r}: keep one history file per suite")
    history = Path(history)
    history.parent.mkdir(parents=True, exist_ok=True)
    with history.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def trend_frame(entries: list[dict[str, Any]], metrics: tuple[str, ...]) -> pd.DataFrame:
    """Tidy rows (order, label, point, metric, value) for the chart."""
    rows = []
    for order, entry in enumerate(entries):
        for point, values in entry["points"].items():
            for metric in metrics:
                value = values.get(metric)
                if isinstance(value, (int, float)) and math.isfinite(value):
                    rows.append({"order": order, "label": str(entry.get("label", order)),
                                 "point": point, "metric": metric, "value": float(value)})
    return pd.DataFrame(rows, columns=["order", "label", "point", "metric", "value"])


def plot(history: Path, out: Path, metrics: tuple[str, ...] = DEFAULT_METRICS) -> Path:
    """Draw each metric over the recorded commits, one line per matrix point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from harness.report.metrics import metric_for

    entries = read_history(history)
    if not entries:
        raise CompareError(f"{history}: no history yet (add entries with `distbench history add`)")
    frame = trend_frame(entries, metrics)
    missing = [m for m in metrics if m not in set(frame["metric"])]
    if missing:
        raise CompareError(f"{history}: no values of {missing[0]!r} in the history")
    labels = [str(e.get("label", i)) for i, e in enumerate(entries)]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(6.0, 0.5 * len(entries) + 4), 3.2 * len(metrics)),
                             squeeze=False, sharex=True)
    for ax, metric in zip(axes[:, 0], metrics):
        data = frame[frame["metric"] == metric]
        sns.lineplot(data=data, x="order", y="value", hue="point", marker="o", ax=ax)
        ax.set_ylabel(metric_for(metric).axis_label)
        ax.set_title(f"{entries[-1].get('suite')}: {metric_for(metric).label} over commits", fontsize=10)
        ax.legend(fontsize=7, title=None)
    axes[-1, 0].set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    axes[-1, 0].set_xlabel("commit (oldest first)")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
