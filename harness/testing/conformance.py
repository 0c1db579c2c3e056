"""The conformance kit: a registered protocol run through its kind's standard fault scenarios.

A protocol's own CI needs a few lines (docs/protocols.md, "Adding a protocol")::

    import pytest
    from harness.testing import conformance

    @pytest.mark.parametrize("scenario", conformance.scenarios("consensus"))
    def test_conformance(scenario):
        conformance.check("my-protocol", scenario)

Each scenario is a small suite of a few simulated seconds, run in this process through the
same runner as ``distbench run``, deterministic for its seeds, with every checker on. A run
fails the test (:class:`Nonconformance`, naming the scenario, the seed and the verdict, then
the suite to reproduce it with ``distbench run``) when a checker finds a violation or cannot
decide, when a fault found nothing to hit, or when the protocol stops serving where the
scenario expects service:

``liveness="minority"`` (the default)
    clients are served while a minority of the nodes is down or cut off (after a failover
    allowance), and once every fault has healed;
``liveness="healed"``
    only once every fault has healed: for a protocol that chooses to be unavailable while a
    minority is (a fixed primary, say);
``liveness=None``
    safety only.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from harness.protocol import registry
from harness.suite.loading import load_suite
from harness.execution import runner

FAILOVER = 0.5  # seconds a protocol may take to serve again after a fault begins or heals
SEEDS = 2

_BASE: dict[str, dict[str, Any]] = {
    "consensus": {
        "kind": "consensus", "duration": "2.5s", "warmup": "0.2s", "cluster": {"nodes": 3},
        "network": {"latency": {"dist": "normal", "mean": "500us", "std": "100us"}},
        # few keys, so that concurrent operations meet and the linearizability check bites
        "workload": {"type": "kv", "clients": 8, "keys": 5, "read_ratio": 0.5, "timeout": "50ms",
                     "retries": 50},
    },
    "transactions": {
        "kind": "transactions", "duration": "2.5s", "warmup": "0.2s", "cluster": {"partitions": 3},
        "network": {"latency": {"dist": "normal", "mean": "500us", "std": "100us"}},
        # transfers, half of them across partitions: two-phase commits, and the balance invariant
        "workload": {"type": "bank", "clients": 8, "accounts": 60, "multi_partition": 0.5,
                     "timeout": "50ms", "retries": 50},
    },
}
_ALL = [0, 1, 2]  # every node of either base: 3 replicas, or 3 partitions


@dataclass(frozen=True)
class Scenario:
    """One standard scenario: the suite keys it sets over its kind's base, when its last fault
    heals, and when (if ever) a minority of the nodes is out while the rest should serve."""

    name: str
    kind: str
    description: str
    settings: dict[str, Any] = field(default_factory=dict)
    healed: float = 0.0
    minority: tuple[float, float] | None = None

    def suite(self, protocol: str, seeds: int) -> dict[str, Any]:
        """The suite of this scenario for ``protocol``, as it would be written in YAML. A fault
        aimed at the leader hits node 0 of a leaderless protocol: any node serves there."""
        base = _BASE[self.kind]
        settings = self.settings
        spec = registry().get(protocol)
        if spec is not None and spec.leaderless and "faults" in settings:
            steps = [{**step, "target": 0} if step.get("target") == "leader" else step
                     for step in settings["faults"].get("schedule", [])]
            settings = {**settings, "faults": {**settings["faults"], "schedule": steps}}
        return {"name": f"conformance-{self.name}", **base, "protocol": protocol, "seeds": seeds,
                **{k: {**base.get(k, {}), **v} if isinstance(v, dict) else v for k, v in settings.items()}}


def _fault(action: str, at: str, target: str | list[int], length: str) -> dict[str, Any]:
    return {"faults": {"schedule": [{"at": at, "action": action, "target": target, "for": length}]}}


def _every_kind(kind: str) -> tuple[Scenario, ...]:
    """The scenarios that mean the same for every kind: the network's faults and a restart of all."""
    return (Scenario("loss", kind, "5% of the messages are lost", {"network": {"loss": 0.05}}),
            Scenario("duplication", kind, "5% of the messages are delivered twice",
                     {"network": {"duplicate": 0.05}}),
            Scenario("restart-all", kind, "every node crashes at once and restarts 0.2 s later",
                     _fault("crash", "1s", _ALL, "0.2s"), healed=1.2))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("leader-crash", "consensus", "the leader crashes for 0.8 s, then restarts",
             _fault("crash", "0.5s", "leader", "0.8s"), healed=1.3, minority=(0.5, 1.3)),
    Scenario("leader-partition", "consensus", "the leader is cut off for 0.8 s, then the network heals",
             _fault("isolate", "0.5s", "leader", "0.8s"), healed=1.3, minority=(0.5, 1.3)),
    *_every_kind("consensus"),
    Scenario("coordinator-crash", "transactions",
             "a node crashes while coordinating a two-phase commit, and restarts 0.5 s later",
             _fault("crash", "0.5s", "coordinator", "0.5s"), healed=1.0),
    Scenario("coordinator-partition", "transactions",
             "a node is cut off while coordinating a two-phase commit, for 0.5 s",
             _fault("isolate", "0.5s", "coordinator", "0.5s"), healed=1.0),
    *_every_kind("transactions"),
)


class Nonconformance(AssertionError):
    """A protocol failed a scenario: the message names the scenario, the seed and why."""


def scenarios(kind: str) -> list[Any]:
    """The standard scenarios of ``kind`` ("consensus" or "transactions") as pytest params,
    each with the scenario's name as its id: ``@pytest.mark.parametrize("scenario", ...)``."""
    found = [pytest.param(s, id=s.name) for s in SCENARIOS if s.kind == kind]
    if not found:
        kinds = sorted({s.kind for s in SCENARIOS})
        raise ValueError(f"no conformance scenarios for kind {kind!r} (expected one of {', '.join(kinds)})")
    return found


def check(protocol: str, scenario: Scenario, *overrides: str, seeds: int = SEEDS,
          liveness: Literal["minority", "healed"] | None = "minority") -> list[runner.RunResult]:
    """Run ``scenario`` on ``protocol`` for seeds 1..``seeds`` and raise :class:`Nonconformance`
    at the first run that fails it. ``overrides`` are ``key.path=value`` settings applied as
    ``--set`` would (``protocols.<name>.<option>=...``). Returns the runs' results."""
    if liveness not in ("minority", "healed", None):
        raise ValueError(f"liveness: expected 'minority', 'healed' or None, got {liveness!r}")
    data = scenario.suite(protocol, seeds)
    with tempfile.TemporaryDirectory(prefix="distbench-conformance-") as tmp:
        path = Path(tmp) / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
        suite = load_suite(path, overrides)
    results = []
    for spec in suite.runs():
        result = runner.run(spec, suite.name)
        problem = _problem(result, scenario, liveness, spec.config.duration)
        if problem:
            setting = "".join(f" --set '{o}'" for o in overrides)
            raise Nonconformance(
                f"{protocol}: scenario {scenario.name} ({scenario.description}), seed {spec.seed}: "
                f"{problem}\nreproduce: save the suite below and `distbench run SUITE --set seed={spec.seed} "
                f"--set seeds=1{setting}`\n{yaml.safe_dump(data, sort_keys=False)}")
        results.append(result)
    return results


def _problem(result: runner.RunResult, scenario: Scenario, liveness: str | None, end: float) -> str:
    """Why this run fails the scenario, or ``""``."""
    row = result.row
    safety = f"safety {row['safety']}" + (f" ({row['safety_detail']})" if row.get("safety_detail") else "")
    if not row["safety"].startswith("ok"):
        return safety
    skipped = [e["detail"] for e in result.events if str(e["detail"]).startswith("skipped")]
    if skipped:  # before a vacuous ok, which it may explain (no leader to target: none reported)
        return f"the fault was never injected ({skipped[0]}): the scenario tested nothing"
    if row["safety"] != "ok":  # an ok that some check had nothing to judge for
        return safety
    windows = []
    if liveness is not None:
        windows.append((scenario.healed + FAILOVER, end, "after every fault healed"))
    if liveness == "minority" and scenario.minority is not None:
        lo, hi = scenario.minority
        windows.append((lo + FAILOVER, hi, "while a minority of the nodes was out"))
    for lo, hi, when in windows:
        if not any(lo <= s["time_s"] < hi and s["throughput_ops_s"] > 0 for s in result.timeseries):
            return (f"liveness: no operation completed {when} ({lo:g}-{hi:g} s of simulated time; "
                    "liveness=\"healed\" or None relaxes this)")
    return ""
