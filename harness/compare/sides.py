"""The two sides of a comparison: results directories read exactly as written, and checked.

Every value is kept as the text in the file, so "identical" means identical to the last digit:
a deterministic simulation that changed nothing writes the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from harness.suite.keys import flatten, unknown_keys  # flatten: judge and the report read configs through it

PER_RUN_FILES = ("events.csv", "timeseries.csv", "latencies.csv")
NOT_DETERMINISTIC = ("wall_s",)
COST_COLUMNS = ("sim_events",)  # how much work the engine did: a change here alone is not behaviour


class CompareError(Exception):
    """Bad input to a comparison, as one line naming the directory and the problem."""


@dataclass
class Side:
    """One results directory: its manifest, runs.csv as text, and each run's rows of the other
    files (``files[name][run_id]`` = rows as tuples of text, in file order)."""

    path: Path
    manifest: dict[str, Any]
    runs: pd.DataFrame
    files: dict[str, dict[str, list[tuple[str, ...]]]]
    columns: dict[str, list[str]]

    @property
    def suite(self) -> str:
        return str(self.manifest.get("suite"))

    @property
    def seeds(self) -> list[int]:
        return sorted(int(s) for s in self.manifest.get("seeds") or [])

    @property
    def compare_key(self) -> str:
        return str(self.manifest.get("compare") or "protocol")

    def label(self) -> str:
        commit = self.manifest.get("git_commit")
        return f"{self.path}" + (f" (commit {str(commit)[:10]})" if commit else "")


def _csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "empty"
        raise CompareError(f"{path}: malformed CSV ({reason})") from None


def load_side(path: Path, role: str) -> Side:
    """Read and check one side (``role`` is "BASE" or "NEW", for messages). A directory that is
    missing, partial or was interrupted cannot be compared: it raises :class:`CompareError`."""
    path = Path(path)
    if not path.is_dir():
        raise CompareError(f"{path}: {role} is not a results directory (no such directory)")
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise CompareError(f"{path}: {role} has no manifest.json (not a complete results directory "
                           "written by `distbench run`)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"{manifest_path}: cannot read the manifest ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), list):
        raise CompareError(f"{manifest_path}: expected a manifest with a list of runs")
    if manifest.get("interrupted") or not manifest.get("finished"):
        raise CompareError(f"{path}: {role} was interrupted (its manifest has no finish): run the "
                           "suite to the end before comparing")
    runs_path = path / "runs.csv"
    if not runs_path.is_file():
        raise CompareError(f"{path}: {role} has no runs.csv")
    runs = _csv(runs_path)
    for col in ("run_id", "seed", "safety"):
        if col not in runs.columns:
            raise CompareError(f"{runs_path}: missing column {col!r}")
    listed = [str(r.get("run_id")) for r in manifest["runs"]]
    missing = sorted(set(listed) - set(runs["run_id"]))
    if missing:
        raise CompareError(f"{path}: {role} is partial: {len(missing)} of {len(listed)} runs have no "
                           f"row in runs.csv (first: {missing[0]})")
    files: dict[str, dict[str, list[tuple[str, ...]]]] = {}
    columns: dict[str, list[str]] = {"runs.csv": list(runs.columns)}
    for name in PER_RUN_FILES:
        file = path / name
        if not file.is_file():
            raise CompareError(f"{path}: {role} has no {name} (not a complete results directory)")
        frame = _csv(file)
        if "run_id" not in frame.columns:
            raise CompareError(f"{file}: missing column 'run_id'")
        columns[name] = list(frame.columns)
        by_run: dict[str, list[tuple[str, ...]]] = {}
        for row in frame.itertuples(index=False, name=None):
            by_run.setdefault(row[frame.columns.get_loc("run_id")], []).append(row)
        files[name] = by_run
    return Side(path, manifest, runs, files, columns)


def run_configs(side: Side) -> dict[str, dict[str, Any]]:
    """run_id -> the manifest's entry for it (params, seed, resolved config)."""
    return {str(r.get("run_id")): r for r in side.manifest["runs"] if isinstance(r, dict)}


def check_ignore(ignore: tuple[str, ...], configs: Iterable[dict[str, Any]]) -> None:
    """Raise :class:`CompareError` for an --ignore key that is neither a dotted config key of any
    of these runs' ``configs`` nor a prefix of one: a misspelt key would otherwise ignore nothing,
    silently."""
    unknown = unknown_keys(ignore, configs)
    if unknown:
        raise CompareError(f"--ignore {unknown[0]}: not a config key of these runs{unknown[1]}")


def restrict(side: Side, seeds: int) -> Side:
    """The same side with only its first ``seeds`` seeds: a comparison at fewer seeds than were
    run, as a look of a sequential comparison sees it."""
    kept_seeds = side.seeds[:seeds]
    entries = [r for r in side.manifest["runs"] if isinstance(r, dict) and int(r.get("seed", 0)) in kept_seeds]
    ids = {str(r.get("run_id")) for r in entries}
    manifest = {**side.manifest, "seeds": kept_seeds, "runs": entries}
    runs = side.runs[side.runs["run_id"].isin(ids)].reset_index(drop=True)
    files = {name: {rid: rows for rid, rows in by_run.items() if rid in ids}
             for name, by_run in side.files.items()}
    return Side(side.path, manifest, runs, files, side.columns)
