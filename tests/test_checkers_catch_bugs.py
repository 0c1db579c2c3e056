"""Each safety checker catches a deliberately broken protocol, run through the whole harness.

Passing runs prove little on their own: a checker that cannot fail also passes. Here every
broken variant is registered from this module (no harness change), run with the fault schedule
that exposes it, and the run's ``safety`` must name the violation the checker exists for.
"""

from __future__ import annotations

import pytest

from harness.execution import runner
from harness.checkers.consensus import ElectionSafety, LogAgreement
from harness.protocol import register
from implementations.multipaxos.node import MultiPaxosNode
from implementations.multipaxos.options import MultiPaxosOptions
from implementations.raft.node import FOLLOWER, LEADER, RaftNode
from implementations.quorum.node import QuorumNode
from implementations.quorum.options import QuorumOptions
from implementations.raft.options import RaftOptions
from implementations.zab.node import ZabNode
from implementations.zab.options import ZabOptions
from workloads.kv import GET, OK, PUT, Reply, Request


@register("bug-paxos-skip-phase1", kind="consensus", options=MultiPaxosOptions)
class SkipPhase1(MultiPaxosNode):
    """Takes office with a new ballot without learning what a majority accepted."""

    def takeover(self, ctx):
        self.new_ballot(ctx)
        self.lead(ctx)


@register("bug-raft-early-ack", kind="consensus", options=RaftOptions)
class EarlyAck(RaftNode):
    """Acknowledges a put as soon as the leader has it, before it is committed."""

    def on_request(self, ctx, req):
        super().on_request(ctx, req)
        if self.role == LEADER and req.op == PUT:
            ctx.reply(req, Reply(req, OK, True))


@register("bug-raft-follower-reads", kind="consensus", options=RaftOptions)
class FollowerReads(RaftNode):
    """Followers serve reads from their own state machine and proxy writes to the leader, so
    clients never move: a follower that has not yet applied an acknowledged write reads stale."""

    def on_request(self, ctx, req):
        if self.role == FOLLOWER and self.leader is not None:
            if req.op == GET:
                ctx.reply(req, Reply(req, OK, self.sm.read(req.key)))
            else:
                ctx.send(self.leader, req)  # the leader replies to the client directly
            return
        super().on_request(ctx, req)

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Request):
            super().on_request(ctx, msg)
        else:
            super().on_message(ctx, src, msg)


@register("bug-raft-amnesia", kind="consensus", options=RaftOptions)
class Amnesia(RaftNode):
    """Ignores its stable storage on restart: a whole-cluster crash forgets committed entries."""

    def start(self, ctx, stable):
        super().start(ctx, [])


@register("bug-zab-no-quorum", kind="consensus", options=ZabOptions)
class NoQuorumCommit(ZabNode):
    """Commits every proposal as soon as the leader has logged it, without a quorum of ACKs."""

    def quorum_index(self, followers):
        return len(self.zxids) - 1

    def on_request(self, ctx, req):
        super().on_request(ctx, req)
        lead = self.leadership
        if lead is not None and lead.established:
            lead.maybe_commit(ctx)


@register("bug-quorum-short-write", kind="consensus", options=QuorumOptions, leaderless=True)
class ShortWrite(QuorumNode):
    """Acknowledges a write once one replica has it, whatever W says, while still promising
    regular reads for R + W > N."""

    def on_request(self, ctx, req):
        super().on_request(ctx, req)
        op = self.by_uid.get(req.uid)
        write = self.writes.get(op)
        if write is not None:
            write.needed = 1
            self._check_write(ctx, op, write)


SUITE = """
name: bugs
protocol: raft
duration: 2.5s
warmup: 0.2s
cluster: {nodes: 3}
workload: {type: kv, clients: 8, keys: 5, read_ratio: 0.5, timeout: 50ms, retries: 50}
"""


def run(make_suite, protocol: str, *overrides: str) -> str:
    suite = make_suite(SUITE, f"protocol={protocol}", *overrides)
    (spec,) = suite.runs()
    return runner.run(spec, suite.name).row["safety"]


def test_log_agreement_catches_paxos_without_phase1(make_suite):
    schedule = "faults.schedule=[{at: 0.5s, crash: leader, for: 0.3s}, {at: 1.2s, crash: leader, for: 0.3s}, " \
               "{at: 1.9s, crash: leader, for: 0.3s}]"
    # The overwrite needs a slot chosen but not yet learned by the next leader: at these crash
    # times it happens in most seeds (4 of the first 7), not all; seed 2 shows it.
    safety = run(make_suite, "bug-paxos-skip-phase1", schedule, "cluster.nodes=5", "seed=2")
    assert safety.startswith("violation") and "index" in safety, safety
    assert run(make_suite, "multipaxos", schedule, "cluster.nodes=5") == "ok"


def test_durability_catches_acknowledging_before_commit(make_suite):
    # clients still reach the isolated leader, which keeps acknowledging writes it cannot commit
    schedule = "faults.schedule=[{at: 0.8s, isolate: leader, for: 0.6s}]"
    safety = run(make_suite, "bug-raft-early-ack", schedule, "workload.read_ratio=0.0")
    assert safety.startswith("violation") and "acknowledged write" in safety, safety
    assert run(make_suite, "raft", schedule, "workload.read_ratio=0.0") == "ok (vacuous: no read completed)"


def test_linearizability_catches_stale_follower_reads(make_suite):
    safety = run(make_suite, "bug-raft-follower-reads")
    assert safety.startswith("violation") and "get returned" in safety, safety
    assert run(make_suite, "raft") == "ok"


def test_checkers_catch_a_cluster_that_forgets_on_restart(make_suite):
    schedule = "faults.schedule=[{at: 1s, action: crash, target: [0, 1, 2], for: 0.2s}]"
    safety = run(make_suite, "bug-raft-amnesia", schedule)
    assert safety.startswith("violation"), safety
    assert run(make_suite, "raft", schedule) == "ok"


def test_checkers_catch_zab_committing_without_a_quorum_in_a_faulted_sweep(make_suite):
    faults = "faults={crash: {mtbf: 400ms, mttr: 100ms}, partition: {mtbf: 400ms, duration: 150ms}}"
    # caught in 3 of these 10 seeds (6, 8, 9) since a follower looks again on its leader's new
    # election (before that change, in 3 of the first 5)
    found = [run(make_suite, "bug-zab-no-quorum", faults, "protocols.bug-zab-no-quorum.read=sync",
                 f"seed={s}")
             for s in range(1, 11)]
    assert any(v.startswith("violation") for v in found), found
    assert {run(make_suite, "zab", faults, "protocols.zab.read=sync", f"seed={s}")
            for s in range(1, 11)} == {"ok"}


def test_checkers_catch_a_quorum_write_acknowledged_by_fewer_than_w_in_a_faulted_sweep(make_suite):
    """R = W = quorum promises regular reads; a write answered after one replica breaks it."""
    faults = "faults={crash: {mtbf: 400ms, mttr: 100ms}, partition: {mtbf: 400ms, duration: 150ms}}"
    found = [run(make_suite, "bug-quorum-short-write", faults, "cluster.nodes=5", f"seed={s}")
             for s in range(1, 6)]
    assert any(v.startswith("violation") for v in found), found
    assert {run(make_suite, "quorum", faults, "cluster.nodes=5", f"seed={s}")
            for s in range(1, 6)} == {"ok"}


def test_log_agreement_catches_raft_committing_old_terms_by_counting():
    """Figure 8 of the Raft paper, scripted message by message (tests/test_raft.py), replayed
    into the checker the harness uses."""
    from test_raft import CountingRaft, figure8

    def verdict(cls):
        log = LogAgreement()
        for node, applied in sorted(figure8(cls).obs.applied.items()):
            for index, cmd in applied:
                log.applied(node, index, -1 if cmd is None else cmd.uid, 0.0)
        return log.verdict()

    status, detail = verdict(CountingRaft)
    assert status == "violation" and "index 2" in detail
    assert verdict(RaftNode)[0] == "ok"


def test_election_safety_catches_a_voter_that_votes_twice():
    """A voter that forgets its vote lets two candidates win the same term."""
    from harness.engine.scripted import ScriptedCluster
    from harness.protocol import ReplicationOptions
    from workloads.kv import KVStateMachine

    class VotesTwice(RaftNode):
        def _on_request_vote(self, ctx, src, m):
            self.voted_for = None
            super()._on_request_vote(ctx, src, m)

    def leaders(cls):
        c = ScriptedCluster(lambda i, nodes: cls(i, nodes, ReplicationOptions(), RaftOptions(),
                                                 KVStateMachine()), 3)
        c.now += 1.0                     # past every election timeout
        c.fire(0, "election")
        c.fire(1, "election")            # both campaign in term 1
        c.deliver(lambda e: e.dst == 2 and e.src == 0)   # node 2 votes for 0 ...
        c.deliver(lambda e: e.dst == 2 and e.src == 1)   # ... and, if broken, for 1 as well
        c.deliver_all()
        checker = ElectionSafety()
        for term, node in c.obs.leaders:
            checker.observe(term, node, 0.0)
        return checker.verdict()

    status, detail = leaders(VotesTwice)
    assert status == "violation" and "two leaders in term 1" in detail
    assert leaders(RaftNode)[0] == "ok"


@pytest.mark.parametrize("protocol", ["raft", "multipaxos"])
def test_correct_protocols_pass_the_same_schedules(make_suite, protocol):
    schedule = ("faults.schedule=[{at: 0.5s, crash: leader, for: 0.3s}, {at: 1.2s, isolate: leader, for: 0.4s}, "
                "{at: 1.9s, action: crash, target: [0, 1, 2], for: 0.2s}]")
    assert run(make_suite, protocol, schedule, "network.loss=0.02") == "ok"
