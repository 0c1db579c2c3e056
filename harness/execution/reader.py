"""The one reader of a results directory written by ``distbench run``: the report, the comparison
and the history all load one through :func:`open_results`.

Each file is read once, as the text that was written, so a comparison can say "identical" to the
last digit; :meth:`ResultsDir.tidy` is the typed view the report draws from. A directory that is
not one, a file that cannot be read, a header without a column every reader needs, a value that
should be a number and is not, or a manifest of the wrong shape raise :class:`ResultsError`: one
line naming the file and what is wrong. What a reader needs on top (the report's display values
and derived columns, the comparison's pairing) stays with that reader.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# pandas is imported where a CSV file is read: the writer and ``run`` need only the manifest, and
# pandas is slow to load.
if TYPE_CHECKING:
    import pandas as pd

PER_RUN_FILES = ("events.csv", "timeseries.csv", "latencies.csv")
# The columns without which a file is of no use to any reader.
REQUIRED = {"runs.csv": ("run_id",), "events.csv": ("run_id", "time_s", "kind"),
            "timeseries.csv": ("run_id", "time_s"), "latencies.csv": ("run_id", "latency_ms", "count")}
# The columns of the per-run files that hold numbers (runs.csv's are the metrics: see the catalog).
NUMERIC = {"events.csv": ("time_s", "duration_ms"),
           "timeseries.csv": ("time_s", "throughput_ops_s", "latency_p50_ms", "latency_p99_ms"),
           "latencies.csv": ("latency_ms", "count")}
# Cells that mean "no value" where a number is expected.
MISSING = frozenset({"nan", "na", "n/a", "null", "none", "-"})
# The fields of a manifest that must have a JSON type when present, as :class:`ResultsWriter` writes them.
_MANIFEST_TYPES = {"swept": list, "seeds": list, "runs": list, "suite_config": dict, "packages": dict}


class ResultsError(Exception):
    """A results directory that cannot be read, as one line naming the file and the problem."""


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of a results directory, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def holds_results(out: Path) -> bool:
    """Whether ``out`` is a results directory written by ``distbench run`` (finished or not): its
    manifest, written before the first run starts, names the suite and lists its runs. The one
    test of "ours" before anything in a directory is resumed, replaced or compared."""
    manifest = read_manifest(out)
    return (manifest is not None and isinstance(manifest.get("suite"), str)
            and isinstance(manifest.get("runs"), list))


def load_manifest(path: Path) -> dict[str, Any]:
    """``manifest.json`` at ``path``, checked for the shape the writer gives it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: expected a JSON object, found {type(manifest).__name__}")
    for key, typ in _MANIFEST_TYPES.items():
        if manifest.get(key) is not None and not isinstance(manifest[key], typ):
            raise ResultsError(f"{path}: field {key!r} should be a JSON "
                               f"{'array' if typ is list else 'object'}, found {type(manifest[key]).__name__}")
    for i, run in enumerate(manifest.get("runs") or []):
        if not isinstance(run, dict) or not isinstance(run.get("params", {}), dict):
            raise ResultsError(f"{path}: runs[{i}] should be an object with a 'params' object")
    if manifest.get("reference") is not None and not isinstance(manifest["reference"], str):
        raise ResultsError(f"{path}: field 'reference' should be a value of the compared key or null")
    if manifest.get("compare") is not None and not isinstance(manifest["compare"], str):
        raise ResultsError(f"{path}: field 'compare' should be a swept key (a string) or null")
    return manifest


def read_table(path: Path, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """The CSV file at ``path`` with every cell as the text written (column names stripped), its
    header checked: no empty or repeated column name, every ``required`` column present."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise ResultsError(f"{path}: empty file (expected a CSV header row)")
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(text)))]
    except csv.Error as exc:
        raise ResultsError(f"{path}: malformed CSV header ({exc})") from None
    if any(not h for h in header):
        raise ResultsError(f"{path}: malformed CSV header (empty column name in {','.join(header)!r})")
    missing = [c for c in required if c not in header]
    if missing:
        shown = ", ".join(header[:8]) + (", …" if len(header) > 8 else "")
        raise ResultsError(f"{path}: missing column {missing[0]!r} (header row is: {shown})")
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ResultsError(f"{path}: malformed CSV header (duplicate column {repeated[0]!r})")
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ResultsError(f"{path}: malformed CSV ({reason})") from None
    frame.columns = header
    return frame


def numeric(series: pd.Series, path: Path, col: str) -> pd.Series:
    """``series`` (text, or None for no value) as floats, NaN where there is no value; a value
    that is not a number raises :class:`ResultsError` naming the file, the column and the row."""
    import pandas as pd

    series = series.map(lambda v: None if isinstance(v, str) and v.lower() in MISSING else v)
    out = pd.to_numeric(series, errors="coerce")
    bad = out.isna() & series.notna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise ResultsError(f"{path}: column {col!r} has a non-numeric value {series.iloc[i]!r} "
                           f"(data row {i + 1})")
    return out.astype(float)


def tidy(frame: pd.DataFrame, path: Path, numbers: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with each cell stripped, None for no value, and the ``numbers``
    columns as floats."""
    out = frame.astype(object).where(frame.notna(), None)
    for col in out.columns:
        out[col] = out[col].map(lambda v: (v.strip() or None) if isinstance(v, str) else v)
    for col in numbers:
        if col in out.columns:
            out[col] = numeric(out[col], path, col)
    return out


@dataclass
class ResultsDir:
    """One results directory as written: its manifest (empty when it has none), runs.csv and the
    per-run files it has, every cell as text."""

    path: Path
    manifest: dict[str, Any]
    has_manifest: bool
    runs: pd.DataFrame
    files: dict[str, pd.DataFrame]

    def file(self, name: str) -> Path:
        return self.path / name

    def tidy(self, name: str) -> pd.DataFrame | None:
        """The typed view of a per-run file (see :func:`tidy`), None when the directory lacks it."""
        frame = self.files.get(name)
        return None if frame is None else tidy(frame, self.file(name), NUMERIC.get(name, ()))

    def require(self, *columns: str) -> None:
        """Raise unless runs.csv has each of ``columns``."""
        missing = [c for c in columns if c not in self.runs.columns]
        if missing:
            shown = ", ".join(self.runs.columns[:8]) + (", …" if len(self.runs.columns) > 8 else "")
            raise ResultsError(f"{self.file('runs.csv')}: missing column {missing[0]!r} (header row is: {shown})")

    def require_complete(self, role: str) -> None:
        """Raise unless the directory is a finished suite with every file and a row for each run
        its manifest lists (``role``, such as "BASE", names it in the message)."""
        path = self.path
        if not self.has_manifest:
            raise ResultsError(f"{path}: {role} has no manifest.json (not a complete results directory "
                               "written by `distbench run`)")
        if not isinstance(self.manifest.get("runs"), list):
            raise ResultsError(f"{self.file('manifest.json')}: expected a manifest with a list of runs")
        if self.manifest.get("interrupted") or not self.manifest.get("finished"):
            raise ResultsError(f"{path}: {role} was interrupted (its manifest has no finish): run the "
                               "suite to the end before comparing")
        self.require("seed", "safety")
        listed = [str(r.get("run_id")) for r in self.manifest["runs"]]
        missing = sorted(set(listed) - set(self.runs["run_id"]))
        if missing:
            raise ResultsError(f"{path}: {role} is partial: {len(missing)} of {len(listed)} runs have no "
                               f"row in runs.csv (first: {missing[0]})")
        for name in PER_RUN_FILES:
            if name not in self.files:
                raise ResultsError(f"{path}: {role} has no {name} (not a complete results directory)")


def open_results(path: Path, role: str | None = None) -> ResultsDir:
    """Read the results directory at ``path``: runs.csv (required), manifest.json and the per-run
    files when present. ``role`` names the directory in the message when it does not exist."""
    path = Path(path)
    if not path.is_dir():
        if role:
            raise ResultsError(f"{path}: {role} is not a results directory (no such directory)")
        if not path.exists():
            raise ResultsError(f"{path}: no such results directory")
        raise ResultsError(f"{path}: not a directory (expected a results directory with runs.csv)")
    runs_path = path / "runs.csv"
    if not runs_path.is_file():
        raise ResultsError(f"{runs_path}: not found (is {path} a directory written by `distbench run`?)")
    manifest_path = path / "manifest.json"
    has_manifest = manifest_path.is_file()
    manifest = load_manifest(manifest_path) if has_manifest else {}
    runs = read_table(runs_path, REQUIRED["runs.csv"])
    files = {name: read_table(path / name, REQUIRED[name]) for name in PER_RUN_FILES if (path / name).is_file()}
    return ResultsDir(path, manifest, has_manifest, runs, files)
