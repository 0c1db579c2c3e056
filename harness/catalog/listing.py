"""What ``distbench list`` prints: everything a suite can name and every metric a run measures,
read from where each is defined."""

from __future__ import annotations

import typing

from pydantic import BaseModel

from harness import faults, protocol
from harness.catalog.metrics import METRICS
from harness.compare.policy import DEFAULT_DECIDE, DEFAULT_THRESHOLDS
from harness.suite import cluster, workloads


def _literal(model: type[BaseModel], field: str) -> tuple[str, ...]:
    return typing.get_args(model.model_fields[field].annotation)


def _options(model: type[BaseModel]) -> str:
    parts = []
    for name, field in model.model_fields.items():
        default = field.default
        parts.append(f"{name}={default!r}" if default is not None else name)
    return ", ".join(parts)


def describe() -> str:
    lines = ["protocols:"]
    for name, spec in sorted(protocol.registry().items(), key=lambda kv: (kv[1].kind, kv[0])):
        opts = _options(spec.options)
        lines.append(f"  {name:<14} {spec.kind:<13} {spec.description}")
        if opts:
            lines.append(f"  {'':<14} {'':<13} options (protocols.{name}.*): {opts}")
    for name, reason in sorted(protocol.broken().items()):
        lines.append(f"  {name:<14} {'(broken)':<13} could not be loaded: {reason}")
    lines.append("workloads:")
    for model in workloads.WORKLOADS:
        (name,) = _literal(model, "type")
        doc = (model.__doc__ or "").strip().splitlines()[0]
        lines.append(f"  {name:<14} {model.kind:<13} {doc}")
        keys = ", ".join(f for f in model.model_fields if f != "type")
        lines.append(f"  {'':<14} {'':<13} keys (workload.*): {keys}")
    lines.append("key distributions (workload.distribution.type):")
    lines.append("  " + ", ".join(_literal(workloads.KeyDistribution, "type")))
    lines.append("latency distributions (network.latency.dist):")
    for model in cluster.LATENCIES:
        (name,) = _literal(model, "dist")
        params = [f for f in model.model_fields if f != "dist"]
        lines.append(f"  {name:<12} {', '.join(params)}")
    lines.append("fault rates (faults.*):")
    for kind in faults.KINDS:
        lines.append(f"  {kind.name:<12} {', '.join(kind.rate.model_fields)}")
    lines.append("scheduled fault actions (faults.schedule[].action):")
    lines.append("  " + ", ".join(faults.ACTIONS))
    lines.append("network faults (network.*): loss, duplicate, latency (jitter reorders), bandwidth, links")
    lines.append("metrics (runs.csv columns: the unit a report shows, which way is better, the kind that measures it, "
                 "the gate's default threshold):")
    for m in METRICS:
        gate = DEFAULT_THRESHOLDS[m.key].text() if m.key in DEFAULT_THRESHOLDS else "-"
        gate += ", decides" if m.key in DEFAULT_DECIDE else ""
        lines.append(f"  {m.key:<29} {m.unit:<11} {m.better or '-':<6} {m.kind or 'both':<12} {gate:<23} "
                     f"{m.meaning}")
    return "\n".join(lines)
