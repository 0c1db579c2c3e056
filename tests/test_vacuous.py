"""A run whose checks had nothing to judge says so: its ``safety`` is ``ok (vacuous: ...)``, never
a plain ``ok`` that a test asserting ``safety == "ok"`` would count as a pass."""

from __future__ import annotations

from harness.checkers.verdicts import failed, qualify, vacuous, verdict_class
from harness.execution import runner

CONSENSUS = """
name: vacuous
protocol: raft
duration: 1s
warmup: 0.2s
cluster: {nodes: 3}
workload: {type: kv, clients: 4, keys: 5, read_ratio: 0.5, timeout: 50ms}
"""

TRANSACTIONS = """
name: vacuous-txn
kind: transactions
protocol: 2pl-nowait
duration: 0.6s
warmup: 0.1s
cluster: {partitions: 3}
workload: {type: ycsb, clients: 4, keys: 200, ops: 4, multi_partition: 0.5}
"""

# two of three replicas down for the whole run: no majority, no leader, nothing committed
NO_MAJORITY = "faults.schedule=[{at: 0s, action: crash, target: [1, 2], for: 5s}]"


def safety(make_suite, text: str, *overrides: str) -> str:
    suite = make_suite(text, *overrides)
    (spec,) = suite.runs()
    return runner.run(spec, suite.name).row["safety"]


def test_qualify_marks_only_an_ok_with_something_unexercised():
    assert qualify("ok", []) == "ok"
    assert qualify("ok", ["0 operations committed", "no leader ever reported"]) == \
        "ok (vacuous: 0 operations committed; no leader ever reported)"
    assert qualify("violation: two leaders in term 3", ["no read completed"]) == \
        "violation: two leaders in term 3"
    cell = qualify("ok", ["no read completed"])
    assert vacuous(cell) and not vacuous("ok") and not failed(cell) and verdict_class(cell) is None


def test_a_run_that_committed_nothing_is_vacuous(make_suite):
    for protocol in ("raft", "multipaxos"):
        got = safety(make_suite, CONSENSUS, f"protocol={protocol}", NO_MAJORITY)
        assert got == "ok (vacuous: 0 operations committed; no leader ever reported)", (protocol, got)


def test_a_run_with_reads_and_a_leader_is_plain_ok(make_suite):
    assert safety(make_suite, CONSENSUS) == "ok"


def test_a_run_without_reads_leaves_linearizability_unexercised(make_suite):
    assert safety(make_suite, CONSENSUS, "workload.read_ratio=0.0") == "ok (vacuous: no read completed)"


def test_transactions_without_multi_partition_commits_are_vacuous(make_suite):
    assert safety(make_suite, TRANSACTIONS) == "ok"
    assert safety(make_suite, TRANSACTIONS, "workload.multi_partition=0.0") == \
        "ok (vacuous: no multi-partition transaction committed)"
    # one partition: no transaction can span partitions, so atomicity has nothing to miss
    assert safety(make_suite, TRANSACTIONS, "cluster.partitions=1", "workload.multi_partition=0.0") == "ok"


def test_the_report_says_a_run_was_vacuous(tmp_path):
    import pandas as pd

    from harness.report.document import build_document
    from harness.report.load import load_results
    from harness.report.markdown import _safety
    from report_fixtures import make_results

    results = make_results(tmp_path / "results", seeds=(1,))
    runs = pd.read_csv(results / "runs.csv")
    runs.loc[0, "safety"] = "ok (vacuous: 0 operations committed)"
    runs.to_csv(results / "runs.csv", index=False)
    doc = build_document(load_results(results), [])
    text = _safety(doc)
    assert f"Vacuous for 1 of {len(runs)} runs" in text and "all " not in text.split("\n")[0]
    header, counts = doc.safety_counts()
    assert "vacuous" in header and sum(int(r[header.index("vacuous")]) for r in counts) == 1


def test_run_warns_of_vacuous_runs_and_still_exits_0(suite_file, tmp_path):
    from click.testing import CliRunner

    from harness.cli import main

    path = suite_file(CONSENSUS + "faults:\n  schedule: [{at: 0s, action: crash, target: [1, 2], for: 5s}]\n")
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "o"), "--no-report",
                                       "-q", "-j", "1"])
    assert result.exit_code == 0, result.output
    assert ("distbench: warning: 1 run(s) passed with a check that had nothing to judge, e.g. "
            "r0000-s1 (raft): ok (vacuous: 0 operations committed; no leader ever reported)") in result.output
