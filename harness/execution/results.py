"""The results directory: tidy CSVs plus a manifest that makes every run reproducible.

Rows are appended and flushed as each run finishes, so an interrupted suite keeps every run it
completed and writing costs the same for the 10,000th run as for the first; ``close`` then puts
the CSVs in matrix order so two invocations diff cleanly.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import numbers
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

import harness
from harness import build
from harness.execution import provenance
from harness.execution.reader import holds_results, read_manifest

FILES = ("runs.csv", "events.csv", "timeseries.csv", "latencies.csv", "manifest.json")
IDENTITY = ("suite", "kind", "run_id", "protocol", "seed")
LAST = ("safety", "safety_detail", "sim_events", "wall_s")
STALE = ("report.html", "report.md", "charts", "errors.log", "summary.csv", "compare.md", "compare.json",
         "compare.xml")
HEADERS = {
    "events.csv": ["run_id", "time_s", "node", "kind", "detail", "duration_ms"],
    "timeseries.csv": ["run_id", "time_s", "throughput_ops_s", "latency_p50_ms", "latency_p99_ms", "leader",
                       "leaderless_ms"],
    "latencies.csv": ["run_id", "latency_ms", "count"],
}
PACKAGES = ("pyyaml", "pydantic", "click", "pandas", "numpy", "scipy", "matplotlib", "seaborn",
            "hdrhistogram", "tqdm")


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


def cell(value: Any) -> str:
    """How a value is written in runs.csv: the same text whether the row was just computed, read
    back from a cache or kept from an earlier invocation (so a resumed directory is identical)."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        return "" if math.isnan(f) else repr(f)
    return str(value)


def parse_cell(text: str) -> Any:
    """The inverse of :func:`cell`, near enough for the summary table: numbers become numbers,
    an empty cell NaN."""
    if text == "":
        return float("nan")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _listing(names: list[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _entries(path: Path) -> list[str]:
    return sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())


def contents(path: Path) -> str:
    """What a directory holds, for a message: ``notes.md, suite.yaml and 3 more``."""
    return _listing(_entries(path))


def _ours(name: str) -> bool:
    """A name ``distbench run`` (or its report or comparison) writes in a results directory,
    or one of the temporary files it writes them through."""
    bare = name.rstrip("/")
    return bare in FILES or bare in STALE or (bare.startswith(".") and bare.endswith(".tmp"))


def refusal_to_replace(path: Path) -> str | None:
    """None when ``path`` may be replaced by new results: it does not exist, is an empty
    directory, or is a results directory holding nothing but what distbench wrote there.
    Otherwise why not, in words that say what is there and would be lost."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink():
        return "is a symbolic link (name the directory it points to)"
    if not path.is_dir():
        return "is not a directory"
    names = _entries(path)
    if not names:
        return None
    if not holds_results(path):
        return f"is not a distbench results directory (it holds {_listing(names)}, which would be lost)"
    foreign = [n for n in names if not _ours(n)]
    if foreign:
        return (f"holds {_listing(foreign)} besides distbench results, which distbench did not write "
                "and would be lost")
    return None


def staging_dir(target: Path) -> Path:
    """A new, empty directory beside ``target`` (same parent, so the swap is a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))


def swap_in(new: Path, target: Path) -> None:
    """Put directory ``new`` in the place of ``target``: the old one is renamed aside, the new one
    renamed in, then the old one removed, so an interruption at any point leaves either the old
    or the new directory at ``target`` (or, between the renames, the old one aside, by name)."""
    if not target.exists():
        os.rename(new, target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.rename(target, old / target.name)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old / target.name, target)
        old.rmdir()
        raise
    shutil.rmtree(old)


class RefusedToReplace(Exception):
    """``path``: what is there that replacing it would lose (one line)."""


def replace_results(target: Path, write: Callable[[Path], None]) -> None:
    """Replace results directory ``target`` (or create it) with what ``write(directory)`` puts in
    a new directory beside it, swapped in only once ``write`` has returned. Raises
    :class:`RefusedToReplace` (and writes nothing) when ``target`` is anything else."""
    why = refusal_to_replace(target)
    if why:
        raise RefusedToReplace(f"{target}: {why}")
    new = staging_dir(target)
    try:
        write(new)
        swap_in(new, target)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


def run_keys(manifest: dict[str, Any]) -> dict[str, str | None]:
    """run id -> run key (see :mod:`harness.execution.cache`), as a manifest lists them."""
    return {r.get("run_id"): r.get("key") for r in manifest.get("runs", []) if isinstance(r, dict)}


def finished_runs(out: Path) -> dict[str, dict[str, str]]:
    """run id -> runs.csv cells of every run finished in ``out``: a whole line (not one cut
    short by a hard stop) whose safety is not an error (errors are always run again)."""
    done: dict[str, dict[str, str]] = {}
    try:
        with (out / "runs.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                complete = None not in row.values() and None not in row
                if complete and not row.get("safety", "").startswith("error") and row.get("run_id"):
                    done[row["run_id"]] = row
    except OSError:
        pass
    return done


# Settings that do not decide which runs a suite has or what they simulate.
_NOT_RUNS = ("name", "description", "report", "gate")


def changed_settings(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old → new`` for every dotted setting of a suite (as its manifest records it) that
    differs, the settings that change no run left out."""
    from harness.suite.keys import flatten
    from harness.units import show

    a, b = flatten(old), flatten(json.loads(json.dumps(new, default=str)))
    absent = "(unset)"
    return [f"{k}: {show(a.get(k), 30) if k in a else absent} → {show(b.get(k), 30) if k in b else absent}"
            for k in sorted(set(a) | set(b)) if k.split(".")[0] not in _NOT_RUNS and a.get(k) != b.get(k)]


def resume_refusal(out: Path, manifest: dict[str, Any], suite: Any, keys: set[str]) -> str | None:
    """None when resuming ``out`` with ``suite`` (whose runs have ``keys``) keeps every run
    finished there; otherwise why not: how many would be discarded, and the settings (or the
    code) that changed."""
    old_keys = run_keys(manifest)
    done = finished_runs(out)
    lost = [rid for rid in done if old_keys.get(rid) not in keys]
    if not lost:
        return None
    changed = changed_settings(manifest.get("suite_config") or {}, suite.to_dict())
    if changed:
        why = f"the configuration changed ({_listing(changed, 3)})"
    else:
        then, now = manifest.get("git_commit"), provenance.git_commit(provenance.source_top())
        commits = f"; commit {str(then)[:10]} → {str(now)[:10]}" if then and now and then != now else ""
        why = f"they were simulated by other distbench code{commits}"
    return f"{len(lost)} of its {len(done)} finished runs would be discarded: {why}"


class ResultsWriter:
    """Writes one invocation's results directory; docs/results.md describes every file and column.

    Writing costs O(1) per finished run: its rows are appended to runs.csv and the other CSVs
    and flushed; the manifest (every run's full config) is written at the start and at close
    only. ``close`` puts every file in matrix order once. With ``resume``, the runs of an
    earlier invocation whose key (see :mod:`harness.execution.cache`) matches a run of this one are kept
    (``self.kept``: run ids of this invocation already done) and everything else is dropped."""

    def __init__(self, out: Path, suite: Any, specs: list[Any], keys: dict[str, str] | None = None,
                 resume: bool = False, extra: dict[str, Any] | None = None):
        self.out = out
        self.suite = suite
        self.order = {s.run_id: i for i, s in enumerate(specs)}
        self.keys = keys or {}
        self.head = [*IDENTITY, *(k for k in suite.swept if k != "protocol")]
        out.mkdir(parents=True, exist_ok=True)
        self._cells: dict[str, dict[str, str]] = {}
        self.rows: list[dict[str, Any]] = []
        self.kept: set[str] = set()
        previous = read_manifest(out) if resume else None
        if previous is not None:
            self._resume(specs, previous)
        else:
            for name in FILES:
                target = out / name
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
        for name in STALE:  # a reused directory must not mix two invocations
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        for name, header in HEADERS.items():
            if not (out / name).exists():
                (out / name).write_text(",".join(header) + "\n")
        self.columns = self._columns()
        self._rewrite_runs()
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
            "build": build.kind(),  # pure or compiled (identical results)
            **provenance.record(),  # git_commit, git_dirty, code_digest, code_dir, launched_in
            "python": platform.python_version(),
            "platform": platform.platform(),
            "packages": package_versions(),
            "started": now_iso(),
            "finished": None,
            "completed_runs": len(self.kept),
            **(extra or {}),
            "suite_config": suite.to_dict(),
            "runs": [{"run_id": s.run_id, "seed": s.seed, "params": s.params,
                      "config": s.config.to_dict(),
                      **({"key": self.keys[s.run_id]} if s.run_id in self.keys else {})} for s in specs],
        }
        if previous is not None:
            self.manifest["resumed"] = {"kept_runs": len(self.kept), "first_started": previous.get("started")}
        self._write_manifest()

    # -- resuming ------------------------------------------------------------------------------

    def _resume(self, specs: list[Any], previous: dict[str, Any]) -> None:
        """Keep the earlier invocation's finished runs whose key a run of this suite has."""
        old_keys = run_keys(previous)
        old_swept = previous.get("swept", [])
        done = finished_runs(self.out)
        by_key: dict[str, list[str]] = {}
        for rid in done:
            if old_keys.get(rid):
                by_key.setdefault(old_keys[rid], []).append(rid)
        source: dict[str, str] = {}  # new run id -> old run id
        for spec in specs:
            olds = by_key.get(self.keys.get(spec.run_id, ""), [])
            if olds:
                source[spec.run_id] = spec.run_id if spec.run_id in olds else olds[0]
        from harness.execution import runner

        drop = set(IDENTITY) | set(old_swept)
        for spec in specs:
            if spec.run_id in source:
                old = done[source[spec.run_id]]
                cells = {k: cell(v) for k, v in runner.identity(spec, self.suite.name).items()}
                cells.update((k, v) for k, v in old.items() if k not in drop)
                self._cells[spec.run_id] = cells
                self.rows.append({k: parse_cell(v) if k not in IDENTITY else v for k, v in cells.items()})
                self.kept.add(spec.run_id)
        targets: dict[str, list[str]] = {}
        for new, old in source.items():
            targets.setdefault(old, []).append(new)
        for name, header in HEADERS.items():
            path = self.out / name
            tmp = path.with_name(f".{name}.tmp")
            with tmp.open("w", newline="") as dst:
                writer = csv.writer(dst, lineterminator="\n")
                writer.writerow(header)
                try:
                    with path.open(newline="") as src:
                        reader = csv.reader(src)
                        first = next(reader, None)
                        at = first.index("run_id") if first and "run_id" in first else 0
                        for line in reader:
                            if len(line) != len(header):
                                continue  # a line cut short by a hard stop
                            for new in targets.get(line[at], ()):
                                line[at] = new
                                writer.writerow(line)
                except OSError:
                    pass
            os.replace(tmp, path)

    # -- writing -------------------------------------------------------------------------------

    def _columns(self) -> list[str]:
        """Identity and swept keys, then every other column any run has (in the order they
        first appear, runs in matrix order), then the verdict and cost columns."""
        ranked = sorted(self._cells, key=lambda r: self.order.get(r, len(self.order)))
        seen = list(dict.fromkeys(k for rid in ranked for k in self._cells[rid]))
        return (self.head + [k for k in seen if k not in self.head and k not in LAST]
                + [k for k in LAST if k in seen])

    def _rewrite_runs(self) -> None:
        ranked = sorted(self._cells, key=lambda r: self.order.get(r, len(self.order)))
        path = self.out / "runs.csv"
        tmp = path.with_name(".runs.csv.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, restval="", lineterminator="\n")
            writer.writeheader()
            writer.writerows(self._cells[rid] for rid in ranked)
        os.replace(tmp, path)

    def _write_manifest(self) -> None:
        path = self.out / "manifest.json"
        tmp = path.with_name(".manifest.json.tmp")
        tmp.write_text(json.dumps(self.manifest, indent=2, default=str) + "\n")
        os.replace(tmp, path)

    def add(self, result: Any) -> None:
        """Save one finished run at once, in O(1): its rows are appended to every CSV (the other
        files first, so a runs.csv row means the run is complete on disk). Only a row bringing
        a column no earlier row had rewrites runs.csv (with the wider header)."""
        for name, rows in (("events.csv", result.events), ("timeseries.csv", result.timeseries),
                           ("latencies.csv", result.latencies)):
            if rows:
                with (self.out / name).open("a", newline="") as f:
                    csv.DictWriter(f, fieldnames=HEADERS[name], lineterminator="\n").writerows(rows)
        rid = result.row["run_id"]
        cells = {k: cell(v) for k, v in result.row.items()}
        self._cells[rid] = cells
        self.rows.append(result.row)
        if set(cells) <= set(self.columns):
            with (self.out / "runs.csv").open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.columns, restval="", lineterminator="\n").writerow(cells)
        else:
            self.columns = self._columns()
            self._rewrite_runs()

    @property
    def completed(self) -> int:
        return len(self._cells)

    def close(self, interrupted: bool = False) -> None:
        """Put every file in matrix order (the same bytes whatever order runs finished in, and
        whether or not the suite was resumed) and stamp the manifest."""
        self.rows.sort(key=lambda r: self.order.get(r["run_id"], len(self.order)))
        self.columns = self._columns()
        self._rewrite_runs()
        for name in HEADERS:
            path = self.out / name
            with path.open(newline="") as f:
                reader = csv.reader(f)
                header = next(reader, None) or HEADERS[name]
                at = header.index("run_id") if "run_id" in header else 0
                lines = [line for line in reader if len(line) == len(header)]
            lines.sort(key=lambda line: self.order.get(line[at], len(self.order)))  # stable
            tmp = path.with_name(f".{name}.tmp")
            with tmp.open("w", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(lines)
            os.replace(tmp, path)
        self.manifest["finished"] = now_iso()
        self.manifest["completed_runs"] = self.completed
        self.manifest["interrupted"] = interrupted
        self._write_manifest()
