"""The two sides of a comparison: results directories read exactly as written (by
:mod:`harness.execution.reader`), checked complete, and each run's rows of the per-run files
grouped for pairing.

Every value is kept as the text in the file, so "identical" means identical to the last digit:
a deterministic simulation that changed nothing writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from harness.execution.reader import PER_RUN_FILES, ResultsError, open_results
from harness.suite.keys import flatten, unknown_keys  # flatten: judge and the report read configs through it

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


def load_side(path: Path, role: str) -> Side:
    """Read and check one side (``role`` is "BASE" or "NEW", for messages). A directory that is
    missing, partial or was interrupted cannot be compared: it raises :class:`CompareError`."""
    try:
        read = open_results(path, role)
        read.require_complete(role)
    except ResultsError as exc:
        raise CompareError(str(exc)) from None
    columns: dict[str, list[str]] = {"runs.csv": list(read.runs.columns)}
    files: dict[str, dict[str, list[tuple[str, ...]]]] = {}
    for name in PER_RUN_FILES:
        frame = read.files[name]
        columns[name] = list(frame.columns)
        at = frame.columns.get_loc("run_id")
        by_run: dict[str, list[tuple[str, ...]]] = {}
        for row in frame.itertuples(index=False, name=None):
            by_run.setdefault(row[at], []).append(row)
        files[name] = by_run
    return Side(read.path, read.manifest, read.runs, files, columns)


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
