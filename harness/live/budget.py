"""How long a live suite takes on the wall clock, from its matrix alone, so that one that cannot
finish within ``live.budget`` is refused before any process starts or any file is written.

A live run takes its ``duration`` in real time (runs go one at a time), plus its nodes' start-up
(a Python interpreter each, and one more per restart a crash fault schedules) and, with
``live.predict``, the simulated run of the same config (:mod:`harness.execution.estimate`)."""

from __future__ import annotations

from typing import Any

from harness.execution.estimate import duration as show_duration, estimate
from harness.suite.errors import ConfigError

SPAWN_S = 1.0  # one node process started and answering init, on a busy 2-core machine (measured)


def wall_time(cfg: Any) -> float:
    """Wall-clock seconds of one live run of ``cfg``."""
    restarts = sum(1 for step in cfg.faults.schedule if step.action == "crash")
    spawn = SPAWN_S * (cfg.cluster.nodes + restarts)
    predict = estimate(cfg).wall_s if cfg.live.predict else 0.0
    return cfg.duration + spawn + predict


def check_budget(configs: list[Any], source: str) -> None:
    """Refuse (one line) live runs of ``configs`` (each run of the suite, seeds included)
    that would take longer than the first one's ``live.budget``."""
    budget = configs[0].live.budget
    total = sum(wall_time(cfg) for cfg in configs)
    if total > budget:
        raise ConfigError(source, "live.budget",
                          f"{len(configs)} live runs take about {show_duration(total)} (duration, node "
                          f"start-up{', prediction' if configs[0].live.predict else ''}), more than the "
                          f"budget of {show_duration(budget)}: run fewer seeds or matrix points, a "
                          "shorter duration, or raise live.budget")
