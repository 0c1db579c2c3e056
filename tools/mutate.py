"""Mutation testing of the protocols: does the oracle (swarm sweep + checkers + scenario scripts)
catch a one-point bug in each protocol file?

Usage::

    python tools/mutate.py implementations/raft/node.py [--seeds 20] [--timeout 60] [--jobs 2]
                           [--lines 120-180] [--sample N] [--json OUT.json] [--list]
    python tools/mutate.py --report docs/oracle/*.json [--markdown]
                                                  # summarise again, with the current judgements

Each mutant is one change at one point of a function body: a flipped comparison (``<`` to
``>=``), an off-by-one integer, a deleted call statement, a negated ``if``/``while``/ternary
condition, a swapped boolean (``True``/``False``, ``and``/``or``), ``max``/``min`` swapped. It runs
in a subprocess (``--timeout`` seconds of CPU time, so that a loaded machine does not turn slow
mutants into time-outs), its module replaced at import by the mutated code, against
the swarm sweep of every protocol that uses the file (:mod:`harness.testing.swarm`; seeds that
fail unmutated are left out) and then those protocols' scenario scripts. Verdicts: ``killed``
(a checker found a violation, a run committed nothing or did not recover once its faults
healed, the run raised, or a script printed otherwise), ``survived``,
``timeout``. A sweep run that commits nothing kills a mutant too: its checkers passed for want
of anything to check, and the unmutated protocols commit in every seed. And, for the mutants judged by hand in ``tools/mutants.yaml`` (each with its
reason), ``equivalent`` (changes nothing a run can observe) or ``liveness`` (can only slow the
protocol down or stop it: no safety promise depends on the line). Judged mutants are not run.
The score is (killed + timeout) over the safety-relevant mutants: all but the judged ones. A
``--sample`` judges part of a file: its score is an estimate, printed with its 95%
Clopper-Pearson interval.

Why no library: mutmut 3 rewrites every function into a trampoline and runs pytest in a copied
tree, and cosmic-ray mutates the files of the working tree in place and needs a session
database; neither runs a mutant against a sweep that is not a pytest suite, and the one costs
the simulator's hot paths a call per function. An AST mutator of the six operators above is
~100 lines, and a mutant loaded through an import hook leaves the checkout untouched.
"""

from __future__ import annotations

import argparse
import ast
import resource
import signal
import importlib.abc
import importlib.util
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
JUDGED = ROOT / "tools" / "mutants.yaml"

# Which protocols run a file of implementations/<package>/, and so judge its mutants.
PROTOCOLS = {
    "raft": ["raft"], "multipaxos": ["multipaxos"], "replication": ["raft", "multipaxos", "zab"],
    "txn": ["2pc", "2pl", "occ", "mvcc-si", "tso", "saga", "tcc"], "twopc": ["2pc"], "twopl": ["2pl", "2pc"],
    "occ": ["occ", "2pc"], "mvcc": ["mvcc-si"], "tso": ["tso"],
    "zab": ["zab"], "quorum": ["quorum"], "saga": ["saga"], "tcc": ["tcc"],
}

_FLIP = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq,
         ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_SYMBOL = {ast.Lt: "<", ast.GtE: ">=", ast.Gt: ">", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!=",
           ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_SKIPPED_FUNCTIONS = {"__repr__", "__str__"}  # what a message prints changes no protocol


@dataclass(frozen=True)
class Mutant:
    """One mutation point: ``key`` (file:line:col:what) names it in reports and in the
    equivalence file."""

    file: str
    index: int
    line: int
    col: int
    what: str

    @property
    def key(self) -> str:
        return f"{self.file}:{self.line}:{self.col}:{self.what}"


class _Mutator(ast.NodeTransformer):
    """Walks a module's function bodies in a fixed order, numbering mutation points; with
    ``target`` set, applies that one and leaves the rest."""

    def __init__(self, target: int | None = None):
        self.target = target
        self.points: list[tuple[int, int, str]] = []
        self._in_function = 0

    def _point(self, node: ast.AST, what: str) -> bool:
        """Number a point; True when it is the one to apply."""
        self.points.append((getattr(node, "lineno", 0), getattr(node, "col_offset", 0), what))
        return self.target == len(self.points) - 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        if node.name in _SKIPPED_FUNCTIONS:
            return node
        self._in_function += 1
        node.body = [self.visit(stmt) for stmt in node.body]  # not the decorators, defaults
        self._in_function -= 1
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Compare(self, node: ast.Compare) -> Any:
        self.generic_visit(node)
        if self._in_function:
            for i, op in enumerate(node.ops):
                flipped = _FLIP[type(op)]
                if self._point(node, f"{_SYMBOL[type(op)]} -> {_SYMBOL[flipped]}"):
                    node.ops[i] = flipped()
        return node

    def visit_Constant(self, node: ast.Constant) -> Any:
        if not self._in_function:
            return node
        if isinstance(node.value, bool):
            if self._point(node, f"{node.value} -> {not node.value}"):
                return ast.copy_location(ast.Constant(not node.value), node)
        elif isinstance(node.value, int):
            if self._point(node, f"{node.value} -> {node.value + 1}"):
                return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        self.generic_visit(node)
        if self._in_function:
            swap = ast.Or if isinstance(node.op, ast.And) else ast.And
            if self._point(node, f"{type(node.op).__name__.lower()} -> {swap.__name__.lower()}"):
                node.op = swap()
        return node

    def visit_Call(self, node: ast.Call) -> Any:
        self.generic_visit(node)
        if self._in_function and isinstance(node.func, ast.Name) and node.func.id in ("max", "min"):
            other = "min" if node.func.id == "max" else "max"
            if self._point(node, f"{node.func.id} -> {other}"):
                node.func = ast.copy_location(ast.Name(other, ast.Load()), node.func)
        return node

    def visit_Expr(self, node: ast.Expr) -> Any:
        self.generic_visit(node)
        if self._in_function and isinstance(node.value, ast.Call):
            if self._point(node, f"delete call {ast.unparse(node.value.func)}()"):
                return ast.copy_location(ast.Pass(), node)
        return node

    def _negate(self, node: Any, kind: str) -> Any:
        self.generic_visit(node)
        if self._in_function and self._point(node, f"negate {kind}"):
            node.test = ast.copy_location(ast.UnaryOp(ast.Not(), node.test), node.test)
        return node

    def visit_If(self, node: ast.If) -> Any:
        return self._negate(node, "if")

    def visit_While(self, node: ast.While) -> Any:
        return self._negate(node, "while")

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self._negate(node, "ternary")


def mutants(file: str) -> list[Mutant]:
    """Every mutation point of ``file`` (a path relative to the checkout)."""
    mutator = _Mutator()
    mutator.visit(ast.parse((ROOT / file).read_text("utf-8")))
    return [Mutant(file, i, line, col, what) for i, (line, col, what) in enumerate(mutator.points)]


def mutated_code(file: str, index: int) -> Any:
    tree = _Mutator(index).visit(ast.parse((ROOT / file).read_text("utf-8")))
    return compile(ast.fix_missing_locations(tree), str(ROOT / file), "exec")


class _Replace(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports one module from given code instead of its file."""

    def __init__(self, name: str, path: Path, code: Any):
        self.name, self.path, self.code = name, path, code

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        exec(self.code, module.__dict__)


def _protocols(file: str) -> list[str]:
    return PROTOCOLS[Path(file).parent.name]


def oracle(protocols: list[str], seeds: int, skip: set[str]) -> tuple[str, str]:
    """Run the swarm sweep then the scenario scripts: ("killed", why) at the first safety
    violation, else at the first liveness failure of the sweep (nothing committed, no recovery),
    else at the first script that fails; else ("survived", "")."""
    from harness.testing import swarm
    from harness.testing.scenario import run_scenario

    stalled = ""
    for protocol in protocols:
        for seed in range(1, seeds + 1):
            if f"{protocol}:{seed}" in skip:
                continue
            try:
                (outcome,) = swarm.sweep(protocol, [seed])
            except Exception as exc:  # a mutant that breaks the protocol's own code
                return "killed", f"{protocol} seed {seed}: {type(exc).__name__}: {exc}"[:300]
            if not outcome.safe:
                return "killed", f"{protocol} seed {seed}: {outcome.safety}"[:300]
            if outcome.verdict and not stalled:  # the unmutated protocols commit and recover in every seed
                stalled = f"{protocol} seed {seed}: {outcome.verdict}"[:300]
    if stalled:  # a liveness failure, named only if no seed shows a safety violation
        return "killed", stalled
    for protocol in protocols:
        for script in sorted((ROOT / "tests" / "scenarios" / protocol).glob("*.txt")):
            try:
                run_scenario(script, rewrite=False)
            except Exception as exc:
                text = str(exc).replace(f"{ROOT}/", "").strip()
                first = text.splitlines()[0] if text else type(exc).__name__
                return "killed", f"scenario {protocol}/{script.name}: {first}"[:300]
    return "survived", ""


def _child(args: argparse.Namespace) -> int:
    """Run one mutant (``--run-one FILE INDEX``), or the unmutated oracle (INDEX -1), and print
    the verdict as JSON."""
    file, index = args.run_one[0], int(args.run_one[1])
    sys.path.insert(0, str(ROOT))
    if index >= 0:
        name = ".".join(Path(file).with_suffix("").parts)
        sys.meta_path.insert(0, _Replace(name, ROOT / file, mutated_code(file, index)))
    protocols = _protocols(file)
    if index < 0:  # the seeds that fail unmutated: no mutant is killed by them
        from harness.testing import swarm
        failing = [f"{p}:{o.seed}" for p in protocols for o in swarm.sweep(p, range(1, args.seeds + 1))
                   if o.verdict]
        print(json.dumps({"failing": failing}))
        return 0
    verdict, why = oracle(protocols, args.seeds, set(args.skip.split(",")) if args.skip else set())
    print(json.dumps({"verdict": verdict, "why": why}))
    return 0


JUDGEMENTS = ("equivalent", "liveness")


def judged() -> dict[str, tuple[str, str]]:
    """The hand judgements of ``tools/mutants.yaml``: key -> (judgement, reason)."""
    if not JUDGED.exists():
        return {}
    import yaml

    data = yaml.safe_load(JUDGED.read_text("utf-8")) or {}
    out = {}
    for key, text in data.items():
        judgement, _, reason = str(text).partition(":")
        if judgement not in JUDGEMENTS or not reason.strip():
            raise SystemExit(f"{JUDGED}: {key}: expected 'equivalent: why' or 'liveness: why', got {text!r}")
        out[str(key)] = (judgement, reason.strip())
    return out


def _lines(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1 << 30
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


def _cpu_limit(seconds: float) -> Any:
    """A child's limit of CPU seconds (SIGXCPU past it): wall-clock time would depend on the load."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (int(seconds) + 1, int(seconds) + 2))
    return limit


def _run(file: str, index: int, args: argparse.Namespace, skip: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--run-one", file, str(index),
           "--seeds", str(args.seeds), "--skip", ",".join(skip)]
    try:  # the wall-clock bound only catches a child that waits without computing
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20 * args.timeout, cwd=ROOT,
                              preexec_fn=_cpu_limit(args.timeout))
    except subprocess.TimeoutExpired:
        return {"verdict": "timeout", "why": f"no verdict within {20 * args.timeout:g} s of wall-clock time"}
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return {"verdict": "timeout", "why": f"no verdict within {args.timeout:g} s of CPU time"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"verdict": "killed", "why": f"the mutant does not load: {tail}"[:300]}
    return json.loads(lines[-1])


def _commit() -> str:
    """The checkout's commit (``+`` when it has changes): which oracle judged the mutants."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


def iterate(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Every chosen mutant's verdict, in file order, ``args.jobs`` run at a time."""
    hand = judged()
    lo, hi = _lines(args.lines)
    oracle_commit = _commit()
    for file in args.files:
        base = _run(file, -1, args, [])
        skip = base.get("failing", [])
        population = mutants(file)
        chosen = [m for m in population if lo <= m.line <= hi]
        if args.sample and len(chosen) > args.sample:  # evenly spread over the file
            chosen = [chosen[i * len(chosen) // args.sample] for i in range(args.sample)]

        def verdict(m: Mutant) -> dict[str, Any]:
            head = {**asdict(m), "key": m.key, "population": len(population), "oracle": oracle_commit}
            if m.key in hand:
                judgement, reason = hand[m.key]
                return {**head, "verdict": judgement, "why": reason}
            started = time.perf_counter()
            result = _run(file, m.index, args, skip)
            return {**head, **result, "seconds": round(time.perf_counter() - started, 1)}

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            yield from pool.map(verdict, chosen)


def rejudged(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier results with the judgements of ``tools/mutants.yaml`` as they are now."""
    hand = judged()
    return [{**r, "verdict": hand[r["key"]][0], "why": hand[r["key"]][1]} if r["key"] in hand else r
            for r in results]


def _score(mine: list[dict[str, Any]]) -> dict[str, Any]:
    """One file's counts, its score and, when only a sample of its mutants was judged, the
    score's 95% Clopper-Pearson interval."""
    from scipy.stats import binomtest

    count = {v: sum(r["verdict"] == v for r in mine) for v in ("killed", "survived", "timeout", *JUDGEMENTS)}
    relevant = len(mine) - count["equivalent"] - count["liveness"]
    caught = count["killed"] + count["timeout"]
    population = max(int(r.get("population") or 0) for r in mine)
    interval = None
    if relevant and population > len(mine):
        ci = binomtest(caught, relevant).proportion_ci(0.95, method="exact")
        interval = (100.0 * ci.low, 100.0 * ci.high)
    return {**count, "mutants": len(mine), "population": population, "relevant": relevant,
            "score": 100.0 * caught / relevant if relevant else 100.0, "interval": interval}


def _per_file(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {file: _score([r for r in results if r["file"] == file])
            for file in dict.fromkeys(r["file"] for r in results)}


def summary(results: list[dict[str, Any]]) -> str:
    """Per file: counts of each verdict and the score (killed / mutants not judged)."""
    out = []
    for file, s in _per_file(results).items():
        judged_part = "all" if s["population"] <= s["mutants"] else f"a sample of {s['mutants']} of {s['population']}"
        line = (f"{file}: {judged_part} mutants, killed {s['killed']}, survived {s['survived']}, "
                f"timeout {s['timeout']}, equivalent {s['equivalent']}, liveness only {s['liveness']}: "
                f"score {s['score']:.0f}% of {s['relevant']} safety-relevant")
        if s["interval"]:
            line += f" (95% interval {s['interval'][0]:.0f}-{s['interval'][1]:.0f}%)"
        out.append(line)
    return "\n".join(out)


def markdown(results: list[dict[str, Any]]) -> str:
    """The per-file table of docs/oracle.md and the README."""
    rows = ["| file | mutants judged | killed | time-out | survived | equivalent | liveness only | score (safety-relevant) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for file, s in _per_file(results).items():
        judged_part = f"{s['mutants']}" if s["population"] <= s["mutants"] else f"{s['mutants']} of {s['population']}"
        score = f"{s['score']:.0f}% of {s['relevant']}"
        if s["interval"]:
            score += f" ({s['interval'][0]:.0f}–{s['interval'][1]:.0f}%)"
        rows.append(f"| {file.removeprefix('implementations/')} | {judged_part} | {s['killed']} | {s['timeout']} | "
                    f"{s['survived']} | {s['equivalent']} | {s['liveness']} | {score} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="protocol files, relative to the checkout")
    parser.add_argument("--seeds", type=int, default=20, help="swarm seeds per protocol (default 20)")
    parser.add_argument("--timeout", type=float, default=60.0, help="CPU seconds per mutant (default 60)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--lines", help="only mutants on these lines (N or N-M)")
    parser.add_argument("--sample", type=int, help="only this many mutants per file, evenly spread")
    parser.add_argument("--list", action="store_true", help="list the mutants, run none")
    parser.add_argument("--json", type=Path, help="also write every mutant's verdict to this file")
    parser.add_argument("--report", type=Path, nargs="+", metavar="JSON",
                        help="run nothing: summarise --json files again, with the current judgements")
    parser.add_argument("--markdown", action="store_true", help="with --report: print the per-file table")
    parser.add_argument("--run-one", nargs=2, metavar=("FILE", "INDEX"), help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        return _child(args)
    if args.report:
        results = rejudged([r for path in args.report for r in json.loads(path.read_text("utf-8"))])
        print(markdown(results) if args.markdown else summary(results))
        return 0
    sys.path.insert(0, str(ROOT))
    from harness import build

    if build.kind() != "pure":
        parser.error("mutants replace Python modules: run it in the interpreted build (pip install -e .)")
    for file in args.files:
        if Path(file).parent.name not in PROTOCOLS or not (ROOT / file).is_file():
            parser.error(f"{file}: expected a file of implementations/{{{','.join(PROTOCOLS)}}}/")
    if args.list:
        for file in args.files:
            for m in mutants(file):
                print(m.key)
        return 0
    results = []
    for result in iterate(args):
        results.append(result)
        print(f"{result['verdict']:10s} {result['key']}  {result['why']}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1), "utf-8")
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
