"""Transactions through the whole harness: regressions found in review (lost operations after
a crash, the metrics the README defines, quiescent checks) on small suites."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

from harness.execution import runner
from harness.protocol import register
from harness.suite.loading import load_suite
from harness.kinds.transactions.contract import CommitRequest, OpRequest
from implementations.twopl.node import TwoPL
from implementations.twopl.options import TwoPLOptions


def run_result(suite: dict) -> runner.RunResult:
    """Run a one-run suite given as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suite.yaml"
        path.write_text(yaml.safe_dump(suite))
        (spec,) = load_suite(path).runs()
    return runner.run(spec, suite["name"])


def run_suite(suite: dict) -> dict:
    """Run a one-run suite given as a dict and return its row."""
    return run_result(suite).row


def rapid_crashes(start_ms: int = 100, end_ms: int = 700, every_ms: int = 20) -> list[dict]:
    """Short crashes of some partition every ``every_ms``: active transactions lose their state
    on a partition while their clients go on."""
    return [{"at": f"{ms}ms", "action": "crash", "target": "any", "for": "400us"}
            for ms in range(start_ms, end_ms, every_ms)]


def lost_ops_suite(protocol: str, workload: dict) -> dict:
    return {"name": "lost-ops", "kind": "transactions", "protocol": protocol, "duration": "800ms",
            "warmup": "50ms", "cluster": {"partitions": 2},
            "workload": {"clients": 16, "multi_partition": 0.5, **workload},
            "faults": {"schedule": rapid_crashes()}}


@pytest.mark.parametrize("protocol", ["2pl-waitdie", "occ"])
def test_bank_invariant_holds_when_partitions_lose_active_transactions(protocol):
    """Regression (review finding 1): a partition that restarted started a transaction afresh
    at its next operation and committed only the operations after the crash -- the bank
    invariant broke (c17.31#1 changed the total balance by +1)."""
    row = run_suite(lost_ops_suite(protocol, {"type": "bank", "accounts": 200}))
    assert row["safety"] == "ok", row["safety"]
    assert row["aborts_failure"] > 0 and row["ops_committed"] > 0


@register("bug-2pl-forgets-lost-ops", kind="transactions", options=TwoPLOptions)
class ForgetsLostOps(TwoPL):
    """The pre-fix behaviour: a partition that no longer knows an attempt starts it afresh at
    its next operation, and commits whatever it ran since (it ignores the epochs the client
    names)."""

    def on_request(self, ctx, request):
        if type(request) is OpRequest:
            request.prior = request.epoch = 0
        elif type(request) is CommitRequest:
            request.epochs = ()
        super().on_request(ctx, request)


def test_checker_catches_a_partition_committing_what_a_crash_left_of_a_transaction():
    """Regression (review finding 1, the checker's blind spot): with YCSB there is no invariant
    to break, and the run said ok. The clients' view of what they read and wrote now shows it."""
    row = run_suite(lost_ops_suite("bug-2pl-forgets-lost-ops",
                                   {"type": "ycsb", "keys": 200, "ops": 4}))
    assert row["safety"].startswith("violation: atomicity: "), row["safety"]
    ok = run_suite(lost_ops_suite("2pl-waitdie", {"type": "ycsb", "keys": 200, "ops": 4}))
    assert ok["safety"] == "ok", ok["safety"]


# -- the metrics through the harness (review finding 3) ------------------------------------------

def two_phase(schedule: list[dict], protocol: str = "2pc") -> dict:
    return {"name": "blocked", "kind": "transactions", "protocol": protocol, "duration": "1.5s",
            "warmup": "200ms", "cluster": {"partitions": 3},
            "workload": {"type": "ycsb", "clients": 8, "keys": 3000, "ops": 4, "multi_partition": 1.0},
            "faults": {"schedule": schedule}}


@pytest.mark.parametrize("protocol", ["2pc", "occ"])
def test_a_coordinator_crash_shows_as_blocked_time_and_no_fault_as_none(protocol):
    """A coordinator crashed between prepare and decision for 300 ms leaves a participant
    blocked for about that long (from resolve_interval after it prepared until the restarted
    coordinator answers); without faults nothing is ever blocked."""
    calm = run_result(two_phase([], protocol))
    assert calm.row["safety"] == "ok" and calm.row["ops_committed"] > 500
    assert calm.row["blocked_ms"] == 0 and calm.row["blocked_ms_max"] == 0
    assert calm.row["in_doubt_ms"] > 0  # the normal commit window of every two-phase commit
    crash = run_result(two_phase([{"at": "700ms", "crash": "coordinator", "for": "300ms"}], protocol))
    row = crash.row
    assert row["safety"] == "ok", row["safety"]
    assert 250 <= row["blocked_ms_max"] <= 320, row["blocked_ms_max"]
    assert row["blocked_ms"] >= row["blocked_ms_max"]
    doubts = [e["detail"] for e in crash.events if e["kind"] == "in-doubt"]
    assert any("blocked for the last" in d for d in doubts), doubts
    # the crashed coordinator's own prepared part was in doubt (crashed), never blocked
    assert any(d.endswith("(not blocked)") for d in doubts), doubts


def test_a_participant_crash_is_not_a_coordinator_crash_in_disguise():
    """Every node coordinates the transactions homed on it. The `participant` target crashes a
    node that coordinates nothing at that moment: nobody waits for it as coordinator, and it
    asks for its own decisions as soon as it is back -- no long blocking (review finding 6)."""
    row = run_suite({"name": "participant", "kind": "transactions", "protocol": "2pc",
                     "duration": "1.5s", "warmup": "200ms", "cluster": {"partitions": 4},
                     "workload": {"type": "bank", "clients": 32, "accounts": 2000,
                                  "multi_partition": 1.0},
                     "faults": {"schedule": [{"at": "700ms", "crash": "participant", "for": "300ms"}]}})
    assert row["safety"] == "ok", row["safety"]
    assert row["blocked_ms_max"] < 60, row["blocked_ms_max"]  # it was ~283 ms


def bank(clients: int, think: str | int = 0) -> dict:
    return {"name": "quiescent", "kind": "transactions", "protocol": "2pl-waitdie", "duration": "1s",
            "warmup": "100ms", "cluster": {"partitions": 3},
            "workload": {"type": "bank", "clients": clients, "think_time": think, "accounts": 300,
                         "multi_partition": 0.5}}


def test_the_bank_total_is_checked_at_quiescent_points_under_low_and_full_load():
    low = run_suite(bank(2, "5ms"))
    assert low["safety"] == "ok" and low["quiescent_checks"] >= 50, low["quiescent_checks"]
    busy = run_suite(bank(16))
    assert busy["safety"] == "ok" and busy["quiescent_checks"] > 0
    assert f"bank total checked at {busy['quiescent_checks']} quiescent points" in busy["safety_detail"]


def test_occ_abort_rate_rises_with_contention():
    rates = []
    for theta in (0.0, 0.8, 0.99):
        row = run_suite({"name": "occ-theta", "kind": "transactions", "protocol": "occ",
                         "duration": "1s", "warmup": "200ms", "cluster": {"partitions": 1},
                         "workload": {"type": "ycsb", "clients": 16, "keys": 1000, "ops": 4,
                                      "distribution": {"type": "zipfian", "theta": theta}}})
        assert row["safety"] == "ok"
        rates.append(row["abort_rate"])
    assert rates[0] < rates[1] < rates[2], rates
    assert rates[2] > 3 * rates[0], rates
