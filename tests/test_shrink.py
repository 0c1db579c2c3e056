"""``distbench shrink``: a failing run of a deliberately broken protocol, under fault rates, is
reduced to a few faults, a shorter run and fewer clients, and the suite it writes fails the same
check when run again; the pieces (delta debugging, verdict classes, faults replayed as a
schedule) and the refusals."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import test_checkers_catch_bugs  # noqa: F401 - registers bug-raft-amnesia
import test_txn_harness  # noqa: F401 - registers bug-2pl-forgets-lost-ops
from harness.checkers.verdicts import verdict_class
from harness.cli import main
from harness.execution.executor import run_suite
from harness.protocol import register
from harness.shrink import schedule
from harness.shrink.ddmin import ddmin
from harness.suite.loading import RunSpec, load_suite
from harness.suite.run import RunConfig, resolved_input
from harness.execution import runner
from implementations.raft import RaftNode, RaftOptions

AMNESIA = """
name: amnesia
protocol: bug-raft-amnesia
duration: 2s
warmup: 0.2s
cluster: {nodes: 3}
workload: {type: kv, clients: 4, keys: 5, read_ratio: 0.5, timeout: 50ms, retries: 50}
faults:
  crash: {mtbf: 1s, mttr: 200ms}
  partition: {mtbf: 1s, duration: 200ms}
  slow: {mtbf: 1s, duration: 200ms}
"""

LOST_OPS = """
name: lost
kind: transactions
protocol: bug-2pl-forgets-lost-ops
duration: 1s
warmup: 50ms
cluster: {partitions: 3}
network: {transport: datagram}  # the bug forgets operations the network lost: datagrams lose them
workload: {type: ycsb, clients: 16, keys: 200, ops: 4, multi_partition: 0.5}
faults:
  crash: {mtbf: 1s, mttr: 50ms}
"""


def recorded(tmp_path: Path, text: str, seeds: int, name: str = "results") -> tuple[Path, list[dict]]:
    """A results directory of the suite ``text`` run with ``seeds`` seeds, and its rows."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    out = tmp_path / name
    return out, run_suite(load_suite(path, seeds=seeds), out, jobs=1, progress=False)


def first_failing(rows: list[dict]) -> dict:
    failing = [row for row in rows if verdict_class(row["safety"]) is not None]
    assert failing, "no seed failed: the broken protocol needs another suite"
    return failing[0]


def shrink(*args: str):
    return CliRunner().invoke(main, ["shrink", *map(str, args), "-q"])


def run_again(suite_yaml: Path) -> str:
    (spec,) = load_suite(suite_yaml).runs()
    return runner.run(spec, "again").row["safety"]


@pytest.fixture(scope="module")
def amnesia(tmp_path_factory):
    """A rate-driven run of bug-raft-amnesia that fails, and its shrinking."""
    top = tmp_path_factory.mktemp("amnesia")
    results, rows = recorded(top, AMNESIA, seeds=8)
    row = first_failing(rows)
    out = top / "shrunk"
    return results, row, out, shrink(results, row["run_id"], "--out", out)


def test_a_consensus_failure_under_fault_rates_shrinks_to_a_few_faults(amnesia):
    results, row, out, result = amnesia
    assert result.exit_code == 0, result.output
    account = (out / "account.txt").read_text()
    assert account.splitlines()[1] in result.output
    suite = yaml.safe_load((out / "suite.yaml").read_text())
    assert not {"crash", "partition", "slow"} & set(suite["faults"]), "the rates became a schedule"
    kept = suite["faults"]["schedule"]
    injected = len(faults(_events(results, row["run_id"])))
    assert 1 <= len(kept) <= 5 and len(kept) < injected
    assert f"fails with {len(kept)} of {injected} faults: " in account
    shrunk = load_suite(out / "suite.yaml").base
    assert shrunk.duration < 2.0 and shrunk.workload.clients <= 4
    # the written suite fails the same check, run here and as the shrink ran it
    wanted = verdict_class(row["safety"])
    assert verdict_class(run_again(out / "suite.yaml")) == wanted
    assert f"fails {wanted} again" in account
    assert "violation" in (out / "results" / "runs.csv").read_text()
    # every candidate is logged; the history of the smallest run is kept
    assert (out / "candidates.csv").read_text().count("\n") > len(kept)
    assert (out / "history.csv").read_text().startswith("index,")


FAULTS = ("crash", "partition", "isolate", "slow", "pause")


def faults(events: list[dict]) -> list[tuple]:
    """(time, kind, node) of the fault events among ``events``."""
    return [(e["time_s"], e["kind"], e["node"]) for e in events if e["kind"] in FAULTS]


def _events(results: Path, run_id: str) -> list[dict]:
    with (results / "events.csv").open(newline="") as f:
        return [e for e in csv.DictReader(f) if e["run_id"] == run_id]


def test_a_transactions_failure_shrinks_and_the_suite_fails_the_same_check(tmp_path):
    results, rows = recorded(tmp_path, LOST_OPS, seeds=4)
    row = first_failing(rows)
    assert verdict_class(row["safety"]) == "atomicity"
    out = tmp_path / "shrunk"
    result = shrink(results, row["run_id"], "--out", out)
    assert result.exit_code == 0, result.output
    assert verdict_class(run_again(out / "suite.yaml")) == "atomicity"
    suite = yaml.safe_load((out / "suite.yaml").read_text())
    assert suite["kind"] == "transactions" and "crash" not in suite["faults"]
    kept, injected = len(suite["faults"]["schedule"]), len(faults(_events(results, row["run_id"])))
    assert 1 <= kept <= injected and f"fails with {kept} of {injected} faults: crash n" in result.output
    assert not (out / "history.csv").exists()  # transactions runs record no operation history


@pytest.mark.parametrize("text", [AMNESIA.replace("bug-raft-amnesia", "raft"),
                                  LOST_OPS.replace("bug-2pl-forgets-lost-ops", "2pl-waitdie")])
def test_the_faults_a_run_injected_replay_as_a_schedule_to_the_same_run(suite_file, text):
    """Rates drawn and schedule steps alike become explicit steps; the run is the same run."""
    text += "  schedule: [{at: 0.5s, action: crash, target: any}, {at: 0.7s, action: restart, target: any}]\n"
    for spec in load_suite(suite_file(textwrap.dedent(text)), seeds=2).runs():
        drawn = runner.run(spec, "x")
        assert len(faults(drawn.events)) > 1
        data = resolved_input(spec.config.to_dict())
        steps = schedule.injected(drawn.events, data["faults"]["schedule"])
        assert any(step["action"] == "restart" for step in steps)
        data["faults"] = {"schedule": steps}
        replayed = runner.run(RunSpec(0, spec.run_id, spec.seed, spec.params, RunConfig.model_validate(data)), "x")
        same = ("safety", "ops_committed", "throughput_ops_s", "latency_p99_ms", "messages_per_op")
        assert {k: drawn.row[k] for k in same} == {k: replayed.row[k] for k in same}
        assert faults(drawn.events) == faults(replayed.events)


def test_ddmin_keeps_only_the_needed_elements():
    calls = []

    def fails(chosen):
        calls.append(chosen)
        return {3, 7} <= set(chosen)

    assert ddmin(list(range(10)), fails) == [3, 7]
    assert len(calls) == len({tuple(c) for c in calls})  # no subset tested twice
    assert ddmin(list(range(10)), lambda chosen: True) == []   # fails with none of them
    assert ddmin(list(range(6)), lambda chosen: 5 in chosen) == [5]
    assert ddmin([], lambda chosen: True) == []


def test_verdict_classes():
    assert verdict_class("ok") is None and verdict_class("unknown") is None
    assert verdict_class("violation: two leaders in term 3: node 0 (t=1s) and node 1 (t=2s)") == "election safety"
    assert verdict_class("violation: index 2: node 0 applied uid 1 (t=0.2s) but node 1 applied uid 2") == \
        "log agreement"
    assert verdict_class("violation: key 3: get returned 4 at t=1.000000s but no linearization allows "
                         "it (...)") == "linearizability"
    assert verdict_class("violation: acknowledged write uid 7 (ack #0) is not in the applied log (...)") == \
        "durability"
    assert verdict_class("violation: bank invariant: total balance 99 at the end, expected 100") == \
        "bank invariant"
    assert verdict_class("violation: not serializable: cycle c1.2#1 -ww(k=3)-> c2.1#1") == "serializability"
    assert verdict_class("violation: something no checker here writes") == "violation"
    assert verdict_class("error: KeyError: 3") == "exception KeyError"


def test_refusals_are_one_line(amnesia, tmp_path):
    results, row, out, _ = amnesia
    with (results / "runs.csv").open(newline="") as f:
        passed = next(r["run_id"] for r in csv.DictReader(f) if r["safety"] == "ok")
    cases = {
        "did not fail (safety ok)": (results, passed, "--out", tmp_path / "a"),
        "no run 'r9999-s1'": (results, "r9999-s1", "--out", tmp_path / "b"),
        "no such results directory": (tmp_path / "nowhere", "r0000-s1", "--out", tmp_path / "c"),
        "exists; name a new directory": (results, row["run_id"], "--out", out),
    }
    for expected, args in cases.items():
        result = shrink(*args)
        assert result.exit_code == 2, (expected, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.output, lines
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_run_of_other_code_is_refused_unless_allowed(amnesia, tmp_path):
    results, row, _, _ = amnesia
    forged = tmp_path / "forged"
    forged.mkdir()
    for f in results.iterdir():
        (forged / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((forged / "manifest.json").read_text())
    manifest["code_digest"] = "0" * 64
    (forged / "manifest.json").write_text(json.dumps(manifest))
    result = shrink(forged, row["run_id"], "--out", tmp_path / "x")
    assert result.exit_code == 2 and "other code" in result.output and "--allow-other-code" in result.output
    assert not (tmp_path / "x").exists()
    # allowed, with a time limit already past: the confirmed run is the smallest found
    result = shrink(forged, row["run_id"], "--out", tmp_path / "y", "--allow-other-code", "--time-limit", "1ns")
    assert result.exit_code == 0, result.output
    assert "stopped by the time limit" in result.output
    assert verdict_class(run_again(tmp_path / "y" / "suite.yaml")) == verdict_class(row["safety"])


def test_faults_that_do_not_fail_as_a_schedule_are_kept_as_the_run_had_them(amnesia, tmp_path, monkeypatch):
    """Should the faults read back not fail the same check as a schedule, they are not shrunk:
    the rates stay, and the account says why."""
    results, row, _, _ = amnesia
    monkeypatch.setattr(schedule, "injected", lambda events, steps: [])
    out = tmp_path / "kept"
    result = shrink(results, row["run_id"], "--out", out)
    assert result.exit_code == 0, result.output
    assert "did not fail" in result.output and "kept as the run had them" in result.output
    assert {"crash", "partition", "slow"} <= set(yaml.safe_load((out / "suite.yaml").read_text())["faults"])
    assert verdict_class(run_again(out / "suite.yaml")) == verdict_class(row["safety"])


@register("bug-raft-raises-on-restart", kind="consensus", options=RaftOptions)
class RaisesOnRestart(RaftNode):
    """Raises when it boots with something on its disk: a run with a crash ends in an error."""

    def start(self, ctx, stable):
        if stable:
            raise RuntimeError("cannot read my own log")
        super().start(ctx, stable)


def test_a_run_that_raised_shrinks_to_a_run_that_raises_the_same(tmp_path):
    results, rows = recorded(tmp_path, AMNESIA.replace("bug-raft-amnesia", "bug-raft-raises-on-restart"), seeds=1)
    assert rows[0]["safety"].startswith("error: RuntimeError")
    out = tmp_path / "shrunk"
    result = shrink(results, rows[0]["run_id"], "--out", out)
    assert result.exit_code == 0, result.output
    assert "fails exception RuntimeError again" in result.output
    assert "clients 1 (was 4)" in result.output


@pytest.mark.parametrize("settings", [
    {"protocol": "raft", "duration": "3s", "cluster": {"nodes": 5}, "protocols": {"raft": {"prevote": True}},
     "faults": {"crash": {"mtbf": "1s", "mttr": "200ms"},
                "schedule": [{"at": 1.2345678901234, "isolate": [3], "for": "300ms"},
                             {"at": "2s", "action": "slow", "target": [1], "factor": 3.5}]}},
    {"kind": "transactions", "protocol": "2pc", "cluster": {"partitions": 3},
     "workload": {"type": "bank", "accounts": 30, "multi_partition": 0.5},
     "faults": {"partition": {"mtbf": "1s", "duration": "100ms"}}},
])
def test_the_written_suite_is_the_run_and_only_what_differs_from_the_defaults(settings):
    from harness.shrink.output import suite_text

    data = resolved_input(RunConfig.model_validate({"name": "w", **settings}).to_dict())
    text = suite_text(data, "a header")
    written = yaml.safe_load(text)
    assert text.startswith("# a header\n")
    assert RunConfig.model_validate(written).to_dict() == RunConfig.model_validate(data).to_dict()
    assert "metrics" not in written and "replication" not in written and "gate" not in written
    assert written.get("duration") == settings.get("duration")  # with its unit, or left to the default
    if "schedule" in settings["faults"]:
        assert "{at: 1.2345678901234s, action: isolate, target: [3], for: 300ms}" in text
    rates = {k: v for k, v in written["faults"].items() if k != "schedule"}
    assert all(set(section) <= {"mtbf", "mttr", "duration"} for section in rates.values()), rates
