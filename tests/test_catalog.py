"""The catalog: every metric declared once, and what a config key measures read from its type."""

from __future__ import annotations

import typing
from types import UnionType

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from harness import protocol, units
from harness.catalog.metrics import ID_COLUMNS, METRICS, METRICS_BY_KEY, NOT_COMPARED
from harness.catalog.params import quantity_of
from harness.cli import main
from harness.report import write_report
from harness.report.load import canonical_param
from harness.suite.run import RunConfig
from harness.execution import runner
from report_fixtures import make_results


def _keys(model: type[BaseModel], prefix: str = "") -> dict[str, units.Quantity]:
    """Every dotted key below ``model`` annotated with a type that has a unit (``Duration``,
    ``Rate | None`` ...), with that unit's quantity; list entries as their first position."""
    out: dict[str, units.Quantity] = {}
    for name, field in model.model_fields.items():
        out.update(_walk(field.annotation, prefix + (field.alias or name), tuple(field.metadata)))
    return out


def _walk(tp, key: str, metadata: tuple = ()) -> dict[str, units.Quantity]:
    marks = [m for m in metadata if isinstance(m, units.Quantity)]
    if marks:
        return {key: marks[0]}
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _walk(typing.get_args(tp)[0], key, typing.get_args(tp)[1:])
    if origin in (typing.Union, UnionType):
        return {k: q for member in typing.get_args(tp) for k, q in _walk(member, key).items()}
    if origin is tuple:
        return _walk(typing.get_args(tp)[0], f"{key}.0")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _keys(tp, key + ".")
    return {}


SCHEMA = {**_keys(RunConfig), **{key: q for name, spec in protocol.registry().items()
                                 for key, q in _keys(spec.options, f"protocols.{name}.").items()}}
DURATIONS = sorted(k for k, q in SCHEMA.items() if q is units.DURATION)
OTHERS = sorted(k for k, q in SCHEMA.items() if q is not units.DURATION)


def test_the_schema_walk_finds_the_durations_a_name_does_not_tell():
    assert {"replication.election_timeout_max", "replication.reorder_wait", "replication.retransmit",
            "protocols.raft.check_quorum_period", "protocols.2pc.retransmit", "cluster.fsync",
            "network.links.0.latency.mean", "faults.schedule.0.for", "metrics.bucket"} <= set(DURATIONS)
    assert {"workload.rate", "workload.value_size", "network.bandwidth"} <= set(OTHERS)


@pytest.mark.parametrize("key", DURATIONS)
def test_a_sweep_over_any_duration_key_prints_durations(key):
    param, mapping = canonical_param(key, ["0.3", "0.151"])
    assert quantity_of(key) is units.DURATION
    assert param.values == ["151ms", "300ms"] and param.quantity == "duration"
    assert param.numbers == {"151ms": 151.0, "300ms": 300.0} and mapping["0.151"] == "151ms"


RAW = {units.RATE: (["8000.0", "2000.0"], ["2k/s", "8k/s"]),
       units.SIZE: (["4096", "64"], ["64B", "4KiB"]),
       units.BANDWIDTH: (["1.25e+09", "125000000"], ["125MB/s", "1.25GB/s"])}


@pytest.mark.parametrize("key", OTHERS)
def test_a_sweep_over_a_rate_size_or_bandwidth_prints_its_unit(key):
    raw, shown = RAW[SCHEMA[key]]
    param, _ = canonical_param(key, raw)
    assert param.values == shown and param.quantity == SCHEMA[key].name


def test_counts_words_and_unknown_keys_have_no_quantity():
    for key in ("cluster.nodes", "workload.read_ratio", "network.latency", "network.latency.sigma",
                "workload.distribution.type", "protocols.raft.prevote", "protocols.nosuch.timeout",
                "workload.txn_timeout", "nosuch.duration"):
        assert quantity_of(key) is None, key


def test_a_report_of_a_sweep_over_reorder_wait_shows_durations(tmp_path):
    d = make_results(tmp_path / "r", seeds=[1], protocols=["raft", "multipaxos"], optional_files=False,
                     params={"replication.reorder_wait": [0.151, 0.3]})
    md = write_report(d, formats="md")["md"].read_text()
    assert "reorder wait = 151ms" in md and "| 300ms |" in md
    assert "= 0.151" not in md and "| 0.151 |" not in md


@pytest.mark.parametrize("kind,protocol_name", [("consensus", "raft"), ("transactions", "2pl")])
def test_every_metric_a_run_writes_is_declared(make_suite, kind, protocol_name):
    suite = make_suite(f"name: tiny\nkind: {kind}\nprotocol: {protocol_name}\nduration: 300ms\n"
                       "warmup: 100ms\nworkload: {clients: 2}\n")
    row = runner.run(suite.runs()[0], suite.name).row
    numeric = {k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    undeclared = numeric - set(METRICS_BY_KEY) - set(NOT_COMPARED) - set(ID_COLUMNS)
    assert numeric and not undeclared


def test_every_metric_has_a_meaning_and_distbench_list_shows_it():
    listing = CliRunner().invoke(main, ["list"]).output
    for m in METRICS:
        assert m.meaning and m.unit and m.key in listing and m.meaning in listing, m.key
    gate = [line for line in listing.splitlines() if line.split()[:1] == ["latency_p99_ms"]]
    assert len(gate) == 1 and "10% and > 0.05, decides" in gate[0]
