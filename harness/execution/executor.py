"""Runs a suite's runs (in this process, a local process pool, or a Dask cluster), saving each as
it finishes.

The driver (this process) is the only writer of the results directory: executors only compute
runs and stream their results back as they finish. A run that raises (a protocol bug, not a user
mistake) does not take the suite down: its row says ``safety = error: ...``, the traceback goes
to ``errors.log``, and every other run is kept. So does a run that exceeds its wall-clock or
memory limit (``safety = error: exceeded ...``), checked by a watchdog thread beside the run.

With ``resume`` the runs already in the results directory (same key, see :mod:`harness.execution.cache`)
are kept and only the others run; with a run cache, a run whose key is in the cache is reused.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import re
import signal
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

from harness.execution import runner
from harness.execution.cache import RunCache, code_digest, relabel, run_key
from harness.live.machine import live_manifest
from harness.execution.results import ResultsWriter


class ExecutorError(Exception):
    """A problem with the chosen executor (Dask missing, scheduler unreachable): one line."""


@dataclass(frozen=True)
class Limits:
    """Per-run limits; None means none. ``time`` in wall-clock seconds, ``memory`` in bytes of
    resident memory of the process running the run. ``stall``: wall-clock seconds a simulated
    run may go without finishing an event (a handler that never returns) or without its
    simulated time moving (a livelock at one instant) before it is stopped."""

    time: float | None = None
    memory: float | None = None
    stall: float | None = 5.0


class RunLimitExceeded(BaseException):
    """Raised inside a run by its watchdog (a BaseException, so no ``except Exception`` in a
    protocol can swallow it)."""


def _rss() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _fmt_seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


class _Watchdog:
    """Beside one run, in its process: every 0.2 s, report its progress (simulated time, events)
    and stop it (an exception raised in the run's thread) once it exceeds a limit or stalls
    inside the simulator: no event finished, or simulated time stood still, for ``stall``
    seconds. It only reads the simulator's counters, so the run's hot path pays nothing."""

    PERIOD = 0.2
    REPORT_EVERY = 0.5

    def __init__(self, spec: Any, limits: Limits, report: Callable[[tuple], None] | None):
        self.run_id = spec.run_id
        self.duration = spec.config.duration
        self.limits = limits
        self.report = report
        self.sim: Any = None
        self.reason = ""
        self._lock = threading.Lock()
        self._done = False
        self._fired = False
        self._stop = threading.Event()
        self._tid = threading.get_ident()
        self.protocol = spec.config.protocol
        self._stall = limits.stall if spec.config.mode != "live" else None  # live time is real
        self._marks = (-1, -1.0, 0.0, 0.0)  # events, simulated now, when each last moved

    def attach(self, world: Any) -> None:
        self.sim = getattr(world, "sim", None)

    def _where(self) -> str:
        now = getattr(self.sim, "now", None)
        return "" if now is None else f" at simulated {now:.3g} s of {self.duration:g} s"

    def _loop(self) -> None:
        started = time.monotonic()
        last = 0.0
        while not self._stop.wait(self.PERIOD):
            elapsed = time.monotonic() - started
            reason = ""
            if self.limits.time is not None and elapsed > self.limits.time:
                reason = f"exceeded wall-clock limit of {_fmt_seconds(self.limits.time)} (--time-limit){self._where()}"
            elif self.limits.memory is not None:
                rss = _rss()
                if rss > self.limits.memory:
                    from harness.execution.estimate import size

                    reason = (f"exceeded memory limit of {size(self.limits.memory)} (--memory-limit; "
                              f"{size(rss)} resident){self._where()}")
            if not reason and self._stall is not None and self.sim is not None:
                reason = self._stalled(elapsed)
            if reason:
                with self._lock:
                    if self._done:
                        return
                    self.reason, self._fired = reason, True
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._tid),
                                                               ctypes.py_object(RunLimitExceeded))
                # Raise again every period until the run has stopped: an exception that lands in
                # a callback (a gc callback, a __del__) is swallowed there.
                continue
            if self.report is not None and self.sim is not None and elapsed - last >= self.REPORT_EVERY:
                last = elapsed
                try:
                    self.report(("progress", self.run_id, self.sim.now, self.duration,
                                 getattr(self.sim, "_seq", 0), elapsed))
                except Exception:  # noqa: BLE001 - progress is best effort
                    pass

    def _stalled(self, elapsed: float) -> str:
        """Why the run is stuck inside the simulator, or "": how long since an event last
        finished and since simulated time last moved, against ``stall``."""
        sim, stall = self.sim, self._stall
        events, now, moved, advanced = self._marks
        if not getattr(sim, "running", False):
            self._marks = (-1, -1.0, elapsed, elapsed)
            return ""
        done, t = sim.events_processed, sim.now
        if done != events:
            events, moved = done, elapsed
        if t != now:
            now, advanced = t, elapsed
        self._marks = (events, now, moved, advanced)
        where = f"at simulated {t:.6g} s"
        if elapsed - moved > stall:
            return (f"stalled: a handler of protocol {self.protocol} has not returned for "
                    f"{_fmt_seconds(stall)} of wall-clock {where}")
        if elapsed - advanced > stall:
            return (f"livelock: protocol {self.protocol} ran events for {_fmt_seconds(stall)} of "
                    f"wall-clock without simulated time moving from {t:.6g} s")
        return ""

    def __enter__(self) -> _Watchdog:
        if (self.limits.time is not None or self.limits.memory is not None or self.report is not None
                or self._stall is not None):
            threading.Thread(target=self._loop, daemon=True, name=f"watchdog-{self.run_id}").start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop watching (idempotent); cancel an exception raised but not yet delivered."""
        with self._lock:
            self._done = True
            if self._fired:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._tid), None)
        self._stop.set()


def _safe_run(spec: Any, suite: str, limits: Limits = Limits(),
              report: Callable[[tuple], None] | None = None) -> tuple[Any, str | None]:
    """One run, never raising: an exception or an exceeded limit becomes an ``error`` row."""
    watchdog = _Watchdog(spec, limits, report)
    try:
        with watchdog:
            return runner.run(spec, suite, on_world=watchdog.attach), None
    except RunLimitExceeded as exc:
        watchdog.close()  # in case the exception arrived before the with block could close it
        row = {**runner.identity(spec, suite), "safety": f"error: {watchdog.reason}{_handler(exc)}"}
        return runner.RunResult(row), None
    except Exception as exc:  # noqa: BLE001 - reported per run, never swallowed
        row = {**runner.identity(spec, suite), "safety": f"error: {type(exc).__name__}: {exc}"}
        return runner.RunResult(row), f"run {spec.run_id}:\n{traceback.format_exc()}"


def _handler(exc: BaseException) -> str:
    """``, in <Class>.<method> (file:line)``: the innermost protocol handler the watchdog's
    exception interrupted, or "" if it landed elsewhere (or in compiled code)."""
    from harness.contract import Node

    found = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if isinstance(frame.f_locals.get("self"), Node):
            code = frame.f_code
            found = (f", in {type(frame.f_locals['self']).__name__}.{code.co_name} "
                     f"({os.path.basename(code.co_filename)}:{line})")
    return found


# -- the local process pool ------------------------------------------------------------------

_REPORT: Any = None  # the progress queue of a pool worker


def _pool_init(report: Any) -> None:
    """A pool worker leaves Ctrl-C to the driver (which stops it) and reports progress."""
    global _REPORT
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _REPORT = report


def _pool_run(spec: Any, suite: str, limits: Limits) -> tuple[Any, str | None]:
    return _safe_run(spec, suite, limits, _REPORT.put if _REPORT is not None else None)


def _dask_run(spec: Any, suite: str, limits: Limits) -> tuple[Any, str | None]:
    return _safe_run(spec, suite, limits)


def _dask_digest() -> str:
    return code_digest()


class Progress:
    """What a person watching sees: for one run, its simulated time, events per second and the
    time left; for a suite, runs done, failed and remaining with an ETA, and the runs under way."""

    def __init__(self, name: str, todo: list[Any], skipped: int, enabled: bool):
        import sys

        # Live per-run progress on a terminal only; into a file or a pipe, one line per run at most.
        self.enabled = enabled and sys.stderr.isatty()
        self.single = len(todo) == 1
        self.failed = 0
        self.active: dict[str, tuple[float, float, int, float]] = {}
        self._lock = threading.Lock()
        if self.single:
            self.duration = todo[0].config.duration
            self.bar = tqdm(total=self.duration, desc=f"{name} {todo[0].run_id}", unit="sim s",
                            disable=not enabled, leave=False, dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.3g}/{total:.3g} simulated s "
                                       "[{elapsed}<{remaining}]{postfix}")
        else:
            desc = f"{name} ({skipped} already done)" if skipped else name
            self.bar = tqdm(total=len(todo), desc=desc, unit="run", disable=not enabled, leave=False,
                            dynamic_ncols=True, mininterval=0.1 if self.enabled else 10.0)

    def update(self, message: tuple) -> None:
        if not self.enabled or message[0] != "progress":
            return
        _, rid, now, duration, events, elapsed = message
        with self._lock:
            self.active[rid] = (now, duration, events, elapsed)
            if self.single:
                self.bar.n = min(now, self.duration)
                rate = events / elapsed if elapsed > 0 else 0.0
                self.bar.set_postfix_str(f"{rate / 1000:.0f}k events/s", refresh=False)
                self.bar.refresh()
            else:
                self._postfix()

    def _postfix(self) -> None:
        parts = [f"failed {self.failed}", f"left {self.bar.total - self.bar.n}"]
        running = sorted(self.active.items(), key=lambda kv: -kv[1][3])[:2]
        for rid, (now, duration, _, _) in running:
            parts.append(f"{rid} {100 * now / duration:.0f}%")
        self.bar.set_postfix_str(", ".join(parts), refresh=True)

    def done(self, rid: str, failed: bool) -> None:
        with self._lock:
            self.active.pop(rid, None)
            self.failed += failed
            if self.single:
                self.bar.n = self.duration
                self.bar.refresh()
            else:
                self.bar.update(1)
                if self.enabled:
                    self._postfix()

    def close(self) -> None:
        self.bar.close()


def _failed(result: Any) -> bool:
    return str(result.row.get("safety", "")).startswith(("error", "violation"))


def _pool_results(specs: list[Any], suite: str, jobs: int, limits: Limits,
                  progress: Progress) -> Iterator[tuple[Any, str | None]]:
    import multiprocessing

    ctx = multiprocessing.get_context()
    reports = ctx.SimpleQueue()
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_pool_init,
                               initargs=(reports,))
    stop = threading.Event()
    pending: set[Any] = set()

    def pump() -> None:
        while not stop.is_set():
            try:
                message = reports.get()
            except (EOFError, OSError):
                return
            if message is None:
                return
            progress.update(message)

    pumper = threading.Thread(target=pump, daemon=True, name="progress")
    pumper.start()
    try:
        queued = iter(specs)
        window = 2 * jobs  # runs in flight: the driver's cost per run stays O(jobs), not O(runs)
        for spec in itertools.islice(queued, window):
            pending.add(pool.submit(_pool_run, spec, suite, limits))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                nxt = next(queued, None)
                if nxt is not None:
                    pending.add(pool.submit(_pool_run, nxt, suite, limits))
                yield future.result()
    except BaseException:
        # Ctrl-C (or any failure of the driver): stop the workers now, not when their runs end.
        for future in pending:
            future.cancel()
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        stop.set()
        try:
            reports.put(None)
        except (OSError, ValueError):
            pass


class _DaskSession:
    """A Dask client (to ``scheduler``, or to a local cluster of ``jobs`` single-threaded worker
    processes), connected and checked before anything is written."""

    def __init__(self, scheduler: str | None, jobs: int):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError("--executor dask needs the dask extra: pip install 'distbench[dask]'") from None
        self.cluster = None
        try:
            if scheduler:
                self.client = Client(scheduler, timeout="10s")
            else:
                # The workers leave Ctrl-C to the driver (an ignored signal stays ignored in children).
                previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    self.cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                                dashboard_address=None)
                finally:
                    signal.signal(signal.SIGINT, previous)
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"--scheduler {scheduler}: cannot reach the Dask scheduler: {exc}") from None
        digests = self.client.run(_dask_digest)
        mine = code_digest()
        stale = sorted(w for w, d in digests.items() if d != mine)
        if stale:
            self.close()
            raise ExecutorError(f"--scheduler {scheduler}: worker {stale[0]} runs different distbench code "
                                f"than this driver ({len(stale)} of {len(digests)} workers); install the same "
                                "checkout on every machine")

    def results(self, specs: list[Any], suite: str, limits: Limits) -> Iterator[tuple[Any, str | None]]:
        from distributed import as_completed

        futures = [self.client.submit(_dask_run, spec, suite, limits, pure=False,
                                      key=f"distbench-{suite}-{spec.run_id}-{run_key(spec)[:8]}")
                   for spec in specs]
        by_key = {f.key: spec for f, spec in zip(futures, specs)}
        try:
            for future in as_completed(futures):
                spec = by_key[future.key]
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the run lost its worker too often
                    row = {**runner.identity(spec, suite), "safety": f"error: {type(exc).__name__}: {exc}"}
                    result = (runner.RunResult(row), f"run {spec.run_id}:\n{traceback.format_exc()}")
                future.release()
                yield result
        except BaseException:
            self.client.cancel(futures)
            if self.cluster is not None:  # our own workers: stop them now, not when their runs end
                for nanny in list(self.cluster.workers.values()):
                    pid = getattr(nanny, "pid", None)
                    if pid:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
            raise

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=5)


def execution_order(suite: Any, specs: list[Any]) -> list[Any]:
    """The order runs are started in: every matrix point's first seed before any second seed,
    and the matrix walked with its *first* key fastest, so that a suite stopped halfway has runs
    of every protocol (and every value of each swept key), not the first protocol only. Results
    are still written in matrix order."""
    radices = [len(v) for v in suite.matrix.values()] or [1]

    def rank(spec: Any) -> tuple[int, int]:
        match = re.fullmatch(r"r(\d+)-s(\d+)", spec.run_id)
        if not match:
            return (0, spec.index)
        point, seed = int(match.group(1)), int(match.group(2))
        digits = []
        for radix in reversed(radices):  # the point's coordinates, first key most significant
            point, digit = divmod(point, radix)
            digits.append(digit)
        digits.reverse()
        swapped, scale = 0, 1
        for digit, radix in zip(digits, radices):  # the same coordinates, first key least significant
            swapped += digit * scale
            scale *= radix
        return (seed - suite.base.seed, swapped)

    return sorted(specs, key=rank)


def run_suite(suite: Any, out: Path, jobs: int = 1, progress: bool = True, *, executor: str = "local",
              scheduler: str | None = None, resume: bool = False, cache: Path | None = None,
              limits: Limits = Limits(), manifest: dict[str, Any] | None = None,
              stats: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Run every run of ``suite`` into ``out``; returns the rows in matrix order.

    On Ctrl-C the runs already finished stay on disk, the manifest says ``interrupted``, the
    workers are stopped at once, and KeyboardInterrupt propagates to the caller."""
    specs = suite.runs()
    keys = {s.run_id: run_key(s) for s in specs}
    dask = _DaskSession(scheduler, jobs) if executor == "dask" or scheduler else None
    store = RunCache(cache) if cache is not None else None
    extra = {"executor": "dask" if dask else "local", "scheduler": scheduler,
             "limits": {"time_s": limits.time, "memory_bytes": limits.memory}, **live_manifest(specs),
             **(manifest or {})}
    try:
        writer = ResultsWriter(out, suite, specs, keys=keys, resume=resume, extra=extra)
    except BaseException:
        if dask is not None:
            dask.close()
        raise
    todo = [s for s in specs if s.run_id not in writer.kept]
    reused = []
    if store is not None:
        for spec in todo:
            stored = store.get(keys[spec.run_id])
            if stored is not None:
                reused.append(relabel(stored, spec, suite.name))
        done_ids = {r.row["run_id"] for r in reused}
        todo = [s for s in todo if s.run_id not in done_ids]
    todo = execution_order(suite, todo)
    bar = Progress(suite.name, todo, len(specs) - len(todo), progress)

    def done(result: Any, error: str | None) -> None:
        writer.add(result)
        if error:
            with (out / "errors.log").open("a") as f:
                f.write(error + "\n")
        if store is not None:
            store.put(keys[result.row["run_id"]], result, suite.swept)
        bar.done(result.row["run_id"], _failed(result))

    if stats is not None:
        stats.update(runs=len(specs), kept=len(writer.kept), cached=len(reused), ran=len(todo))
    interrupted = False
    results: Iterator[tuple[Any, str | None]] = iter(())
    try:
        for result in reused:
            writer.add(result)
        if not todo:
            pass
        elif dask is not None:
            results = dask.results(todo, suite.name, limits)
        elif jobs <= 1 or len(todo) == 1:
            results = (_safe_run(spec, suite.name, limits, bar.update if progress else None) for spec in todo)
        else:
            results = _pool_results(todo, suite.name, jobs, limits, bar)
        for result in results:
            done(*result)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        getattr(results, "close", lambda: None)()  # stops the workers at once on Ctrl-C
        bar.close()
        writer.close(interrupted)
        if dask is not None:
            dask.close()
    return writer.rows
