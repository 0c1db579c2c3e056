"""Election safety does not take leadership on a protocol's word alone: a node that sends a
message only a leader sends (``ProtocolSpec.leader_only``) in a term it never reported leading
is a violation, so deleting a protocol's ``became_leader`` call is caught, not a silent ``ok``."""

from __future__ import annotations

from typing import Any

import pytest

import implementations.multipaxos as multipaxos
import implementations.raft as raft
from harness.checkers.consensus import ElectionSafety
from harness.checkers.verdicts import verdict_class
from harness.contract import Context
from harness.execution import runner
from harness.protocol import register
from implementations.multipaxos.node import MultiPaxosNode
from implementations.multipaxos.options import MultiPaxosOptions
from implementations.raft.node import RaftNode
from implementations.raft.options import RaftOptions


class Unreported(Context):
    """The node's host for one handler, except that ``became_leader`` is never reported: what a
    protocol whose leadership report was deleted does."""

    def __init__(self, host: Context):
        self.host = host
        self.node_id, self.nodes, self.now = host.node_id, host.nodes, host.now

    def send(self, dst: int, msg: Any) -> None:
        self.host.send(dst, msg)

    def reply(self, request: Any, result: Any) -> None:
        self.host.reply(request, result)

    def set_timer(self, name: str, delay: float) -> None:
        self.host.set_timer(name, delay)

    def cancel_timer(self, name: str) -> None:
        self.host.cancel_timer(name)

    def persist(self, record: Any) -> None:
        self.host.persist(record)

    def random(self) -> float:
        return self.host.random()

    def charge(self, seconds: float) -> None:
        self.host.charge(seconds)

    def became_leader(self, term: int) -> None:
        pass

    def applied(self, index: int, command: Any) -> None:
        self.host.applied(index, command)

    def applied_many(self, first: int, commands: Any) -> None:
        self.host.applied_many(first, commands)

    def observe(self, event: str, value: Any) -> None:
        self.host.observe(event, value)


@register("bug-raft-unreported-leader", kind="consensus", options=RaftOptions,
          leader_only=raft.SPEC.leader_only)
class UnreportedRaft(RaftNode):
    """Raft with its ``became_leader`` call removed."""

    def _become_leader(self, ctx):
        super()._become_leader(Unreported(ctx))


@register("bug-paxos-unreported-leader", kind="consensus", options=MultiPaxosOptions,
          leader_only=multipaxos.SPEC.leader_only)
class UnreportedPaxos(MultiPaxosNode):
    """Multi-Paxos with its ``became_leader`` call removed."""

    def lead(self, ctx):
        super().lead(Unreported(ctx))


SUITE = """
name: claims
protocol: raft
duration: 1s
warmup: 0.2s
cluster: {nodes: 3}
workload: {type: kv, clients: 4, keys: 5, read_ratio: 0.5, timeout: 50ms}
"""


def safety(make_suite, protocol: str) -> str:
    suite = make_suite(SUITE, f"protocol={protocol}")
    (spec,) = suite.runs()
    return runner.run(spec, suite.name).row["safety"]


@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
def test_a_leader_that_never_reports_leading_is_caught(make_suite, protocol):
    broken = {"raft": "bug-raft-unreported-leader", "multipaxos": "bug-paxos-unreported-leader"}[protocol]
    got = safety(make_suite, broken)
    assert got.startswith("violation: node ") and "acted as leader of term " in got \
        and "but never reported leading it" in got, got
    assert verdict_class(got) == "election safety"
    assert safety(make_suite, protocol) == "ok"


def test_a_claim_needs_the_claimant_s_own_report():
    es = ElectionSafety()
    es.observe(4, 1, 0.1)
    es.claimed(4, 1, "AppendEntries", 0.2)
    assert es.verdict()[0] == "ok"
    es.claimed(4, 2, "AppendEntries", 0.3)  # node 2 acts as leader of node 1's term
    assert es.verdict() == ("violation", "node 2 acted as leader of term 4 (sent AppendEntries at "
                                         "t=0.300000s) but never reported leading it")
