"""The matrix and the contenders: which keys a suite sweeps and over which values or labels, the
labelled bundles of settings compared against each other, and which of them is the reference."""

from __future__ import annotations

import re
from typing import Any

import yaml

from harness.suite.errors import ConfigError
from harness.suite.keys import DOTTED, overlap
from harness.suite.run import RunConfig, lookup_protocol
from harness.units import show

FIXED = {"name", "kind", "description", "seeds", "seed", "report", "gate", "matrix", "compare",
         "contenders"}
"""Top-level keys fixed for the whole suite: never swept, never set by a contender."""
CONTENDER = "contender"


def parse_matrix(matrix: Any, source: str, contenders: dict[str, dict[str, Any]] | None = None
                 ) -> tuple[dict[str, list[Any]], dict[str, dict[str, Any]]]:
    """The matrix's shape: dotted keys of sweepable settings, each to a non-empty list of values
    or a mapping of labels to values (-> its labels, and the key's {label: value} in the second
    dict). With ``contenders`` the key ``contender`` sweeps their labels, first (slowest) unless
    the matrix lists a subset or order itself."""
    if matrix is None:
        matrix = {}
    if not isinstance(matrix, dict):
        raise ConfigError(source, "matrix",
                          f"expected a mapping of dotted keys to lists of values, got {show(matrix)}")
    out: dict[str, list[Any]] = {}
    labels: dict[str, dict[str, Any]] = {}
    for i, (key, values) in enumerate(matrix.items()):
        if not isinstance(key, str) or not DOTTED.fullmatch(key):
            raise ConfigError(source, "matrix", f"expected dotted keys such as cluster.nodes, got {show(key)}")
        where = f"matrix.{key}"
        if key == CONTENDER:
            out[key] = _contender_sweep(values, contenders, source)
            continue
        if key.split(".")[0] in FIXED:
            hint = " (use seeds: N to run several seeds)" if key.startswith("seed") else ""
            raise ConfigError(source, where, f"cannot be swept: it is fixed for the whole suite{hint}")
        if isinstance(values, dict) and values:
            named: dict[str, Any] = {}
            for label, value in values.items():
                name = _label(label)
                if name is None or name in named:
                    raise ConfigError(source, where, "expected distinct labels of letters, digits and "
                                      f"-_.+=, got {show(label)}")
                named[name] = value
            labels[key], values = named, list(named)
        elif not isinstance(values, list) or not values:
            raise ConfigError(source, where, "expected a non-empty list of values or a mapping of labels "
                              f"to values, got {show(values)}")
        other = next((k for k in list(matrix)[:i] if overlap(k, key)), None)
        if other is not None:
            raise ConfigError(source, where, f"overlaps matrix.{other}; sweep one or the other")
        out[key] = list(values)
    if contenders and CONTENDER not in out:
        out = {CONTENDER: list(contenders), **out}
    return out, labels


def _contender_sweep(values: Any, contenders: dict[str, dict[str, Any]] | None, source: str) -> list[str]:
    """``matrix.contender``: a list of the labels of ``contenders`` (a subset, in any order)."""
    where = f"matrix.{CONTENDER}"
    if not contenders:
        raise ConfigError(source, where, "sweeps the labels of contenders:, which the suite does not define")
    if not isinstance(values, list) or not values:
        raise ConfigError(source, where, f"expected a non-empty list of contender labels "
                          f"({', '.join(contenders)}), got {show(values)}")
    out = []
    for value in values:
        name = _label(value)
        if name not in contenders or name in out:
            raise ConfigError(source, where, f"expected distinct contender labels ({', '.join(contenders)}), "
                              f"got {show(value)}")
        out.append(name)
    return out


def point_at(matrix: dict[str, list[Any]], index: int) -> tuple[Any, ...]:
    """The entries of matrix point ``index`` in ``itertools.product`` order (first key slowest),
    without enumerating the points before it."""
    entries = []
    for values in reversed(list(matrix.values())):
        index, at = divmod(index, len(values))
        entries.append(values[at])
    return tuple(reversed(entries))


def parse_contenders(contenders: Any, source: str) -> dict[str, dict[str, Any]] | None:
    """``contenders:`` as {label: {dotted key: value}}: labelled bundles of settings."""
    if contenders is None:
        return None
    example = "such as {raft+prevote: {protocol: raft, protocols.raft.prevote: true}, multipaxos: {protocol: multipaxos}}"
    if not isinstance(contenders, dict) or not contenders:
        raise ConfigError(source, "contenders", f"expected a mapping of labels to settings, {example}, "
                          f"got {show(contenders)}")
    out: dict[str, dict[str, Any]] = {}
    for label, bundle in contenders.items():
        name = _label(label)
        if name is None:
            raise ConfigError(source, "contenders", f"expected labels of letters, digits and -_.+=, got {show(label)}")
        if bundle is None:
            bundle = {}
        if not isinstance(bundle, dict):
            raise ConfigError(source, f"contenders.{name}", "expected a mapping of dotted keys to values "
                              f"(e.g. protocol: raft), got {show(bundle)}")
        keys = list(bundle)
        for i, key in enumerate(keys):
            if not isinstance(key, str) or not DOTTED.fullmatch(key):
                raise ConfigError(source, f"contenders.{name}", f"expected dotted keys such as "
                                  f"protocols.raft.prevote, got {show(key)}")
            if key.split(".")[0] in FIXED:
                raise ConfigError(source, f"contenders.{name}.{key}", "cannot differ between contenders: "
                                  "it is fixed for the whole suite")
            other = next((k for k in keys[:i] if overlap(k, key)), None)
            if other is not None:
                raise ConfigError(source, f"contenders.{name}.{key}", f"overlaps contenders.{name}.{other}; "
                                  "set one or the other")
        out[name] = dict(bundle)
    return out


_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]*")


def _label(label: Any) -> str | None:
    """A label as text (``true`` -> "true", ``64`` -> "64"), or None when it is not a short word."""
    if isinstance(label, bool):
        label = str(label).lower()
    elif isinstance(label, (int, float)):
        label = f"{label:g}"
    return label if isinstance(label, str) and _LABEL.fullmatch(label) else None


def check_bundle_keys(contenders: dict[str, dict[str, Any]] | None, matrix: dict[str, list[Any]],
                      source: str) -> None:
    """A setting a bundle fixes cannot also be swept: which of the two would a run use?"""
    for name, bundle in (contenders or {}).items():
        for key in bundle:
            swept = next((k for k in matrix if k != CONTENDER and overlap(k, key)), None)
            if swept is not None:
                raise ConfigError(source, f"contenders.{name}.{key}", f"is also swept by matrix.{swept}; "
                                  "set it in every contender or sweep it, not both")


def check_bundle_options(label: str, bundle: dict[str, Any], config: RunConfig, source: str) -> None:
    """A contender that sets another protocol's options would run without them."""
    for key in bundle:
        parts = key.split(".")
        if parts[0] == "protocols" and len(parts) > 1:
            spec = lookup_protocol(parts[1])
            if spec is not None and spec.name != config.protocol:
                raise ConfigError(source, f"contenders.{label}.{key}", f"sets an option of {spec.name}, but "
                                  f"this contender runs {config.protocol}: it would do nothing")


def compare_key(compare: Any, matrix: dict[str, list[Any]], contenders: Any, source: str) -> str:
    """The key whose values are the contenders: ``compare``, else contender / protocol."""
    if compare is None:
        return CONTENDER if contenders else "protocol"
    if not isinstance(compare, str) or compare not in matrix:
        swept = ", ".join(matrix) or "nothing"
        raise ConfigError(source, "compare", f"expected a key the matrix sweeps ({swept}), got {show(compare)}")
    return compare


def display(value: Any) -> str:
    """A matrix value or label as a report shows it: ``true`` not ``True``, 64 not 64.0."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, str):
        return value.strip()
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 16).strip()


def reference(base: RunConfig, points: list[tuple[dict[str, Any], RunConfig]],
              matrix: dict[str, list[Any]], compare: str, source: str) -> str:
    """The contender deltas are computed against: ``report.reference`` (a value of the compare
    key: a protocol name or alias, a label, a value as written), else the first one run."""
    wanted = base.report.reference
    if compare == "protocol":
        protocols = list(dict.fromkeys(config.protocol for _, config in points))
        if wanted is None:
            return protocols[0]
        spec = lookup_protocol(wanted) if isinstance(wanted, str) else None
        if spec is None or spec.name not in protocols:
            expected = f"expected one of the suite's protocols ({', '.join(protocols)})"
            raise ConfigError(source, "report.reference", f"{expected}, got {show(wanted)}")
        return spec.name
    values = [display(v) for v in matrix[compare]]
    if wanted is None:
        return values[0]
    shown = display(wanted)
    if shown not in values:
        raise ConfigError(source, "report.reference", f"expected a value of the compared key {compare} "
                          f"({', '.join(values)}), got {show(wanted)}")
    return shown
