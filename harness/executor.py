"""Runs a suite's runs, in this process or in a local process pool, saving each as it finishes.

A run that raises (a protocol bug, not a user mistake) does not take the suite down: its row
says ``safety = error: ...``, the traceback goes to ``errors.log``, and every other run is kept.
"""

from __future__ import annotations

import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from harness import runner
from harness.results import ResultsWriter


def _safe_run(spec: Any, suite: str) -> tuple[Any, str | None]:
    try:
        return runner.run(spec, suite), None
    except Exception as exc:  # noqa: BLE001 - reported per run, never swallowed
        row = {**runner.identity(spec, suite), "safety": f"error: {type(exc).__name__}: {exc}"}
        return runner.RunResult(row), f"run {spec.run_id}:\n{traceback.format_exc()}"


def run_suite(suite: Any, out: Path, jobs: int = 1, progress: bool = True) -> list[dict[str, Any]]:
    """Run every run of ``suite`` into ``out``; returns the rows in matrix order.

    On Ctrl-C the runs already finished stay on disk, the manifest says ``interrupted``, and
    KeyboardInterrupt propagates to the caller."""
    specs = suite.runs()
    writer = ResultsWriter(out, suite, specs)
    bar = tqdm(total=len(specs), desc=suite.name, unit="run", disable=not progress, leave=False)

    def done(result: Any, error: str | None) -> None:
        writer.add(result)
        if error:
            with (out / "errors.log").open("a") as f:
                f.write(error + "\n")
        bar.update(1)

    interrupted = False
    try:
        if jobs <= 1 or len(specs) == 1:
            for spec in specs:
                done(*_safe_run(spec, suite.name))
        else:
            pool = ProcessPoolExecutor(max_workers=jobs)
            try:
                futures = [pool.submit(_safe_run, spec, suite.name) for spec in specs]
                for future in as_completed(futures):
                    done(*future.result())
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        bar.close()
        writer.close(interrupted)
    return writer.rows
