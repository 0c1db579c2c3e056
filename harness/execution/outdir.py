"""Where a suite's results go: ``results/<suite>/<stamp>/`` by default, the newest of them for
``--resume``, and whether a directory the user named may take them (a new or empty one; one
holding results only to resume the same suite or to be replaced by them; for ``gate``, each
side's directory)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from harness.execution.cache import run_key
from harness.execution.reader import holds_results, read_manifest
from harness.execution.results import contents, refusal_to_replace, resume_refusal

ROOT = Path("results")


def default_out(suite_name: str) -> Path:
    """A new ``results/<suite>/<stamp>/`` (``<stamp>-2`` and so on when that one exists)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = ROOT / suite_name / stamp
    k = 2
    while out.exists():
        out = ROOT / suite_name / f"{stamp}-{k}"
        k += 1
    return out


def latest_out(suite_name: str) -> Path | None:
    """The newest ``results/<suite>/<stamp>/`` holding results, for --resume without --out (not a
    hidden one: --overwrite writes beside the directory it replaces under a hidden name)."""
    root = ROOT / suite_name
    stamps = sorted((p for p in root.glob("*") if not p.name.startswith(".") and holds_results(p)),
                    key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    return stamps[-1] if stamps else None


def out_refusal(out: Path, suite: Any, resume: bool, overwrite: bool) -> str | None:
    """None when ``out`` may take the results of ``suite``: it is new or empty, or holds results
    and ``resume`` (the same suite, keeping every finished run) or ``overwrite`` (replacing only
    what distbench wrote) is asked; otherwise why not, naming what is there."""
    if out.exists() and not out.is_dir():
        return "not a directory"
    if not out.exists() or not any(out.iterdir()):
        return None
    if not holds_results(out):
        return (f"is not empty and is not a distbench results directory (it holds {contents(out)}); "
                "choose a new or empty directory")
    manifest = read_manifest(out) or {}
    held = manifest.get("suite")
    if resume:
        if held != suite.name:
            return (f"holds results of suite {held!r}, not {suite.name!r}; --resume continues the same suite "
                    "(pass --overwrite to replace them)")
        if not any(isinstance(r, dict) and r.get("key") for r in manifest.get("runs", [])):
            return ("was written without run keys (an older distbench), so it cannot be resumed; pass "
                    "--overwrite to replace it")
        why = resume_refusal(out, manifest, suite, {run_key(spec) for spec in suite.runs()})
        return f"--resume: {why}; pass --overwrite to replace them, or choose a new --out" if why else None
    if overwrite:
        why = refusal_to_replace(out)
        return f"--overwrite: {why}; move them away first, or choose a new --out" if why else None
    return (f"already holds results of suite {held!r}, {manifest.get('completed_runs')} runs; "
            "pass --resume to finish it or --overwrite to replace it")


def side_refusal(side: Path, overwrite: bool) -> str | None:
    """None when ``side`` (one side of ``distbench gate``'s --out) may take its results: it is new
    or empty, or holds results and ``overwrite`` is asked; otherwise why not."""
    if side.is_dir() and any(side.iterdir()) and not (overwrite and holds_results(side)):
        if holds_results(side):
            return f"{side} already holds results; choose another --out or pass --overwrite"
        return f"{side} is not empty and holds no results; choose another --out"
    if side.exists() and not side.is_dir():
        return f"{side} is not a directory"
    return None
