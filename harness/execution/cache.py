"""Run keys and the run cache.

A run's **key** is a hash of everything its result depends on: its fully resolved config (less
the keys that only name or describe it), its seed, and the code that simulates it (the distbench
version plus the source of ``harness/`` (less the driver's modules: the CLI, executors, results
writer and reader, provenance, this module, the estimates and the report), ``implementations/`` and
``workloads/``). Runs are pure functions of (config, seed, code), so two runs with the same key
produce the same rows, bit for bit (``wall_s`` aside). Editing a protocol changes the code digest
and so every key: nothing computed by older code is ever reused.

``--resume`` uses keys to find which runs of a results directory are already done; the optional
run cache (``--cache DIR``) stores one file per key so an unchanged run is reused across
invocations and suites. A cached result is stored without its identity (suite, run id, swept
columns) and re-labelled for the run that reuses it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import harness

# Keys of a run's config that name, describe, report or judge it but do not change what it
# simulates (the run key and distbench compare both leave them out).
NOT_SIMULATED = ("name", "description", "seeds", "report", "gate", "compare", "contenders")
SOURCE_ROOTS = ("harness", "implementations", "workloads")
# The driver's modules: they run, write and present runs but do not decide what a run computes,
# so editing them keeps every key (and the results already on disk) valid.
_SKIP_DIRS = ("harness/cli/", "harness/report/", "harness/compare/", "harness/catalog/", "harness/shrink/")
_SKIP = ("harness/execution/executor.py", "harness/execution/results.py", "harness/execution/reader.py",
         "harness/execution/outdir.py", "harness/execution/cache.py", "harness/execution/estimate.py",
         "harness/execution/provenance.py", "harness/__main__.py", "harness/pytest_plugin.py")
IDENTITY = ("suite", "kind", "run_id", "protocol", "seed")


def simulating(rel: str) -> bool:
    """Whether the source file at ``rel`` (relative to the top of a source tree, with slashes)
    decides what a run computes, so that the code digest covers it."""
    return (rel.endswith(".py") and rel.split("/", 1)[0] in SOURCE_ROOTS and not rel.startswith(_SKIP_DIRS)
            and rel not in _SKIP)


def tree_digest(top: Path, version: str) -> str:
    """sha256 of a distbench version and of every simulating source file under ``top``, by
    relative path."""
    h = hashlib.sha256(f"distbench {version}\n".encode())
    for root in SOURCE_ROOTS:
        for path in sorted((top / root).rglob("*.py")):
            rel = path.relative_to(top).as_posix()
            if simulating(rel):
                h.update(f"{rel}\n".encode())
                h.update(path.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """The digest of the code in use (:func:`tree_digest` of the imported source tree)."""
    return tree_digest(Path(harness.__file__).resolve().parent.parent, harness.__version__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return value.item()
    return value


def run_key(spec: Any) -> str:
    """The content key of one run (a :class:`harness.suite.loading.RunSpec`)."""
    config = {k: v for k, v in spec.config.to_dict().items() if k not in NOT_SIMULATED}
    text = json.dumps({"config": _jsonable(config), "seed": spec.seed, "code": code_digest()},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def strip_identity(result: Any, swept: list[str]) -> dict[str, Any]:
    """A run's result without who it was: the part reusable by any run with the same key."""
    drop = set(IDENTITY) | set(swept)
    return {
        "metrics": _jsonable({k: v for k, v in result.row.items() if k not in drop}),
        "events": _jsonable([{k: v for k, v in e.items() if k != "run_id"} for e in result.events]),
        "timeseries": _jsonable([{k: v for k, v in e.items() if k != "run_id"} for e in result.timeseries]),
        "latencies": _jsonable([{k: v for k, v in e.items() if k != "run_id"} for e in result.latencies]),
    }


def relabel(stored: dict[str, Any], spec: Any, suite: str) -> Any:
    """A stored result as the result of run ``spec`` of ``suite``."""
    from harness.execution import runner

    row = runner.identity(spec, suite)
    row.update(stored["metrics"])
    rid = {"run_id": spec.run_id}
    return runner.RunResult(row, [{**rid, **e} for e in stored["events"]],
                            [{**rid, **e} for e in stored["timeseries"]],
                            [{**rid, **e} for e in stored["latencies"]])


def reusable(result: Any) -> bool:
    """Errors (an exception, an exceeded limit) are never reused: they may not recur."""
    return not str(result.row.get("safety", "")).startswith("error")


class RunCache:
    """A directory of finished runs, one JSON file per key (``<dir>/<key[:2]>/<key>.json``).

    Files are written atomically (a temporary file renamed into place), so concurrent suites
    sharing a cache never read half a file; a damaged file counts as a miss."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.stored = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            stored = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict) or stored.get("key") != key:
            return None
        self.hits += 1
        return stored

    def put(self, key: str, result: Any, swept: list[str]) -> None:
        if not reusable(result):
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"key": key, **strip_identity(result, swept)}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(body, f, allow_nan=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.stored += 1
