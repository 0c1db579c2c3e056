"""``--set key.path=value``: a dotted key and a YAML value, set into a suite before validation."""

from __future__ import annotations

from typing import Any

import yaml

from harness.suite.errors import ConfigError
from harness.suite.keys import DOTTED
from harness.units import show

def parse_override(item: str) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not DOTTED.fullmatch(key):
        raise ConfigError(f"--set {item}", "", "expected key.path=value")
    try:
        return key, yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"--set {item}", "", "the value is not valid YAML") from None


def assign(data: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted ``key`` (list positions by number) in nested mappings, creating the missing ones."""
    node: Any = data
    parts = key.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, dict):
            if last:
                node[part] = value
            elif node.get(part) is None:
                node[part] = {}
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if last:
                node[int(part)] = value
            node = node[int(part)]
        else:
            where = ".".join(parts[:depth])
            raise ValueError(f"cannot set {part!r} inside {where}, which is {show(node)}")
