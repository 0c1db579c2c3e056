"""Snapshot isolation, Serializable SI and timestamp ordering, judged against what each promises:
the checker on hand-made histories (write skew allowed under SI and counted, a lost update or a
read skew never), the whole harness on SmallBank's WriteCheck, a broken SI caught, and the
fidelity row "MVCC read-only transactions never abort"."""

from __future__ import annotations

import pytest

from harness import build
from harness.checkers.serializability import TxnChecker
from harness.kinds.transactions.contract import (
    READ, SERIALIZABLE, SNAPSHOT_ISOLATION, CommitObs, make_tid,
)
from harness.protocol import register
from harness.suite.errors import ConfigError
from harness.execution import runner
from implementations.mvcc.node import MVCC
from implementations.mvcc.options import MVCCOptions
from implementations.mvcc.snapshot import SnapshotCC
from workloads import txn as txn_workload

A, B, C = make_tid(1, 1, 1), make_tid(2, 1, 1), make_tid(3, 1, 1)


def judged(isolation: str, *commits: CommitObs) -> tuple[tuple[str, str], int]:
    """The serializability verdict of a history (commits in that order) and its write-skew count."""
    checker = TxnChecker(isolation=isolation)
    for i, o in enumerate(commits):
        checker.commit(0, o, float(i))
    verdicts = checker.verdicts()
    return verdicts[5], checker.write_skew  # the order of TxnChecker.verdicts


def obs(tid: int, reads=(), installs=()) -> CommitObs:
    return CommitObs(tid, (0,), list(reads), list(installs))


# Write skew: A and B both read keys 1 and 2 at the initial versions; A writes 1, B writes 2.
WRITE_SKEW = (obs(A, [(1, 0), (2, 0)], [(1, 0, -5)]), obs(B, [(1, 0), (2, 0)], [(2, 0, -5)]))
# Lost update through a stale read: B read key 1 at the initial version, A replaced it, B
# replaced A's version (A -ww-> B, B -rw-> A: one anti-dependency).
LOST_UPDATE = (obs(A, [(1, 0)], [(1, 0, 1)]), obs(B, [(1, 0)], [(1, A, 1)]))
# Read skew: B reads key 1 before A and key 2 after A (A -wr-> B -rw-> A).
READ_SKEW = (obs(A, [(1, 0), (2, 0)], [(1, 0, 7), (2, 0, 7)]), obs(B, [(1, 0), (2, A)]))


def test_write_skew_is_allowed_under_snapshot_isolation_and_counted():
    verdict, skew = judged(SNAPSHOT_ISOLATION, *WRITE_SKEW)
    assert verdict == ("ok", "") and skew == 1


def test_write_skew_fails_a_serializable_promise_and_is_counted_too():
    (status, detail), skew = judged(SERIALIZABLE, *WRITE_SKEW)
    assert status == "violation" and "not serializable" in detail and skew == 1


@pytest.mark.parametrize("history", [LOST_UPDATE, READ_SKEW], ids=["lost-update", "read-skew"])
def test_snapshot_isolation_fails_on_a_cycle_without_two_consecutive_anti_dependencies(history):
    (status, detail), _ = judged(SNAPSHOT_ISOLATION, *history)
    assert status == "violation" and detail.startswith("not snapshot isolation"), detail


def test_a_serial_history_has_no_write_skew():
    verdict, skew = judged(SERIALIZABLE, obs(A, [(1, 0)], [(1, 0, 1)]), obs(B, [(1, A)], [(1, A, 2)]))
    assert verdict == ("ok", "") and skew == 0


# -- the whole harness ----------------------------------------------------------------------------

BANK = """
name: isolation
kind: transactions
duration: 1.5s
warmup: 0.2s
cluster: {partitions: 2}
network: {latency: {dist: normal, mean: 500us, std: 100us}}
workload: {type: bank, clients: 16, accounts: 12, multi_partition: 0.5, balance_ratio: 0.1,
           amalgamate_ratio: 0.0, writecheck_ratio: 0.6, timeout: 50ms, retries: 50}
"""


def row(make_suite, *overrides: str) -> dict:
    (spec,) = make_suite(BANK, *overrides).runs()
    return runner.run(spec, "isolation").row


@pytest.mark.parametrize("protocol, options, skew", [
    ("mvcc-si", (), True),
    ("mvcc-si", ("protocols.mvcc-si.serializable=true",), False),
    ("2pl", (), False),
    ("occ", (), False),
    ("tso", (), False),
])
def test_writecheck_shows_write_skew_only_under_snapshot_isolation(make_suite, protocol, options, skew):
    r = row(make_suite, f"protocol={protocol}", *options)
    assert r["safety"] == "ok", r["safety"]
    assert r["ops_committed"] > 100
    assert (r["write_skew_per_1k_txn"] > 0) is skew, r["write_skew_per_1k_txn"]


def test_mvcc_si_keeps_its_promise_under_crashes(make_suite):
    r = row(make_suite, "protocol=mvcc-si", "faults.crash={mtbf: 0.5s, mttr: 50ms}")
    assert r["safety"] == "ok" and r["aborts_failure"] > 0, (r["safety"], r["aborts_failure"])


class NoFirstCommitterWins(SnapshotCC):
    """Snapshot isolation without first-committer-wins: concurrent writers of a key both commit."""

    def validate(self, t):
        if not t.commit_ts:
            t.commit_ts = self.clock.tick(self.partition.ctx.now)
        self.recover(t)
        return 0


@register("bug-si-no-fcw", kind="transactions", options=MVCCOptions)
class BrokenSI(MVCC):
    def make_cc(self, options):
        return NoFirstCommitterWins(self.participant, options.retention)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_checker_fails_snapshot_isolation_without_first_committer_wins(make_suite, seed):
    r = row(make_suite, "protocol=bug-si-no-fcw", f"seed={seed}", "faults.crash={mtbf: 1s, mttr: 50ms}")
    assert r["safety"].startswith("violation: not snapshot isolation"), r["safety"]
    assert "-ww(" in r["safety"] and "-rw(" in r["safety"]  # the lost update's two edges


# -- fidelity: a read-only transaction under MVCC never aborts --------------------------------------

YCSB = """
name: read-only
kind: transactions
duration: 1s
warmup: 0.1s
cluster: {partitions: 3}
network: {latency: {dist: normal, mean: 500us, std: 100us}}
protocol: mvcc-si
workload: {type: ycsb, clients: 24, keys: 40, ops: 4, read_ratio: 0.3, read_only_ratio: 0.4,
           multi_partition: 0.5, timeout: 50ms, retries: 50}
"""


@pytest.mark.skipif(build.kind() == "compiled", reason="watches the run by replacing a method, which a compiled class does not allow")
def test_mvcc_read_only_transactions_never_abort(make_suite, monkeypatch):
    aborted: list[tuple[bool, int]] = []  # (read-only, reason) of every aborted attempt
    original = txn_workload.TxnClient._aborted

    def spy(self, tx, reason, conflict, tell):
        aborted.append((all(kind == READ for kind, _, _ in tx.ops), reason))
        original(self, tx, reason, conflict, tell)

    monkeypatch.setattr(txn_workload.TxnClient, "_aborted", spy)
    (spec,) = make_suite(YCSB).runs()
    r = runner.run(spec, "read-only").row
    assert r["safety"] == "ok"
    assert len(aborted) > 100  # writers conflict a lot here ...
    assert not [reason for read_only, reason in aborted if read_only]  # ... readers never



# -- SmallBank's WriteCheck ---------------------------------------------------------------------------

def test_a_cheque_moves_its_amount_only_when_the_accounts_read_cover_it():
    debit, credit = txn_workload.Cheque(10, -1), txn_workload.Cheque(10, 1)
    assert (debit.value(10), credit.value(10)) == (-10, 10)
    assert (debit.value(9), credit.value(9)) == (0, 0)  # bounced: nothing moves


def test_writecheck_needs_three_accounts_per_partition(make_suite):
    with pytest.raises(ConfigError) as refused:
        make_suite(BANK, "workload.accounts=5", "workload.multi_partition=0.5")
    message = str(refused.value)
    assert "\n" not in message and "workload.accounts" in message and "WriteCheck" in message
