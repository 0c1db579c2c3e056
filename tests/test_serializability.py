"""The transaction checkers: unit tests on hand-made histories, deliberately broken protocols
caught through the whole harness, a property over random fault schedules, and the CLI."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.execution import runner
from harness.checkers.serializability import TxnChecker, find_cycle
from harness.cli import main
from harness.protocol import register
from harness.suite.loading import load_suite
from harness.kinds.transactions.contract import READ, CommitObs, Store, make_tid
from implementations.occ.node import OCC
from implementations.occ.options import OCCOptions
from implementations.occ.validation import OptimisticCC
from implementations.twopc.node import TwoPC
from implementations.twopc.options import TwoPCOptions
from implementations.twopl.locking import LockingCC
from implementations.twopl.node import TwoPL
from implementations.twopl.options import TwoPLOptions
from implementations.txn.concurrency import GRANTED
from implementations.txn.locks import S
from implementations.txn.messages import Prepare
from implementations.txn.records import PREPARED


def T(client: int, seq: int = 1, attempt: int = 1) -> int:
    return make_tid(client, seq, attempt)


def obs(tid, reads=(), installs=(), parts=(0,)):
    return CommitObs(tid, tuple(parts), list(reads), list(installs))


def checker_with(*commits, initial=0, bank=None):
    c = TxnChecker(initial, bank)
    for t, (node, o) in enumerate(commits):
        c.commit(node, o, float(t))
    return c


def verdict(c, stores=None, in_doubt=frozenset()):
    bad = [v for v in c.verdicts(stores, set(in_doubt)) if v[0] != "ok"]
    return bad[0] if bad else ("ok", "")


# -- the checker on hand-made histories ------------------------------------------------------

def test_the_simulated_host_forwards_observations_once_durable():
    """Commit observations reach the checker through NodeHost.observe (if it fell back to the
    Context's no-op default, every run would report acknowledged commits as lost), and only once
    every earlier persist is durable: a crash before the flush voids them."""
    from harness.engine.network import Network
    from harness.engine.node import NodeHost
    from harness.engine.sim import Simulator
    from harness.protocol import Node
    from harness.suite.cluster import Cluster, Network as NetworkConfig

    class Probe(Node):
        def start(self, ctx, stable):
            ctx.observe("early", 1)          # nothing persisted yet: visible at once
            ctx.persist(("commit1", 7))
            ctx.observe("commit", 2)         # after a persist: held until the flush (fsync)

    class Seen:
        def __init__(self):
            self.got = []

        def observe(self, node, event, value, t):
            self.got.append((node, event, value, t))

        def restarted(self, node):
            pass

    cluster = Cluster(fsync="200us")
    sim, seen = Simulator(1), Seen()
    host = NodeHost(sim, Network(sim, NetworkConfig(), 4, 0), 3, (0, 1, 2, 3), cluster, Probe, seen)
    assert seen.got == [(3, "early", 1, 0.0)]
    host.settle(0.0001)
    assert len(seen.got) == 1                 # the flush is not over
    host.settle(1.0)
    assert seen.got[1] == (3, "commit", 2, pytest.approx(200e-6))

    sim, seen = Simulator(1), Seen()
    host = NodeHost(sim, Network(sim, NetworkConfig(), 1, 0), 0, (0,), cluster, Probe, seen)
    sim.now = 0.0001
    host.crash()                              # before the flush: the commit never happened
    host.settle(1.0)
    assert [e for _, e, _, _ in seen.got] == ["early"]


def test_a_serial_history_is_ok():
    a, b = T(1), T(2)
    c = checker_with((0, obs(a, [(1, 0)], [(1, 0, 5)])), (0, obs(b, [(1, a)], [(1, a, 6)])))
    store = Store()
    store.install(1, 6, b)
    assert verdict(c, [store]) == ("ok", "")


def test_write_skew_is_a_cycle_and_the_cycle_is_reported():
    a, b = T(1), T(2)
    # a reads x=0, writes y; b reads y=0, writes x: a -rw-> b -rw-> a
    c = checker_with((0, obs(a, [(1, 0), (2, 0)], [(2, 0, 1)])),
                     (0, obs(b, [(1, 0), (2, 0)], [(1, 0, 1)])))
    status, detail = verdict(c)
    assert status == "violation" and detail.startswith("not serializable: cycle c1.1#1")
    assert "-rw(k=1)-> c2.1#1" in detail and "-rw(k=2)-> c1.1#1" in detail


def test_lost_update_and_dirty_reads_are_violations():
    a, b, ghost = T(1), T(2), T(3)
    c = checker_with((0, obs(a, [(1, 0)], [(1, 0, 1)])), (0, obs(b, [(1, 0)], [(1, 0, 2)])))
    assert "lost update" in verdict(c)[1]
    c = checker_with((0, obs(a, [(1, ghost)], [])))
    assert "never committed" in verdict(c)[1]


def test_atomicity_durability_and_exactly_once():
    a = T(1)
    c = checker_with((0, obs(a, [], [(1, 0, 1)], parts=(0, 1))))
    assert verdict(c)[1].startswith("atomicity: c1.1#1 committed at partition(s) [0] but not at [1]")
    assert verdict(c, in_doubt={(1, a)})[0] == "unknown"
    c = checker_with((0, obs(a, [], [(1, 0, 1)])))
    c.acked(T(2))
    assert verdict(c)[1].startswith("durability: c2.1#1 was acknowledged")
    c = checker_with((0, obs(a, [], [(1, 0, 1)])))
    assert "durability: key 1 ends at version init" in verdict(c, [Store()])[1]
    twice = checker_with((0, obs(T(1, 1, 1), [], [(1, 0, 1)])), (0, obs(T(1, 1, 2), [], [(2, 0, 1)])))
    assert verdict(twice)[1].startswith("exactly-once")
    reads = checker_with((0, obs(T(1, 1, 1), [(1, 0)])), (0, obs(T(1, 1, 2), [(1, 0)])))
    assert verdict(reads) == ("ok", "")
    dup = checker_with((0, obs(a, [], [(1, 0, 1)])), (0, obs(a, [], [(1, 0, 1)])))
    assert "applied twice" in verdict(dup)[1]


def test_bank_invariant_per_transaction_at_quiescent_points_and_at_the_end():
    a, b = T(1), T(2)
    good = checker_with((0, obs(a, [(0, 0), (1, 0)], [(0, 0, 90), (1, 0, 110)])), initial=100, bank=2)
    s = Store(100)
    s.install(0, 90, a)
    s.install(1, 110, a)
    assert verdict(good, [s]) == ("ok", "")
    good.quiescent_total(0.5, 199)
    assert "quiescent point t=0.500s" in verdict(good, [s])[1]
    bad = checker_with((0, obs(b, [(0, 0)], [(0, 0, 90)])), initial=100, bank=2)
    assert verdict(bad)[1] == "bank invariant: c2.1#1 changed the total balance by -10"


def test_find_cycle():
    assert find_cycle({1: [(2, "a")], 2: [(3, "b")]}) is None
    assert find_cycle({1: [(2, "a")], 2: [(3, "b")], 3: [(1, "c")]}) == [(1, "a", 2), (2, "b", 3), (3, "c", 1)]


# -- deliberately broken protocols, caught through the harness --------------------------------

class EarlyReleaseCC(LockingCC):
    """Releases a read lock as soon as the read is done (not two-phase)."""

    def access(self, t, kind, key, now):
        result = super().access(t, kind, key, now)
        if result == GRANTED and kind == READ and t.held.get(key) == S:
            lock = self.locks[key]
            lock.release(t)
            del t.held[key]
            self._grant_queued(key, lock)
            if not lock.holders and not lock.queue:
                del self.locks[key]
        return result


@register("bug-2pl-early-release", kind="transactions", options=TwoPLOptions)
class EarlyRelease2PL(TwoPL):
    def make_cc(self, options):
        return EarlyReleaseCC(self.participant, options.deadlock)


class NoValidationCC(OptimisticCC):
    def validate(self, t):
        self.recover(t)
        return 0


@register("bug-occ-no-validation", kind="transactions", options=OCCOptions)
class NoValidationOCC(OCC):
    def make_cc(self, options):
        return NoValidationCC(self.participant, options.validation)


@register("bug-2pc-early-commit", kind="transactions", options=TwoPCOptions)
class EarlyCommit2PC(TwoPC):
    """A participant commits as soon as it has voted yes, before the decision."""

    def on_message(self, ctx, src, msg):
        super().on_message(ctx, src, msg)
        t = self.participant.txns.get(msg.tid) if type(msg) is Prepare else None
        if t is not None and t.state == PREPARED:
            self.participant.commit_prepared(ctx, t)


def run_suite_text(text: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suite.yaml"
        path.write_text(textwrap.dedent(text))
        (spec,) = load_suite(path).runs()
    return runner.run(spec, "t").row


HOT = """
    name: broken
    kind: transactions
    protocol: {protocol}
    duration: 1s
    warmup: 0.1s
    cluster: {{partitions: {partitions}}}
    workload: {{type: {workload}, clients: 16, multi_partition: {mp}, {extra}
                distribution: {{type: zipfian, theta: 0.99}}}}
"""


def test_checker_catches_2pl_that_releases_a_lock_before_commit():
    row = run_suite_text(HOT.format(protocol="bug-2pl-early-release", partitions=1, workload="ycsb",
                                    mp=0, extra="keys: 50, ops: 4,"))
    assert row["safety"].startswith("violation"), row["safety"]
    assert "not serializable: cycle" in row["safety"]
    ok = run_suite_text(HOT.format(protocol="2pl", partitions=1, workload="ycsb", mp=0,
                                   extra="keys: 50, ops: 4,"))
    assert ok["safety"] == "ok"


def test_checker_catches_occ_that_skips_validation():
    row = run_suite_text(HOT.format(protocol="bug-occ-no-validation", partitions=1, workload="bank",
                                    mp=0, extra="accounts: 20,"))
    assert row["safety"].startswith("violation"), row["safety"]


def test_checker_catches_2pc_whose_participant_commits_before_the_decision():
    row = run_suite_text(HOT.format(protocol="bug-2pc-early-commit", partitions=3, workload="bank",
                                    mp=1.0, extra="accounts: 30,") + """
    protocols: {bug-2pc-early-commit: {participants: occ}}
    """)
    assert row["safety"].startswith("violation"), row["safety"]
    assert "atomicity" in row["safety"] or "bank invariant" in row["safety"], row["safety"]


# -- a property: safe under any fault schedule ---------------------------------------------------

PARTS = 3
step = st.fixed_dictionaries({
    "at": st.integers(100, 1300).map(lambda ms: f"{ms}ms"),
    "action": st.sampled_from(["crash", "isolate", "partition", "slow", "restart", "heal"]),
    "target": st.one_of(st.sampled_from(["coordinator", "participant", "any"]),
                        st.lists(st.integers(0, PARTS - 1), min_size=1, max_size=2, unique=True)),
    "for": st.one_of(st.none(), st.integers(50, 600).map(lambda ms: f"{ms}ms")),
})


def _clean(s: dict) -> dict:
    s = {k: v for k, v in s.items() if v is not None}
    if s["action"] in ("restart", "heal"):
        s.pop("for", None)
        if s["action"] == "heal":
            s.pop("target", None)
    if s["action"] == "isolate" and isinstance(s.get("target"), list):
        s["target"] = s["target"][0]
    return s


VARIANTS = {
    "2pl-nowait": {}, "2pl-waitdie": {}, "2pl-woundwait": {}, "2pl-detect": {},
    "occ": {}, "occ-silo": {"protocols": {"occ": {"validation": "silo"}}},
    "2pc-cooperative": {"protocols": {"2pc": {"termination": "cooperative"}}},
    "2pc-occ": {"protocols": {"2pc": {"participants": "occ", "one_phase": False}}},
}


@settings(max_examples=16, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(variant=st.sampled_from(sorted(VARIANTS)), schedule=st.lists(step, max_size=5),
       loss=st.sampled_from([0.0, 0.02]), dup=st.sampled_from([0.0, 0.05]),
       crash_rate=st.booleans())
def test_bank_invariant_and_serializability_hold_under_random_faults(variant, schedule, loss, dup,
                                                                      crash_rate):
    suite = {
        "name": "prop", "kind": "transactions", "protocol": variant.split("-")[0] if
        not variant.startswith("2pl") else variant, "duration": "1.5s", "warmup": "0.2s",
        "cluster": {"partitions": PARTS},
        "network": {"loss": loss, "duplicate": dup},
        "workload": {"type": "bank", "clients": 8, "accounts": 24, "multi_partition": 0.6,
                     "distribution": {"type": "zipfian", "theta": 0.8}},
        "faults": {"schedule": [_clean(s) for s in schedule],
                   **({"crash": {"mtbf": "500ms", "mttr": "100ms"}} if crash_rate else {})},
        **VARIANTS[variant],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prop.yaml"
        path.write_text(yaml.safe_dump(suite))
        (spec,) = load_suite(path).runs()
    row = runner.run(spec, "prop").row
    assert row["safety"] == "ok", (variant, row["safety"], schedule)
    steps = suite["faults"]["schedule"]
    lasting = any(s["action"] in ("crash", "isolate", "partition") and "for" not in s for s in steps)
    if not lasting:  # a node crashed for good can block every client's transaction: no liveness then
        assert row["ops_committed"] > 0


# -- end to end through the CLI -----------------------------------------------------------------

def test_cli_runs_a_tiny_transactions_suite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("tiny.yaml").write_text(textwrap.dedent("""
        name: tiny-txn
        kind: transactions
        duration: 600ms
        warmup: 100ms
        cluster: {partitions: 2}
        workload: {clients: 4, keys: 100, ops: 3, multi_partition: 0.5}
        faults:
          schedule: [{at: 300ms, action: crash, target: coordinator, for: 100ms}]
        matrix:
          protocol: [2pl, occ, 2pc]
    """))
    result = CliRunner().invoke(main, ["run", "tiny.yaml", "--out", "tmp", "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    runs = pd.read_csv(tmp_path / "tmp" / "runs.csv")
    assert list(runs["protocol"]) == ["2pl", "occ", "2pc"]
    assert (runs["safety"] == "ok").all()
    for column in ("throughput_ops_s", "abort_rate", "conflict_rate", "aborts_conflict",
                   "aborts_deadlock", "aborts_validation", "aborts_timeout", "aborts_failure",
                   "retries_per_txn", "lock_wait_ms_mean", "twopc_ms_mean", "blocked_ms",
                   "messages_per_op", "latency_p99_ms"):
        assert column in runs.columns, column
    assert (runs["throughput_ops_s"] > 0).all()


# -- regressions: what the clients saw is compared with what the partitions committed ----------

def test_a_commit_missing_a_write_the_client_made_is_an_atomicity_violation():
    """Regression: a partition that lost part of a transaction in a crash committed the rest,
    and with YCSB (no invariant) nothing noticed. Clients now report, for each attempt they saw
    commit, the versions they read and the keys they wrote; the partitions must agree."""
    a = T(1)
    c = checker_with((0, obs(a, [(2, 0)], [(2, 0, 5)])))
    c.acked(a, reads=[(1, 0), (2, 0)], writes=[1, 2])
    status, detail = verdict(c)
    assert status == "violation" and detail.startswith("atomicity: c1.1#1"), detail
    assert "key 1" in detail

    b = T(2)
    c = checker_with((0, obs(b, [(1, 0), (2, 0)], [(2, 0, 5)])))
    c.acked(b, reads=[(1, 0), (2, 0)], writes=[2])
    assert verdict(c) == ("ok", "")
    c = checker_with((0, obs(b, [(1, 0), (2, 0)], [(2, 0, 5)])))
    c.acked(b, reads=[(1, 7), (2, 0)], writes=[2])        # the client saw another version of key 1
    status, detail = verdict(c)
    assert status == "violation" and "key 1" in detail and "version" in detail, detail
    c = checker_with((0, obs(b, [(1, 0), (2, 0)], [(1, 0, 3), (2, 0, 5)])))
    c.acked(b, reads=[(1, 0), (2, 0)], writes=[2])        # a write the client never made
    assert verdict(c)[0] == "violation"


def test_a_commit_missing_a_partition_the_client_used_is_caught_or_unknown_while_in_doubt():
    a = T(1)
    c = TxnChecker(0, None, partitions=2)
    c.commit(0, obs(a, [(0, 0)], [(0, 0, 5)], parts=(0,)), 0.0)
    c.acked(a, reads=[(0, 0), (1, 0)], writes=[0, 1])    # key 1 lives on partition 1
    assert verdict(c)[0] == "violation"
    assert verdict(c, in_doubt={(1, a)})[0] == "unknown"


def test_durability_walks_every_key_the_stores_hold():
    """Regression (review finding 4): only keys some committed transaction wrote were checked, so
    a store holding a version nobody committed (or a changed initial value) went unnoticed."""
    a = T(1)
    c = checker_with((0, obs(a, [(1, 0)], [(1, 0, 5)])))
    good = Store()
    good.install(1, 5, a)
    assert verdict(c, [good]) == ("ok", "")
    ghost = Store()
    ghost.install(1, 5, a)
    ghost.install(4, 9, T(9))                 # a write no partition reported committing
    assert verdict(c, [ghost]) == ("violation", "durability: key 4 holds version c9.1#1, which "
                                                "no partition reported committing")
    changed = Store()
    changed.install(1, 5, a)
    changed.data[6] = (3, 0)                  # the initial version, with another value
    assert verdict(c, [changed])[1] == "durability: key 6 holds 3 at the initial version, which is 0"
    c2 = TxnChecker(0, None, partitions=2)
    c2.commit(0, obs(a, [(2, 0)], [(2, 0, 5)]), 0.0)
    left, right = Store(), Store()
    left.install(2, 5, a)
    right.install(2, 5, a)                    # key 2 lives on partition 0, not 1
    assert verdict(c2, [left, right])[1] == "durability: partition 1 holds key 2, which lives on partition 0"
