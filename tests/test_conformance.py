"""The conformance kit (harness.testing.conformance): every built-in protocol passes its kind's
scenarios, and the kit fails deliberately broken ones, naming the scenario, the seed and why."""

from __future__ import annotations

import pytest

from harness.protocol import Node, register, registry
from harness.testing import conformance
from workloads.kv import REDIRECT, Reply

import test_checkers_catch_bugs  # noqa: F401  (registers the broken variants used below)


SEEDS = 1  # the built-ins have tests of their own; here each scenario's first seed is enough


def built_in(kind: str) -> list[str]:
    return sorted(name for name, spec in registry().items()
                  if spec.kind == kind and spec.factory.__module__.startswith("implementations."))


@pytest.mark.parametrize("scenario", conformance.scenarios("consensus"))
@pytest.mark.parametrize("protocol", built_in("consensus"))
def test_built_in_consensus_protocols_conform(protocol, scenario):
    conformance.check(protocol, scenario, seeds=SEEDS)  # judged by its own promise


@pytest.mark.parametrize("scenario", conformance.scenarios("transactions"))
@pytest.mark.parametrize("protocol", built_in("transactions"))
def test_built_in_transaction_protocols_conform(protocol, scenario):
    conformance.check(protocol, scenario, seeds=SEEDS)


def _scenario(name: str, kind: str = "consensus") -> conformance.Scenario:
    (param,) = [p for p in conformance.scenarios(kind) if p.id == name]
    return param.values[0]


@pytest.mark.parametrize("protocol, scenario, verdict", [
    ("bug-raft-amnesia", "restart-all", "safety violation: two leaders in term"),
    ("bug-raft-early-ack", "leader-partition", "safety violation: acknowledged write"),
    ("bug-raft-follower-reads", "loss", "safety violation: key"),
    ("bug-paxos-skip-phase1", "leader-crash", "safety violation: index"),
])
def test_the_kit_fails_a_broken_protocol_naming_scenario_seed_and_verdict(protocol, scenario, verdict):
    with pytest.raises(conformance.Nonconformance) as failed:
        conformance.check(protocol, _scenario(scenario), seeds=3)
    first, *rest = str(failed.value).splitlines()
    assert first.startswith(f"{protocol}: scenario {scenario} (") and verdict in first, first
    assert " seed " in first
    assert any(line.startswith("name: conformance-") for line in rest)  # the suite to reproduce it


@register("test-single-server", kind="consensus")
class SingleServer(Node):
    """Node 0 serves every request from its own disk (the others redirect to it): safe, but
    unavailable whenever node 0 is out."""

    reports_leading = True

    def __init__(self, node_id, nodes, replication, options, state_machine):
        self.id, self.sm, self.index = node_id, state_machine, 0

    def start(self, ctx, stable):
        for request in stable:
            self._apply(ctx, request)
        if self.id == 0 and self.reports_leading:
            ctx.became_leader(1)

    def on_message(self, ctx, src, msg):
        pass

    def on_timer(self, ctx, name):
        pass

    def on_request(self, ctx, request):
        if self.id != 0:
            ctx.reply(request, Reply(request, REDIRECT, leader=0))
            return
        ctx.persist(request)
        ctx.reply(request, self.sm.answer(request, self._apply(ctx, request)))

    def _apply(self, ctx, request):
        self.index += 1
        ctx.applied(self.index, request)
        return self.sm.apply(request)


@register("test-single-server-silent", kind="consensus")
class SilentSingleServer(SingleServer):
    """The same, never saying that it leads."""

    reports_leading = False


def test_liveness_expects_service_through_a_minority_fault_unless_relaxed():
    leader_crash = _scenario("leader-crash")
    with pytest.raises(conformance.Nonconformance, match="liveness: no operation completed while a minority"):
        conformance.check("test-single-server", leader_crash, seeds=1)
    (result,) = conformance.check("test-single-server", leader_crash, seeds=1, liveness="healed")
    assert result.row["safety"] == "ok"


def test_a_fault_that_finds_nothing_to_hit_fails_the_scenario():
    with pytest.raises(conformance.Nonconformance, match=r"never injected \(skipped: no leader to target\)"):
        conformance.check("test-single-server-silent", _scenario("leader-crash"), seeds=1)
    (result,) = conformance.check("test-single-server-silent", _scenario("restart-all"), seeds=1)
    assert result.row["safety"] == "ok" and result.row["ops_committed"] > 0


def test_scenarios_are_named_params_of_a_known_kind():
    assert [p.id for p in conformance.scenarios("consensus")] == [
        "leader-crash", "leader-partition", "loss", "duplication", "restart-all"]
    assert [p.id for p in conformance.scenarios("transactions")] == [
        "coordinator-crash", "coordinator-partition", "loss", "duplication", "restart-all"]
    with pytest.raises(ValueError, match="no conformance scenarios for kind 'gossip'"):
        conformance.scenarios("gossip")
    with pytest.raises(ValueError, match="liveness: expected"):
        conformance.check("raft", _scenario("loss"), liveness="sometimes")
