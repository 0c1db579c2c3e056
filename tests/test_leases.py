"""Lease reads (``read: lease``, implementations/replication/lease.py), through whole simulated
runs: a lease read stays linearizable when its leader is cut off, as ReadIndex does under a
leader clock running slow; a leader clock drifting beyond ``lease_drift``, or a lease that
ignores its expiry, serves stale reads, and the linearizability checker catches them."""

from __future__ import annotations

import pytest

from harness.execution import runner
from harness.protocol import register
from harness.testing import conformance
from implementations.multipaxos.node import MultiPaxosNode
from implementations.multipaxos.options import MultiPaxosOptions
from implementations.raft.node import RaftNode
from implementations.raft.options import RaftOptions

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

# Open-loop clients keep sending to the node they believe leads while an earlier operation
# waits there: clients whose writes are stuck at the cut-off leader go on reading from it for a
# timeout, while those that already moved write through the new leader. Closed-loop clients
# would wait on the stuck write and read nothing meanwhile.
STRAGGLERS = ("workload.mode=open", "workload.rate=2000/s", "workload.timeout=200ms")

NEVER_EXPIRES = 1e9  # seconds: longer than any run (finite: the lease adds it to -inf)


@register("bug-raft-endless-lease", kind="consensus", options=RaftOptions)
class EndlessRaftLease(RaftNode):
    """Its lease, once a quorum has answered a round, never expires."""

    def __init__(self, *args):
        super().__init__(*args)
        if self.lease is not None:
            self.lease = NEVER_EXPIRES


@register("bug-multipaxos-endless-lease", kind="consensus", options=MultiPaxosOptions)
class EndlessPaxosLease(MultiPaxosNode):
    """Its lease, once a quorum has answered a round, never expires."""

    def __init__(self, *args):
        super().__init__(*args)
        if self.lease_length is not None:
            self.lease_length = NEVER_EXPIRES


def run(make_suite, protocol: str, *overrides: str) -> str:
    suite = make_suite(SUITE, f"protocol={protocol}", *overrides)
    (spec,) = suite.runs()
    return runner.run(spec, suite.name).row["safety"]


def test_readindex_stays_linearizable_under_the_same_slow_clock(make_suite):
    assert run(make_suite, "raft", SLOW_CLOCK_PARTITION, "protocols.raft.read=readindex") == "ok"


@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
def test_a_leader_clock_drifting_beyond_the_bound_serves_stale_lease_reads(make_suite, protocol):
    # the leader's lease outlasts the followers' vote guard: a new leader takes writes while the
    # old one still answers reads from its state machine
    safety = run(make_suite, protocol, SLOW_CLOCK_PARTITION, *STRAGGLERS,
                 f"protocols.{protocol}.read=lease")
    assert safety.startswith("violation") and "get returned" in safety, safety
    confirmed = "readindex" if protocol == "raft" else "log"
    assert run(make_suite, protocol, SLOW_CLOCK_PARTITION, *STRAGGLERS,
               f"protocols.{protocol}.read={confirmed}") == "ok"
    assert run(make_suite, protocol, PARTITION, *STRAGGLERS, f"protocols.{protocol}.read=lease") == "ok"


@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
def test_a_lease_that_ignores_expiry_is_caught_in_a_partition_sweep(make_suite, protocol):
    # without the quorum check the cut-off leader keeps leading, so only its lease stops its reads
    bug = f"bug-{protocol}-endless-lease"
    suite = make_suite(SUITE, f"protocol={bug}", PARTITION, *STRAGGLERS, f"protocols.{bug}.read=lease",
                       f"protocols.{bug}.check_quorum=false", "seeds=3")
    caught = [runner.run(spec, suite.name).row["safety"] for spec in suite.runs()]
    assert len(caught) == 3 and all(s.startswith("violation") and "get returned" in s
                                    for s in caught), caught
    suite = make_suite(SUITE, f"protocol={protocol}", PARTITION, *STRAGGLERS,
                       f"protocols.{protocol}.read=lease", f"protocols.{protocol}.check_quorum=false",
                       "seeds=3")
    assert [runner.run(spec, suite.name).row["safety"] for spec in suite.runs()] == ["ok"] * 3


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
