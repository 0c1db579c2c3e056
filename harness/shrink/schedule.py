"""Fault schedules as the shrinker handles them: plain ``faults.schedule`` step mappings (``at``,
``action``, ``target``, ``for`` and the action's own keys), read from a run's fault events,
renumbered for a smaller cluster, rounded, and described in a line."""

from __future__ import annotations

import math
from typing import Any

from harness import faults
from harness.faults.nemesis import as_step
from harness.units import human_duration


def injected(events: list[dict[str, Any]], schedule: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The explicit schedule of a run: a step for each fault its events record (whether a rate
    drew it or the schedule named it, with the nodes it hit), and the schedule's own heals
    (``heal``, ``restart``, ``restore``), in time order."""
    steps = [step for e in events
             if (step := as_step(e["time_s"], e["node"], e["kind"], e["detail"], e["duration_ms"]))]
    steps += [step for step in schedule if faults.ACTION[step["action"]].heals]
    return sorted(steps, key=lambda step: step["at"])


def renumbered(steps: list[dict[str, Any]], nodes: int) -> list[dict[str, Any]] | None:
    """``steps`` for a cluster of ``nodes`` nodes: unchanged when every node id they name is
    below it, else the ids they name numbered from 0 in their order; None when they name more
    nodes than it has."""
    named = sorted({i for step in steps if isinstance(step.get("target"), (list, tuple))
                    for i in step["target"]})
    if not named or named[-1] < nodes:
        return steps
    if len(named) > nodes:
        return None
    new = {old: i for i, old in enumerate(named)}
    return [{**step, "target": [new[i] for i in step["target"]]}
            if isinstance(step.get("target"), (list, tuple)) else step for step in steps]


def rounded(steps: list[dict[str, Any]], grain: float = 0.001) -> list[dict[str, Any]]:
    """``steps`` with ``at`` and ``for`` rounded to ``grain`` (``for`` at least one grain)."""
    def near(t: float) -> float:
        return round(round(t / grain) * grain, 9)

    return [{**step, "at": near(step["at"]),
             **({"for": max(grain, near(step["for"]))} if step.get("for") is not None else {})}
            for step in steps]


def latest(steps: list[dict[str, Any]]) -> float:
    """The time of the last step (-inf with none)."""
    return max((step["at"] for step in steps), default=-math.inf)


def is_fault(step: dict[str, Any]) -> bool:
    return not faults.ACTION[step["action"]].heals


def describe(step: dict[str, Any]) -> str:
    """``isolate n3 at 1.2s for 300ms``, ``partition n0,n1 at 2.5s (one way)``."""
    target = step.get("target", "any")
    who = ",".join(f"n{i}" for i in target) if isinstance(target, (list, tuple)) else target
    text = f"{step['action']} {who} at {human_duration(step['at'])}"
    if step.get("for") is not None:
        text += f" for {human_duration(step['for'])}"
    extras = [f"{key} {step[key]:g}" if isinstance(step[key], float) else key.replace("_", " ")
              for key in faults.ACTION[step["action"]].params if step.get(key) not in (None, False)]
    return text + (f" ({', '.join(extras)})" if extras else "")
