"""``distbench check`` and ``distbench export``: the checker on a history brought from outside,
and a run's history handed to outside checkers.

A results directory does not keep the per-operation history (it can be millions of operations);
a run is a pure function of its config, seed and code, so ``export`` replays the run from the
manifest and refuses when the replay does not reproduce the row in ``runs.csv`` (other code).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checkers import formats, models, timeline, window
from harness.checkers.formats import HistoryError
from harness.checkers.linearizability import LinearizabilityResult, check_linearizability

_REPLAYED = ("ops_committed", "ops_failed", "ops_outstanding", "safety")


@dataclass
class Verdict:
    result: LinearizabilityResult
    imported: models.Imported
    window: list[int] | None = None  # for a violation: the ops that cannot be linearized together
    minimal: bool = False


def load(path: Path, fmt: str, model: str) -> models.Imported:
    """Read ``path`` (``fmt``: one of formats.FORMATS or ``auto``) for ``model``."""
    text = formats.read_text(path)
    if not text.strip():
        raise HistoryError(f"{path}: empty: no operations")
    if fmt == "auto":
        fmt = formats.detect(path, text.lstrip())
    if fmt == "distbench":
        imported = models.from_history(formats.read_distbench(path, text))
        models.fit(path, imported, model)
        return imported
    reader = formats.read_porcupine if fmt == "porcupine" else formats.read_jepsen_edn
    return models.build(path, reader(path, text), model)


def check(imported: models.Imported, time_limit: float | None) -> Verdict:
    """The verdict and, for a violation, the smallest window (searched within the time left
    after the check, at least a second)."""
    import time

    started = time.monotonic()
    result = check_linearizability(imported.history, time_limit=time_limit)
    verdict = Verdict(result, imported)
    if result.status == "violation" and result.key is not None:
        left = None if time_limit is None else max(1.0, time_limit - (time.monotonic() - started))
        verdict.window, verdict.minimal = window.smallest_window(imported.history, result.key, left)
    return verdict


def html(verdict: Verdict, title: str) -> str:
    """The timeline of the window, with the key's other operations in its span for context."""
    h = verdict.imported.history
    marked = verdict.window or []
    lo = min(h.t_invoke[i] for i in marked)
    hi = max(h.t_return[i] if h.t_return[i] != float("inf") else h.t_invoke[i] for i in marked)
    key = h.key[marked[0]]
    context = [i for i in range(len(h)) if h.key[i] == key and i not in marked
               and h.status[i] != 3 and h.t_invoke[i] <= hi and h.t_return[i] >= lo]
    imp = verdict.imported
    unit = "s" if imp.lines == [] else "(events, in the file's order)"
    return timeline.render(h, marked, context, title, imp.show,
                           lambda i: imp.processes[i] if imp.processes else h.client[i], unit)


# -- export -------------------------------------------------------------------------------------

def replay(results_dir: Path, run_id: str | None) -> tuple[str, Any]:
    """(run id, History) of a consensus run of ``results_dir``, replayed from its manifest."""
    from harness.execution.reader import read_manifest
    from harness.kinds.consensus.world import ConsensusWorld
    from harness.suite.run import RunConfig, resolved_input

    manifest = read_manifest(results_dir)
    if manifest is None or not isinstance(manifest.get("runs"), list):
        raise HistoryError(f"{results_dir}: not a results directory (no readable manifest.json "
                           "listing its runs)")
    runs = {r.get("run_id"): r for r in manifest["runs"] if isinstance(r, dict)}
    if run_id is None:
        if len(runs) != 1:
            names = ", ".join(list(runs)[:4]) + (", ..." if len(runs) > 4 else "")
            raise HistoryError(f"{results_dir}: {len(runs)} runs; name one (RUN_ID: {names})")
        run_id = next(iter(runs))
    if run_id not in runs:
        raise HistoryError(f"{results_dir}: manifest.json: no run {run_id!r}")
    run = runs[run_id]
    cfg = RunConfig.model_validate(resolved_input(run["config"]))
    if cfg.kind != "consensus":
        raise HistoryError(f"{results_dir}: run {run_id} is a {cfg.kind} run; only consensus "
                           "runs have an operation history to export (a key-value store's)")
    world = ConsensusWorld(cfg, run["seed"])
    row = world.run()
    recorded = _row(results_dir, run_id)
    if recorded is not None:
        for col in _REPLAYED:
            if col in recorded and str(row.get(col)) != recorded[col]:
                raise HistoryError(
                    f"{results_dir}: runs.csv: run {run_id}: the replay gives {col}="
                    f"{row.get(col)}, the run recorded {recorded[col]}: this is not the code "
                    "that ran it (see manifest.json: git_commit)")
    return run_id, world.history


def _row(results_dir: Path, run_id: str) -> dict[str, str] | None:
    try:
        with open(results_dir / "runs.csv", newline="") as f:
            return next((r for r in csv.DictReader(f) if r.get("run_id") == run_id), None)
    except OSError:
        return None


def write(history: Any, fmt: str) -> str:
    out = io.StringIO()
    (formats.write_distbench if fmt == "distbench" else formats.write_jepsen_edn)(history, out)
    return out.getvalue()
