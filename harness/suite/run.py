"""The configuration of one run (:class:`RunConfig`): every section, the measurement, report and
gate settings, and the checks that span sections (kind, protocol, targets, node ids)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (Field, Strict, StrictBool, StrictStr, ValidationError, ValidationInfo,
                      field_validator, model_validator)

from harness import protocol as _protocol
from harness.catalog.metrics import METRICS, METRICS_BY_KEY
from harness.checkers.linearizability import DEFAULT_BUDGET
from harness.suite.cluster import Cluster, Network, Replication
from harness.suite.errors import Problem, did_you_mean, problem_from
from harness.suite.faults import Faults, rate_targets, written_step
from harness.kinds import KINDS
from harness.live.options import EXTERNAL, LiveOptions
from harness.suite.fields import NonNegInt, PosInt, Section
from harness.suite.workloads import WORKLOADS, KVWorkload, Workload
from harness.units import Duration, PositiveDuration, format_duration, show

ROLES = {name: kind.roles for name, kind in KINDS.items()}  # the fault targets each kind's world provides


class Metrics(Section):
    bucket: PositiveDuration = "100ms"
    unavailable_gap: PositiveDuration = "50ms"


class Checkers(Section):
    linearizability: StrictBool = True
    budget: PosInt = DEFAULT_BUDGET


class Report(Section):
    # A value of the suite's ``compare`` key (a protocol, a label, ``true``, ``64`` ...).
    reference: StrictStr | StrictBool | Annotated[int, Strict()] | Annotated[float, Strict()] | None = None


class Gate(Section):
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
        for i, metric in enumerate(decide or ()):
            if metric not in METRICS_BY_KEY:
                raise Problem((i,), "unknown metric", hint=did_you_mean(metric, list(METRICS_BY_KEY)))
        return decide

    @model_validator(mode="after")
    def _decided_are_judged(self) -> "Gate":
        defaults = {m.key: m.threshold for m in METRICS}
        judged = {m for m, t in {**defaults, **self.thresholds}.items() if t is not None}
        for i, metric in enumerate(self.decide or ()):
            if metric not in judged:
                raise Problem(("decide", i), "a metric the gate judges (give it a threshold in "
                              "gate.thresholds)", metric)
        return self

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, thresholds: dict[str, Any]) -> dict[str, Any]:
        from harness.compare.policy import parse_threshold

        for metric, value in thresholds.items():
            if metric not in METRICS_BY_KEY:
                raise Problem((metric,), "unknown metric", hint=did_you_mean(metric, list(METRICS_BY_KEY)))
            if value is not None:
                try:
                    parse_threshold(value)
                except ValueError as exc:
                    raise Problem((metric,), str(exc).rpartition(", got ")[0] or str(exc), show(value)) from None
        return thresholds


# -- a run ---------------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9._-]+")


def lookup_protocol(name: str) -> _protocol.ProtocolSpec | None:
    """The registered protocol called ``name`` (or aliased so)."""
    specs = _protocol.registry()
    if name in specs:
        return specs[name]
    return next((spec for spec in specs.values() if name in spec.aliases), None)


class RunConfig(Section):
    """The configuration of a run: the suite without its matrix, at one matrix point. ``seed``
    is the run's own seed (the suite's base seed in ``Suite.base``)."""

    name: StrictStr
    kind: Literal[tuple(KINDS)] = "consensus"  # type: ignore[valid-type]
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
        spec = lookup_protocol(name)
        names = sorted(n for n, s in _protocol.registry().items() if kind in (None, s.kind))
        expected = (f"expected a registered {kind + ' ' if kind else ''}protocol "
                    f"({', '.join(names) or 'none yet'})")
        if spec is None and name in _protocol.broken():
            raise Problem((), "a protocol whose package loads", f"{show(name)}, which failed: "
                          f"{_protocol.broken()[name]}")
        if spec is None:
            raise Problem((), expected, show(name), did_you_mean(name, names, list_all=False))
        if kind is not None and spec.kind != kind:
            raise Problem((), expected, f"{show(name)} (a {spec.kind} protocol)")
        return spec.name

    @field_validator("protocols")
    @classmethod
    def _options(cls, sections: dict[str, Any]) -> dict[str, Any]:
        """Each ``protocols.<name>`` section validated by that protocol's own options model."""
        options = {}
        for name, section in sections.items():
            section = {} if section is None else section  # `raft:` with nothing under it
            spec = lookup_protocol(name)
            if spec is None:
                known = sorted(_protocol.registry())
                raise Problem((name,), "unknown protocol", hint=did_you_mean(name, known))
            try:
                options[spec.name] = spec.options.model_validate(section)
            except ValidationError as exc:
                problem = problem_from(exc.errors()[0], spec.options, section)
                raise Problem((name, *problem.at), problem.expected, problem.got, problem.hint) from None
        return options

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.warmup >= self.duration:
            raise Problem(("warmup",), f"expected a duration < duration ({format_duration(self.duration)})",
                          format_duration(self.warmup))
        workload = type(self.workload)
        if workload.kind != self.kind:
            names = ", ".join(w.model_fields["type"].default for w in WORKLOADS if w.kind == self.kind)
            raise Problem(("workload", "type"), f"expected a {self.kind} workload ({names or 'none yet'})",
                          f"{show(self.workload.type)} (a {workload.kind} workload)")
        if self.kind == "transactions":
            self._transactions_fit()
        self._live_fits()
        for name, options in self.protocols.items():
            check = getattr(options, "replication_problem", None)  # options that rest on it
            problem = check(self.replication.election_timeout) if check else None
            if problem:
                key, expected, got = problem
                raise Problem(("protocols", name, key), f"{expected} "
                              f"({format_duration(self.replication.election_timeout)})",
                              format_duration(got))
        spec = lookup_protocol(self.protocol)  # options that rest on the run (given or default)
        options = self.protocols.get(self.protocol) or (spec.options() if spec else None)
        run_problem = getattr(options, "run_problem", None)
        problem = run_problem(self) if run_problem else None
        if problem:
            raise Problem(*problem)
        nodes = (self.cluster.partitions * self.group_size() if self.kind == "transactions"
                 else self.cluster.nodes)
        for i, target in [(i, s.target) for i, s in enumerate(self.faults.schedule)]  + rate_targets(self.faults):
            if isinstance(target, str) and target != "any" and target not in ROLES[self.kind]:
                at = ("faults", "schedule", i, "target") if isinstance(i, int) else ("faults", i, "target")
                raise Problem(at, f"expected 'any', {', '.join(map(repr, ROLES[self.kind]))} or node ids "
                              f"in a {self.kind} suite", show(target))
        self._leaderless_fits()
        for i, link in enumerate(self.network.links):
            self._check_ids(link.src, ("network", "links", i, "from"), nodes)
            self._check_ids(link.dst, ("network", "links", i, "to"), nodes)
        for i, step in enumerate(self.faults.schedule):
            self._check_ids(step.target, ("faults", "schedule", i, "target"), nodes,
                            "cluster.partitions" if self.kind == "transactions" else "cluster.nodes")
            if step.at >= self.duration:
                raise Problem(("faults", "schedule", i, "at"), "expected a time before the end of the run "
                              f"(duration {format_duration(self.duration)})", format_duration(step.at))
        return self

    def _leaderless_fits(self) -> None:
        """A fault aimed at the leader or a follower of a protocol that has no leader would
        never fire: refuse it rather than measure a run without the fault asked for."""
        spec = lookup_protocol(self.protocol)
        if self.kind != "consensus" or spec is None or not spec.leaderless:
            return
        faults = self.faults
        roles = [(("faults", "schedule", i, "target"), step.target) for i, step in enumerate(faults.schedule)]
        roles += [(("faults", name, "target"), target) for name, target in rate_targets(faults)]
        for at, target in roles:
            if target in ("leader", "follower"):
                raise Problem(at, f"expected 'any' or node ids ({spec.name} is leaderless: no node "
                              f"leads, so no fault can aim at a {target})", show(target))
        if faults.partition is not None and faults.partition.kind == "isolate-leader":
            raise Problem(("faults", "partition", "kind"), f"expected 'random' or 'majority-minority' "
                          f"({spec.name} is leaderless: there is no leader to isolate)",
                          show(faults.partition.kind))

    def _transactions_fit(self) -> None:
        """A transactions suite whose workload cannot be generated on its partitions, or whose
        faults would never fire, is a mistake: say so now rather than hang, fail or quietly
        measure nothing at run time."""
        P, w, faults = self.cluster.partitions, self.workload, self.faults
        R = self.group_size()
        if "nodes" in self.cluster.model_fields_set and R > 1:
            if self.cluster.nodes != P * R:
                raise Problem(("cluster", "nodes"), f"expected cluster.partitions x replicas = "
                              f"{P} x {R} = {P * R} nodes (each partition a group of {R})",
                              show(self.cluster.nodes))
        elif "nodes" in self.cluster.model_fields_set:
            raise Problem(("cluster", "nodes"), "expected cluster.partitions in a transactions suite "
                          "(one node per partition; cluster.nodes sizes a consensus cluster)",
                           show(self.cluster.nodes))
        single = P == 1 or w.multi_partition < 1  # some transactions stay on one partition
        spec = lookup_protocol(self.protocol)
        if spec is not None and spec.workloads and w.type not in spec.workloads:
            raise Problem(("workload", "type"), f"expected a workload {spec.name} can undo "
                          f"({', '.join(spec.workloads)}: each operation moves an amount, undone by "
                          "moving it back)", f"{show(w.type)}, whose writes overwrite values and "
                          "have no compensation")
        if P > 1 and w.multi_partition > 0 and w.partitions_per_txn > P:
            raise Problem(("workload", "partitions_per_txn"), f"expected at most cluster.partitions ({P})",
                          show(w.partitions_per_txn))
        if w.type == "ycsb":
            if w.keys < P:
                raise Problem(("workload", "keys"), f"expected at least cluster.partitions ({P}) keys",
                              show(w.keys))
            per = w.keys // P
            if single and w.ops > per:
                raise Problem(("workload", "ops"), f"expected at most {per} operations per transaction "
                              f"(keys // cluster.partitions = {w.keys} // {P} on each partition: a "
                               "single-partition transaction puts them all on one)", show(w.ops))
            if not single and w.ops > w.partitions_per_txn * per:
                raise Problem(("workload", "ops"), f"expected at most {w.partitions_per_txn * per} "
                              "operations per transaction (partitions_per_txn * (keys // "
                               f"cluster.partitions) = {w.partitions_per_txn} * {per}, round-robin over "
                               "its partitions)", show(w.ops))
        else:
            if w.accounts < P:
                raise Problem(("workload", "accounts"), f"expected at least cluster.partitions ({P}) "
                              "accounts", show(w.accounts))
            if single and w.accounts < 2 * P:
                raise Problem(("workload", "accounts"), f"expected at least 2 * cluster.partitions "
                              f"({2 * P}) accounts (a single-partition transfer needs two accounts on "
                               "one partition)", show(w.accounts))
            need = 3 if single else 2
            if w.writecheck_ratio and w.accounts < need * P:
                raise Problem(("workload", "accounts"), f"expected at least {need} * "
                              f"cluster.partitions ({need * P}) accounts (a WriteCheck puts its "
                              f"drawer and payee{', and the second account,' if single else ''} "
                              "on one partition)", show(w.accounts))
        if faults.partition is not None and faults.partition.kind == "isolate-leader":
            raise Problem(("faults", "partition", "kind"), "expected 'random' or 'majority-minority' "
                          "in a transactions suite (partitions have no leader)", show(faults.partition.kind))
        if P > 1:
            return
        roles = [(("faults", "schedule", i, "target"), step.target) for i, step in enumerate(faults.schedule)]
        roles += [(("faults", name, "target"), target) for name, target in rate_targets(faults)]
        for at, target in roles:
            if target in ROLES["transactions"]:
                raise Problem(at, "expected 'any' or node ids with cluster.partitions: 1 (a single "
                              "partition never runs a two-phase commit with another: there is no "
                               "coordinator or participant to target)", show(target))
        if faults.partition is not None:
            raise Problem(("faults", "partition"), "expected no network partitions with "
                          "cluster.partitions: 1 (they cut links between partitions, and there is only one)")
        for i, step in enumerate(faults.schedule):
            if step.action in ("isolate", "partition"):
                raise Problem(("faults", "schedule", i, "action"), f"expected no {step.action} with "
                              "cluster.partitions: 1 (it cuts links between partitions, and there is "
                               "only one)")

    def _live_fits(self) -> None:
        """Live mode runs consensus nodes as processes; ``protocol: external`` is a user's
        binary, run only live and only with ``live.command``."""
        if self.protocol == EXTERNAL and self.mode != "live":
            raise Problem(("protocol",), "expected a registered protocol (external runs a program "
                          "of yours: add mode: live)", show(EXTERNAL))
        if self.mode == "live" and self.kind != "consensus":
            raise Problem(("mode",), "expected 'simulated' in a transactions suite (live mode runs "
                          "consensus nodes)", show(self.mode))
        if self.mode == "live" and (self.faults.slow is not None
                                    or any(s.action == "slow" for s in self.faults.schedule)):
            raise Problem(("faults",), "expected no slow faults in live mode (a real CPU cannot be slowed; "
                          "pause is SIGSTOP)")
        if self.protocol == EXTERNAL and self.live.predict:
            raise Problem(("live", "predict"), "expected false with protocol: external (the simulator "
                          "predicts distbench's own protocols only)", "true")
        if (self.protocol == EXTERNAL) != (self.live.command is not None):
            raise Problem(("live", "command"), "expected the node program and its arguments as a list, "
                          "for protocol: external" if self.protocol == EXTERNAL else
                          "expected no command unless protocol: external")

    @staticmethod
    def _check_ids(selector: Any, at: tuple[str | int, ...], nodes: int,
                   label: str = "cluster.nodes") -> None:
        if isinstance(selector, tuple) and max(selector) >= nodes:
            raise Problem(at, f"expected node ids < {nodes} ({label})",
                          show(selector[0] if len(selector) == 1 else list(selector)))

    def options_for(self, name: str) -> _protocol.Options:
        """The validated options of protocol ``name``: the suite's ``protocols.<name>`` or defaults."""
        if name == EXTERNAL:
            return _protocol.Options()
        spec = lookup_protocol(name)
        if spec is None:
            raise KeyError(f"unknown protocol {name!r}")
        return self.protocols[spec.name] if spec.name in self.protocols else spec.options()

    def group_size(self) -> int:
        """Nodes per partition of a transactions suite: its group's replicas when the protocol
        replicates partitions (``protocols.2pc.replication``), else 1."""
        size = getattr(self.options_for(self.protocol), "group_size", None)
        return size() if size is not None else 1

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


def resolved_input(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved config (:meth:`RunConfig.to_dict`, as a manifest records each run's) as input
    the schema takes again: it lists every key, and the schema refuses two that a suite sets for
    nothing -- a schedule step's key its action does not take, ``cluster.nodes`` of a
    transactions run."""
    section = config.get("faults") or {}
    config = {**config, "faults": {**section, "schedule": [written_step(step) for step in
                                                            section.get("schedule") or ()]}}
    if config.get("kind") == "transactions":
        config["cluster"] = {k: v for k, v in (config.get("cluster") or {}).items() if k != "nodes"}
    return config
