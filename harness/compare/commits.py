"""Two commits of distbench run side by side (``distbench gate``): the base commit checked out
into a temporary git worktree, the working tree as it is, each run with its own code.

Each side is ``python -m harness run`` in a process of its own, started in that side's source
tree with ``PYTHONPATH`` set to it, so its ``harness`` is that tree's (checked before running,
and the manifest's commit checked after). The interpreter is the current one when the base
declares the same dependencies as the working tree (``project.dependencies`` of pyproject.toml);
otherwise a virtual environment with the base's dependencies, cached by that set of
dependencies under the environments folder, so a base is installed once. Both sides run the
working tree's suite file: a gate compares code, measured with one instrument.

The worktree is removed when the gate ends, also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from harness.execution.provenance import COMMIT_ENV, is_source_tree, work_tree
from harness.execution.reader import read_manifest

class GateError(Exception):
    """Why a gate cannot go on, as one line; ``code`` is the exit status (2: bad input or a
    failure to run, 3: the base cannot run this suite, so the sides are not comparable)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass
class Side:
    role: str          # "base" or "head"
    tree: Path         # the source tree whose code runs
    commit: str        # the commit checked out there
    python: str
    env: dict[str, str]
    out: Path
    runs: int = 0      # how many times run_side ran it (a rerun replaces its own results)


def _git(repo: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise GateError(f"git {args[0]}: cannot run git ({exc})") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        raise GateError(f"{repo}: git {' '.join(args)}: {last}")
    return out.stdout.strip()


def repository(cwd: Path) -> Path:
    """The distbench source tree that holds ``cwd``: the working tree of a gate."""
    top = work_tree(cwd)
    if top is None:
        raise GateError(f"{cwd}: not inside a git repository: distbench gate compares two commits of a "
                        "distbench checkout; run it in one")
    if not is_source_tree(top):
        raise GateError(f"{top}: not a distbench source tree (no harness/ and implementations/): gate "
                        "compares two commits of distbench itself; to compare results of your own "
                        "project, run both sides and use distbench compare")
    return top


def resolve(repo: Path, ref: str) -> str:
    """The full commit id REF names in ``repo``."""
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GateError:
        raise GateError(f"--base {ref}: not a commit in {repo} (in a shallow clone, fetch it first: "
                        f"git fetch origin {ref})") from None


def dependencies(tree: Path) -> list[str] | None:
    """``project.dependencies`` of a tree's pyproject.toml, normalised; None if unreadable."""
    try:
        with (tree / "pyproject.toml").open("rb") as f:
            deps = tomllib.load(f).get("project", {}).get("dependencies")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if not isinstance(deps, list):
        return None
    return sorted(re.sub(r"\s+", "", str(d)).lower() for d in deps)


def _run(command: list[str], **kwargs: Any) -> int:
    """Run a command, its output (stdout too) passed on to our stderr: stdout is the comparison's.
    Stopped (Ctrl-C, SIGTERM), it is sent SIGINT and given time to save what it finished."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          **kwargs) as process:
        try:
            output, _ = process.communicate()
        except BaseException:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except BaseException:
                process.kill()
            raise
    sys.stderr.write(output)
    sys.stderr.flush()
    return process.returncode


def _bin(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / "python"


def environment(deps: list[str], root: Path) -> str:
    """The interpreter of a virtual environment holding ``deps``, under ``root`` (built once: in
    a temporary folder, renamed into place when complete)."""
    name = hashlib.sha256("\n".join(deps).encode()).hexdigest()[:16]
    target = root / name
    if (target / ".complete").is_file():
        return str(_bin(target))
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        print(f"gate: installing the base's dependencies into {target}", file=sys.stderr)
        for command in ([sys.executable, "-m", "venv", str(tmp)],
                        [str(_bin(tmp)), "-m", "pip", "install", "-q", *deps]):
            if _run(command) != 0:
                raise GateError(f"{target}: cannot build an environment for the base ({command[2]} "
                                "failed, see above)")
        (tmp / ".complete").write_text("\n".join(deps) + "\n")
        try:
            tmp.rename(target)
        except OSError:  # built meanwhile by another gate
            if not (target / ".complete").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(_bin(target))


def imported_from(python: str, env: dict[str, str], cwd: Path) -> Path | None:
    """Where ``harness`` is imported from by ``python`` in ``env``, started in ``cwd``."""
    out = subprocess.run([python, "-c", "import harness; print(harness.__file__)"], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)
    return Path(out.stdout.strip()).resolve() if out.returncode == 0 and out.stdout.strip() else None


@contextlib.contextmanager
def temporary_worktree(repo: Path, commit: str) -> Iterator[Path]:
    """``commit`` checked out (detached) in a temporary git worktree of ``repo``, removed on exit,
    whatever ends it (SIGTERM is turned into an exit while it lives)."""
    holder = Path(tempfile.mkdtemp(prefix="distbench-gate-"))
    path = holder / "base"
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        _git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
        yield path
    finally:
        try:
            _git(repo, "worktree", "remove", "--force", str(path))
        except GateError:
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(GateError):
                _git(repo, "worktree", "prune")
        shutil.rmtree(holder, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class TwoCommits:
    """The base (``ref``) and the working tree of ``repo``, ready to run ``suite`` into
    ``out/base`` and ``out/head``. Use as a context manager (it owns the base's worktree);
    :meth:`run_side` may be called again, with more seeds."""

    def __init__(self, repo: Path, ref: str, suite: Path, out: Path, *, overrides: tuple[str, ...] = (),
                 jobs: int = 1, cache: Path | None = None, overwrite: bool = False,
                 envs: Path | None = None):
        self.repo = repo
        self.ref = ref
        self.base_commit = resolve(repo, ref)
        self.head_commit = resolve(repo, "HEAD")
        self.suite = suite.resolve()
        self.out = out.resolve()
        self.overrides = overrides
        self.jobs = jobs
        self.cache = cache.resolve() if cache is not None else None
        self.overwrite = overwrite
        self.envs = envs or (self.cache / "envs" if self.cache else default_envs())
        self.sides: dict[str, Side] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> TwoCommits:
        try:
            tree = self._stack.enter_context(temporary_worktree(self.repo, self.base_commit))
            self.sides["base"] = self._side("base", tree, self.base_commit)
            self.sides["head"] = self._side("head", self.repo, self.head_commit)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _side(self, role: str, tree: Path, commit: str) -> Side:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", COMMIT_ENV)}
        env["PYTHONPATH"] = str(tree)
        deps = dependencies(tree)
        python = sys.executable
        if role == "base" and deps != dependencies(self.repo):
            if deps is None:
                raise GateError(f"--base {self.ref}: its pyproject.toml has no readable project.dependencies")
            python = environment(deps, self.envs)
        where = imported_from(python, env, tree)
        if where != (tree / "harness" / "__init__.py").resolve():
            raise GateError(f"{role}: {python} with PYTHONPATH={tree} imports harness from {where}, not "
                            f"from {tree}: cannot run the {role}'s own code")
        return Side(role, tree, commit, python, env, self.out / role)

    def run_side(self, role: str, seeds: int | None = None) -> int:
        """Run the suite on one side into ``out/<role>``; returns the run's exit status (0, or 1
        when a run violated safety: the comparison still goes on). Raises :class:`GateError`
        when the side cannot run, KeyboardInterrupt when it was interrupted."""
        side = self.sides[role]
        command = [side.python, "-m", "harness", "run", str(self.suite), "--out", str(side.out),
                   "--no-report", "-q", "--jobs", str(self.jobs)]
        for item in self.overrides:
            command += ["--set", item]
        if seeds is not None:
            command += ["--seeds", str(seeds)]
        if self.cache is not None:
            command += ["--cache", str(self.cache)]
        if side.runs:
            command.append("--resume")      # more seeds for a sequential look: keep those run
        elif self.overwrite:
            command.append("--overwrite")
        label = (f"working tree, {side.commit[:10]}" if role == "head" else side.commit[:10]
                 if side.commit.startswith(self.ref) else f"{self.ref} = {side.commit[:10]}")
        print(f"gate: {role} ({label}) -> {side.out}", file=sys.stderr, flush=True)
        code = _run(command, cwd=side.tree, env=side.env)
        side.runs += 1
        if code == 130:
            raise KeyboardInterrupt
        if code not in (0, 1):
            if role == "base":
                raise GateError(f"the base ({self.ref}) cannot run {self.suite} (exit {code}, see above): "
                                "not comparable", 3)
            raise GateError(f"the working tree cannot run {self.suite} (exit {code}, see above)")
        recorded = (read_manifest(side.out) or {}).get("git_commit")
        if recorded != side.commit:
            raise GateError(f"{side.out}: the {role} recorded commit {recorded}, not {side.commit}: it did not "
                            f"run the {role}'s code", 3)
        return code

    @property
    def verified(self) -> bool:
        """Each side ran its own commit, and the two commits differ."""
        return self.base_commit != self.head_commit and all(s.runs for s in self.sides.values())


def default_envs() -> Path:
    """Where base environments live without ``--cache``: ``$XDG_CACHE_HOME/distbench/envs``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "distbench" / "envs"
