"""One run: build the simulated world for a resolved config and seed, run it, measure, check.

A run is a pure function of (config, seed, code): everything random draws from streams derived
from the seed, so the result (except ``wall_s``) is identical bit for bit on every replay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from harness.kinds import KINDS
from harness.live.predict import predicted
from harness.live.world import live


@dataclass
class RunResult:
    """What one run produced: the ``runs.csv`` row and its rows in the other result files."""

    row: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    timeseries: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[dict[str, Any]] = field(default_factory=list)


def identity(spec: Any, suite: str) -> dict[str, Any]:
    """The leading ``runs.csv`` columns of a run: who it is and the value of every swept key,
    resolved (numbers in seconds, per second, bytes), not as written."""
    row: dict[str, Any] = {"suite": suite, "kind": spec.config.kind, "run_id": spec.run_id,
                           "protocol": spec.config.protocol, "seed": spec.seed}
    resolved = spec.config.to_dict()
    for key, written in spec.params.items():
        if key in getattr(spec, "labelled", ()):  # a labelled value (or contender): its label
            row[key] = written
        elif key != "protocol":
            value: Any = resolved
            for part in key.split("."):
                value = value.get(part, written) if isinstance(value, dict) else written
            if isinstance(value, (dict, list)):  # a swept section: its compact YAML, as written
                value = yaml.safe_dump(written, default_flow_style=True, sort_keys=False,
                                       width=1 << 16).strip() if written else "none"
            row[key] = value
    return row


def run(spec: Any, suite: str, on_world: Callable[[Any], None] | None = None) -> RunResult:
    """Execute one :class:`harness.suite.loading.RunSpec` and return its results. ``on_world`` is
    given the world once built (to watch its simulator's progress)."""
    started = time.perf_counter()
    kind = KINDS[spec.config.kind].world()
    world = (live(kind) if spec.config.mode == "live" else kind)(spec.config, spec.seed)
    if on_world is not None:
        on_world(world)
    metrics = world.run()
    row = identity(spec, suite)
    row.update(metrics)
    row["wall_s"] = time.perf_counter() - started
    if spec.config.mode == "live" and spec.config.live.predict:
        row.update(predicted(spec.config, spec.seed))
    events = [{"run_id": spec.run_id, "time_s": t, "node": node, "kind": kind, "detail": detail,
               "duration_ms": dur} for t, node, kind, detail, dur in sorted(world.metrics.events, key=lambda e: e[0])]
    series = [{"run_id": spec.run_id, "time_s": t, "throughput_ops_s": thr, "latency_p50_ms": p50,
               "latency_p99_ms": p99, "leader": leader, "leaderless_ms": none}
              for t, thr, p50, p99, leader, none in world.metrics.series]
    latencies = [{"run_id": spec.run_id, "latency_ms": ms, "count": c}
                 for ms, c in world.metrics.latency_histogram()]
    return RunResult(row, events, series, latencies)
