"""The regression gate's error rates, measured with A/A and A/B trials (a benchmark, not a timed
test).

    pytest -n 0 --benchmark-enable tests/test_bench_gate.py -s

For ``configs/quickstart.yaml`` and ``configs/txn-quickstart.yaml`` it runs the base (this code)
and, per trial, a variant of this code:

* **A/A, a behaviour-neutral change**: ``k`` extra draws from a random stream (k = 1..20, one
  trial each, so every trial diverges differently). Consensus: the election timer draws k numbers
  and keeps the next (the timeout's distribution is unchanged; the change the gate was first
  found to cry wolf on). Transactions: the network discards k latency draws per block. Every run
  diverges from the base; nothing about the distribution of any metric changes.
* **A/B, a known slowdown**: the same neutral change plus the leader's CPU slowed by 5%, 10% or
  20% (every CPU cost it pays: per message, per send, per byte); transactions have no leader, so
  every partition's CPU is slowed.

Each A/A variant is compared with the base at the suite's seeds, exactly as ``distbench compare``
would (default policy and thresholds), again as ``--seeds S/2 --auto-seeds S`` would (a look at
half the seeds, then at all of them if inconclusive), and without the within-run batch means. Each
A/B variant is compared at half the suite's seeds: detection is measured where it is harder (and
the A/B runs cost half). A trial counts as a false alarm (A/A) or a detection (A/B) when the
comparison exits 1. The variants are code patches, so they run in a forked process in the
pure build only. Runs are kept in ``$DISTBENCH_BENCH_DIR`` (default
``.benchmarks/gate-error-rates``) and reused by later invocations; the table is printed and written
to ``table.md`` there. It takes about an hour of CPU per suite.

With benchmarks disabled (the default), a smoke run on a tiny suite checks the machinery: each
neutral change makes every run diverge, the slowdown slows the leader, and the table is built.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from harness import build
from harness.compare import suite_policy
from harness.compare.judge import EXIT_REGRESSION, compare
from harness.compare.sequential import decide
from harness.compare.sides import load_side, restrict

ROOT = Path(__file__).resolve().parent.parent
SUITES = {"quickstart": (ROOT / "configs" / "quickstart.yaml", "consensus"),
          "txn-quickstart": (ROOT / "configs" / "txn-quickstart.yaml", "transactions")}
TRIALS = {"A/A": (0.0, 20), "A/B 5%": (0.05, 3), "A/B 10%": (0.10, 20), "A/B 20%": (0.20, 3)}
TARGETS = {"A/A": "false alarms in at most 1 of 20", "A/B 10%": "detected in at least 19 of 20"}

TINY = """\
name: tiny-bench-{kind}
kind: {kind}
duration: 0.6s
warmup: 0.1s
seeds: 2
{body}
"""
TINY_BODY = {
    "consensus": "cluster: {nodes: 3}\nworkload: {clients: 8, keys: 100}\n"
                 "faults: {schedule: [{at: 0.3s, action: crash, target: leader, for: 0.2s}]}\n"
                 "checkers: {linearizability: false}\nmatrix: {protocol: [raft, multipaxos]}",
    "transactions": "cluster: {partitions: 2}\nworkload: {type: ycsb, clients: 8, keys: 1000}\n"
                    "matrix: {protocol: [2pl-waitdie, occ]}",
}


def _patch(kind: str, k: int, slowdown: float) -> None:
    """Install the variant's code change in this (forked) process."""
    from harness.engine.network import Latencies
    from harness.engine.node import NodeHost
    from implementations.replication.liveness import ElectionTimer

    if k and kind == "consensus":
        reset = ElectionTimer.reset

        def neutral_reset(self, ctx):
            for _ in range(k):
                ctx.random()
            reset(self, ctx)
        ElectionTimer.reset = neutral_reset
    elif k:
        refill = Latencies.refill

        def neutral_refill(self):
            first = refill(self)
            for _ in range(k):
                first = self.draws.pop() if self.draws else refill(self)
            return first
        Latencies.refill = neutral_refill
    if slowdown and kind == "consensus":
        became_leader = NodeHost.became_leader

        def slow_leader(self, term):
            # Only the current leader is slow: the one it replaced (crashed, or deposed) is not.
            before = getattr(self.net, "slow_leader", None)
            if before is not None and before is not self:
                before.slow = 1.0
            self.net.slow_leader = self
            self.slow = 1.0 + slowdown
            became_leader(self, term)
        NodeHost.became_leader = slow_leader
    elif slowdown:
        init = NodeHost.__init__

        def slow_node(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.slow = 1.0 + slowdown
        NodeHost.__init__ = slow_node


def _run_variant(suite_path: str, out: str, kind: str, k: int, slowdown: float, seeds: int,
                 jobs: int) -> None:
    from harness.execution.executor import run_suite
    from harness.suite.loading import load_suite

    _patch(kind, k, slowdown)
    resume = (Path(out) / "manifest.json").is_file()
    run_suite(load_suite(suite_path, (), seeds), Path(out), jobs=jobs, progress=False, resume=resume)


def _finished(out: Path, seeds: int) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(manifest.get("finished")) and not manifest.get("interrupted") \
        and len(manifest.get("seeds") or []) >= seeds


def variant(suite_path: Path, out: Path, kind: str, k: int, slowdown: float, seeds: int,
            jobs: int = 2) -> Path:
    """Run (or reuse) one variant's results in a forked child, so its patch never touches the
    test process; workers fork from the patched child."""
    if not _finished(out, seeds):
        child = multiprocessing.get_context("fork").Process(
            target=_run_variant, args=(str(suite_path), str(out), kind, k, slowdown, seeds, jobs))
        child.start()
        child.join()
        assert child.exitcode == 0, f"variant {out} failed (exit {child.exitcode})"
    return out


@dataclass
class Outcome:
    condition: str
    seeds: int
    fixed: int      # exit code at the suite's seeds
    auto: int       # exit code with a look at half the seeds, then all
    plain: int      # exit code at the suite's seeds without batch means (what they buy)


def judge(base: Path, new: Path, seeds: int) -> tuple[int, int, int]:
    """The exit code of comparing at ``seeds``, with --seeds seeds/2 --auto-seeds seeds, and at
    ``seeds`` without the within-run batch means."""
    b, n = load_side(base, "BASE"), load_side(new, "NEW")
    policy = suite_policy(n.manifest)
    b, n = restrict(b, seeds), restrict(n, seeds)
    fixed = compare(b, n, policy).exit_code
    result, _ = decide(lambda s, a: compare(restrict(b, s), restrict(n, s), policy, a),
                       max(2, seeds // 2), seeds, policy.alpha)
    plain = compare(b, n, replace(policy, within_run=False)).exit_code
    return fixed, result.exit_code, plain


def trials(name: str, root: Path, seeds: int, trials_per: dict[str, tuple[float, int]],
           suite_path: Path, kind: str) -> list[Outcome]:
    base = variant(suite_path, root / name / "base", kind, 0, 0.0, seeds)
    out = []
    for condition, (slowdown, count) in trials_per.items():
        tag = "aa" if not slowdown else f"ab{round(slowdown * 100)}"
        at = seeds if not slowdown else max(2, seeds // 2)
        for k in range(1, count + 1):
            new = variant(suite_path, root / name / f"{tag}-{k}", kind, k, slowdown, at)
            out.append(Outcome(condition, at, *judge(base, new, at)))
    return out


def table(results: dict[str, list[Outcome]]) -> str:
    lines = ["| suite | change | trials | seeds | exit 1 (worse) | exit 0 (pass) | exit 3 (inconclusive) "
             "| --auto-seeds: exit 1 / 0 / 3 | no batch means: exit 1 / 0 / 3 | target |",
             "|---|---|---:|---:|---:|---:|---:|---|---|---|"]
    for name, outcomes in results.items():
        for condition in dict.fromkeys(o.condition for o in outcomes):
            group = [o for o in outcomes if o.condition == condition]
            fixed, auto = Counter(o.fixed for o in group), Counter(o.auto for o in group)
            plain = Counter(o.plain for o in group)
            lines.append(f"| {name} | {condition} | {len(group)} | {group[0].seeds} | {fixed[1]} | "
                         f"{fixed[0]} | {fixed[3]} | {auto[1]} / {auto[0]} / {auto[3]} "
                         f"(from {max(2, group[0].seeds // 2)}) | {plain[1]} / {plain[0]} / {plain[3]} "
                         f"| {TARGETS.get(condition, '')} |")
    return "\n".join(lines) + "\n"


def _suite_seeds(path: Path) -> int:
    from harness.suite.loading import load_suite

    return load_suite(path).base.seeds


@pytest.mark.skipif(build.kind() != "pure", reason="the variants patch Python classes: pure build only")
def test_gate_error_rates(benchmark, tmp_path):
    if benchmark.disabled:
        benchmark.pedantic(_smoke, args=(tmp_path,), rounds=1, iterations=1)
        return
    root = Path(os.environ.get("DISTBENCH_BENCH_DIR", ROOT / ".benchmarks" / "gate-error-rates"))
    seeds = {name: _suite_seeds(path) for name, (path, _) in SUITES.items()}

    def measure() -> dict[str, list[Outcome]]:
        return {name: trials(name, root, seeds[name], TRIALS, path, kind)
                for name, (path, kind) in SUITES.items()}

    results = benchmark.pedantic(measure, rounds=1, iterations=1)
    text = table(results)
    (root / "table.md").write_text(text)
    print("\n" + text)
    for name, outcomes in results.items():
        for condition in TARGETS:
            group = [o for o in outcomes if o.condition == condition]
            benchmark.extra_info[f"{name} {condition} exit1"] = sum(o.fixed == EXIT_REGRESSION for o in group)


def _smoke(tmp_path: Path) -> None:
    """Each neutral change diverges every run; the slowdown slows; the table is built."""
    results = {}
    for kind in ("consensus", "transactions"):
        path = tmp_path / f"{kind}.yaml"
        path.write_text(TINY.format(kind=kind, body=TINY_BODY[kind]))
        name = f"tiny-{kind}"
        results[name] = trials(name, tmp_path, 2, {"A/A": (0.0, 1), "A/B 20%": (0.2, 1)}, path, kind)
        base = load_side(tmp_path / name / "base", "BASE")
        for tag in ("aa-1", "ab20-1"):
            new = load_side(tmp_path / name / tag, "NEW")
            assert compare(base, new, suite_policy(new.manifest)).identical == [], f"{tag} did not diverge"
        slow = load_side(tmp_path / name / "ab20-1", "NEW")
        # the slowed variant's CPU time per message is visibly higher: p50 latency rises
        p50 = lambda side: side.runs["latency_p50_ms"].astype(float).mean()  # noqa: E731
        assert p50(slow) > p50(base)
    text = table(results)
    assert text.count("\n") == 2 + 4 and "| A/A | 1 | 2 |" in text
