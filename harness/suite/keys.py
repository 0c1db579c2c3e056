"""Dotted config keys (``cluster.cpu_per_message``): their shape, flattening a config into them,
and telling a user who names one that does not exist which one they probably meant."""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from harness.suite.errors import did_you_mean

DOTTED = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
"""A dotted key as a user writes one: ``cluster.nodes``, ``faults.schedule.0.at``."""


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (lists stay values; an empty mapping has no keys)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                out.update(flatten(value, dotted))
            else:
                out[dotted] = value
    return out


def unknown_keys(keys: Sequence[str], configs: Iterable[dict[str, Any]]) -> tuple[str, str] | None:
    """The first of ``keys`` that is neither a dotted key of any of ``configs`` nor a prefix of
    one (``cluster`` names every ``cluster.*`` key), with a did-you-mean hint; None when all are.
    Stops reading ``configs`` as soon as every key is found."""
    missing = list(dict.fromkeys(keys))
    known: set[str] = set()
    for config in configs if missing else ():
        for dotted in flatten(config):
            parts = dotted.split(".")
            known.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        missing = [k for k in missing if k not in known]
        if not missing:
            break
    if not missing:
        return None
    return missing[0], did_you_mean(missing[0], sorted(known), list_all=False)


def overlap(a: str, b: str) -> bool:
    """Whether dotted keys ``a`` and ``b`` are the same or one contains the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")
