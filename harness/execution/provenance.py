"""Which code a run ran, as the manifest records it: so that two results directories can say
whether they really are two versions of distbench.

* ``code_digest``: the digest of the simulating sources that ran (the run cache's, see
  :mod:`harness.execution.cache`). It is always known and is the ground truth.
* ``git_commit``: the commit of the source tree the code was imported from, when that tree is a
  git checkout (its top is the work tree's top). A package installed from a wheel or a
  non-editable ``pip install`` is no checkout: then the commit is taken from the
  ``DISTBENCH_GIT_COMMIT`` environment variable if set (the installer knows it, git does not),
  else it is ``null``.
* ``git_dirty``: true when a simulating source (a file the code digest covers) differs from that
  commit -- modified, staged, deleted or untracked; edits to the CLI, the reports, docs or tests
  do not count, as they cannot change what a run computes. ``null`` when not a checkout.
* ``code_dir``: the top of the imported source tree.
* ``launched_in``: when the command was started inside a distbench source tree other than the
  one whose code ran, that tree's path, commit and digest. The classic mistake -- ``cd`` into a
  checkout of the base commit and run the ``distbench`` on PATH, which is the head's -- shows as
  a ``launched_in`` whose digest is not ``code_digest``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import harness
from harness.execution.cache import SOURCE_ROOTS, code_digest, simulating, tree_digest

COMMIT_ENV = "DISTBENCH_GIT_COMMIT"
_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.M)


def _git(args: list[str], cwd: Path) -> str | None:
    """The output of a git command, or None when git is missing or the command fails."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def source_top() -> Path:
    """The top of the source tree distbench is imported from (the folder holding ``harness/``)."""
    return Path(harness.__file__).resolve().parent.parent


def work_tree(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``, if any."""
    out = _git(["rev-parse", "--show-toplevel"], path)
    return Path(out.strip()).resolve() if out and out.strip() else None


def is_source_tree(top: Path) -> bool:
    return (top / "harness" / "__init__.py").is_file() and (top / "implementations").is_dir()


def git_commit(top: Path) -> str | None:
    """The commit checked out at ``top`` if ``top`` is a git work tree's top, else
    ``$DISTBENCH_GIT_COMMIT`` (or None)."""
    if work_tree(top) == top.resolve():
        out = _git(["rev-parse", "HEAD"], top)
        return out.strip() or None if out else None
    return os.environ.get(COMMIT_ENV) or None


def git_dirty(top: Path) -> bool | None:
    """Whether a simulating source under ``top`` differs from the commit checked out there
    (None when ``top`` is not a git work tree's top)."""
    if work_tree(top) != top.resolve():
        return None
    out = _git(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *SOURCE_ROOTS], top)
    if out is None:
        return None
    entries = out.split("\0")
    paths = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[0] in "RC":  # a rename or copy is followed by its source path
                paths.append(entries[i + 1])
                i += 1
        i += 1
    return any(simulating(p) for p in paths)


def version_of(top: Path) -> str:
    """The distbench version a source tree declares (``harness/__init__.py``)."""
    try:
        match = _VERSION.search((top / "harness" / "__init__.py").read_text(encoding="utf-8"))
    except OSError:
        return ""
    return match.group(1) if match else ""


def record(cwd: Path | None = None) -> dict[str, Any]:
    """The provenance fields of a manifest, for the code in use started from ``cwd``."""
    top = source_top()
    try:
        launched = work_tree(cwd or Path.cwd())
    except OSError:  # the working directory is gone
        launched = None
    launched_in = None
    if launched is not None and launched != top and is_source_tree(launched):
        launched_in = {"dir": str(launched), "commit": git_commit(launched),
                       "code_digest": tree_digest(launched, version_of(launched))}
    return {"git_commit": git_commit(top), "git_dirty": git_dirty(top), "code_digest": code_digest(),
            "code_dir": str(top), "launched_in": launched_in}


def foreign_code(manifest: dict[str, Any]) -> str | None:
    """A warning when the run was started in a distbench checkout but ran other code."""
    inside = manifest.get("launched_in")
    if not isinstance(inside, dict) or inside.get("code_digest") == manifest.get("code_digest"):
        return None
    commit = str(inside.get("commit") or "unknown")[:10]
    ran = str(manifest.get("git_commit") or "unknown")[:10]
    return (f"this run was started in the distbench checkout {inside.get('dir')} (commit {commit}) but ran "
            f"the code in {manifest.get('code_dir')} (commit {ran}): its results are that code's. To run "
            f"the checkout's own code: cd {inside.get('dir')} && PYTHONPATH=. python -m harness run ...; "
            "to compare two commits: distbench gate SUITE --base REF")
