"""Lease reads (``read: lease``, implementations/replication/lease.py), through whole simulated
runs: a lease read stays linearizable when its leader is cut off, as ReadIndex does under a
leader clock running slow."""

from __future__ import annotations

import pytest

from harness.execution import runner
from harness.testing import conformance

SUITE = """
name: leases
protocol: raft
duration: 2.5s
warmup: 0.2s
cluster: {nodes: 3}
workload: {type: kv, clients: 8, keys: 5, read_ratio: 0.5, timeout: 50ms, retries: 50}
"""

# The leader's clock runs at a tenth of the rate (its lease lasts ten times as long as the
# followers' vote guard), then it is cut off from the other nodes, not from the clients.
SLOW_CLOCK_PARTITION = ("faults.schedule=[{at: 0.7s, action: clock, target: leader, drift: -0.9}, "
                        "{at: 0.8s, action: isolate, target: leader, for: 1s}]")
PARTITION = "faults.schedule=[{at: 0.8s, action: isolate, target: leader, for: 1s}]"


def run(make_suite, protocol: str, *overrides: str) -> str:
    suite = make_suite(SUITE, f"protocol={protocol}", *overrides)
    (spec,) = suite.runs()
    return runner.run(spec, suite.name).row["safety"]


def test_readindex_stays_linearizable_under_the_same_slow_clock(make_suite):
    assert run(make_suite, "raft", SLOW_CLOCK_PARTITION, "protocols.raft.read=readindex") == "ok"


@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
def test_lease_reads_stay_linearizable_when_the_leader_is_cut_off(make_suite, protocol):
    assert run(make_suite, protocol, PARTITION, f"protocols.{protocol}.read=lease") == "ok"


@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
def test_a_drift_bound_that_leaves_no_lease_is_refused_naming_the_key(make_suite, protocol):
    from harness.suite.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_suite(SUITE, f"protocol={protocol}", f"protocols.{protocol}.read=lease",
                   f"protocols.{protocol}.lease_drift=150ms")
    assert f"protocols.{protocol}.lease_drift: expected a duration < replication.election_timeout " \
           "(150ms), got 150ms" in str(err.value)


@pytest.mark.parametrize("scenario", conformance.scenarios("consensus"))
@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
def test_lease_reads_conform(protocol, scenario):
    conformance.check(protocol, scenario, f"protocols.{protocol}.read=lease", seeds=1)
