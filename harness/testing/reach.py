"""Which lines of a protocol a sweep reached: coverage as a report, and a coverage-guided sweep.

A checker can only catch a bug on a path some run took; a mutant on a line no run reaches
always survives. So the swarm sweep is judged by the lines it reaches (coverage.py as a
library), and :func:`guided` keeps, as fuzzers do, only the seeds that reach lines the seeds
before them did not: a small corpus that reaches what the whole sweep reaches.

Line coverage needs the interpreted build: a compiled module runs no Python lines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import coverage

from harness.testing import swarm

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FileReach:
    """One source file: its executable lines and those a sweep ran."""

    path: str
    lines: frozenset[int]
    reached: frozenset[int]

    @property
    def percent(self) -> float:
        return 100.0 * len(self.reached) / len(self.lines) if self.lines else 100.0

    @property
    def missed(self) -> list[int]:
        return sorted(self.lines - self.reached)


def protocol_files(package: str) -> list[Path]:
    """The Python files of ``implementations/<package>/``."""
    return sorted((ROOT / "implementations" / package).glob("*.py"))


def _measure(protocol: str, seeds: Iterable[int], files: list[Path]) -> dict[str, set[int]]:
    """Lines of ``files`` each run of the swarm sweep of ``protocol`` over ``seeds`` executed,
    per seed and file: {f"{seed}:{file}": lines}."""
    reached: dict[str, set[int]] = {}
    for seed in seeds:
        cov = coverage.Coverage(data_file=None, include=[str(f) for f in files], config_file=False)
        cov.start()
        try:
            swarm.run_suite(swarm.draw(protocol, seed))
        finally:
            cov.stop()
        data = cov.get_data()
        for f in files:
            reached[f"{seed}:{f}"] = set(data.lines(str(f)) or ())
    return reached


def _executable(path: Path) -> frozenset[int]:
    """The statements inside functions: module and class bodies run at import, before any
    sweep can be measured, and a mutant there is a different program rather than a path."""
    cov = coverage.Coverage(data_file=None, config_file=False)
    _, statements, _, _, _ = cov.analysis2(str(path))
    bodies = {line for node in ast.walk(ast.parse(path.read_text("utf-8")))
              if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
              for line in range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1)}
    return frozenset(statements) & bodies


def line_coverage(protocols: Iterable[str], seeds: Iterable[int], files: list[Path]) -> list[FileReach]:
    """Per file, the lines the swarm sweeps of ``protocols`` over ``seeds`` reached together."""
    seeds = list(seeds)
    union: dict[Path, set[int]] = {f: set() for f in files}
    for protocol in protocols:
        for key, lines in _measure(protocol, seeds, files).items():
            union[Path(key.split(":", 1)[1])] |= lines
    result = []
    for f in files:
        lines = _executable(f)
        result.append(FileReach(str(f.relative_to(ROOT)), lines, frozenset(union[f] & lines)))
    return result


def guided(protocol: str, candidates: Iterable[int], files: list[Path]) -> list[int]:
    """The seeds of ``candidates``, in order, that each reached a line of ``files`` no seed kept
    before it reached: a corpus as wide as the whole sweep, usually much smaller."""
    kept: list[int] = []
    seen: set[tuple[str, int]] = set()
    for seed in candidates:
        lines = _measure(protocol, [seed], files)
        new = {(key.split(":", 1)[1], line) for key, found in lines.items() for line in found} - seen
        if new:
            kept.append(seed)
            seen |= new
    return kept
