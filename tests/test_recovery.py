"""``faults.until`` ends the faults so a run can judge recovery; the swarm sweep requires it."""

from __future__ import annotations

import pytest

from harness.execution import runner
from harness.protocol import register
from harness.suite.errors import ConfigError
from harness.testing import swarm
from implementations.raft.node import RaftNode
from implementations.raft.options import RaftOptions

SUITE = """
name: recovery
protocol: raft
duration: 2s
warmup: 0.1s
cluster: {nodes: 3}
workload: {type: kv, clients: 4, keys: 5, read_ratio: 0.5, timeout: 50ms, retries: 50}
"""


@register("bug-raft-one-election", kind="consensus", options=RaftOptions)
class OneElection(RaftNode):
    """Campaigns only for the first term: safe, but a cluster that loses its first leader never
    elects another."""

    def _on_election_timer(self, ctx):
        if self.term == 0:
            super()._on_election_timer(ctx)


def run(make_suite, *overrides):
    suite = make_suite(SUITE, *overrides)
    (spec,) = suite.runs()
    return runner.run(spec, suite.name)


def test_no_fault_is_injected_after_until_and_the_crashed_are_restarted(make_suite):
    result = run(make_suite, "faults.crash={mtbf: 100ms, mttr: 1s}", "faults.until=1s")
    crashes = [e for e in result.events if e["kind"] == "crash"]
    restarts = [e for e in result.events if e["kind"] == "restart"]
    assert crashes and max(e["time_s"] for e in crashes) < 1.0
    assert len(restarts) == len(crashes)  # a crash still down at 1 s restarts then, not 1 s later
    assert max(e["time_s"] for e in restarts) <= 1.0 + 1e-9
    assert result.row["safety"] == "ok"


def test_a_step_at_or_after_until_is_refused_in_one_line(make_suite):
    with pytest.raises(ConfigError) as err:
        make_suite(SUITE, "faults.until=1s", "faults.schedule=[{at: 1s, crash: leader, for: 10ms}]")
    message = str(err.value)
    assert "faults.schedule.0.at: expected a time before faults.until (1s)" in message, message
    assert "\n" not in message


@pytest.mark.parametrize("protocol, recovers", [("raft", True), ("bug-raft-one-election", False)])
def test_a_protocol_that_never_elects_again_is_safe_but_does_not_recover(make_suite, protocol, recovers):
    result = run(make_suite, f"protocol={protocol}",
                 "faults.schedule=[{at: 0.5s, crash: leader, for: 100ms}]", "faults.until=1s")
    assert result.row["safety"].startswith("ok")
    assert swarm.recovered(result) is recovers
