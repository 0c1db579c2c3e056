"""A leaderless quorum store node (Dynamo: DeCandia et al., SOSP 2007; Cassandra's
``StorageProxy``), sans-I/O. No leader, no election, no agreed log: every node holds the keys the
ring gives it and coordinates any client request it receives.

Writes (``StorageProxy.mutate``; Dynamo section 4.5)
    The write is stamped (``timestamps``) with the client's timestamp and id, as Cassandra's
    drivers do, or with the coordinator's own clock (``ctx.now``, made strictly increasing as
    Cassandra's ``AtomicMonotonicTimestampGenerator`` does) and id. The coordinator sends it to
    the key's N replicas and answers the client once W of them have made it durable. A replica
    keeps a version only if its stamp wins (last write wins, ties to the larger id). A
    coordinator's stamp is new on every retry, so a retried or late-delivered write can
    overwrite a newer one: only client stamps keep a quorum store regular.
Reads (Dynamo section 4.5; Cassandra's ``ReadCallback``)
    The coordinator asks all N replicas and, once R have answered, takes the newest version.
    With ``read_repair: blocking`` (Cassandra 4's ``BlockingReadRepair``) answers that disagree
    make it write the newest version to the stale answerers first and answer the client once
    they acknowledge; the answers are compared by stamp, which is what a digest compares.
Failures (``replica_timeout``)
    Past it a coordinator short of answers asks the next nodes on the ring (``sloppy_quorum``,
    Dynamo section 4.6: a fallback keeps the write and, with ``hinted_handoff``, a hint for the
    replica it stood in for) and, for a write, records a hint for every replica that has not
    acknowledged (``hinted_handoff``, Cassandra's ``HintsService``). Hints are replayed every
    ``replica_timeout`` until acknowledged. A coordinator forgets a request three timeouts after
    it began; the client has retried by then.

What it promises (:meth:`QuorumNode.consistency`): with R + W > N, a strict quorum and client
stamps every read meets every completed write, so reads are regular (while the clients' clocks
agree); otherwise only eventual consistency. A compare-and-set needs Paxos (Cassandra's
lightweight transactions), which this store does not run: the suite refuses CAS, and a CAS that
arrives anyway is answered "not swapped".
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.kinds.consensus.contract import EVENTUAL, REGULAR
from harness.protocol import Context, Node, ReplicationOptions
from implementations.quorum.coordinator import PendingRead, PendingWrite, newer
from implementations.quorum.messages import Mutation, MutationAck, Read, ReadResult
from implementations.quorum.options import QuorumOptions
from implementations.quorum.records import Boot, Hint, HintDone, Stored
from implementations.quorum.ring import TokenRing
from workloads.kv import CAS, GET, OK, KVStateMachine, Reply, Request

__all__ = ["QuorumNode"]

TICK = 1e-6  # the timestamp step of a coordinator whose clock has not moved (Cassandra: 1 us)
INCARNATION = 1_000_000_000  # op ids of one incarnation: boot * this + a count
EXPIRY = 3  # a coordinator forgets a request after this many replica timeouts


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class QuorumNode(Node):
    """One node of the ring: a replica of the keys it holds and a coordinator of the requests
    it receives."""

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: ReplicationOptions,
                 options: QuorumOptions, state_machine: KVStateMachine):
        self.id = node_id
        self.n = options.replication_factor
        self.r = options.r
        self.w = options.w
        self.blocking_repair = options.read_repair == "blocking"
        self.hinted_handoff = options.hinted_handoff
        self.sloppy = options.sloppy_quorum
        self.client_stamps = options.timestamps == "client"
        self.timeout = options.replica_timeout
        self.ring = TokenRing(nodes, options.vnodes)
        self.sm = state_machine  # this node's values (and their sizes): the versions' payload
        self.stamps: dict[int, tuple[float, int]] = {}  # key -> (ts, origin) of the value kept
        self.last_ts = 0.0
        self.boot = 0
        self.next_op = 0
        self.writes: dict[int, PendingWrite] = {}
        self.reads: dict[int, PendingRead] = {}
        self.by_uid: dict[int, int] = {}  # client request -> the op coordinating it here
        self.hints: dict[int, Hint] = {}
        self.sweeping = False

    def consistency(self) -> str:
        """Regular with a strict quorum whose reads meet every write (R + W > N) and stamps
        that a retry keeps (client timestamps), else eventual
        (``harness.kinds.consensus.contract``)."""
        strict = self.r + self.w > self.n and not self.sloppy
        return REGULAR if strict and self.client_stamps else EVENTUAL

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, ctx: Context, stable: list[Any]) -> None:
        for record in stable:
            if isinstance(record, Stored):
                self._keep(record)
            elif isinstance(record, Hint):
                self.hints[record.hint] = record
            elif isinstance(record, HintDone):
                self.hints.pop(record.hint, None)
            elif isinstance(record, Boot):
                self.boot = record.boot
        self.boot += 1
        ctx.persist(Boot(self.boot))
        if self.hints:
            ctx.set_timer("handoff", self.timeout)

    def _op(self) -> int:
        """A fresh id for something this node waits on, unique across its restarts."""
        self.next_op += 1
        return self.boot * INCARNATION + self.next_op

    # -- the replica's side ------------------------------------------------------------------
    def _keep(self, version: Stored) -> bool:
        """Keep ``version`` if it wins over the one kept; did it?"""
        key = version.key
        kept = self.stamps.get(key)
        if kept is not None and not newer(version.ts, version.origin, kept[0], kept[1]):
            return False
        self.stamps[key] = (version.ts, version.origin)
        data = self.sm.data
        data[key] = version.value
        self.sm.sizes[key] = version.size
        return True

    def _store(self, ctx: Context, version: Stored) -> None:
        """Keep ``version`` durably if it wins (every later output waits for its fsync)."""
        if self._keep(version):
            ctx.persist(version)

    def _version(self, key: int) -> Stored:
        """The version of ``key`` kept here (stamp (0, -1) and value 0: none)."""
        kept = self.stamps.get(key)
        if kept is None:
            return Stored(key, 0, 0, 0.0, -1)
        return Stored(key, self.sm.data.get(key, 0), self.sm.sizes.get(key, 0), kept[0], kept[1])

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        if isinstance(msg, MutationAck):
            self._acked(ctx, src, msg.op)
        elif isinstance(msg, Mutation):
            version = Stored(msg.key, msg.value, msg.vsize, msg.ts, msg.origin)
            self._store(ctx, version)
            if msg.hint_for >= 0 and self.hinted_handoff:
                self._hint(ctx, msg.hint_for, version)
            ctx.send(src, MutationAck(msg.op))
        elif isinstance(msg, Read):
            v = self._version(msg.key)
            ctx.send(src, ReadResult(msg.op, msg.key, v.value, v.size, v.ts, v.origin))
        elif isinstance(msg, ReadResult):
            read = self.reads.get(msg.op)
            if read is not None and src not in read.answers:
                read.answers[src] = Stored(msg.key, msg.value, msg.vsize, msg.ts, msg.origin)
                self._check_read(ctx, msg.op, read)

    # -- hinted handoff ----------------------------------------------------------------------
    def _hint(self, ctx: Context, target: int, version: Stored) -> None:
        """Owe ``version`` to ``target`` until it acknowledges."""
        hint = Hint(self._op(), target, version)
        self.hints[hint.hint] = hint
        ctx.persist(hint)
        ctx.set_timer("handoff", self.timeout)

    def _hand_off(self, ctx: Context) -> None:
        for hint in self.hints.values():
            v = hint.version
            ctx.send(hint.target, Mutation(hint.hint, v.key, v.value, v.size, v.ts, v.origin))
        if self.hints:
            ctx.set_timer("handoff", self.timeout)

    def _acked(self, ctx: Context, src: int, op: int) -> None:
        write = self.writes.get(op)
        if write is not None:
            if src in write.targets and src not in write.acked:
                write.acked.append(src)
                self._check_write(ctx, op, write)
            return
        read = self.reads.get(op)
        if read is not None:
            if src in read.repairing:
                read.repairing.remove(src)
                self._check_read(ctx, op, read)
            return
        if self.hints.pop(op, None) is not None:
            ctx.persist(HintDone(op))

    # -- the coordinator's side --------------------------------------------------------------
    def on_request(self, ctx: Context, req: Request) -> None:
        if req.uid in self.by_uid:
            return  # a retry of a request in flight here: its answer is on its way
        if req.op == CAS:
            ctx.reply(req, Reply(req, OK, False))
            return
        op = self._op()
        self.by_uid[req.uid] = op
        replicas = self.ring.preference(req.key)[:self.n]
        if req.op == GET:
            read = self.reads[op] = PendingRead(req, replicas, self.r, ctx.now)
            ask = Read(op, req.key)
            for node in replicas:
                if node != self.id:
                    ctx.send(node, ask)
            if self.id in replicas:
                read.answers[self.id] = self._version(req.key)
            self._arm(ctx)
            self._check_read(ctx, op, read)
        else:
            now = ctx.now
            if self.client_stamps:
                version = Stored(req.key, req.value, req.value_size, req.ts, req.client)
            else:
                self.last_ts = ts = now if now > self.last_ts else self.last_ts + TICK
                version = Stored(req.key, req.value, req.value_size, ts, self.id)
            write = self.writes[op] = PendingWrite(req, version, replicas, self.w, now)
            mutation = Mutation(op, req.key, req.value, req.value_size, version.ts, version.origin)
            for node in replicas:
                if node != self.id:
                    ctx.send(node, mutation)
            if self.id in replicas:
                self._store(ctx, version)  # the reply, issued later, waits for this fsync
                write.acked.append(self.id)
            self._arm(ctx)
            self._check_write(ctx, op, write)

    def _check_write(self, ctx: Context, op: int, write: PendingWrite) -> None:
        if not write.done and len(write.acked) >= write.needed:
            self._answer(ctx, write.request, Reply(write.request, OK, True))
            write.done = True
        if write.done and (len(write.acked) >= len(write.targets) or write.escalated
                           or not (self.hinted_handoff or self.sloppy)):
            del self.writes[op]

    def _check_read(self, ctx: Context, op: int, read: PendingRead) -> None:
        if read.done or len(read.answers) < read.needed:
            return
        best = read.best
        if best is None:
            for answer in read.answers.values():
                if best is None or newer(answer.ts, answer.origin, best.ts, best.origin):
                    best = answer
            assert best is not None
            read.best = best
            if self.blocking_repair:
                self._repair(ctx, op, read, best)
        if read.repairing:
            return
        req = read.request
        read.done = True
        del self.reads[op]
        self._answer(ctx, req, Reply(req, OK, best.value, None, best.size))

    def _repair(self, ctx: Context, op: int, read: PendingRead, best: Stored) -> None:
        """Write ``best`` to every answerer that returned an older version."""
        for node, answer in read.answers.items():
            if answer.ts == best.ts and answer.origin == best.origin:
                continue
            if node == self.id:
                self._store(ctx, best)
            else:
                read.repairing.append(node)
                ctx.send(node, Mutation(op, best.key, best.value, best.size, best.ts, best.origin))

    def _answer(self, ctx: Context, req: Request, reply: Reply) -> None:
        self.by_uid.pop(req.uid, None)
        ctx.reply(req, reply)

    # -- timeouts: sloppy quorum, hints, forgetting --------------------------------------------
    def _arm(self, ctx: Context) -> None:
        if not self.sweeping:
            self.sweeping = True
            ctx.set_timer("sweep", self.timeout)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "handoff":
            self._hand_off(ctx)
            return
        self.sweeping = False
        now = ctx.now
        for op, write in list(self.writes.items()):
            if not write.escalated and now - write.since >= self.timeout:
                self._escalate_write(ctx, op, write)
            if now - write.since >= EXPIRY * self.timeout and op in self.writes:
                self._forget(write.request, op, self.writes)
        for op, read in list(self.reads.items()):
            if not read.escalated and now - read.since >= self.timeout:
                read.escalated = True
                if self.sloppy and read.best is None:
                    ask = Read(op, read.request.key)
                    for node in self._fallbacks(read.request.key, read.asked, read.needed - len(read.answers)):
                        read.asked.append(node)
                        ctx.send(node, ask)
            if now - read.since >= EXPIRY * self.timeout:
                self._forget(read.request, op, self.reads)
        if self.writes or self.reads:
            self._arm(ctx)

    def _escalate_write(self, ctx: Context, op: int, write: PendingWrite) -> None:
        """Past the timeout: stand-ins for the silent replicas (sloppy quorum), else hints."""
        write.escalated = True
        v = write.version
        missing = write.missing()
        stand_ins = self._fallbacks(v.key, write.targets, len(missing)) if self.sloppy and not write.done else []
        for replica, fallback in zip(missing, stand_ins):
            write.targets.append(fallback)
            ctx.send(fallback, Mutation(op, v.key, v.value, v.size, v.ts, v.origin, replica))
        if self.hinted_handoff:
            for replica in missing[len(stand_ins):]:
                self._hint(ctx, replica, v)
        self._check_write(ctx, op, write)

    def _fallbacks(self, key: int, used: list[int], count: int) -> list[int]:
        """Up to ``count`` nodes past the key's N replicas on the ring, not in ``used`` and not this
        coordinator (which, not a replica of the key, can be among them, and sends to others only)."""
        return [node for node in self.ring.preference(key)[self.n:]
                if node not in used and node != self.id][:max(count, 0)]

    def _forget(self, req: Request, op: int, pending: dict) -> None:
        del pending[op]
        if self.by_uid.get(req.uid) == op:
            del self.by_uid[req.uid]
