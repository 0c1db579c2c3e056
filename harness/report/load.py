"""The report's view of a results directory: display values, parameters, contenders, the fixed
setting and the metrics to show, on top of what :mod:`harness.execution.reader` read.

Only ``runs.csv`` is required. ``manifest.json``, ``events.csv``, ``timeseries.csv`` and
``latencies.csv`` add sections and charts when present; when absent the report says so. A file
that is present but unreadable (malformed CSV, missing column, manifest not JSON, a non-numeric
metric) raises :class:`ReportError` with a one-line message naming the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.execution.reader import MISSING, PER_RUN_FILES, ResultsDir, ResultsError, numeric, open_results, tidy

from .errors import ReportError
from .fixed import FixedItem, describe, timeout_seconds
from harness.catalog.metrics import ID_COLUMNS, METRICS_BY_KEY, NOT_COMPARED, metric_for, shown_in
from harness.catalog.params import PARAM_UNITS, param_label, param_short, quantity_of
from harness.units import DURATION

from .metrics import HEADLINE_FIXED
from .palette import protocol_sort_key

KINDS = ("consensus", "transactions")


CONTENDER = "__contender"
"""The runs column holding each run's contender label (the compared key's display value)."""


@dataclass
class Param:
    """One swept parameter: its values as displayed, in order, and their numbers when numeric."""

    key: str
    values: list[str]                 # display values, in numeric (or matrix) order
    numbers: dict[str, float] | None  # display value -> number, None when categorical
    unit: str = ""
    quantity: str = ""                # "duration" (numbers in ms), "rate", "size", "bandwidth" or ""

    @property
    def numeric(self) -> bool:
        return self.numbers is not None

    @property
    def duration(self) -> bool:
        return self.quantity == "duration"

    @property
    def label(self) -> str:
        # Durations, rates and sizes carry their unit in every value ("150ms", "8k/s"): the label does not.
        return param_label(self.key, "" if self.quantity else self.unit)


@dataclass
class Results:
    path: Path
    runs: pd.DataFrame                 # one row per run; params as display strings
    events: pd.DataFrame | None
    timeseries: pd.DataFrame | None
    latencies: pd.DataFrame | None
    manifest: dict[str, Any]
    suite: str
    kind: str
    contenders: list[str]              # display labels of the compared values, matrix order
    reference: str | None              # one of ``contenders``
    params: list[Param]                # swept parameters except the compared key, matrix order
    fixed: list[FixedItem]             # the setting every run shares, most decisive first
    metrics: list[str]                 # numeric metric columns, in runs.csv order
    notes: list[str] = field(default_factory=list)
    timeout_s: float | None = None     # workload.timeout when not swept (the client retry timer)
    compare: str = "protocol"          # the key whose values are the contenders
    values: dict[str, str] = field(default_factory=dict)  # contender label -> value of ``compare``
    missing: list[str] = field(default_factory=list)      # run_ids in the manifest without a row
    raw: pd.DataFrame | None = None    # run_id and the swept keys' values as runs.csv has them

    @property
    def noun(self) -> str:
        """What the contenders are, for prose: "protocol", "contender" or "setting"."""
        return "protocol" if self.compare == "protocol" else "contender"

    def timeout_ms_at(self, point: tuple[str, ...]) -> float | None:
        """The client timeout (ms) at a parameter point: swept or fixed; None when unknown."""
        for p, v in zip(self.params, point):
            if p.key == "workload.timeout" and p.duration and p.numbers:
                return p.numbers.get(v)
        return self.timeout_s * 1000 if self.timeout_s else None

    @property
    def param_keys(self) -> list[str]:
        return [p.key for p in self.params]

    @property
    def seeds(self) -> list[Any]:
        return sorted(self.runs["seed"].dropna().unique().tolist())

    @property
    def points(self) -> list[tuple[str, ...]]:
        """Every parameter point present in runs.csv, in matrix order."""
        if not self.params:
            return [()]
        seen = {tuple(r) for r in self.runs[self.param_keys].itertuples(index=False)}
        return sorted(seen, key=self.point_order)

    def point_order(self, point: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(p.values.index(v) if v in p.values else len(p.values)
                     for p, v in zip(self.params, point))

    def has_metric(self, key: str) -> bool:
        return key in self.metrics and self.runs[key].notna().any()


# ---------------------------------------------------------------------------------------------
# Parameter values



def display_value(value: Any) -> str:
    """The canonical display string of a parameter value (3 and 3.0 both display as "3")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        v = float(value)
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{v:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    s = str(value).strip()
    if s in ("True", "False"):  # a bool from a CSV written by pandas
        return s.lower()
    try:
        return display_value(float(s)) if s.lower() not in ("nan", "inf", "-inf", "infinity") else s
    except ValueError:
        return s


def _as_number(s: str) -> float | None:
    try:
        v = float(s)
        return v if math.isfinite(v) else None
    except ValueError:
        return None


def canonical_param(key: str, raw: list[str], matrix_order: list[Any] | None = None
                    ) -> tuple[Param, dict[str, str]]:
    """The parameter ``key`` from its raw display values in runs.csv, and raw -> display value.

    A key whose type has a quantity (a duration, rate, size or bandwidth: see
    :mod:`harness.catalog.params`) may hold resolved numbers (0.15 s, 8000.0 /s: what the runner
    writes) or strings as written ("150ms", "8k/s"); both display with their unit ("150ms", "8k/s")
    and sort by their number (durations in ms). Other numeric values sort numerically, the rest in
    matrix order."""
    values = sorted(set(raw))
    unit = PARAM_UNITS.get(key, "")
    quantity = quantity_of(key)
    parsed = {v: quantity.read(v) for v in values} if quantity else {}
    if quantity and all(x is not None for x in parsed.values()):
        scale = 1000.0 if quantity is DURATION else 1.0
        mapping = {v: quantity.show(x) for v, x in parsed.items()}  # type: ignore[arg-type]
        numbers = {mapping[v]: x * scale for v, x in parsed.items()}  # type: ignore[operator]
        ordered = sorted(numbers, key=lambda d: numbers[d])
        return Param(key, ordered, numbers, "ms" if quantity is DURATION else unit, quantity.name), mapping
    same = {v: v for v in values}
    nums = {v: _as_number(v) for v in values}
    if all(n is not None for n in nums.values()):
        return Param(key, sorted(values, key=lambda v: nums[v]), nums, unit), same  # type: ignore[arg-type]
    order = [display_value(v) for v in matrix_order or ()]
    if order and all(v in order for v in values):
        ordered = sorted(values, key=order.index)
    else:  # runs.csv lists runs in matrix order: first appearance is the matrix's order
        ordered = list(dict.fromkeys(raw))
    return Param(key, ordered, None, ""), same


# ---------------------------------------------------------------------------------------------

def load_results(results_dir: Path) -> Results:
    """The results directory at ``results_dir`` (read by :func:`harness.execution.reader.open_results`)
    with the report's display values, parameters, contenders and fixed setting."""
    try:
        return _results(open_results(Path(results_dir)))
    except ResultsError as exc:
        raise ReportError(str(exc)) from None


def _results(read: ResultsDir) -> Results:
    results_dir, manifest = read.path, read.manifest
    runs_path, manifest_path = read.file("runs.csv"), read.file("manifest.json")
    notes: list[str] = []
    if not read.has_manifest:
        notes.append("manifest.json is missing: swept parameters were inferred from runs.csv; "
                     "config and versions are unknown.")

    read.require("protocol")
    runs = tidy(read.runs, runs_path)
    if runs.empty:
        raise ReportError(f"{runs_path}: no runs (header only)")
    if "seed" not in runs.columns:
        runs["seed"] = 0.0
        notes.append("runs.csv has no seed column: all runs were treated as seed 0.")
    runs["seed"] = numeric(runs["seed"], runs_path, "seed")
    runs["protocol"] = runs["protocol"].map(lambda v: "—" if v is None else str(v))
    runs["run_id"] = runs["run_id"].map(lambda v: "" if v is None else str(v))
    if "safety" not in runs.columns:
        runs["safety"] = "unknown"
        notes.append("runs.csv has no safety column: safety is unknown for every run.")
    runs["safety"] = runs["safety"].map(lambda v: "unknown" if v is None else str(v))
    dup = runs["run_id"][runs["run_id"].duplicated()]
    if len(dup):
        notes.append(f"runs.csv lists run_id {dup.iloc[0]!r} more than once; every row was kept.")

    # Metrics: numeric columns without a dot, other than swept keys (``contender``, ``faults``).
    compare = manifest.get("compare") or "protocol"
    swept_all = {k for k in manifest.get("swept") or [] if isinstance(k, str)} | {compare}
    metrics: list[str] = []
    for col in runs.columns:
        if "." in col or col in ID_COLUMNS or col in swept_all:
            continue
        if col in METRICS_BY_KEY or col in NOT_COMPARED:
            runs[col] = numeric(runs[col], runs_path, col)
        else:
            runs[col] = runs[col].map(lambda v: None if isinstance(v, str) and v.lower() in MISSING else v)
            converted = pd.to_numeric(runs[col], errors="coerce")
            if (converted.isna() & runs[col].notna()).any() or runs[col].isna().all():
                continue  # a text column we do not know: ignored
            runs[col] = converted.astype(float)
        if col not in NOT_COMPARED:
            metrics.append(col)
    if not metrics:
        raise ReportError(f"{runs_path}: no metric columns (expected e.g. throughput_ops_s, latency_p99_ms)")

    # Parameters: dotted columns, completed from the manifest's per-run params.
    man_runs = {str(r.get("run_id")): r for r in manifest.get("runs") or []}
    swept = [k for k in manifest.get("swept") or [] if isinstance(k, str) and k != compare]
    if compare != "protocol" and "protocol" not in swept:
        swept = [k for k in swept if k != "protocol"]
    for key in [*swept, compare]:
        if key not in runs.columns:
            runs[key] = runs["run_id"].map(lambda rid, _k=key: (man_runs.get(rid) or {}).get("params", {}).get(_k))
    if runs[compare].isna().all():
        raise ReportError(f"{manifest_path}: field 'compare' names {compare!r}, which is neither a column "
                          "of runs.csv nor a parameter of its runs")
    dotted = [c for c in runs.columns if "." in c]
    for key in {*dotted, *swept, compare} - {"protocol"}:
        runs[key] = runs[key].map(display_value)
    raw = runs[list(dict.fromkeys(["run_id", *swept, compare]))].copy()  # as in runs.csv, for summary.csv
    varying = [k for k in dotted if k != compare and runs[k].nunique(dropna=False) > 1]
    if manifest.get("swept") is not None:
        keys = [k for k in swept if k in runs.columns] + [k for k in varying if k not in swept]
    else:
        keys = varying
    suite_config = manifest.get("suite_config") or {}
    matrix = suite_config.get("matrix") if isinstance(suite_config.get("matrix"), dict) else {}

    def matrix_order(key: str) -> list[Any] | None:
        entry = matrix.get(key)
        return list(entry) if isinstance(entry, (list, dict)) else None  # a dict: labelled values

    params = []
    for key in keys:
        param, mapping = canonical_param(key, [str(v) for v in runs[key]], matrix_order(key))
        runs[key] = runs[key].map(lambda v, _m=mapping: _m.get(str(v), v))
        params.append(param)

    # Contenders: the values of the compared key, in matrix order.
    if compare == "protocol":
        present = list(dict.fromkeys(runs["protocol"]))
        order: list[str] = [str(p) for p in matrix_order("protocol") or []]
        for r in manifest.get("runs") or []:
            p = (r.get("params") or {}).get("protocol") or (r.get("config") or {}).get("protocol")
            if isinstance(p, str) and p not in order:
                order.append(p)
        if not order:
            order = sorted(present, key=protocol_sort_key)
        values = [p for p in order if p in present] + [p for p in present if p not in order]
        mapping = {v: v for v in values}
    else:
        param, mapping = canonical_param(compare, [str(v) for v in runs[compare]], matrix_order(compare))
        values = param.values
    show = (lambda v: v) if compare in ("protocol", "contender") else (lambda v: f"{param_short(compare)} = {v}")
    runs[CONTENDER] = runs[compare].map(lambda v: show(mapping.get(str(v), str(v))))
    contenders = [show(v) for v in values]
    by_value = {show(v): v for v in values}

    reference = manifest.get("reference")
    if reference is None:
        report_cfg = suite_config.get("report") if isinstance(suite_config.get("report"), dict) else {}
        reference = report_cfg.get("reference")
    if reference is not None:
        wanted = display_value(reference)
        if compare != "protocol":
            _, ref_map = canonical_param(compare, [wanted], None)
            wanted = ref_map.get(wanted, wanted)
        if show(wanted) in contenders:
            reference = show(wanted)
        else:
            notes.append(f"reference {reference!r} has no runs; {contenders[0]!r} is used instead.")
            reference = None
    if reference is None and len(contenders) > 1:
        reference = contenders[0]

    suite = manifest.get("suite") or _first(runs, "suite") or results_dir.name
    kind = manifest.get("kind") or _first(runs, "kind") or (
        "transactions" if "conflict_rate" in runs.columns else "consensus")
    # A leader's or a replication log's columns in a transaction suite (zeros) are not its metrics.
    metrics = [k for k in metrics if shown_in(metric_for(k), str(kind))]

    # The fixed setting: described from the suite config, else the constant dotted columns.
    cfg = {k: v for k, v in suite_config.items() if k != "matrix"}
    if not cfg:
        first = next((r.get("config") for r in manifest.get("runs") or [] if isinstance(r.get("config"), dict)), None)
        cfg = dict(first) if first else {}
    if cfg:
        bundle_keys = [k for b in (manifest.get("contenders") or {}).values() if isinstance(b, dict) for k in b]
        fixed = describe(cfg, [*keys, "protocol", compare, *bundle_keys], str(kind))
        if "protocol" not in {*keys, compare, *bundle_keys} and isinstance(cfg.get("protocol"), str):
            fixed.insert(0, FixedItem("protocol", "protocol", cfg["protocol"]))
    else:
        flat = {}
        for key in dotted:
            if key not in keys:
                flat[key] = runs[key].iloc[0]
        fixed = [FixedItem(k, param_short(k), _fixed_value(k, flat[k])) for k in HEADLINE_FIXED
                 if k in flat and flat[k] is not None]
    timeout_s = None if "workload.timeout" in keys else timeout_seconds(cfg)

    missing_runs = [rid for rid in man_runs if rid not in set(runs["run_id"])]

    events, timeseries, latencies = (read.tidy(name) for name in PER_RUN_FILES)
    if events is not None:
        for col in ("node", "detail"):
            if col not in events.columns:
                events[col] = None
        if "duration_ms" not in events.columns:
            events["duration_ms"] = float("nan")
        events["kind"] = events["kind"].map(lambda v: "" if v is None else str(v).lower())
    absent = [n for n, d in (("events.csv", events), ("timeseries.csv", timeseries),
                             ("latencies.csv", latencies)) if d is None]
    if absent:
        notes.append(f"Not found: {', '.join(absent)} (charts that need them were skipped).")

    return Results(results_dir, runs, events, timeseries, latencies, manifest, str(suite), str(kind),
                   contenders, reference, params, fixed, metrics, notes, timeout_s, compare, by_value,
                   missing_runs, raw)


def _fixed_value(key: str, value: Any) -> str:
    quantity = quantity_of(key)
    number = quantity.read(value) if quantity else None
    return quantity.show(number) if quantity and number is not None else display_value(value)


def _first(df: pd.DataFrame, col: str) -> str | None:
    if col in df.columns:
        vals = df[col].dropna()
        if len(vals):
            return str(vals.iloc[0])
    return None
