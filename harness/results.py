"""The results directory: tidy CSVs plus a manifest that makes every run reproducible.

Rows are appended and flushed as each run finishes, so an interrupted suite keeps every run it
completed; ``close`` then rewrites the CSVs in matrix order so two invocations diff cleanly.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

import harness

FILES = ("runs.csv", "events.csv", "timeseries.csv", "latencies.csv")
PACKAGES = ("pyyaml", "pydantic", "click", "pandas", "numpy", "scipy", "matplotlib", "seaborn",
            "hdrhistogram", "tqdm")


def git_commit() -> str | None:
    """The commit of the distbench checkout in use, if it is one."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(harness.__file__).parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class ResultsWriter:
    def __init__(self, out: Path, suite: Any, specs: list[Any]):
        self.out = out
        self.suite = suite
        self.specs = specs
        out.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            (out / name).unlink(missing_ok=True)
        self._fields: dict[str, list[str]] = {}
        self.manifest: dict[str, Any] = {
            "suite": suite.name,
            "kind": suite.kind,
            "source": str(suite.source),
            "swept": list(suite.swept),
            "reference": suite.reference,
            "seeds": sorted({s.seed for s in specs}),
            "distbench_version": harness.__version__,
            "git_commit": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "packages": package_versions(),
            "started": now_iso(),
            "finished": None,
            "suite_config": suite.to_dict(),
            "runs": [{"run_id": s.run_id, "seed": s.seed, "params": s.params,
                      "config": s.config.to_dict()} for s in specs],
        }
        self._write_manifest()

    def _write_manifest(self) -> None:
        (self.out / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=str) + "\n")

    def _append(self, name: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        path = self.out / name
        fields = self._fields.get(name)
        new = fields is None
        if new:
            fields = self._fields[name] = list(rows[0])
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerows(rows)

    def add(self, result: Any) -> None:
        self._append("runs.csv", [result.row])
        self._append("events.csv", result.events)
        self._append("timeseries.csv", result.timeseries)
        self._append("latencies.csv", result.latencies)

    def close(self) -> None:
        """Sort every file by matrix order and stamp the manifest as finished."""
        order = {s.run_id: i for i, s in enumerate(self.specs)}
        for name in FILES:
            path = self.out / name
            if not path.exists():
                if name != "runs.csv":
                    header = {"events.csv": "run_id,time_s,node,kind,detail,duration_ms",
                              "timeseries.csv": "run_id,time_s,throughput_ops_s,latency_p50_ms,latency_p99_ms,leader",
                              "latencies.csv": "run_id,latency_ms,count"}[name]
                    path.write_text(header + "\n")
                continue
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame = frame.iloc[sorted(range(len(frame)), key=lambda i: (order.get(frame["run_id"].iat[i], 1 << 30), i))]
            frame.to_csv(path, index=False)
        self.manifest["finished"] = now_iso()
        self._write_manifest()
