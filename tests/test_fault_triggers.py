"""Faults triggered by a message (``faults.schedule[].after``): the classic hazards on cue."""

from __future__ import annotations

import pytest

from harness.execution import runner
from harness.suite.errors import ConfigError

SUITE = """
name: triggered
protocol: raft
duration: 1.5s
warmup: 0.1s
cluster: {nodes: 5}
network: {latency: {dist: normal, mean: 500us, std: 100us}}
workload: {type: kv, clients: 8, keys: 5, read_ratio: 0.5, timeout: 50ms, retries: 50}
"""

LEADER_CRASH = "{at: 0.5s, crash: leader, for: 0.5s}"


def run(make_suite, *overrides):
    suite = make_suite(SUITE, *overrides)
    (spec,) = suite.runs()
    return runner.run(spec, suite.name)


def test_a_crash_after_a_granted_vote_hits_the_voter_during_the_election(make_suite):
    result = run(make_suite, f"faults.schedule=[{LEADER_CRASH}, "
                             "{at: 0.5s, action: crash, after: 'Vote granted=True', for: 20ms}]")
    crashes = [e for e in result.events if e["kind"] == "crash"]
    assert len(crashes) == 2, crashes
    leader, voter = crashes
    assert voter["node"] != leader["node"]
    # the election follows the leader's crash within one randomised election timeout (150-300 ms)
    assert 0.5 < voter["time_s"] < 0.5 + 0.3 + 0.01, voter
    assert result.row["safety"] == "ok"


def test_a_step_waits_for_at_before_it_watches(make_suite):
    result = run(make_suite, "faults.schedule=[{at: 1s, action: crash, after: AppendEntries, for: 20ms}]")
    (crash,) = [e for e in result.events if e["kind"] == "crash"]
    assert 1.0 <= crash["time_s"] < 1.06  # the next heartbeat (every 50 ms) leaves the leader


def test_a_named_target_is_hit_instead_of_the_sender(make_suite):
    result = run(make_suite, "faults.schedule=[{at: 0.5s, action: crash, target: [4], "
                             "after: AppendEntries, for: 20ms}]")
    assert [e["node"] for e in result.events if e["kind"] == "crash"] == [4]


def test_a_message_that_never_comes_changes_nothing(make_suite):
    waited = run(make_suite, "faults.schedule=[{at: 0.5s, action: crash, after: Promise, for: 20ms}]")
    plain = run(make_suite)
    assert not [e for e in waited.events if e["kind"] == "crash"]
    for key in ("ops_committed", "throughput_ops_s", "safety"):
        assert waited.row[key] == plain.row[key], key


@pytest.mark.parametrize("step, expected", [
    ("{at: 1s, action: crash, after: 'granted=True', for: 1s}",
     "faults.schedule.0.after: expected a message type, then optional field=value pairs"),
    ("{at: 1s, action: crash, after: 'Vote granted', for: 1s}",
     "faults.schedule.0.after: expected field=value pairs after the message type, got Vote granted"),
    ("{at: 1s, action: restart, after: Vote}",
     "faults.schedule.0.after: expected no 'after' with action restart"),
])
def test_a_bad_trigger_is_refused_in_one_line_naming_the_key(make_suite, step, expected):
    with pytest.raises(ConfigError) as err:
        make_suite(SUITE, f"faults.schedule=[{step}]")
    message = str(err.value)
    assert expected in message and "\n" not in message, message
