"""The import graph of harness/, implementations/ and workloads/: no cycle, and the layers apart.

Imports are read from the source (ast), not by importing: module-level and function-level
imports both count (a function's import runs as surely as a module's, only later), imports under
``if TYPE_CHECKING:`` do not (they never run). ``from package import name`` is an edge to
``package.name`` when that is a module, else to ``package``.
"""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "implementations", "workloads")


def modules() -> dict[str, Path]:
    """Every module of the three packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that can run: all of them, except under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and _type_checking(node):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def _known(name: str, known: dict[str, Path]) -> str | None:
    """``name`` or its longest prefix that is one of our modules."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    """module -> the modules of the three packages it imports."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                           for alias in node.names]
            for target in targets:
                module = _known(target, known)
                if module is not None and module != name:
                    edges[name].add(module)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles, each as ``[a, b, ..., a]``: every cycle is found again with one of its
    edges removed, until none is left, so each listed cycle has an edge no earlier one has."""
    edges = {k: set(v) for k, v in edges.items()}
    found = []
    while True:
        try:
            graphlib.TopologicalSorter(edges).prepare()
            return found
        except graphlib.CycleError as exc:
            cycle = list(reversed(exc.args[1][1:]))  # graphlib lists it against the edges
            start = cycle.index(min(cycle))
            cycle = cycle[start:] + cycle[:start + 1]
            found.append(cycle)
            edges[cycle[0]].discard(cycle[1])


def imports_of(prefix: str, edges: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: targets for m, targets in edges.items() if m == prefix or m.startswith(prefix + ".")}


def reaching(edges: dict[str, set[str]], source: str, forbidden: tuple[str, ...]) -> list[str]:
    """``module -> target`` for each import of a module under ``source`` of one under ``forbidden``."""
    return sorted(f"{m} -> {t}" for m, targets in imports_of(source, edges).items() for t in targets
                  if any(t == f or t.startswith(f + ".") for f in forbidden))


def test_the_import_graph_has_no_cycle():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_protocols_never_import_the_engine_kinds_or_faults():
    """A protocol may import its kind's contract (what the kind's nodes speak and answer), and
    nothing else of a kind: not its world, its metrics or its checks."""
    edges = graph()
    found = reaching(edges, "implementations", ("harness.engine", "harness.kinds", "harness.faults"))
    contracts = tuple(f"harness.kinds.{kind}.contract" for kind in ("consensus", "transactions"))
    assert [e for e in found if not e.endswith(contracts)] == []


def test_the_engine_never_imports_a_protocol_or_a_kind():
    assert reaching(graph(), "harness.engine", ("implementations", "harness.kinds")) == []


def test_the_graph_sees_every_kind_of_import(tmp_path, monkeypatch):
    """The reader itself: absolute, relative, function-level and ``from package import module``
    imports are edges; a ``TYPE_CHECKING`` import is not; a cycle is named."""
    pkg = tmp_path / "harness"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import harness.c\n"
                              "def f():\n    from harness.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from ..c import x\n")
    (pkg / "c.py").write_text("import harness.a\nx = 1\n")
    for package in ("implementations", "workloads"):
        (tmp_path / package).mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    edges = graph()
    assert edges == {"harness": set(), "harness.a": {"harness.sub.b"}, "harness.c": {"harness.a"},
                     "harness.sub": {"harness.sub.b"}, "harness.sub.b": {"harness.c"}}
    assert cycles(edges) == [["harness.a", "harness.sub.b", "harness.c", "harness.a"]]
    assert reaching(edges, "harness.sub", ("harness.c",)) == ["harness.sub.b -> harness.c"]
