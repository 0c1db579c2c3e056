"""Dotted config keys (``cluster.cpu_per_message``): flattening a config into them, and telling a
user who names one that does not exist which one they probably meant."""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Sequence


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


def did_you_mean(word: str, choices: Sequence[str], list_all: bool = True) -> str:
    """A hint naming the closest choice, else (``list_all``) listing them all: the one way every
    error about an unknown name ends, in suites and on the command line."""
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of: {', '.join(choices)}" if choices and list_all else ""


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
