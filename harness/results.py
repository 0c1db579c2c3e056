"""The results directory: tidy CSVs plus a manifest that makes every run reproducible.

Rows are appended and flushed as each run finishes, so an interrupted suite keeps every run it
completed; ``close`` then rewrites the CSVs in matrix order so two invocations diff cleanly.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

import harness

FILES = ("runs.csv", "events.csv", "timeseries.csv", "latencies.csv", "manifest.json")
IDENTITY = ("suite", "kind", "run_id", "protocol", "seed")
LAST = ("safety", "safety_detail", "sim_events", "wall_s")
STALE = ("report.html", "report.md", "summary.csv", "charts", "errors.log")
HEADERS = {
    "events.csv": ["run_id", "time_s", "node", "kind", "detail", "duration_ms"],
    "timeseries.csv": ["run_id", "time_s", "throughput_ops_s", "latency_p50_ms", "latency_p99_ms", "leader"],
    "latencies.csv": ["run_id", "latency_ms", "count"],
}
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
    """Writes one invocation's results directory; see the README for every file and column."""

    def __init__(self, out: Path, suite: Any, specs: list[Any]):
        self.out = out
        self.suite = suite
        self.order = {s.run_id: i for i, s in enumerate(specs)}
        out.mkdir(parents=True, exist_ok=True)
        for name in (*FILES, *STALE):  # a reused directory must not mix two invocations
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        self.rows: list[dict[str, Any]] = []
        for name, header in HEADERS.items():
            (out / name).write_text(",".join(header) + "\n")
        self.manifest: dict[str, Any] = {
            "suite": suite.name,
            "kind": suite.kind,
            "source": str(suite.source),
            "swept": list(suite.swept),
            "compare": getattr(suite, "compare", "protocol"),
            "contenders": getattr(suite, "contenders", None),
            "reference": suite.reference,
            "seeds": sorted({s.seed for s in specs}),
            "distbench_version": harness.__version__,
            "git_commit": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "packages": package_versions(),
            "started": now_iso(),
            "finished": None,
            "completed_runs": 0,
            "suite_config": suite.to_dict(),
            "runs": [{"run_id": s.run_id, "seed": s.seed, "params": s.params,
                      "config": s.config.to_dict()} for s in specs],
        }
        self._write_manifest()

    def _write_manifest(self) -> None:
        (self.out / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=str) + "\n")

    def add(self, result: Any) -> None:
        """Save one finished run at once: runs.csv is rewritten (every column any run has, in
        matrix order), the other files are appended to."""
        self.rows.append(result.row)
        self.rows.sort(key=lambda r: self.order.get(r["run_id"], len(self.order)))
        seen = list(dict.fromkeys(k for row in self.rows for k in row))
        head = [*IDENTITY, *(k for k in self.suite.swept if k != "protocol")]
        columns = head + [k for k in seen if k not in head and k not in LAST] + [k for k in LAST if k in seen]
        pd.DataFrame(self.rows, columns=columns).to_csv(self.out / "runs.csv", index=False)
        for name, rows in (("events.csv", result.events), ("timeseries.csv", result.timeseries),
                           ("latencies.csv", result.latencies)):
            if rows:
                with (self.out / name).open("a", newline="") as f:
                    csv.DictWriter(f, fieldnames=HEADERS[name]).writerows(rows)
        self.manifest["completed_runs"] = len(self.rows)
        self._write_manifest()

    def close(self, interrupted: bool = False) -> None:
        """Put the per-run files in matrix order and stamp the manifest."""
        for name in HEADERS:
            path = self.out / name
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            rank = frame["run_id"].map(lambda r: self.order.get(r, len(self.order)))
            frame.iloc[rank.argsort(kind="stable")].to_csv(path, index=False)
        self.manifest["finished"] = now_iso()
        self.manifest["interrupted"] = interrupted
        self._write_manifest()
