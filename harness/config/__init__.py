"""Suites: the YAML a user writes, validated into the typed configuration every run is built from.

Everything a suite says is checked when it is loaded, for every point of its matrix, so that
``distbench validate`` catches what ``distbench run`` would otherwise trip over an hour later.
Every mistake becomes one line naming the file, the dotted key and what was expected
(:class:`ConfigError`), never a traceback or a pydantic dump. Values with units are converted
here, once (see :mod:`harness.units`): past this module durations are seconds, rates are per
second and sizes are bytes.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Sequence, Union, get_args, get_origin

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr, create_model,
                      Strict, ValidationError, ValidationInfo, field_validator, model_validator)

from harness import faults as _faults
from harness import protocol as _protocol
from harness.checkers.linearizability import DEFAULT_BUDGET
from harness.config.keys import did_you_mean, unknown_keys
from harness.faults.kind import Target, selector as _selector
from harness.live.options import EXTERNAL, LiveOptions
from harness.units import (Bandwidth, Duration, PositiveDuration, Probability, Rate, Size,
                           format_duration, show)

__all__ = [
    "Checkers", "Cluster", "ConfigError", "ConstantLatency", "ExponentialLatency",
    "Faults", "KVWorkload", "KeyDistribution", "LATENCIES", "LinkOverride", "LogNormalLatency",
    "Metrics", "Network", "NormalLatency", "ParetoLatency", "Replication",
    "Gate", "Report", "RunConfig", "RunSpec", "ScheduledFault", "Suite", "UniformLatency",
    "WORKLOADS", "ACTIONS", "load_suite", "YCSBWorkload", "BankWorkload",
]


class ConfigError(Exception):
    """A mistake in a suite, as one line: ``<file>: <dotted.key>: <what was expected>, got <value>``."""

    def __init__(self, source: str, path: str, message: str):
        self.source, self.path, self.message = source, path, message
        super().__init__(": ".join(part for part in (source, path, message) if part))


class _Problem(ValueError):
    """One validation failure in the user's terms: where (key path), what was expected, what was
    found. Raised by cross-field checks with ``at`` relative to the model raising it."""

    def __init__(self, at: tuple[str | int, ...], expected: str, got: str | None = None,
                 hint: str = ""):
        super().__init__(expected)
        self.at, self.expected, self.got, self.hint = at, expected, got, hint

    def text(self, with_got: bool = True) -> str:
        got = f", got {self.got}" if with_got and self.got is not None else ""
        return f"{self.expected}{got}{self.hint}"


# -- field types -----------------------------------------------------------------------------

PosInt = Annotated[int, Strict(), Field(ge=1)]
NonNegInt = Annotated[int, Strict(), Field(ge=0)]
ROLES = {"consensus": ("leader", "follower"), "transactions": ("coordinator", "participant")}
NodeSelector = Annotated[Literal["*"] | tuple[int, ...], _selector("*")]


class _Model(BaseModel):
    """A suite section: unknown keys are errors, values are immutable, and defaults go through the
    same validators as input (so they are written with units, like a suite)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              validate_default=True)


# -- cluster and network -------------------------------------------------------------------------

class Cluster(_Model):
    """The machines and their cost model (see ``harness.engine.node``)."""

    nodes: Annotated[int, Strict(), Field(ge=1, le=99)] = 3
    partitions: PosInt = 1
    cpu_per_message: Duration = "20us"
    cpu_per_send: Duration = "10us"
    cpu_per_byte: Duration = "2ns"
    cpu_dist: Literal["constant", "exponential"] = "constant"
    fsync: Duration = "200us"
    group_commit: StrictBool = True
    queue: Literal["fifo", "peer_first"] = "fifo"


class ConstantLatency(_Model):
    dist: Literal["constant"] = "constant"
    value: Duration


class UniformLatency(_Model):
    dist: Literal["uniform"] = "uniform"
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> UniformLatency:
        if self.high < self.low:
            raise _Problem(("high",), f"expected a duration >= low ({format_duration(self.low)})",
                           format_duration(self.high))
        return self


class NormalLatency(_Model):
    """Normal, truncated at 0."""

    dist: Literal["normal"] = "normal"
    mean: Duration = "500us"
    std: Duration = "100us"


class ExponentialLatency(_Model):
    dist: Literal["exponential"] = "exponential"
    mean: PositiveDuration


class LogNormalLatency(_Model):
    dist: Literal["lognormal"] = "lognormal"
    median: PositiveDuration
    sigma: Annotated[float, Strict(), Field(ge=0.0)]


class ParetoLatency(_Model):
    """Pareto with minimum ``scale``: a heavy tail."""

    dist: Literal["pareto"] = "pareto"
    scale: PositiveDuration
    shape: Annotated[float, Strict(), Field(gt=0.0)]


LATENCIES = (ConstantLatency, UniformLatency, NormalLatency, ExponentialLatency, LogNormalLatency,
             ParetoLatency)


def _latency_shorthand(value: Any) -> Any:
    """``latency: 1ms`` means constant; a mapping without ``dist`` is normal (the default law)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    return {"dist": "normal", **value} if isinstance(value, dict) and "dist" not in value else value


Latency = Annotated[Union[LATENCIES], Field(discriminator="dist"), BeforeValidator(_latency_shorthand)]


class LinkOverride(_Model):
    """Settings for the links ``from`` -> ``to`` (node ids or ``*``); later overrides win."""

    src: NodeSelector = Field("*", alias="from")
    dst: NodeSelector = Field("*", alias="to")
    latency: Latency | None = None
    loss: Probability | None = None
    duplicate: Probability | None = None
    bandwidth: Bandwidth | None = None


class Network(_Model):
    latency: Latency = NormalLatency()
    loss: Probability = 0.0
    duplicate: Probability = 0.0
    bandwidth: Bandwidth | None = None
    links: tuple[LinkOverride, ...] = ()


class Replication(_protocol.ReplicationOptions):
    """``ReplicationOptions`` written with units. Subclassing keeps the two field lists in step."""

    model_config = ConfigDict(validate_default=True)

    batch_size: PosInt = 64
    batch_delay: Duration = 0.0
    pipeline: PosInt = 8
    election_timeout: PositiveDuration = "150ms"
    election_timeout_max: PositiveDuration | None = None
    heartbeat: PositiveDuration = "50ms"
    retransmit: PositiveDuration | None = None
    reorder_wait: Duration = "1ms"

    @model_validator(mode="after")
    def _heartbeat_first(self) -> Replication:
        if self.heartbeat >= self.election_timeout:
            raise _Problem(("heartbeat",), "expected a duration < election_timeout "
                           f"({format_duration(self.election_timeout)})", format_duration(self.heartbeat))
        top = self.election_timeout_max
        if top is not None and top < self.election_timeout:
            raise _Problem(("election_timeout_max",), "expected a duration >= election_timeout "
                           f"({format_duration(self.election_timeout)})", format_duration(top))
        return self


# -- workloads -----------------------------------------------------------------------------------

class KeyDistribution(_Model):
    """Which keys operations touch (YCSB's request distributions)."""

    type: Literal["uniform", "zipfian", "hotspot", "latest"] = "uniform"
    theta: Annotated[float, Strict(), Field(ge=0.0, lt=5.0)] = 0.99
    hot_fraction: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.2
    hot_probability: Probability = 0.8


def _check_pacing(w: Any) -> None:
    """Closed loop paces with think time, open loop with a rate; neither takes the other's knob."""
    if w.mode == "open" and w.rate is None:
        raise _Problem(("rate",), "required in open mode: the total rate of all clients, such as 2000/s")
    if w.mode == "closed" and w.rate is not None:
        raise _Problem(("rate",), "expected no rate in closed mode (use mode: open)", f"{w.rate:g}/s")
    if w.mode == "open" and w.think_time:
        raise _Problem(("think_time",), "expected no think_time in open mode", format_duration(w.think_time))


class KVWorkload(_Model):
    """Clients issuing get/put/cas on a replicated key-value store."""

    kind: ClassVar[str] = "consensus"

    type: Literal["kv"] = "kv"
    clients: PosInt = 16
    mode: Literal["closed", "open"] = "closed"
    rate: Rate | None = None
    think_time: Duration = 0.0
    keys: PosInt = 1000
    distribution: Annotated[KeyDistribution, BeforeValidator(
        lambda v: {"type": v} if isinstance(v, str) else v)] = KeyDistribution()
    read_ratio: Probability = 0.5
    cas_ratio: Probability = 0.0
    value_size: Size = 64
    timeout: PositiveDuration = "200ms"
    retries: NonNegInt = 10

    @model_validator(mode="after")
    def _consistent(self) -> KVWorkload:
        _check_pacing(self)
        if self.read_ratio + self.cas_ratio > 1:
            raise _Problem(("cas_ratio",), "expected read_ratio + cas_ratio <= 1",
                           f"{self.read_ratio:g} + {self.cas_ratio:g}")
        return self


class _TxnWorkload(_Model):
    """What every transaction workload shares: clients, pacing, placement, timeouts, retries."""

    kind: ClassVar[str] = "transactions"

    clients: PosInt = Field(16, description="Transaction clients.")
    mode: Literal["closed", "open"] = Field(
        "closed", description="closed: each client runs one transaction at a time; open: Poisson "
                              "arrivals at `rate`, latency counted from the intended start.")
    rate: Rate | None = Field(None, description="Open loop: the total arrival rate of all clients.")
    think_time: Duration = Field(0.0, description="Closed loop: pause between transactions.")
    distribution: Annotated[KeyDistribution, BeforeValidator(
        lambda v: {"type": v} if isinstance(v, str) else v)] = Field(
        KeyDistribution(), description="Which keys transactions touch (YCSB distributions).")
    multi_partition: Probability = Field(
        0.0, description="Fraction of transactions spanning several partitions (key k lives on "
                         "partition k % cluster.partitions); the rest stay on one.")
    partitions_per_txn: Annotated[int, Strict(), Field(ge=2)] = Field(
        2, description="Partitions a multi-partition transaction touches (at most cluster.partitions).")
    timeout: PositiveDuration = Field(
        "100ms", description="How long a client waits for an answer: while executing, the attempt "
                             "is then aborted (reason timeout) and retried; while committing, the "
                             "client asks the coordinator for the outcome instead.")
    retries: Annotated[int, Strict(), Field(ge=0, le=4000)] = Field(
        100, description="Retries of an aborted transaction before it is given up (ops_failed).")
    backoff_base: Duration = Field(
        "1ms", description="Back-off after an abort: min(base * 2^n, cap), n = the transaction's "
                           "earlier aborts (base after the first abort, 2 * base after the second) ...")
    backoff_cap: Duration = Field("50ms", description="... capped at this (>= backoff_base) ...")
    backoff_jitter: Probability = Field(
        0.5, description="... plus a uniform random extra of up to this fraction of it.")

    @model_validator(mode="after")
    def _paced(self) -> _TxnWorkload:
        _check_pacing(self)
        if self.backoff_cap < self.backoff_base:
            raise _Problem(("backoff_cap",), "expected a duration >= backoff_base "
                           f"({format_duration(self.backoff_base)})", format_duration(self.backoff_cap))
        return self


class YCSBWorkload(_TxnWorkload):
    """YCSB-style multi-key read/read-modify-write transactions on a partitioned store."""

    type: Literal["ycsb"] = "ycsb"
    keys: PosInt = Field(10_000, description="Keyspace size.")
    ops: PosInt = Field(8, description="Operations per transaction, on distinct keys.")
    read_ratio: Probability = Field(
        0.5, description="Per operation: probability of a read (else a read-modify-write).")
    read_only_ratio: Probability = Field(
        0.0, description="Per transaction: fraction of transactions made only of reads.")
    value_size: Size = Field(64, description="Bytes per value, for message sizes.")

    @model_validator(mode="after")
    def _fits(self) -> YCSBWorkload:
        if self.ops > self.keys:
            raise _Problem(("ops",), f"expected at most keys ({self.keys}) operations", show(self.ops))
        return self


class BankWorkload(_TxnWorkload):
    """SmallBank-like transfers between accounts; the total balance is an invariant."""

    type: Literal["bank"] = "bank"
    accounts: Annotated[int, Strict(), Field(ge=2)] = Field(1000, description="Number of accounts.")
    initial_balance: NonNegInt = Field(100, description="Every account's opening balance.")
    amount_max: PosInt = Field(10, description="Transfers move 1..amount_max.")
    balance_ratio: Probability = Field(
        0.15, description="Fraction of read-only balance checks (read two accounts).")
    amalgamate_ratio: Probability = Field(
        0.1, description="Fraction of amalgamations (move all of one account into another); the "
                         "rest are transfers.")

    @model_validator(mode="after")
    def _mix(self) -> BankWorkload:
        if self.balance_ratio + self.amalgamate_ratio > 1:
            raise _Problem(("amalgamate_ratio",), "expected balance_ratio + amalgamate_ratio <= 1",
                           f"{self.balance_ratio:g} + {self.amalgamate_ratio:g}")
        return self


WORKLOADS = (KVWorkload, YCSBWorkload, BankWorkload)
"""Workload models, discriminated on ``type``; each says which suite ``kind`` it drives."""

Workload = Annotated[Union[WORKLOADS], Field(discriminator="type"), BeforeValidator(
    lambda v: {"type": "kv", **v} if isinstance(v, dict) and "type" not in v else v)]


# -- faults: each kind's rate section and schedule actions are declared in harness.faults ------

ACTIONS = _faults.ACTIONS


class _Step(_Model):
    """One step of a fault timeline; ``for`` undoes it automatically after that long."""

    at: Duration
    action: Literal[ACTIONS]
    target: Target = "any"
    for_: PositiveDuration | None = Field(None, alias="for")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``{at: 8s, crash: leader}`` means ``{at: 8s, action: crash, target: leader}``."""
        if isinstance(data, dict) and "action" not in data:
            named = [key for key in data if key in ACTIONS]
            if len(named) == 1:
                rest = {k: v for k, v in data.items() if k != named[0]}
                target = data[named[0]]
                return {**rest, "action": named[0], **({"target": target} if target is not None else {})}
        return data

    @model_validator(mode="after")
    def _meaningful(self) -> _Step:
        action = _faults.ACTION[self.action]
        if self.for_ is not None and action.heals:
            raise _Problem(("for",), f"expected no 'for' with action {self.action} (nothing to undo)",
                           format_duration(self.for_))
        if self.for_ is None and action.needs_for:
            raise _Problem(("for",), f"expected 'for' with action {self.action} (how long it lasts)")
        for key in _faults.STEP:
            if key in self.model_fields_set and key not in action.params:
                takers = [name for name, a in _faults.ACTION.items() if key in a.params]
                raise _Problem((key,), f"expected {key} only with action {' or '.join(takers)}",
                               show(getattr(self, key)))
        return self


ScheduledFault = create_model("ScheduledFault", __base__=_Step, **_faults.STEP)  # type: ignore[call-overload]

Faults = create_model(  # type: ignore[call-overload]
    "Faults", __base__=_Model, __doc__="The nemesis: fault rates (renewal processes) and an explicit schedule.",
    **{kind.name: (kind.rate | None, None) for kind in _faults.KINDS},
    schedule=(tuple[ScheduledFault, ...], ()))  # type: ignore[valid-type]


def _rate_targets(faults: Any) -> list[tuple[str, Any]]:
    """(section name, target) of the suite's fault rate sections that take a target."""
    return [(kind.name, section.target) for kind in _faults.KINDS
            if (section := getattr(faults, kind.name)) is not None and "target" in kind.rate.model_fields]


# -- measurement ---------------------------------------------------------------------------------

class Metrics(_Model):
    bucket: PositiveDuration = "100ms"
    unavailable_gap: PositiveDuration = "50ms"


class Checkers(_Model):
    linearizability: StrictBool = True
    budget: PosInt = DEFAULT_BUDGET


class Report(_Model):
    # A value of the suite's ``compare`` key (a protocol, a label, ``true``, ``64`` ...).
    reference: StrictStr | StrictBool | Annotated[int, Strict()] | Annotated[float, Strict()] | None = None


class Gate(_Model):
    """How ``distbench compare`` judges this suite (see :mod:`harness.compare.policy`).
    ``thresholds`` maps a runs.csv metric to its practical threshold (``5%``, ``0.05`` or
    ``{relative: 5%, absolute: N}``), or to null to stop judging it. ``decide`` lists the judged
    metrics a passing gate must show not worse (the others are watched: only a significant
    regression fails on them); null keeps the default."""

    thresholds: dict[StrictStr, Any] = {}
    ignore: tuple[StrictStr, ...] = ()
    alpha: Annotated[float, Strict(), Field(gt=0.0, lt=0.5)] = 0.05
    require_identical: StrictBool = False
    decide: tuple[StrictStr, ...] | None = None

    @field_validator("decide")
    @classmethod
    def _decide(cls, decide: tuple[str, ...] | None) -> tuple[str, ...] | None:
        from harness.report.metrics import METRICS_BY_KEY

        for i, metric in enumerate(decide or ()):
            if metric not in METRICS_BY_KEY:
                raise _Problem((i,), "unknown metric", hint=did_you_mean(metric, list(METRICS_BY_KEY)))
        return decide

    @model_validator(mode="after")
    def _decided_are_judged(self) -> "Gate":
        from harness.compare.policy import DEFAULT_THRESHOLDS

        judged = {m for m, t in {**DEFAULT_THRESHOLDS, **self.thresholds}.items() if t is not None}
        for i, metric in enumerate(self.decide or ()):
            if metric not in judged:
                raise _Problem(("decide", i), "a metric the gate judges (give it a threshold in "
                               "gate.thresholds)", metric)
        return self

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, thresholds: dict[str, Any]) -> dict[str, Any]:
        from harness.compare.policy import parse_threshold
        from harness.report.metrics import METRICS_BY_KEY

        for metric, value in thresholds.items():
            if metric not in METRICS_BY_KEY:
                raise _Problem((metric,), "unknown metric", hint=did_you_mean(metric, list(METRICS_BY_KEY)))
            if value is not None:
                try:
                    parse_threshold(value)
                except ValueError as exc:
                    raise _Problem((metric,), str(exc).rpartition(", got ")[0] or str(exc), show(value)) from None
        return thresholds


# -- a run ---------------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _lookup(name: str) -> _protocol.ProtocolSpec | None:
    """The registered protocol called ``name`` (or aliased so)."""
    specs = _protocol.registry()
    if name in specs:
        return specs[name]
    return next((spec for spec in specs.values() if name in spec.aliases), None)


class RunConfig(_Model):
    """The configuration of a run: the suite without its matrix, at one matrix point. ``seed``
    is the run's own seed (the suite's base seed in ``Suite.base``)."""

    name: StrictStr
    kind: Literal["consensus", "transactions"] = "consensus"
    description: StrictStr = ""
    protocol: StrictStr = "raft"
    mode: Literal["simulated", "live"] = "simulated"
    live: LiveOptions = LiveOptions()
    duration: PositiveDuration = "10s"
    warmup: Duration = "1s"
    seeds: PosInt = 1
    seed: NonNegInt = 1
    cluster: Cluster = Cluster()
    network: Network = Network()
    replication: Replication = Replication()
    protocols: dict[str, Any] = {}
    workload: Workload = KVWorkload()
    faults: Faults = Faults()
    metrics: Metrics = Metrics()
    checkers: Checkers = Checkers()
    report: Report = Report()
    gate: Gate = Gate()

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        """A transactions suite defaults to protocol 2pl and workload type ycsb."""
        if isinstance(data, dict) and data.get("kind") == "transactions":
            data = {"protocol": "2pl", **data}
            if data.get("workload") is None:
                data["workload"] = {"type": "ycsb"}
            elif isinstance(data["workload"], dict) and "type" not in data["workload"]:
                data["workload"] = {"type": "ycsb", **data["workload"]}
        return data

    @field_validator("name")
    @classmethod
    def _filesystem_safe(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(f"expected a name of letters, digits, '-', '_' and '.', got {show(name)}")
        if not name.strip("."):  # it names a directory under results/: never . or ..
            raise ValueError(f"expected a name that is not only dots (it names a directory under "
                             f"results/), got {show(name)}")
        return name

    @field_validator("protocol")
    @classmethod
    def _registered(cls, name: str, info: ValidationInfo) -> str:
        """Canonical name of a registered protocol of the suite's kind."""
        kind = info.data.get("kind")  # absent when kind itself is invalid (reported first)
        if name == EXTERNAL:  # a user's binary (live mode; checked with the rest in _consistent)
            return name
        spec = _lookup(name)
        names = sorted(n for n, s in _protocol.registry().items() if kind in (None, s.kind))
        expected = (f"expected a registered {kind + ' ' if kind else ''}protocol "
                    f"({', '.join(names) or 'none yet'})")
        if spec is None and name in _protocol.broken():
            raise _Problem((), "a protocol whose package loads", f"{show(name)}, which failed: "
                           f"{_protocol.broken()[name]}")
        if spec is None:
            raise _Problem((), expected, show(name), did_you_mean(name, names, list_all=False))
        if kind is not None and spec.kind != kind:
            raise _Problem((), expected, f"{show(name)} (a {spec.kind} protocol)")
        return spec.name

    @field_validator("protocols")
    @classmethod
    def _options(cls, sections: dict[str, Any]) -> dict[str, Any]:
        """Each ``protocols.<name>`` section validated by that protocol's own options model."""
        options = {}
        for name, section in sections.items():
            section = {} if section is None else section  # `raft:` with nothing under it
            spec = _lookup(name)
            if spec is None:
                known = sorted(_protocol.registry())
                raise _Problem((name,), "unknown protocol", hint=did_you_mean(name, known))
            try:
                options[spec.name] = spec.options.model_validate(section)
            except ValidationError as exc:
                problem = _problem(exc.errors()[0], spec.options, section)
                raise _Problem((name, *problem.at), problem.expected, problem.got, problem.hint) from None
        return options

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.warmup >= self.duration:
            raise _Problem(("warmup",), f"expected a duration < duration ({format_duration(self.duration)})",
                           format_duration(self.warmup))
        workload = type(self.workload)
        if workload.kind != self.kind:
            names = ", ".join(w.model_fields["type"].default for w in WORKLOADS if w.kind == self.kind)
            raise _Problem(("workload", "type"), f"expected a {self.kind} workload ({names or 'none yet'})",
                           f"{show(self.workload.type)} (a {workload.kind} workload)")
        if self.kind == "transactions":
            self._transactions_fit()
        self._live_fits()
        nodes = self.cluster.partitions if self.kind == "transactions" else self.cluster.nodes
        for i, target in [(i, s.target) for i, s in enumerate(self.faults.schedule)] + _rate_targets(self.faults):
            if isinstance(target, str) and target != "any" and target not in ROLES[self.kind]:
                at = ("faults", "schedule", i, "target") if isinstance(i, int) else ("faults", i, "target")
                raise _Problem(at, f"expected 'any', {', '.join(map(repr, ROLES[self.kind]))} or node ids "
                               f"in a {self.kind} suite", show(target))
        for i, link in enumerate(self.network.links):
            self._check_ids(link.src, ("network", "links", i, "from"), nodes)
            self._check_ids(link.dst, ("network", "links", i, "to"), nodes)
        for i, step in enumerate(self.faults.schedule):
            self._check_ids(step.target, ("faults", "schedule", i, "target"), nodes,
                            "cluster.partitions" if self.kind == "transactions" else "cluster.nodes")
            if step.at >= self.duration:
                raise _Problem(("faults", "schedule", i, "at"), "expected a time before the end of the run "
                               f"(duration {format_duration(self.duration)})", format_duration(step.at))
        return self

    def _transactions_fit(self) -> None:
        """A transactions suite whose workload cannot be generated on its partitions, or whose
        faults would never fire, is a mistake: say so now rather than hang, fail or quietly
        measure nothing at run time."""
        P, w, faults = self.cluster.partitions, self.workload, self.faults
        if "nodes" in self.cluster.model_fields_set:
            raise _Problem(("cluster", "nodes"), "expected cluster.partitions in a transactions suite "
                           "(one node per partition; cluster.nodes sizes a consensus cluster)",
                           show(self.cluster.nodes))
        single = P == 1 or w.multi_partition < 1  # some transactions stay on one partition
        if P > 1 and w.multi_partition > 0 and w.partitions_per_txn > P:
            raise _Problem(("workload", "partitions_per_txn"), f"expected at most cluster.partitions ({P})",
                           show(w.partitions_per_txn))
        if w.type == "ycsb":
            if w.keys < P:
                raise _Problem(("workload", "keys"), f"expected at least cluster.partitions ({P}) keys",
                               show(w.keys))
            per = w.keys // P
            if single and w.ops > per:
                raise _Problem(("workload", "ops"), f"expected at most {per} operations per transaction "
                               f"(keys // cluster.partitions = {w.keys} // {P} on each partition: a "
                               "single-partition transaction puts them all on one)", show(w.ops))
            if not single and w.ops > w.partitions_per_txn * per:
                raise _Problem(("workload", "ops"), f"expected at most {w.partitions_per_txn * per} "
                               "operations per transaction (partitions_per_txn * (keys // "
                               f"cluster.partitions) = {w.partitions_per_txn} * {per}, round-robin over "
                               "its partitions)", show(w.ops))
        else:
            if w.accounts < P:
                raise _Problem(("workload", "accounts"), f"expected at least cluster.partitions ({P}) "
                               "accounts", show(w.accounts))
            if single and w.accounts < 2 * P:
                raise _Problem(("workload", "accounts"), f"expected at least 2 * cluster.partitions "
                               f"({2 * P}) accounts (a single-partition transfer needs two accounts on "
                               "one partition)", show(w.accounts))
        if faults.partition is not None and faults.partition.kind == "isolate-leader":
            raise _Problem(("faults", "partition", "kind"), "expected 'random' or 'majority-minority' "
                           "in a transactions suite (partitions have no leader)", show(faults.partition.kind))
        if P > 1:
            return
        roles = [(("faults", "schedule", i, "target"), step.target) for i, step in enumerate(faults.schedule)]
        roles += [(("faults", name, "target"), target) for name, target in _rate_targets(faults)]
        for at, target in roles:
            if target in ROLES["transactions"]:
                raise _Problem(at, "expected 'any' or node ids with cluster.partitions: 1 (a single "
                               "partition never runs a two-phase commit with another: there is no "
                               "coordinator or participant to target)", show(target))
        if faults.partition is not None:
            raise _Problem(("faults", "partition"), "expected no network partitions with "
                           "cluster.partitions: 1 (they cut links between partitions, and there is only one)")
        for i, step in enumerate(faults.schedule):
            if step.action in ("isolate", "partition"):
                raise _Problem(("faults", "schedule", i, "action"), f"expected no {step.action} with "
                               "cluster.partitions: 1 (it cuts links between partitions, and there is "
                               "only one)")

    def _live_fits(self) -> None:
        """Live mode runs consensus nodes as processes; ``protocol: external`` is a user's
        binary, run only live and only with ``live.command``."""
        if self.protocol == EXTERNAL and self.mode != "live":
            raise _Problem(("protocol",), "expected a registered protocol (external runs a program "
                           "of yours: add mode: live)", show(EXTERNAL))
        if self.mode == "live" and self.kind != "consensus":
            raise _Problem(("mode",), "expected 'simulated' in a transactions suite (live mode runs "
                           "consensus nodes)", show(self.mode))
        if self.mode == "live" and (self.faults.slow is not None
                                    or any(s.action == "slow" for s in self.faults.schedule)):
            raise _Problem(("faults",), "expected no slow faults in live mode (a real CPU cannot be slowed; "
                           "pause is SIGSTOP)")
        if (self.protocol == EXTERNAL) != (self.live.command is not None):
            raise _Problem(("live", "command"), "expected the node program and its arguments as a list, "
                           "for protocol: external" if self.protocol == EXTERNAL else
                           "expected no command unless protocol: external")

    @staticmethod
    def _check_ids(selector: Any, at: tuple[str | int, ...], nodes: int,
                   label: str = "cluster.nodes") -> None:
        if isinstance(selector, tuple) and max(selector) >= nodes:
            raise _Problem(at, f"expected node ids < {nodes} ({label})",
                           show(selector[0] if len(selector) == 1 else list(selector)))

    def options_for(self, name: str) -> _protocol.Options:
        """The validated options of protocol ``name``: the suite's ``protocols.<name>`` or defaults."""
        if name == EXTERNAL:
            return _protocol.Options()
        spec = _lookup(name)
        if spec is None:
            raise KeyError(f"unknown protocol {name!r}")
        return self.protocols[spec.name] if spec.name in self.protocols else spec.options()

    def replication_options(self) -> _protocol.ReplicationOptions:
        """The replication knobs as the exact type protocols are constructed with."""
        return _protocol.ReplicationOptions(**self.replication.model_dump())

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as JSON-ready data (numbers, never unit strings) for manifests.
        The run's own protocol options are included even when the suite left them at defaults."""
        data = self.model_dump(mode="json", by_alias=True)
        data["protocols"][self.protocol] = self.options_for(self.protocol).model_dump(mode="json")
        if self.mode == "simulated":  # a simulated run's record (and run key) as before live mode
            del data["mode"], data["live"]
        return data


# -- translating pydantic's errors ---------------------------------------------------------------

_EXPECTED = {
    "int_type": "expected an integer", "int_parsing": "expected an integer",
    "int_from_float": "expected an integer", "float_type": "expected a number",
    "float_parsing": "expected a number", "bool_type": "expected true or false",
    "bool_parsing": "expected true or false", "string_type": "expected a string",
    "dict_type": "expected a mapping", "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping", "list_type": "expected a list",
    "tuple_type": "expected a list",
}
_ABSENT = object()
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _problem(error: dict[str, Any], model: type[BaseModel], data: Any) -> _Problem:
    """One pydantic error (from validating ``data`` as ``model``) as a :class:`_Problem` whose
    ``at`` is the key path as the user wrote it."""
    loc, kind, ctx = error["loc"], error["type"], error.get("ctx") or {}
    path = _user_path(model, data, loc)
    cause = ctx.get("error")
    if isinstance(cause, _Problem):
        return _Problem(path + cause.at, cause.expected, cause.got, cause.hint)
    if kind == "extra_forbidden":
        return _Problem(path, "unknown key", hint=did_you_mean(str(loc[-1]), _keys_at(model, loc)))
    if kind == "missing":
        return _Problem(path, "required key missing")
    if kind == "union_tag_invalid":
        return _Problem(path + (ctx["discriminator"].strip("'"),), f"expected {ctx['expected_tags']}",
                        show(ctx["tag"]))
    if cause is not None:  # our own validators say "expected ..., got ..."
        expected, sep, got = str(cause).rpartition(", got ")
        return _Problem(path, expected, got) if sep else _Problem(path, str(cause))
    if kind in _BOUNDS:
        (limit,) = ctx.values()
        noun = "an integer" if isinstance(limit, int) else "a number"
        expected = f"expected {noun} {_BOUNDS[kind]} {limit:g}"
    else:
        expected = _EXPECTED.get(kind) or "expected " + error["msg"].removeprefix("Input should be ")
    return _Problem(path, expected, show(error["input"]))


def _user_path(model: type[BaseModel], data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The part of pydantic's ``loc`` the user can see in the suite: union tags are dropped, and
    so are keys below a scalar that a validator expanded (``latency: 1ms`` -> constant.value)."""
    path: list[str | int] = []
    tp, node = model, data
    for part in loc:
        tp, is_tag = _step(tp, part)
        if is_tag:
            continue
        if isinstance(node, dict):
            node = node.get(part, _ABSENT)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif node is not _ABSENT:  # below a scalar: report at the scalar
            break
        path.append(part)
    return tuple(path)


def _keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys valid where the unknown key ``loc[-1]`` was found."""
    tp: Any = model
    for part in loc[:-1]:
        tp, _ = _step(tp, part)
    tp = _unwrap(tp)
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return []
    return [f.alias or n for n, f in tp.model_fields.items()]


def _step(tp: Any, part: str | int) -> tuple[Any, bool]:
    """Follow one ``loc`` part through the types: (the type found there, whether the part was a
    union tag, which pydantic puts in ``loc`` but the user never writes as a key)."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = next((f for n, f in tp.model_fields.items() if part in (n, f.alias)), None)
        if field is not None:
            return field.annotation, False
        return (tp, True) if _tagged(tp, part) else (None, False)  # one-member tagged union
    if get_origin(tp) in (Union, UnionType):
        member = next((m for m in map(_unwrap, get_args(tp)) if _tagged(m, part)), None)
        return member, member is not None
    if get_origin(tp) in (list, tuple, dict):
        return get_args(tp)[-1 if get_origin(tp) is dict else 0], False
    return None, False


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``None`` alternatives off a type."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, UnionType) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            tp = rest[0] if len(rest) == 1 else Union[tuple(rest)]
        else:
            return tp


def _tagged(member: Any, tag: Any) -> bool:
    """Whether ``member`` is the model of a tagged union that the discriminator value ``tag`` selects."""
    return isinstance(member, type) and issubclass(member, BaseModel) and any(
        get_origin(f.annotation) is Literal and tag in get_args(f.annotation)
        for f in member.model_fields.values())


# -- suites --------------------------------------------------------------------------------------

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
_KEY = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
_FIXED = {"name", "kind", "description", "seeds", "seed", "report", "gate", "matrix", "compare",
          "contenders"}
CONTENDER = "contender"


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
        key, value = _parse_override(item)
        try:
            if key.startswith("matrix."):
                if data.get("matrix") is None:
                    data["matrix"] = {}
                matrix = data["matrix"]
                if not isinstance(matrix, dict):
                    raise ValueError(f"cannot set a sweep: matrix is {show(matrix)}")
                matrix[key.removeprefix("matrix.")] = value
            else:
                _assign(data, key, value)
                origins[key] = f"--set {item}"
        except ValueError as exc:
            raise ConfigError(f"--set {item}", "", str(exc)) from None
    if seeds is not None:
        data["seeds"] = seeds
        origins["seeds"] = f"--seeds {seeds}"
    compare, contenders = data.pop("compare", None), data.pop("contenders", None)
    contenders = _contenders(contenders, source)
    matrix, labels = _matrix(data.pop("matrix", None), source, contenders)
    for key in list(matrix):
        if any(_overlap(key, overridden) for overridden in origins):
            del matrix[key]
            labels.pop(key, None)
    _check_bundle_keys(contenders, matrix, source)
    compare = _compare(compare, matrix, contenders, source)

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
            _check_bundle_options(point[CONTENDER], contenders[point[CONTENDER]], config, source)  # type: ignore[index]
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
        sample = [points[0][1]] + [expand(_point_at(matrix, i), first=False)[1] for i in picks]
        raise TooManyRuns(source, runs, total, points[0][1].seeds, max_runs, sample)
    rest = itertools.islice(itertools.product(*matrix.values()), 1, None)
    points += [expand(entries, first=False) for entries in rest]
    _check_shadowed(data, {k: [labels[k][v[0]] if k in labels else v[0]] for k, v in matrix.items()
                           if k != CONTENDER}, source)
    _check_options_used(points, source)
    base = points[0][1]
    ignored = unknown_keys(base.gate.ignore, (config.to_dict() for _, config in points))
    if ignored:
        raise ConfigError(source, "gate.ignore",
                          f"{ignored[0]!r} is not a config key of this suite{ignored[1]}")
    labels = {k: labels[k] for k in matrix if k in labels}
    if CONTENDER in matrix:
        labels[CONTENDER] = {label: contenders[label] for label in matrix[CONTENDER]}  # type: ignore[index]
    return Suite(name=base.name, kind=base.kind, source=source, raw=raw, overrides=tuple(overrides),
                 matrix=matrix, reference=_reference(base, points, matrix, compare, source), base=base,
                 points=tuple(points), compare=compare, contenders=contenders, labels=labels)


def _point_at(matrix: dict[str, list[Any]], index: int) -> tuple[Any, ...]:
    """The entries of matrix point ``index`` in ``itertools.product`` order (first key slowest),
    without enumerating the points before it."""
    entries = []
    for values in reversed(list(matrix.values())):
        index, at = divmod(index, len(values))
        entries.append(values[at])
    return tuple(reversed(entries))


def _contenders(contenders: Any, source: str) -> dict[str, dict[str, Any]] | None:
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
            if not isinstance(key, str) or not _KEY.fullmatch(key):
                raise ConfigError(source, f"contenders.{name}", f"expected dotted keys such as "
                                  f"protocols.raft.prevote, got {show(key)}")
            if key.split(".")[0] in _FIXED:
                raise ConfigError(source, f"contenders.{name}.{key}", "cannot differ between contenders: "
                                  "it is fixed for the whole suite")
            other = next((k for k in keys[:i] if _overlap(k, key)), None)
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


def _check_bundle_keys(contenders: dict[str, dict[str, Any]] | None, matrix: dict[str, list[Any]],
                       source: str) -> None:
    """A setting a bundle fixes cannot also be swept: which of the two would a run use?"""
    for name, bundle in (contenders or {}).items():
        for key in bundle:
            swept = next((k for k in matrix if k != CONTENDER and _overlap(k, key)), None)
            if swept is not None:
                raise ConfigError(source, f"contenders.{name}.{key}", f"is also swept by matrix.{swept}; "
                                  "set it in every contender or sweep it, not both")


def _check_bundle_options(label: str, bundle: dict[str, Any], config: RunConfig, source: str) -> None:
    """A contender that sets another protocol's options would run without them."""
    for key in bundle:
        parts = key.split(".")
        if parts[0] == "protocols" and len(parts) > 1:
            spec = _lookup(parts[1])
            if spec is not None and spec.name != config.protocol:
                raise ConfigError(source, f"contenders.{label}.{key}", f"sets an option of {spec.name}, but "
                                  f"this contender runs {config.protocol}: it would do nothing")


def _compare(compare: Any, matrix: dict[str, list[Any]], contenders: Any, source: str) -> str:
    """The key whose values are the contenders: ``compare``, else contender / protocol."""
    if compare is None:
        return CONTENDER if contenders else "protocol"
    if not isinstance(compare, str) or compare not in matrix:
        swept = ", ".join(matrix) or "nothing"
        raise ConfigError(source, "compare", f"expected a key the matrix sweeps ({swept}), got {show(compare)}")
    return compare


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
                _assign(doc, other, copy.deepcopy(value))
        try:
            RunConfig.model_validate(doc)
        except ValidationError as exc:
            problem = _problem(exc.errors()[0], RunConfig, doc)
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


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not _KEY.fullmatch(key):
        raise ConfigError(f"--set {item}", "", "expected key.path=value")
    try:
        return key, yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"--set {item}", "", "the value is not valid YAML") from None


def _assign(data: dict[str, Any], key: str, value: Any) -> None:
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


def _overlap(a: str, b: str) -> bool:
    """Whether dotted keys ``a`` and ``b`` are the same or one contains the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _matrix(matrix: Any, source: str, contenders: dict[str, dict[str, Any]] | None = None
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
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ConfigError(source, "matrix", f"expected dotted keys such as cluster.nodes, got {show(key)}")
        where = f"matrix.{key}"
        if key == CONTENDER:
            out[key] = _contender_sweep(values, contenders, source)
            continue
        if key.split(".")[0] in _FIXED:
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
        other = next((k for k in list(matrix)[:i] if _overlap(k, key)), None)
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


def _validate_point(data: dict[str, Any], point: dict[str, Any], source: str,
                    origins: dict[str, str], first: bool, where: dict[str, str] | None = None) -> RunConfig:
    """Validate the suite at one matrix point; errors name the matrix key (or the contender's
    setting, ``where``) when one is involved."""
    where = where or {}
    doc = copy.deepcopy(data)
    for key, value in point.items():
        try:
            _assign(doc, key, copy.deepcopy(value))
        except ValueError as exc:
            raise ConfigError(source, where.get(key, f"matrix.{key}"), f"{show(value)}: {exc}") from None
    try:
        return RunConfig.model_validate(doc)
    except ValidationError as exc:
        problem = _problem(exc.errors()[0], RunConfig, doc)
    raise ConfigError(source, *_locate(problem, point, data, origins, first, where))


def _locate(problem: _Problem, point: dict[str, Any], data: dict[str, Any],
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
    origin = next((o for k, o in origins.items() if at and _overlap(".".join(at), k)), None)
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
        problem = _problem(exc.errors()[0], RunConfig, data)
        return problem.at, problem.text()
    return None


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


def _reference(base: RunConfig, points: list[tuple[dict[str, Any], RunConfig]],
               matrix: dict[str, list[Any]], compare: str, source: str) -> str:
    """The contender deltas are computed against: ``report.reference`` (a value of the compare
    key: a protocol name or alias, a label, a value as written), else the first one run."""
    wanted = base.report.reference
    if compare == "protocol":
        protocols = list(dict.fromkeys(config.protocol for _, config in points))
        if wanted is None:
            return protocols[0]
        spec = _lookup(wanted) if isinstance(wanted, str) else None
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
