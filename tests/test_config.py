"""Suite loading: defaults, units, matrix expansion, overrides, and one-line error messages.

The protocol registry is replaced by small dummies, so these tests do not depend on the real
implementations (or on whether they import at all).
"""

import json
import pickle
import textwrap

import pytest

from harness import protocol
from harness.protocol import Node, Options, ProtocolSpec, ReplicationOptions
from harness.suite import loading
from harness.suite.cluster import NormalLatency
from harness.suite.errors import ConfigError
from harness.suite.loading import load_suite
from harness.units import Duration


class LeaderOptions(Options):
    prevote: bool = False
    lease: Duration = 0.01


SPECS = {
    "raft": ProtocolSpec("raft", "consensus", Node, LeaderOptions),
    "multipaxos": ProtocolSpec("multipaxos", "consensus", Node, aliases=("paxos",)),
    "2pc": ProtocolSpec("2pc", "transactions", Node),
}


@pytest.fixture(autouse=True)
def dummy_protocols(monkeypatch):
    monkeypatch.setattr(protocol, "registry", lambda: SPECS)


def error(path, overrides=(), seeds=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_suite(path, overrides, seeds)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message and "pydantic" not in message
    return message


# -- resolving ---------------------------------------------------------------------------------

def test_defaults_resolve(suite_file):
    path = suite_file("name: t\n")
    suite = load_suite(path)
    assert (suite.name, suite.kind, suite.source, suite.raw) == ("t", "consensus", str(path), {"name": "t"})
    assert suite.swept == [] and suite.reference == "raft"
    cfg = suite.base
    assert (cfg.protocol, cfg.duration, cfg.warmup, cfg.seeds, cfg.seed) == ("raft", 10.0, 1.0, 1, 1)
    assert cfg.cluster.nodes == 3 and cfg.cluster.cpu_per_message == 20e-6 and cfg.cluster.fsync == 200e-6
    assert cfg.network.latency == NormalLatency(mean=500e-6, std=100e-6)
    assert cfg.network.bandwidth is None and cfg.network.links == ()
    assert (cfg.replication.batch_size, cfg.replication.election_timeout, cfg.replication.heartbeat) == (64, 0.15, 0.05)
    w = cfg.workload
    assert (w.type, w.clients, w.mode, w.rate, w.distribution.type, w.timeout, w.retries) == (
        "kv", 16, "closed", None, "uniform", 0.2, 10)
    assert cfg.faults.crash is None and cfg.faults.schedule == ()
    assert (cfg.metrics.bucket, cfg.checkers.budget, cfg.report.reference) == (0.1, 50_000_000, None)
    [run] = suite.runs()
    assert (run.index, run.run_id, run.seed, run.params) == (0, "r0000-s1", 1, {"protocol": "raft"})


def test_resolved_config_hands_out_protocol_types(suite_file):
    cfg = load_suite(suite_file("name: t\nreplication: {heartbeat: 20ms}\n")).base
    replication = cfg.replication_options()
    assert type(replication) is ReplicationOptions and replication.heartbeat == 0.02
    assert isinstance(cfg.replication, ReplicationOptions)
    assert cfg.options_for("raft") == LeaderOptions() and cfg.options_for("paxos") == Options()
    with pytest.raises(KeyError):
        cfg.options_for("nope")


def test_units_convert_and_to_dict_is_plain_data(suite_file):
    suite = load_suite(suite_file("""
        name: units
        duration: 2m
        warmup: 500ms
        cluster: {cpu_per_message: 5us, cpu_per_byte: 1ns, fsync: 1ms}
        network:
          latency: 1ms
          bandwidth: 1Gbps
          loss: 1%
          links: [{from: 0, to: [1, 2], latency: {dist: uniform, low: 1ms, high: 3ms}}]
        replication: {batch_delay: 100us, election_timeout: 1s, heartbeat: 0.1}
        workload: {mode: open, rate: 2k/s, value_size: 4KiB, timeout: 1s, distribution: zipfian}
        faults:
          crash: {mtbf: 1m, mttr: 2s}
          schedule: [{at: 8s, crash: leader, for: 3s}, {at: 10s, action: slow, target: [0, 1], factor: 4}]
        metrics: {bucket: 250ms}
    """))
    cfg = suite.base
    assert (cfg.duration, cfg.warmup) == (120.0, 0.5)
    assert (cfg.cluster.cpu_per_message, cfg.cluster.cpu_per_byte, cfg.cluster.fsync) == (5e-6, 1e-9, 1e-3)
    assert (cfg.network.latency.dist, cfg.network.latency.value) == ("constant", 1e-3)
    assert (cfg.network.bandwidth, cfg.network.loss) == (125e6, 0.01)
    link = cfg.network.links[0]
    assert (link.src, link.dst, link.latency.high, link.loss) == ((0,), (1, 2), 3e-3, None)
    assert (cfg.replication.batch_delay, cfg.replication.heartbeat) == (100e-6, 0.1)
    assert (cfg.workload.rate, cfg.workload.value_size, cfg.workload.distribution.type) == (2000.0, 4096, "zipfian")
    crash_step, slow_step = cfg.faults.schedule
    assert (crash_step.at, crash_step.action, crash_step.target, crash_step.for_) == (8.0, "crash", "leader", 3.0)
    assert (slow_step.target, slow_step.factor) == ((0, 1), 4.0)
    assert (cfg.faults.crash.mtbf, cfg.faults.crash.dist) == (60.0, "exponential")
    data = cfg.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["network"]["links"][0]["from"] == [0] and data["faults"]["schedule"][0]["for"] == 3.0
    assert data["network"]["latency"] == {"dist": "constant", "value": 0.001}
    assert data["protocols"] == {"raft": {"prevote": False, "lease": 0.01}}


# -- the matrix --------------------------------------------------------------------------------

MATRIX = textwrap.dedent("""
    name: sweep
    seeds: 2
    seed: 7
    matrix:
      protocol: [raft, paxos]
      cluster.nodes: [3, 5]
      network.latency.mean: [1ms, 5ms]
""")


def test_matrix_expansion_order_ids_and_seeds(suite_file):
    suite = load_suite(suite_file(MATRIX))
    runs = suite.runs()
    assert suite.swept == ["protocol", "cluster.nodes", "network.latency.mean"]
    assert len(runs) == 2 * 2 * 2 * 2
    assert [r.index for r in runs] == list(range(16))
    assert [r.run_id for r in runs[:5]] == ["r0000-s7", "r0000-s8", "r0001-s7", "r0001-s8", "r0002-s7"]
    assert len({r.run_id for r in runs}) == 16
    assert [r.seed for r in runs[:4]] == [7, 8, 7, 8] and all(r.config.seed == r.seed for r in runs)
    # First key slowest; params keep the values as written; the protocol name is resolved.
    assert runs[0].params == {"protocol": "raft", "cluster.nodes": 3, "network.latency.mean": "1ms"}
    assert runs[3].params == {"protocol": "raft", "cluster.nodes": 3, "network.latency.mean": "5ms"}
    assert runs[15].params == {"protocol": "paxos", "cluster.nodes": 5, "network.latency.mean": "5ms"}
    last = runs[15].config
    assert (last.protocol, last.cluster.nodes, last.network.latency.mean) == ("multipaxos", 5, 5e-3)
    assert last.network.latency.std == 100e-6  # a partial latency keeps the default (normal) law
    assert suite.base == runs[0].config.model_copy(update={"seed": 7})
    assert suite.reference == "raft"
    assert suite.to_dict()["matrix"]["protocol"] == ["raft", "paxos"]


def test_report_reference_resolves_aliases(suite_file):
    assert load_suite(suite_file(MATRIX + "report: {reference: paxos}\n")).reference == "multipaxos"
    path = suite_file(MATRIX + "report: {reference: 2pc}\n")
    assert error(path) == f"{path}: report.reference: expected one of the suite's protocols (raft, multipaxos), got '2pc'"


def test_runs_survive_pickling_for_process_pools(suite_file):
    run = load_suite(suite_file(MATRIX)).runs()[5]
    assert pickle.loads(pickle.dumps(run)) == run


def test_overrides(suite_file):
    path = suite_file(MATRIX)
    suite = load_suite(path, ["cluster.nodes=7", "workload.clients=2", "matrix.network.loss=[0, 0.1]"], seeds=1)
    assert suite.swept == ["protocol", "network.latency.mean", "network.loss"]  # the override replaced a sweep
    runs = suite.runs()
    assert len(runs) == 2 * 2 * 2 and {r.seed for r in runs} == {7}
    assert {(r.config.cluster.nodes, r.config.workload.clients) for r in runs} == {(7, 2)}
    assert suite.overrides == ("cluster.nodes=7", "workload.clients=2", "matrix.network.loss=[0, 0.1]")
    assert load_suite(path, ["network.latency=2ms"]).swept == ["protocol", "cluster.nodes"]


@pytest.mark.parametrize("override", ["foo", "=3", "a..b=1", "cluster nodes=3"])
def test_malformed_override(suite_file, override):
    assert error(suite_file(MATRIX), [override]) == f"--set {override}: expected key.path=value"


def test_override_errors_name_the_option(suite_file):
    path = suite_file("name: t\n")
    assert error(path, ["cluster.nodes=0"]) == (
        f"{path}: cluster.nodes: expected an integer >= 1, got 0 (from --set cluster.nodes=0)")
    assert error(path, seeds=0) == f"{path}: seeds: expected an integer >= 1, got 0 (from --seeds 0)"
    assert error(path, ["network.latency=1ms", "network.latency.mean=2ms"]) == (
        "--set network.latency.mean=2ms: cannot set 'mean' inside network.latency, which is '1ms'")


def test_embedded_default(monkeypatch, tmp_path):
    (tmp_path / "defaults").mkdir()
    (tmp_path / "defaults" / "quickstart.yaml").write_text("name: quick\n")
    monkeypatch.setattr(loading.resources, "files", lambda package: tmp_path)
    suite = load_suite(None)
    assert (suite.name, suite.source) == ("quick", "<embedded default>")


# -- errors ------------------------------------------------------------------------------------

def test_unknown_key_suggests_the_closest(suite_file):
    path = suite_file("name: t\nworkload: {distrbution: uniform}\n")
    assert error(path) == f"{path}: workload.distrbution: unknown key; did you mean 'distribution'?"
    path = suite_file("name: t\nnetwork: {latency: {dist: uniform, low: 1ms, high: 2ms, mean: 3ms}}\n")
    assert error(path) == f"{path}: network.latency.mean: unknown key; expected one of: dist, low, high"


@pytest.mark.parametrize("yaml_text, message", [
    ("cluster: {nodes: three}", "cluster.nodes: expected an integer, got 'three'"),
    ("cluster: {nodes: true}", "cluster.nodes: expected an integer, got true"),
    ("cluster: {nodes: 100}", "cluster.nodes: expected an integer <= 99, got 100"),
    ("cluster: 3", "cluster: expected a mapping, got 3"),
    ("network: {loss: 1.5}", "network.loss: expected a probability >= 0 and <= 1, got 1.5"),
    ("workload: {mode: open, rate: -5/s}", "workload.rate: expected a rate > 0, got '-5/s'"),
    ("workload: {mode: open}",
     "workload.rate: required in open mode: the total rate of all clients, such as 2000/s"),
    ("workload: {rate: 100/s}", "workload.rate: expected no rate in closed mode (use mode: open), got 100/s"),
    ("workload: {read_ratio: 0.7, cas_ratio: 0.5}",
     "workload.cas_ratio: expected read_ratio + cas_ratio <= 1, got 0.7 + 0.5"),
    ("workload: {distribution: zipfan}",
     "workload.distribution: expected 'uniform', 'zipfian', 'hotspot' or 'latest', got 'zipfan'"),
    ("workload: {type: tpcc}", "workload.type: expected 'kv', 'ycsb', 'bank', got 'tpcc'"),
    ("workload: {type: ycsb}",
     "workload.type: expected a consensus workload (kv), got 'ycsb' (a transactions workload)"),
    ("replication: {heartbeat: 150ms}",
     "replication.heartbeat: expected a duration < election_timeout (150ms), got 150ms"),
    ("replication: {election_timeout: 40ms}",
     "replication.heartbeat: expected a duration < election_timeout (40ms), got 50ms"),
    ("replication: {election_timeout_max: 100ms}",
     "replication.election_timeout_max: expected a duration >= election_timeout (150ms), got 100ms"),
    ("replication: {reorder_wait: -1ms}", "replication.reorder_wait: expected a duration >= 0, got '-1ms'"),
    ("warmup: 10s", "warmup: expected a duration < duration (10s), got 10s"),
    ("duration: 10 parsecs", "duration: expected a duration such as 250ns, 500us, 1.5ms, 20s, 2m or 1h "
                             "(bare numbers are seconds), got '10 parsecs'"),
    ("network: {latency: {dist: gauss}}",
     "network.latency.dist: expected 'constant', 'uniform', 'normal', 'exponential', 'lognormal', 'pareto', got 'gauss'"),
    ("network: {latency: {dist: uniform, low: 2ms, high: 1ms}}",
     "network.latency.high: expected a duration >= low (2ms), got 1ms"),
    ("network: {latency: {dist: pareto, scale: 1ms}}", "network.latency.shape: required key missing"),
    ("name: a/b", "name: expected a name of letters, digits, '-', '_' and '.', got 'a/b'"),
    ("protocol: rfat",
     "protocol: expected a registered consensus protocol (multipaxos, raft), got 'rfat'; did you mean 'raft'?"),
    ("protocol: 2pc",
     "protocol: expected a registered consensus protocol (multipaxos, raft), got '2pc' (a transactions protocol)"),
    ("kind: transactions\nprotocol: raft",
     "protocol: expected a registered transactions protocol (2pc), got 'raft' (a consensus protocol)"),
    ("kind: transactions\nprotocol: 2pc\nworkload: {type: kv}",
     "workload.type: expected a transactions workload (ycsb, bank), got 'kv' (a consensus workload)"),
    ("kind: transactions\nprotocol: 2pc\nfaults: {schedule: [{at: 1s, action: crash, target: leader}]}",
     "faults.schedule.0.target: expected 'any', 'coordinator', 'participant' or node ids in a "
     "transactions suite, got 'leader'"),
    ("kind: transactions\nprotocol: 2pc\nfaults: {schedule: [{at: 1s, action: crash, target: 3}]}",
     "faults.schedule.0.target: expected node ids < 1 (cluster.partitions), got 3"),
    ("faults: {crash: {mtbf: 1s, mttr: 1s, target: coordinator}}",
     "faults.crash.target: expected 'any', 'leader', 'follower' or node ids in a consensus suite, "
     "got 'coordinator'"),
    ("faults: {schedule: [{at: 1s, action: crash, target: 3}]}",
     "faults.schedule.0.target: expected node ids < 3 (cluster.nodes), got 3"),
    ("faults: {schedule: [{at: 1s, action: crash, target: leeder}]}",
     "faults.schedule.0.target: expected 'any', 'leader', 'follower', 'coordinator', 'participant', "
     "a node id or a list of node ids, got 'leeder'"),
    ("faults: {schedule: [{at: 1s, action: heal, for: 2s}]}",
     "faults.schedule.0.for: expected no 'for' with action heal (nothing to undo), got 2s"),
    ("faults: {schedule: [{at: 11s, action: heal}]}",
     "faults.schedule.0.at: expected a time before the end of the run (duration 10s), got 11s"),
    ("faults: {crash: {mtbf: 10s}}", "faults.crash.mttr: required key missing"),
    ("network: {links: [{from: 0, to: [1, 7]}]}", "network.links.0.to: expected node ids < 3 (cluster.nodes), got [1, 7]"),
])
def test_invalid_values(suite_file, yaml_text, message):
    text = yaml_text if yaml_text.startswith("name:") else "name: t\n" + yaml_text
    path = suite_file(text + "\n")
    assert error(path) == f"{path}: {message}"


def test_yaml_errors_give_line_and_column(suite_file):
    path = suite_file("name: t\ncluster: {nodes: 3\n  partitions: 2\n")
    assert error(path).startswith(f"{path}: line 3, column 13: invalid YAML: ")
    path = suite_file("name: t\ncluster:\n  nodes: 3\n  nodes: 5\n")
    assert error(path) == f"{path}: line 4, column 3: invalid YAML: duplicate key 'nodes'"
    path = suite_file("- name: t\n")
    assert error(path) == f"{path}: expected a mapping of suite keys at the top level, got [{{name: t}}]"
    assert error(path.parent / "missing.yaml").startswith(f"{path.parent / 'missing.yaml'}: cannot read the suite: ")


@pytest.mark.parametrize("matrix, message", [
    ("cluster.nodes: [3, 0]", "matrix.cluster.nodes: 0: expected an integer >= 1"),
    ("cluster.node: [3]", "matrix.cluster.node: 3: unknown key; did you mean 'nodes'?"),
    ("clustr.nodes: [3]", "matrix.clustr.nodes: 3: clustr: unknown key; did you mean 'cluster'?"),
    ("protocol: [raft, rfat]",
     "matrix.protocol: 'rfat': expected a registered consensus protocol (multipaxos, raft); did you mean 'raft'?"),
    ("network.latency: [1ms, {dist: uniform, low: 2ms, high: 1ms}]",
     "matrix.network.latency: {dist: uniform, low: 2ms, high: 1ms}: high: expected a duration >= low (2ms), got 1ms"),
    ("protocols.raft.prevote: [false, 7]", "matrix.protocols.raft.prevote: 7: expected true or false"),
    ("cluster.nodes: 3", "matrix.cluster.nodes: expected a non-empty list of values or a mapping of labels to values, got 3"),
    ("cluster.nodes: []", "matrix.cluster.nodes: expected a non-empty list of values or a mapping of labels to values, got []"),
    ("seeds: [1, 2]", "matrix.seeds: cannot be swept: it is fixed for the whole suite (use seeds: N to run several seeds)"),
    ("network.latency: [1ms]\n  network.latency.mean: [2ms]",
     "matrix.network.latency.mean: overlaps matrix.network.latency; sweep one or the other"),
])
def test_errors_inside_the_matrix(suite_file, matrix, message):
    path = suite_file(f"name: t\nmatrix:\n  {matrix}\n")
    assert error(path) == f"{path}: {message}"


def test_matrix_dependent_errors_name_the_point(suite_file):
    path = suite_file("""
        name: t
        faults: {schedule: [{at: 1s, action: crash, target: 4}]}
        matrix: {cluster.nodes: [5, 3]}
    """)
    assert error(path) == (f"{path}: faults.schedule.0.target: expected node ids < 3 (cluster.nodes), "
                           "got 4 (at matrix point cluster.nodes=3)")
    path = suite_file("name: t\nworkload: {clients: 0}\nmatrix: {cluster.nodes: [3, 5]}\n")
    assert error(path) == f"{path}: workload.clients: expected an integer >= 1, got 0"


def test_protocol_options_are_validated_by_the_registered_model(suite_file):
    suite = load_suite(suite_file("name: t\nprotocols: {raft: {prevote: true, lease: 50ms}, paxos: }\n"))
    assert suite.base.options_for("raft") == LeaderOptions(prevote=True, lease=0.05)
    assert suite.base.options_for("multipaxos") == Options()
    for text, message in [
        ("raft: {prevte: true}", "protocols.raft.prevte: unknown key; did you mean 'prevote'?"),
        ("raft: {lease: soon}", "protocols.raft.lease: expected a duration such as 250ns, 500us, 1.5ms, "
                                "20s, 2m or 1h (bare numbers are seconds), got 'soon'"),
        ("raft: [1]", "protocols.raft: expected a mapping, got [1]"),
        ("multipaxos: {prevote: true}", "protocols.multipaxos.prevote: unknown key"),
        ("rafft: {prevote: true}", "protocols.rafft: unknown protocol; did you mean 'raft'?"),
    ]:
        path = suite_file(f"name: t\nprotocols: {{{text}}}\n")
        assert error(path) == f"{path}: {message}"
