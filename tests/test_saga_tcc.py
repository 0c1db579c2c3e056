"""Saga and TCC, judged against what they promise -- atomicity in the end, no money lost or made --
and measured on what they give up: the guards of one partition on their own (a duplicated
confirm, a cancel before its try, a try after its cancel), the end-state checker on hand-made
settlements, whole runs under loss, duplication and crashes, a broken TCC caught, and the
workloads they refuse."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.checkers.settlement import Settlement
from harness.cli import main
from harness.contract import Context
from harness.execution import runner
from harness.kinds.transactions.contract import (
    ADD, ATOMIC_IN_THE_END, COMMITTED, READ, AbortRequest, CommitRequest, OpReply, OpRequest,
    Outcome, Store, make_tid,
)
from implementations.saga.node import Saga
from implementations.saga.options import SagaOptions
from implementations.tcc.node import TCC
from implementations.tcc.options import TCCOptions
from implementations.txn.settling import Settle

A, B = make_tid(1, 1, 1), make_tid(2, 1, 1)


class Recorder(Context):
    """What one partition sends, answers, logs and observes (a Context: the compiled node takes no
    other)."""

    def __init__(self):
        self.now = 0.0
        self.sent: list = []
        self.replies: list = []
        self.log: list = []
        self.seen: list = []

    def send(self, dst, msg):
        self.sent.append((dst, msg))

    def reply(self, request, result):
        self.replies.append(result)

    def persist(self, record):
        self.log.append(record)

    def observe(self, event, value):
        self.seen.append((event, value))

    def set_timer(self, name, delay):
        pass


def partition(cls, options, initial: int = 100):
    """Partition 0 of two, every account at ``initial``."""
    ctx, node = Recorder(), cls(0, (0, 1), None, options, Store(initial))
    node.start(ctx, [])
    return ctx, node


def op(tid: int, index: int, kind: int, key: int, arg: int, home: int = 0) -> OpRequest:
    return OpRequest(9, tid, 1, index, kind, key, arg, home=home)


def balance(node, key: int) -> int:
    return node.committed().get(key)[0]


# -- one partition: what each protocol shows, and its guards -------------------------------------

def test_a_saga_step_is_visible_at_once_and_its_compensation_moves_the_amount_back():
    ctx, node = partition(Saga, SagaOptions())
    node.on_request(ctx, op(A, 0, ADD, 2, -30))
    assert balance(node, 2) == 70
    node.on_request(ctx, op(B, 0, READ, 2, 0, home=1))  # another transaction reads the step
    assert ctx.replies[-1].value == 70
    node.on_request(ctx, op(B, 1, ADD, 2, 5, home=1))   # ... and updates on top of it
    node.on_request(ctx, AbortRequest(9, A))
    assert balance(node, 2) == 105  # A's amount is back; B's update survives
    assert ("undone_seen", (1, 1)) in ctx.seen  # one dirty read, one update on top of it
    assert node.isolation() == ATOMIC_IN_THE_END


def test_a_tcc_try_freezes_and_only_confirm_changes_the_balance():
    ctx, node = partition(TCC, TCCOptions())
    node.on_request(ctx, op(A, 0, ADD, 2, -30))
    assert balance(node, 2) == 100 and node.available(2) == 70
    node.on_request(ctx, op(B, 0, READ, 2, 0, home=1))
    assert ctx.replies[-1].value == 100  # readers never see an unconfirmed amount
    node.on_request(ctx, CommitRequest(9, A, (0,)))
    assert type(ctx.replies[-1]) is Outcome and ctx.replies[-1].reason == COMMITTED
    assert balance(node, 2) == 70 and node.available(2) == 70 and node.settled()


@pytest.mark.parametrize("idempotent, after", [(True, 70), (False, 40)])
def test_a_duplicated_confirm_applies_again_only_without_the_idempotence_guard(idempotent, after):
    ctx, node = partition(TCC, TCCOptions(idempotent=idempotent))
    node.on_request(ctx, op(A, 0, ADD, 2, -30, home=1))
    node.on_message(ctx, 1, Settle(A, True))
    node.on_message(ctx, 1, Settle(A, True))  # the network's duplicate
    assert balance(node, 2) == after


@pytest.mark.parametrize("empty_rollback, anti_suspension, suspended", [
    (True, True, False), (False, True, True), (True, False, True)])
def test_a_try_after_its_cancel_is_refused_only_with_both_guards(empty_rollback, anti_suspension,
                                                                 suspended):
    ctx, node = partition(TCC, TCCOptions(empty_rollback=empty_rollback,
                                          anti_suspension=anti_suspension))
    node.on_request(ctx, AbortRequest(9, A))          # the cancel overtook its try
    node.on_request(ctx, op(A, 0, ADD, 2, -30, home=1))  # the try, late
    assert (node.available(2) == 70) is suspended
    assert bool(node.unsettled()) is suspended
    assert bool(ctx.replies) is suspended  # a refused try is not answered


def test_a_restarted_partition_replays_its_steps_and_settlements():
    ctx, node = partition(TCC, TCCOptions())
    node.on_request(ctx, op(A, 0, ADD, 2, -30, home=1))
    node.on_request(ctx, op(B, 0, ADD, 3, -10, home=1))
    node.on_message(ctx, 1, Settle(A, True))
    again = TCC(0, (0, 1), None, TCCOptions(), Store(100))
    again.start(Recorder(), list(ctx.log))
    assert (balance(again, 2), again.available(3), balance(again, 3)) == (70, 90, 100)
    assert [tid for tid, _ in again.in_doubt()] == [B]


def test_a_quiet_part_asks_its_home_and_a_quiet_home_undoes_it():
    ctx, node = partition(Saga, SagaOptions(idle_timeout=0.1))
    node.on_request(ctx, op(A, 0, ADD, 2, -30))   # homed here: the client went away
    ctx.now = 0.2
    node.on_timer(ctx, "tick")
    assert balance(node, 2) == 100 and node.idle()


# -- the end-state checker --------------------------------------------------------------------------

def test_a_transaction_confirmed_at_one_partition_and_undone_at_another_fails():
    s = Settlement(0.0, 1.0)
    s.settled(0, A, True, 0.1)
    s.settled(1, A, False, 0.2)
    (verdict, why), = s.verdicts([], [])
    assert verdict == "violation" and "confirmed at one partition and undone at another" in why


def test_an_acknowledged_commit_undone_or_a_part_left_half_done_fails():
    s = Settlement(0.0, 1.0)
    s.settled(0, A, False, 0.1)
    assert s.verdicts([A], [])[0][0] == "violation"
    (verdict, why), = Settlement(0.0, 1.0).verdicts([], [(2, "c1.1#1: 1 step(s) neither")])
    assert verdict == "violation" and "partition 2" in why
    assert Settlement(0.0, 1.0).verdicts([A], []) == [("ok", "")]


def test_invariant_exposure_counts_the_window_time_the_total_was_off_whatever_the_arrival_order():
    s = Settlement(0.5, 2.0)
    for t, delta in [(0.8, +5), (0.4, -5), (0.2, +5), (1.0, -5), (1.9, -3)]:
        s.moved(t, delta)
    # off from 0.2 to 0.4 (before the window), from 0.8 to 1.0, and from 1.9 to the end
    assert s.columns(10)["invariant_exposure_ms"] == pytest.approx(300.0)


# -- whole runs ---------------------------------------------------------------------------------------

BANK = """
name: saga-tcc
kind: transactions
duration: 1.5s
warmup: 0.2s
cluster: {partitions: 3, fsync: 200us}
network: {transport: datagram, latency: {dist: normal, mean: 500us, std: 100us},
          loss: 0.02, duplicate: 0.02}
faults: {crash: {mtbf: 400ms, mttr: 60ms}}
workload: {type: bank, clients: 16, accounts: 30, multi_partition: 0.5, balance_ratio: 0.1,
           amalgamate_ratio: 0.1, writecheck_ratio: 0.2, timeout: 50ms, retries: 50}
"""


def row(make_suite, *overrides: str) -> dict:
    (spec,) = make_suite(BANK, *overrides).runs()
    return runner.run(spec, "saga-tcc").row


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("protocol", ["saga", "tcc"])
def test_saga_and_tcc_keep_their_promise_under_loss_duplication_and_crashes(make_suite, protocol, seed):
    r = row(make_suite, f"protocol={protocol}", f"seed={seed}")
    assert r["safety"] == "ok", r["safety"]
    assert r["ops_committed"] > 200 and r["aborts_timeout"] > 0
    assert r["invariant_exposure_ms"] > 0
    # Saga shows its steps before they are settled; TCC shows confirmed balances only
    assert (r["dirty_reads_per_1k_txn"] > 0) is (protocol == "saga"), r["dirty_reads_per_1k_txn"]


def test_forward_recovery_carries_a_saga_on_where_backward_recovery_compensates(make_suite):
    backward = row(make_suite, "protocol=saga")
    forward = row(make_suite, "protocol=saga", "protocols.saga.recovery=forward")
    assert backward["safety"] == forward["safety"] == "ok", (backward["safety"], forward["safety"])
    assert backward["aborts_timeout"] > 0 and backward["dirty_reads_per_1k_txn"] > 0
    assert forward["aborts_timeout"] == 0 and forward["dirty_reads_per_1k_txn"] == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tcc_without_idempotent_confirm_is_caught_under_duplication(make_suite, seed):
    r = row(make_suite, "protocol=tcc", "protocols.tcc.idempotent=false", f"seed={seed}",
            "faults={}")
    assert r["safety"].startswith("violation: bank invariant"), r["safety"]


@pytest.mark.parametrize("protocol", ["saga", "tcc"])
def test_a_workload_with_no_compensation_is_refused_in_one_line(suite_file, protocol):
    path = suite_file(BANK.split("workload:")[0] + "workload: {type: ycsb, keys: 100}\n")
    result = CliRunner().invoke(main, ["validate", str(path), "--set", f"protocol={protocol}"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert str(path) in lines[0] and "workload.type" in lines[0] and "bank" in lines[0], lines[0]
