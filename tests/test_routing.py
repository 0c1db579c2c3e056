"""Client routing (``workload.routing``): clients that send each operation to any node let the
swarm see a deposed leader's stale answers, which clients that follow the leader never reach."""

from __future__ import annotations

from harness.kinds.consensus.world import ConsensusWorld
from harness.protocol import register
from harness.testing import swarm
from implementations.raft.node import LEADER, RaftNode
from implementations.raft.options import RaftOptions
from workloads.kv import GET, Request

SEEDS = range(1, 41)


@register("bug-raft-unconfirmed-reads", kind="consensus", options=RaftOptions)
class UnconfirmedReads(RaftNode):
    """A leader answers reads from its own state without first confirming that it still leads
    (ReadIndex without its heartbeat round): a leader cut off from its peers, not yet aware
    that another was elected, answers with values the new leader has overwritten."""

    def on_request(self, ctx, req):
        if req.op == GET and self.role == LEADER:
            ctx.reply(req, self.sm.answer(req, self.sm.read(req.key)))
            return
        super().on_request(ctx, req)


def _unsafe_seeds(protocol: str, routing: str) -> list[int]:
    unsafe = []
    for seed in SEEDS:
        data = swarm.draw(protocol, seed)
        data["workload"]["routing"] = routing
        outcome = swarm.run_suite(data).row["safety"]
        if not (outcome == "ok" or outcome.startswith("ok ")):
            assert "get returned" in outcome, (seed, outcome)  # a stale read, nothing else
            unsafe.append(seed)
    return unsafe


def test_the_swarm_catches_unconfirmed_reads_only_when_clients_reach_any_node():
    # The same draws (faults, features, operations) under both routings: following the leader,
    # every client leaves a cut-off leader (its writes time out) before a new leader is elected.
    assert _unsafe_seeds("bug-raft-unconfirmed-reads", "leader") == []
    assert len(_unsafe_seeds("bug-raft-unconfirmed-reads", "any")) >= 2


def _destinations(make_suite, routing: str) -> set[int]:
    """The nodes clients sent requests to once a leader was known (after 0.3 s)."""
    (spec,) = make_suite(f"""
name: routing
protocol: raft
duration: 0.6s
warmup: 0.1s
cluster: {{nodes: 5}}
workload: {{type: kv, clients: 4, keys: 5, routing: {routing}}}
""").runs()
    world = ConsensusWorld(spec.config, spec.seed)
    sent: set[int] = set()
    world.net.tap = lambda src, dst, msg, t: sent.add(dst) if isinstance(msg, Request) and t > 0.3 else None
    world._start()
    world.sim.run(spec.config.duration)
    return sent


def test_clients_send_to_the_leader_or_to_every_node(make_suite):
    assert len(_destinations(make_suite, "leader")) == 1
    assert _destinations(make_suite, "any") == {0, 1, 2, 3, 4}
