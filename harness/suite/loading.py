"""``load_suite``: read a suite's YAML, apply ``--set`` overrides, expand its matrix and validate
every point, so that ``distbench validate`` catches what ``distbench run`` would otherwise trip
over an hour later. Values with units are converted once (see :mod:`harness.units`): past
validation durations are seconds, rates are per second and sizes are bytes."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import ValidationError

from harness.live.budget import check_budget
from harness.suite.errors import ConfigError, Problem, problem_from
from harness.suite.keys import overlap, unknown_keys
from harness.suite.matrix import (CONTENDER, check_bundle_keys, check_bundle_options, compare_key,
                                  parse_contenders, parse_matrix, point_at, reference)
from harness.suite.overrides import assign, parse_override
from harness.suite.run import RunConfig
from harness.units import show


@dataclass(frozen=True)
class RunSpec:
    """One run: a matrix point with one seed. ``config.seed == seed``."""

    index: int
    run_id: str
    seed: int
    params: dict[str, Any]
    config: RunConfig
    labelled: tuple[str, ...] = ()   # keys of ``params`` that hold a label, not a config value


@dataclass(frozen=True)
class Suite:
    """A validated suite. ``base`` is the first matrix point's config (the suite as written, with
    each swept key at its first value); ``points`` holds every point's (params, config).

    ``matrix`` maps each swept key to its entries in order: values, or labels for a key swept
    with labelled values (``faults: {none: {}, crash: {...}}``) and for ``contender``; ``labels``
    maps each such key to {label: value} (for ``contender``: {label: {dotted key: value}}).
    ``compare`` is the dotted key whose values are the contenders of the report, ``reference``
    the display value of that key the others are compared against."""

    name: str
    kind: str
    source: str
    raw: dict[str, Any]
    overrides: tuple[str, ...]
    matrix: dict[str, list[Any]]
    reference: str
    base: RunConfig
    points: tuple[tuple[dict[str, Any], RunConfig], ...]
    compare: str = "protocol"
    contenders: dict[str, dict[str, Any]] | None = None
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def swept(self) -> list[str]:
        return list(self.matrix)

    def runs(self) -> list[RunSpec]:
        """Matrix points in order (first key slowest), each with seeds ``seed .. seed+seeds-1``."""
        specs: list[RunSpec] = []
        labelled = tuple(self.labels)
        for point, (params, config) in enumerate(self.points):
            for seed in range(config.seed, config.seed + config.seeds):
                specs.append(RunSpec(len(specs), f"r{point:04d}-s{seed}", seed, dict(params),
                                     config.model_copy(update={"seed": seed}), labelled))
        return specs

    def to_dict(self) -> dict[str, Any]:
        """``base`` resolved, plus the matrix as written (labelled keys as label -> value
        mappings), ``compare`` and ``contenders``: the suite for a manifest."""
        matrix = {k: (copy.deepcopy({label: self.labels[k][label] for label in v})
                      if k in self.labels and k != CONTENDER else copy.deepcopy(v))
                  for k, v in self.matrix.items()}
        return {**self.base.to_dict(), "compare": self.compare,
                "contenders": copy.deepcopy(self.contenders), "matrix": matrix}


EMBEDDED = "<embedded default>"
_ABSENT = object()



class TooManyRuns(ConfigError):
    """A suite with more runs than the caller's limit, refused before its matrix was expanded:
    ``runs`` = ``points`` × ``seeds``, and ``sample``, the configs of a few points spread over
    the matrix (the first included), validated, to estimate the cost from."""

    def __init__(self, source: str, runs: int, points: int, seeds: int, limit: int,
                 sample: list[RunConfig]):
        super().__init__(source, "matrix" if points > 1 else "seeds",
                         f"{runs:,} runs ({points:,} matrix points × {seeds:,} seeds) is more than the "
                         f"limit of {limit:,} runs")
        self.runs, self.points, self.seeds, self.limit, self.sample = runs, points, seeds, limit, sample


SAMPLE_POINTS = 32  # points validated to estimate a refused suite's cost: ~1 ms each


def load_suite(path: str | Path | None, overrides: Sequence[str] = (),
               seeds: int | None = None, max_runs: int | None = None) -> Suite:
    """Load, override and validate a suite, every matrix point included.

    ``path`` None loads the built-in quickstart suite. ``overrides`` are ``key.path=value``
    strings (the value is YAML) applied before validation; ``matrix.<key>=[...]`` sets a sweep,
    and overriding a swept key replaces its sweep by the single value. ``seeds`` replaces
    ``seeds``. Raises :class:`ConfigError` for any mistake, and :class:`TooManyRuns` when the
    suite has more than ``max_runs`` runs, counted from the sizes of the matrix axes before any
    point is expanded (a matrix of millions of points costs no more to refuse than one of two).
    """
    source, text = _read(path)
    raw = _parse_yaml(text, source)
    data = copy.deepcopy(raw)
    origins: dict[str, str] = {}
    for item in overrides:
        key, value = parse_override(item)
        try:
            if key.startswith("matrix."):
                if data.get("matrix") is None:
                    data["matrix"] = {}
                matrix = data["matrix"]
                if not isinstance(matrix, dict):
                    raise ValueError(f"cannot set a sweep: matrix is {show(matrix)}")
                matrix[key.removeprefix("matrix.")] = value
            else:
                assign(data, key, value)
                origins[key] = f"--set {item}"
        except ValueError as exc:
            raise ConfigError(f"--set {item}", "", str(exc)) from None
    if seeds is not None:
        data["seeds"] = seeds
        origins["seeds"] = f"--seeds {seeds}"
    compare, contenders = data.pop("compare", None), data.pop("contenders", None)
    contenders = parse_contenders(contenders, source)
    matrix, labels = parse_matrix(data.pop("matrix", None), source, contenders)
    for key in list(matrix):
        if any(overlap(key, overridden) for overridden in origins):
            del matrix[key]
            labels.pop(key, None)
    check_bundle_keys(contenders, matrix, source)
    compare = compare_key(compare, matrix, contenders, source)

    def expand(entries: tuple[Any, ...], first: bool) -> tuple[dict[str, Any], RunConfig]:
        point = dict(zip(matrix, entries))
        settings: dict[str, Any] = {}
        where: dict[str, str] = {}
        for key, entry in point.items():
            if key == CONTENDER:
                for k, v in contenders[entry].items():  # type: ignore[index]
                    settings[k], where[k] = v, f"contenders.{entry}.{k}"
            else:
                settings[key] = labels[key][entry] if key in labels else entry
                where[key] = f"matrix.{key}" + (f".{entry}" if key in labels else "")
        config = _validate_point(data, settings, source, origins, first=first, where=where)
        if CONTENDER in point:
            check_bundle_options(point[CONTENDER], contenders[point[CONTENDER]], config, source)  # type: ignore[index]
        params = {"protocol": point.get("protocol", config.protocol)}
        if "protocol" in labels:
            params["protocol"] = config.protocol
        params.update((k, v) for k, v in point.items() if k != "protocol")
        return params, config

    sizes = [len(v) for v in matrix.values()]
    points = [expand(tuple(v[0] for v in matrix.values()), first=True)]
    runs = math.prod(sizes) * points[0][1].seeds
    if max_runs is not None and runs > max_runs:
        total = math.prod(sizes)
        picks = sorted({i * (total - 1) // (SAMPLE_POINTS - 1) for i in range(SAMPLE_POINTS)} - {0})
        sample = [points[0][1]] + [expand(point_at(matrix, i), first=False)[1] for i in picks]
        raise TooManyRuns(source, runs, total, points[0][1].seeds, max_runs, sample)
    rest = itertools.islice(itertools.product(*matrix.values()), 1, None)
    points += [expand(entries, first=False) for entries in rest]
    _check_shadowed(data, {k: [labels[k][v[0]] if k in labels else v[0]] for k, v in matrix.items()
                           if k != CONTENDER}, source)
    _check_options_used(points, source)
    live = [config for _, config in points if config.mode == "live" for _ in range(config.seeds)]
    if live:
        check_budget(live, source)
    base = points[0][1]
    ignored = unknown_keys(base.gate.ignore, (config.to_dict() for _, config in points))
    if ignored:
        raise ConfigError(source, "gate.ignore",
                          f"{ignored[0]!r} is not a config key of this suite{ignored[1]}")
    labels = {k: labels[k] for k in matrix if k in labels}
    if CONTENDER in matrix:
        labels[CONTENDER] = {label: contenders[label] for label in matrix[CONTENDER]}  # type: ignore[index]
    return Suite(name=base.name, kind=base.kind, source=source, raw=raw, overrides=tuple(overrides),
                 matrix=matrix, reference=reference(base, points, matrix, compare, source), base=base,
                 points=tuple(points), compare=compare, contenders=contenders, labels=labels)


def _check_options_used(points: list[tuple[dict[str, Any], RunConfig]], source: str) -> None:
    """A ``protocols.<name>`` section that sets something for a protocol no run of the suite
    uses would do nothing (``protocols.2pl`` with ``protocol: 2pl-nowait`` is the usual slip)."""
    run = list(dict.fromkeys(config.protocol for _, config in points))
    for _, config in points:
        for name, options in config.protocols.items():
            if name in run or not options.model_fields_set:
                continue
            hint = ""
            if name == "2pl" and any(p.startswith("2pl-") for p in run):
                hint = "; the 2pl-<policy> protocols take lock_timeout under protocols.2pl-<policy>"
            elif name == "2pc" and config.kind == "transactions":
                hint = "; 2pl-* and occ commit with 2PC at its defaults (protocols.2pc configures protocol 2pc)"
            raise ConfigError(source, f"protocols.{name}", "expected options only for a protocol the "
                              f"suite runs ({', '.join(run)}): these would do nothing{hint}")


def _check_shadowed(data: dict[str, Any], matrix: dict[str, list[Any]], source: str) -> None:
    """A value the matrix replaces everywhere is still checked: a mistake there (``nodes: five``
    beside a sweep of ``cluster.nodes``) must not pass silently."""
    first = {k: v[0] for k, v in matrix.items()}
    for key in matrix:
        parts = key.split(".")
        node: Any = data
        for part in parts:
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        if node is _ABSENT:
            continue
        doc = copy.deepcopy(data)
        for other, value in first.items():
            if other != key:
                assign(doc, other, copy.deepcopy(value))
        try:
            RunConfig.model_validate(doc)
        except ValidationError as exc:
            problem = problem_from(exc.errors()[0], RunConfig, doc)
            if tuple(map(str, problem.at[:len(parts)])) == tuple(parts):
                raise ConfigError(source, ".".join(map(str, problem.at)), problem.text()) from None


def _read(path: str | Path | None) -> tuple[str, str]:
    if path is None:
        try:
            packaged = resources.files("harness").joinpath("defaults/quickstart.yaml")
            return EMBEDDED, packaged.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(EMBEDDED, "", f"cannot read the built-in suite: {exc}") from None
    try:
        return str(path), Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read the suite: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "cannot read the suite: not UTF-8 text") from None


class _SuiteLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key written twice is an error instead of last-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_SuiteLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(source, where, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(source, "", f"expected a mapping of suite keys at the top level, got {show(data)}")
    return data


def _validate_point(data: dict[str, Any], point: dict[str, Any], source: str,
                    origins: dict[str, str], first: bool, where: dict[str, str] | None = None) -> RunConfig:
    """Validate the suite at one matrix point; errors name the matrix key (or the contender's
    setting, ``where``) when one is involved."""
    where = where or {}
    doc = copy.deepcopy(data)
    for key, value in point.items():
        try:
            assign(doc, key, copy.deepcopy(value))
        except ValueError as exc:
            raise ConfigError(source, where.get(key, f"matrix.{key}"), f"{show(value)}: {exc}") from None
    try:
        return RunConfig.model_validate(doc)
    except ValidationError as exc:
        problem = problem_from(exc.errors()[0], RunConfig, doc)
    raise ConfigError(source, *_locate(problem, point, data, origins, first, where))


def _locate(problem: Problem, point: dict[str, Any], data: dict[str, Any],
            origins: dict[str, str], first: bool, where: dict[str, str] | None = None) -> tuple[str, str]:
    """(path, message) for a problem found at a matrix point. A problem at (or around) a swept
    key is reported as ``matrix.<key>: <value>: ...``; one elsewhere says which command-line
    override or matrix point caused it, unless (as far as can be told: no point passed before
    and the suite without its matrix fails the same way) the matrix has nothing to do with it."""
    at = tuple(map(str, problem.at))
    where = where or {}
    for key, value in point.items():
        swept = tuple(key.split("."))
        name = where.get(key, f"matrix.{key}")
        if at == swept:
            return name, f"{show(value)}: {problem.text(with_got=False)}"
        if at and at[:len(swept)] == swept:
            return name, f"{show(value)}: {'.'.join(at[len(swept):])}: {problem.text()}"
        if at and swept[:len(at)] == at:
            return name, f"{show(value)}: {'.'.join(at)}: {problem.text()}"
    message = problem.text()
    origin = next((o for k, o in origins.items() if at and overlap(".".join(at), k)), None)
    if origin:
        message += f" (from {origin})"
    elif point and (not first or _first_problem(data) != (problem.at, message)):
        message += " (at matrix point " + ", ".join(f"{k}={show(v)}" for k, v in point.items()) + ")"
    return ".".join(at), message


def _first_problem(data: dict[str, Any]) -> tuple[tuple[str | int, ...], str] | None:
    """(path, message) of the suite's first error outside the matrix, or None."""
    try:
        RunConfig.model_validate(data)
    except ValidationError as exc:
        problem = problem_from(exc.errors()[0], RunConfig, data)
        return problem.at, problem.text()
    return None
