"""What ``distbench shrink`` leaves in its directory: the smallest failing suite as YAML (only
the settings that differ from the defaults, durations with units, exact), the operation history
of its run where the kind keeps one, the log of every candidate tried, and the account."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness import faults
from harness.catalog.params import quantity_of
from harness.history import History
from harness.suite.run import RunConfig
from harness.units import DURATION, format_duration, parse_duration

SUITE, ACCOUNT, CANDIDATES, HISTORY, RESULTS = ("suite.yaml", "account.txt", "candidates.csv",
                                                "history.csv", "results")
# Settings that change nothing a run simulates: left out of the written suite.
_UNSIMULATED = ("description", "report", "gate")


def suite_text(data: dict[str, Any], header: str) -> str:
    """The suite of the run config ``data`` (a resolved config), as YAML a user can read and
    ``distbench run`` runs: the settings that differ from the defaults of its kind, protocol
    and workload type, durations written with a unit."""
    config = RunConfig.model_validate(data)
    written = {k: v for k, v in data.items() if k not in _UNSIMULATED}
    written["protocols"] = {name: options for name, options in data["protocols"].items()
                            if name == config.protocol}  # (a sweep's other protocols' options)
    try:
        defaults = RunConfig.model_validate({"name": config.name, "kind": config.kind,
                                             "protocol": config.protocol,
                                             "workload": {"type": config.workload.type}}).to_dict()
    except ValidationError:  # defaults that do not fit together: write every setting
        defaults = {}
    for kind in faults.KINDS:  # a rate section's defaults (beside the keys it requires)
        section = (written.get("faults") or {}).get(kind.name)
        if defaults and section:
            required = {k: v for k, v in section.items() if kind.rate.model_fields[k].is_required()}
            defaults["faults"][kind.name] = {k: v for k, v in kind.rate.model_validate(required).model_dump(
                mode="json").items() if k not in required}
    slim = _beyond(written, defaults)
    for key in ("name", "kind", "protocol", "seed"):
        slim[key] = data[key]
    slim["workload"] = {"type": data["workload"]["type"], **slim.get("workload", {})}
    order = ["name", "kind", "protocol", "seed", "duration", "warmup"]
    slim = {**{k: slim[k] for k in order if k in slim}, **{k: v for k, v in slim.items() if k not in order}}
    expected = RunConfig.model_validate(written).to_dict()
    for settings in (slim, written):  # every setting, should the defaults not give the same back
        body = yaml.dump(_with_units(settings, ""), Dumper=_Dumper, sort_keys=False,
                         default_flow_style=None, width=100, allow_unicode=True)
        if RunConfig.model_validate(yaml.safe_load(body)).to_dict() == expected:
            break
    return "".join(f"# {line}\n" for line in header.splitlines()) + body


class _Step(dict):
    """A schedule step: written on one line."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Step, lambda dumper, step: dumper.represent_mapping(
    "tag:yaml.org,2002:map", step.items(), flow_style=True))


def _beyond(data: Any, default: Any) -> Any:
    """The parts of mapping ``data`` that differ from ``default``."""
    if not isinstance(data, dict) or not isinstance(default, dict):
        return data
    out = {}
    for key, value in data.items():
        if key in default and value == default[key]:
            continue
        inner = _beyond(value, default.get(key))
        if isinstance(inner, dict) and not inner and value:
            continue
        out[key] = inner
    return out


def _with_units(value: Any, key: str) -> Any:
    """Durations as text with a unit (``1.4s``, ``300ms``), exactly the value."""
    if isinstance(value, dict):
        return {k: _with_units(v, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_with_units(v, f"{key}.{i}") for i, v in enumerate(value)]
        return [_Step(step) for step in items] if key == "faults.schedule" else items
    if isinstance(value, (int, float)) and not isinstance(value, bool) and quantity_of(key) is DURATION:
        text = format_duration(value)
        return text if parse_duration(text) == value else f"{float(value)!r}s"
    return value


def history_text(world: Any) -> str | None:
    """The operation history of a run's world in ``distbench export --format distbench`` form,
    None when its kind records none."""
    from harness.checkers.formats import write_distbench

    history = getattr(world, "history", None)
    if not isinstance(history, History):
        return None
    out = io.StringIO()
    write_distbench(history, out)
    return out.getvalue()


def write_candidates(path: Path, tried: list[Any]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["candidate", "phase", "change", "safety"])
        writer.writerows([i, c.phase, c.change, c.safety] for i, c in enumerate(tried, 1))
