"""The transactions kind's contracts: the world asks a partition node only through the hooks of
``harness.kinds.transactions.contract``, and a concurrency control asks its partition only what
``implementations.txn.concurrency`` lists."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.kinds.transactions.contract import (
    ADD, COMMITTED, CONFLICT, DEADLOCK, FAILURE, TIMEOUT, WRITE, AbortRequest, CommitObs,
    CommitRequest, Inquiry, OpReply, OpRequest, Outcome, Store, TransactionNode,
)
from harness.protocol import register
from implementations.occ.validation import OptimisticCC
from implementations.twopl.locking import LockingCC
from implementations.txn.concurrency import GRANTED, WAIT
from implementations.txn.records import ACTIVE, ParticipantTxn
from test_txn_harness import run_suite

ROOT = Path(__file__).resolve().parent.parent


@register("test-serial", kind="transactions")
class SerialPartition(TransactionNode):
    """One transaction at a time per partition (a newcomer meeting a running one aborts), one
    phase commits: correct, and written against the contract alone -- none of the built-in
    nodes' attributes (``txns``, ``coord``, ``store``) exists here."""

    def __init__(self, node_id, nodes, replication, options, store):
        self.id = node_id
        self.data = store
        self.running = 0  # the tid of the transaction in progress, 0 when none
        self.reads: dict = {}
        self.writes: dict = {}
        self.outcomes: dict = {}

    def start(self, ctx, stable):
        for tid, writes in stable:
            for key, value in writes:
                self.data.install(key, value, tid)
            self.outcomes[tid] = COMMITTED

    def _end(self, tid, outcome):
        self.outcomes.setdefault(tid, outcome)
        if self.running == tid:
            self.running, self.reads, self.writes = 0, {}, {}

    def on_request(self, ctx, req):
        tid = req.tid
        if type(req) is OpRequest:
            if tid in self.outcomes or self.running not in (0, tid):
                self._end(tid, CONFLICT)
                ctx.reply(req, Outcome(tid, self.outcomes[tid], True))
                return
            self.running = tid
            old = self.writes.get(req.key)
            if old is None:
                old, version = self.data.get(req.key)
                self.reads.setdefault(req.key, version)
            if req.kind == WRITE:
                self.writes[req.key] = req.arg
            elif req.kind == ADD:
                self.writes[req.key] = old + req.arg
            ctx.reply(req, OpReply(tid, req.index, old, False, req.vsize, self.reads[req.key], 1))
        elif type(req) is CommitRequest and self.running == tid:
            installs = [(k, self.data.install(k, v, tid), v) for k, v in self.writes.items()]
            if installs:
                ctx.persist((tid, list(self.writes.items())))
            ctx.observe("commit", CommitObs(tid, (self.id,), list(self.reads.items()), installs))
            self._end(tid, COMMITTED)
            ctx.reply(req, Outcome(tid, COMMITTED))
        elif type(req) in (CommitRequest, Inquiry):
            self._end(tid, FAILURE)
            ctx.reply(req, Outcome(tid, self.outcomes[tid]))
        elif type(req) is AbortRequest:
            self._end(tid, TIMEOUT)

    def on_message(self, ctx, src, msg):
        raise TypeError(f"unexpected message {msg!r}")

    def on_timer(self, ctx, name):
        pass

    def committed(self) -> Store:
        return self.data

    def idle(self) -> bool:
        return self.running == 0


def test_a_node_written_against_the_contract_alone_runs_and_is_checked():
    """The world reads no protocol attribute: the bank total at quiescent points, the drain and
    the final check all go through the hooks."""
    row = run_suite({"name": "serial", "kind": "transactions", "protocol": "test-serial",
                     "duration": "400ms", "warmup": "50ms", "cluster": {"partitions": 2},
                     "workload": {"type": "bank", "clients": 6, "accounts": 40,
                                  "multi_partition": 0.0}})
    # a serial node commits each transaction on its home partition only: atomicity has nothing to judge
    assert row["safety"] == "ok (vacuous: no multi-partition transaction committed)", row["safety_detail"]
    assert row["ops_committed"] > 0 and row["quiescent_checks"] > 0


def test_the_harness_imports_no_protocol():
    """The transactions world and checker take their vocabulary from the kind, not from a
    protocol's package."""
    offenders = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] == "implementations"]
    assert not offenders


class Charges:
    """A context that only keeps the CPU time charged to it."""

    def __init__(self):
        self.charged = 0.0

    def charge(self, seconds):
        self.charged += seconds


class BarePartition:
    """Exactly what a concurrency control may ask of its partition, and nothing else."""

    __slots__ = ("txns", "cc", "store", "ctx", "aborted", "granted")

    def __init__(self):
        self.txns: dict[int, ParticipantTxn] = {}
        self.store = Store()
        self.ctx = Charges()
        self.aborted: list[tuple[int, int]] = []
        self.granted: list[int] = []

    def transactions(self):
        return self.txns.values()

    def is_active(self, t):
        return t.state == ACTIVE and self.txns.get(t.tid) is t

    def abort_active(self, t, reason, notify=True):
        self.aborted.append((t.tid, reason))
        del self.txns[t.tid]
        self.cc.abort(t)

    def lock_granted(self, t):
        self.granted.append(t.tid)


def txn(partition, tid, ts):
    t = partition.txns[tid] = ParticipantTxn(tid, ts, 0, 0.0)
    partition.cc.begin(t)
    return t


def test_wound_wait_and_detection_need_only_the_partitions_public_interface():
    p = BarePartition()
    p.cc = LockingCC(p, "wound_wait")
    young, old = txn(p, 2, ts=2), txn(p, 1, ts=1)
    assert p.cc.access(young, WRITE, 7, 0.0) == GRANTED
    assert p.cc.access(old, WRITE, 7, 0.0) == GRANTED  # the younger holder is wounded
    assert p.aborted == [(2, CONFLICT)] and p.cc.locks[7].exclusive == 1

    p = BarePartition()
    p.cc = LockingCC(p, "detect")
    a, b = txn(p, 1, ts=1), txn(p, 2, ts=2)
    assert p.cc.access(a, WRITE, 1, 0.0) == GRANTED and p.cc.access(b, WRITE, 2, 0.0) == GRANTED
    assert p.cc.access(a, WRITE, 2, 0.0) == WAIT
    assert p.cc.access(b, WRITE, 1, 0.0) == DEADLOCK  # the younger closes the cycle: victim
    assert p.ctx.charged > 0  # the search was paid for
    p.cc.abort(b)
    assert p.granted == [1] and p.aborted == []  # a's wait ends through lock_granted


def test_optimistic_validation_needs_only_the_partitions_public_interface():
    p = BarePartition()
    p.cc = OptimisticCC(p, "silo")
    reader = txn(p, 1, ts=1)
    reader.reads[5] = 0
    p.store.install(5, 9, 77)  # overwritten since it was read
    assert p.cc.validate(reader) != 0
    p.cc.tick(0.0)  # prunes by what transactions() says is active
