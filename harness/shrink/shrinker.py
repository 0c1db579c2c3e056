"""The shrinking itself: from a failing run's config, smaller configs that still fail the same
check, found by running each candidate in full.

Every candidate is a full deterministic run (the same seed, the checkers on) through the runner,
in this process. A candidate is kept only when its verdict is of the class the failing run's was
(:mod:`harness.checkers.verdicts`); a candidate the schema refuses (a schedule naming a node a
smaller cluster lacks) is skipped without a run. The phases, in order:

1. **faults**: the faults the run injected become an explicit schedule -- read from the fault
   events of the re-run that confirmed the failure (each with the nodes it hit and how long it
   lasted, a rate's draws included) -- and the rates are dropped. That schedule is run first: only
   if it fails the same check is it shrunk, by delta debugging (:func:`~harness.shrink.ddmin.ddmin`),
   and its times then rounded to the millisecond where that still fails. Otherwise the faults are
   left as the run had them.
2. **network**: message loss and duplication off, each.
3. **duration**: the shortest that still fails, by bisection to 1% of the run's (never before
   the end of warm-up or the last scheduled fault).
4. **clients**: the fewest that still fail, trying 1, 2, 3, 4, 6, 8, 12 ...
5. **size**: the smallest cluster that still fails, where the kind has one to shrink (consensus:
   3, 5 ... nodes; transactions: 1, 2 ... partitions), node ids of the schedule numbered anew.

A time limit or Ctrl-C stops it between two runs; the smallest failing config found so far is
the result. (A run that raised records no fault events: its faults are left as they were.)
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import ValidationError
from tqdm import tqdm

from harness import faults
from harness.checkers.verdicts import verdict_class
from harness.shrink import schedule
from harness.shrink.ddmin import ddmin
from harness.suite.loading import RunSpec
from harness.suite.overrides import assign
from harness.suite.run import RunConfig
from harness.execution import runner

# The key that sizes a cluster of each kind, and the sizes to try below a given one, smallest first.
SIZES: dict[str, tuple[str, Callable[[int], range]]] = {
    "consensus": ("cluster.nodes", lambda n: range(3, n, 2)),
    "transactions": ("cluster.partitions", lambda n: range(1, n)),
}
NOISE = ("network.loss", "network.duplicate")


class Stopped(Exception):
    """The time limit passed (or Ctrl-C): the search ends with what it has."""


def get(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def setting(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the dotted ``key`` set to ``value``."""
    out = copy.deepcopy(data)
    assign(out, key, value)
    return out


def ladder(below: int) -> list[int]:
    """1, 2, 3, 4, 6, 8, 12, 16, 24 ... below ``below``."""
    steps = {1, 2, 3} | {m << k for k in range(max(below, 1).bit_length()) for m in (2, 3)}
    return sorted(s for s in steps if s < below)


@dataclass
class Found:
    """A run that failed the check: its config (resolved, as a mapping), verdict and results,
    and the world it ran in (whose history the output keeps)."""

    data: dict[str, Any]
    safety: str
    result: Any
    world: Any


@dataclass
class Candidate:
    """One candidate tried: its phase, what it changed, and its verdict (``invalid``: refused by
    the schema, not run)."""

    phase: str
    change: str
    safety: str


@dataclass
class Shrinker:
    data: dict[str, Any]            # the failing run's config (see suite.run.resolved_input)
    seed: int
    run_id: str
    wanted: str                     # the verdict class to keep
    deadline: float | None = None   # time.monotonic() past which no candidate but the first starts
    progress: bool = True
    found: Found | None = None      # the smallest failing run so far
    tried: list[Candidate] = field(default_factory=list)
    runs: int = 0
    faults: int | None = None       # the faults injected (None: not read yet)
    explicit: bool | None = None    # whether the explicit schedule failed the same check
    stopped: str = ""               # why the search ended early, if it did

    def __post_init__(self) -> None:
        self._bar = tqdm(desc=f"shrink {self.run_id}", unit="run", leave=False,
                         disable=None if self.progress else True)  # (None: off unless a terminal)

    # -- candidates -------------------------------------------------------------------------
    def fails(self, data: dict[str, Any], phase: str, change: str) -> bool:
        """Run the candidate ``data``; True (and it becomes :attr:`found`) when it fails the
        wanted check."""
        if self.found is not None and self.deadline is not None and time.monotonic() > self.deadline:
            raise Stopped("the time limit")
        try:
            config = RunConfig.model_validate(data)
        except ValidationError:
            self.tried.append(Candidate(phase, change, "invalid"))
            return False
        self._bar.set_postfix_str(f"{phase}: {change}"[:60])
        spec = RunSpec(0, self.run_id, self.seed, {"protocol": config.protocol}, config)
        worlds: list[Any] = []
        try:
            result = runner.run(spec, config.name, on_world=worlds.append)
            safety = str(result.row["safety"])
        except KeyboardInterrupt:
            raise Stopped("Ctrl-C") from None
        except Exception as exc:  # a protocol that raises fails too: as "error: <type>"
            result, safety = None, f"error: {type(exc).__name__}: {exc}"
        self.runs += 1
        self._bar.update(1)
        self.tried.append(Candidate(phase, change, safety))
        if verdict_class(safety) != self.wanted:
            return False
        self.found = Found(data, safety, result, worlds[0] if worlds else None)
        return True

    # -- the search -------------------------------------------------------------------------
    def run(self) -> Found | None:
        """Confirm the failure, then shrink it; None when the run does not fail the check again."""
        try:
            if not self.fails(self.data, "confirm", "the run as recorded"):
                return None
            for phase in (self._faults, self._network, self._duration, self._clients, self._size):
                phase()
        except Stopped as why:
            self.stopped = str(why)
        except KeyboardInterrupt:
            self.stopped = "Ctrl-C"
        finally:
            self._bar.close()
        return self.found

    @property
    def best(self) -> dict[str, Any]:
        assert self.found is not None
        return self.found.data

    def _faults(self) -> None:
        assert self.found is not None
        if self.found.result is None:
            return  # the run raised: it wrote no fault events to read the faults from
        base = self.best
        steps = schedule.injected(self.found.result.events, list(base["faults"]["schedule"]))
        self.faults = sum(map(schedule.is_fault, steps))
        explicit = {**base["faults"], **{kind.name: None for kind in faults.KINDS}}

        def with_steps(chosen: list[dict[str, Any]]) -> dict[str, Any]:
            return {**base, "faults": {**explicit, "schedule": chosen}}

        if not steps and base["faults"] == with_steps([])["faults"]:
            self.explicit = True
            return
        self.explicit = self.fails(with_steps(steps), "faults", f"its {self.faults} faults as a schedule")
        if not self.explicit:
            return  # the faults stay as the run had them
        # every subset ddmin keeps is the last one that failed: it is what ``found`` holds
        kept = ddmin(steps, lambda chosen: self.fails(
            with_steps(chosen), "faults", f"{sum(map(schedule.is_fault, chosen))} of {self.faults} faults"))
        even = schedule.rounded(kept)
        if even != kept:
            self.fails(with_steps(even), "faults", "times rounded to 1ms")

    def _network(self) -> None:
        for key in NOISE:
            if get(self.best, key):
                self.fails(setting(self.best, key, 0.0), "network", f"{key} 0")

    def _duration(self) -> None:
        data = self.best
        low = max(data["warmup"], schedule.latest(data["faults"]["schedule"]))
        high = data["duration"]
        grain = max(0.001, high / 100)
        while high - low > grain:
            mid = math.ceil((low + high) / 2 * 1000) / 1000
            if mid >= high:
                break
            if self.fails(setting(self.best, "duration", mid), "duration", f"{mid:g}s"):
                high = mid
            else:
                low = mid

    def _clients(self) -> None:
        for clients in ladder(get(self.best, "workload.clients")):
            if self.fails(setting(self.best, "workload.clients", clients), "clients", str(clients)):
                return

    def _size(self) -> None:
        sized = SIZES.get(self.best["kind"])
        if sized is None:
            return
        key, smaller = sized
        for size in smaller(get(self.best, key)):
            steps = schedule.renumbered(self.best["faults"]["schedule"], size)
            if steps is None:
                continue
            data = setting(setting(self.best, key, size), "faults.schedule", steps)
            if self.fails(data, "size", f"{key} {size}"):
                return
