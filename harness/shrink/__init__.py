"""``distbench shrink``: reduce a failing run to the smallest run that still fails the same check.

A results directory records each run's full config and seed, and the digest of the code that ran
it; with the same code, running it again gives the same run, so its failure can be confirmed and
then shrunk (:mod:`.shrinker`): the faults it injected, its duration, its clients, its cluster.
What is left is written as a suite ``distbench run`` runs (:mod:`.output`), run once more into a
results directory of its own, with an account of what was needed.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.checkers.verdicts import failed, verdict_class
from harness.execution.cache import code_digest
from harness.execution.reader import ResultsError, open_results
from harness.shrink import output, schedule
from harness.shrink.shrinker import SIZES, Found, Shrinker, get
from harness.suite.errors import problem_from
from harness.suite.run import RunConfig, resolved_input
from harness.units import human_duration


class ShrinkError(Exception):
    """A run that cannot be shrunk, or a place the result cannot go: one line."""


@dataclass
class Source:
    """The failing run as its results directory records it."""

    results: Path
    suite: str
    run_id: str
    seed: int
    config: dict[str, Any]    # resolved (see resolved_input)
    safety: str               # as runs.csv recorded it


def failing_run(results: Path, run_id: str, allow_other_code: bool = False) -> Source:
    """The run ``run_id`` of ``results``, if it failed and this code is the code that ran it."""
    try:
        found = open_results(results)
    except ResultsError as exc:
        raise ShrinkError(str(exc)) from None
    manifest = found.manifest
    if not found.has_manifest or not isinstance(manifest.get("runs"), list):
        raise ShrinkError(f"{results}: no manifest.json (not a results directory written by `distbench run`)")
    runs = {r.get("run_id"): r for r in manifest["runs"]}
    if run_id not in runs:
        names = ", ".join(list(runs)[:4]) + (", ..." if len(runs) > 4 else "")
        raise ShrinkError(f"{results}: no run {run_id!r} (its runs: {names or 'none'})")
    rows = found.runs[found.runs["run_id"] == run_id]
    if rows.empty or "safety" not in rows.columns:
        raise ShrinkError(f"{results}/runs.csv: run {run_id} has no result (an interrupted suite?)")
    safety = str(rows.iloc[0]["safety"])
    if not failed(safety):
        raise ShrinkError(f"{results}: run {run_id} did not fail (safety {safety}): nothing to shrink")
    ran, here = manifest.get("code_digest"), code_digest()
    if ran != here and not allow_other_code:
        raise ShrinkError(f"{results}: run {run_id} was simulated by other code (code digest "
                          f"{str(ran)[:12]}, this distbench's {here[:12]}, commit "
                          f"{str(manifest.get('git_commit'))[:10]}): it may not fail again; pass "
                          "--allow-other-code to try")
    run = runs[run_id]
    config = resolved_input(run.get("config") or {})
    try:
        RunConfig.model_validate(config)
    except ValidationError as exc:
        problem = problem_from(exc.errors()[0], RunConfig, config)
        where = ".".join(map(str, problem.at))
        raise ShrinkError(f"{results}/manifest.json: run {run_id}: config{'.' + where if where else ''}: "
                          f"{problem.text()}") from None
    return Source(results, str(manifest.get("suite")), run_id, int(run["seed"]), config, safety)


@dataclass
class Outcome:
    out: Path
    account: list[str]
    reproduced: bool          # the written suite, run again, failed the same check


def shrink(source: Source, out: Path, time_limit: float | None = None, progress: bool = True) -> Outcome:
    """Shrink ``source`` and write the result into the new directory ``out``."""
    if out.exists() or out.is_symlink():
        raise ShrinkError(f"--out {out}: exists; name a new directory")
    wanted = verdict_class(source.safety)
    assert wanted is not None
    started = time.monotonic()
    start = {**source.config, "name": f"{source.config['name']}-shrunk", "seeds": 1}
    shrinker = Shrinker(start, source.seed, source.run_id, wanted,
                        None if time_limit is None else started + time_limit, progress)
    found = shrinker.run()
    if found is None and shrinker.stopped:
        raise ShrinkError(f"{source.results}: run {source.run_id}: stopped by {shrinker.stopped} before "
                          "it failed again: nothing written")
    if found is None:
        how = shrinker.tried[0].safety if shrinker.tried else "not run"
        raise ShrinkError(f"{source.results}: run {source.run_id} does not fail {wanted} when run again "
                          f"(safety {how}): nothing to shrink")
    account = _account(source, shrinker, found, wanted, time.monotonic() - started)
    return Outcome(out, account, _write(out, source, shrinker, found, wanted, account))


def _write(out: Path, source: Source, shrinker: Shrinker, found: Found, wanted: str,
           account: list[str]) -> bool:
    """Write everything into a new directory beside ``out``, renamed to ``out`` when complete;
    True when the written suite, run by ``distbench run``'s executor, failed the same check."""
    from harness.execution.executor import run_suite
    from harness.execution.results import staging_dir
    from harness.suite.loading import load_suite

    new = staging_dir(out)
    try:
        suite_path = new / output.SUITE
        suite_path.write_text(output.suite_text(found.data, (
            f"The smallest run found failing {wanted} like run {source.run_id} of {source.results}\n"
            f"(distbench shrink; see {output.ACCOUNT}). Run it with: distbench run {output.SUITE}")))
        history = output.history_text(found.world)
        if history is not None:
            (new / output.HISTORY).write_text(history)
        output.write_candidates(new / output.CANDIDATES, shrinker.tried)
        suite = load_suite(suite_path)
        rows = run_suite(suite, new / output.RESULTS, jobs=1, progress=False)
        again = rows[0]["safety"] if rows else ""
        reproduced = verdict_class(str(again)) == wanted
        account.append(f"the written suite, run again into {output.RESULTS}/: "
                       + (f"fails {wanted} again" if reproduced else f"safety {again} (not {wanted})"))
        (new / output.ACCOUNT).write_text("\n".join(account) + "\n")
        os.rename(new, out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return reproduced


def _account(source: Source, shrinker: Shrinker, found: Found, wanted: str, took: float) -> list[str]:
    """A few lines: what failed, what it needed, how the faults were read, how long it took."""
    was, now = source.config, found.data
    steps = now["faults"]["schedule"]
    kept = [step for step in steps if schedule.is_fault(step)]
    heals = [step for step in steps if not schedule.is_fault(step)]
    if shrinker.explicit is False or shrinker.faults is None:
        faults = "fails with the run's faults as it had them"
    elif not kept:
        faults = "fails with no faults" + (f" (of {shrinker.faults})" if shrinker.faults else "")
    else:
        faults = f"fails with {len(kept)} of {shrinker.faults} faults: " + ", ".join(map(schedule.describe, kept))
    if heals:
        faults += " (and " + ", ".join(map(schedule.describe, heals)) + ")"
    parts = [faults]

    def changed(label: str, key: str, show: Any = str) -> None:
        old, new = get(was, key), get(now, key)
        parts.append(f"{label} {show(new)}" + (f" (was {show(old)})" if new != old else ""))

    changed("duration", "duration", human_duration)
    changed("clients", "workload.clients")
    if now["kind"] in SIZES:
        key = SIZES[now["kind"]][0]
        changed(key.rpartition(".")[2], key)
    for key in ("network.loss", "network.duplicate"):
        if get(was, key) != get(now, key):
            changed(key.rpartition(".")[2], key, lambda v: f"{v:.4g}")
    lines = [f"run {source.run_id} of {source.results} (protocol {was['protocol']}, seed {source.seed}): "
             f"{source.safety}",
             "; ".join(parts),
             f"the smallest run: {found.safety}"]
    if shrinker.explicit is False:
        lines.append(f"its {shrinker.faults} faults, read from its fault events and replayed as an "
                     f"explicit schedule, did not fail {wanted}: the faults were kept as the run had them")
    elif shrinker.faults:
        lines.append(f"faults: the {shrinker.faults} the run injected, read from its fault events "
                     "(the nodes hit, when, for how long), replayed as an explicit schedule that "
                     f"fails {wanted}, then reduced by delta debugging")
    stopped = f"; stopped by {shrinker.stopped}, with the smallest found so far" if shrinker.stopped else ""
    lines.append(f"{shrinker.runs} runs in {human_duration(took)}{stopped}")
    return lines
