"""The partition node of the protocols whose operations take effect at each partition at once,
without locks or a prepare round (Saga, TCC), and are settled afterwards: confirmed when the
attempt commits, undone when it does not. Atomicity comes *in the end*, isolation not at all
(:data:`~harness.kinds.transactions.contract.ATOMIC_IN_THE_END`).

Steps
    Every write operation of an attempt is a *step* of that attempt's *part* at the partition:
    logged (:class:`~implementations.txn.settling.StepTaken`) and answered at once. A step moves
    an amount (the bank's operations do: a write of ``v`` over ``old`` moves ``v - old``); what
    "taking effect" means is the protocol's: Saga applies the amount at once
    (:mod:`implementations.saga`), TCC freezes or earmarks it (:mod:`implementations.tcc`).
    Reads answer at once, from what the protocol shows.

Settling
    The attempt's home partition decides. A ``CommitRequest`` decides *confirm* (logged, then
    answered, then ``Settle(confirm)`` pushed to the other participants and re-sent every
    ``retransmit`` until acknowledged). The client's ``AbortRequest`` undoes the part where it
    arrives (and decides *undo* at the home); an ``Inquiry`` about an attempt the home has not
    decided decides undo. A part that has heard nothing for ``idle_timeout`` asks its home
    (``Ask``, again every ``retransmit``); a home asked about an undecided attempt whose own
    part is quiet too (or absent) decides undo. So every part is settled once the messages get
    through, whoever was lost or crashed; the log replays steps, settlements and decisions.

The three guards (Seata's TCC hazards)
    ``idempotent``: a part settled here is settled once (a fence per attempt); without it the
    settled part is kept, like a business table row, and a duplicated confirm or undo applies
    it again. ``empty_rollback``: an undo that finds no step here records the fence anyway;
    without it it leaves no trace. ``anti_suspension``: an operation of an attempt the fence
    says is settled is dropped; without it it takes effect, and nobody will settle it again
    (suspension). Saga keeps all three; TCC lets each be switched off.

Observations: ``"moved"`` with every amount the committed balances change by (the world
measures how long the bank total was wrong); ``"settled"`` with ``(tid, confirmed)`` for every
part settled (the checker's atomicity in the end); ``"undone_seen"`` with ``(reads, writes)``
when a part whose changes others had already used is undone (dirty reads; updates made on top of
an undone step).
"""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.contract import Context
from harness.kinds.transactions.contract import (
    ATOMIC_IN_THE_END, COMMITTED, FAILURE, READ, WRITE, AbortRequest, CommitRequest, Inquiry,
    OpReply, OpRequest, Outcome, Store, TransactionNode, tid_str,
)
from implementations.txn.settling import (
    Ask, HomeDecided, HomeEnded, PartSettled, Settle, SettleAck, StepTaken,
)

__all__ = ["Step", "Part", "StepwiseNode", "TICK"]

TICK = 0.005  # the housekeeping timer: quiet parts and unacknowledged confirmations


class Step:
    """One write operation of an attempt, as taken here: it moves ``delta`` on ``key``; ``value``
    is what it answered (a duplicate of the request gets the same answer)."""

    __slots__ = ("index", "key", "delta", "value")

    def __init__(self, index: int, key: int, delta: int, value: int):
        self.index = index
        self.key = key
        self.delta = delta
        self.value = value


class Part:
    """An attempt's unsettled steps at this partition. ``last``: its latest operation here;
    ``asked``: when it last asked the home; ``read_by`` / ``written_over``: operations of other
    attempts that read / changed a key after one of these steps had changed it."""

    __slots__ = ("tid", "home", "steps", "last", "asked", "read_by", "written_over")

    def __init__(self, tid: int, home: int, now: float):
        self.tid = tid
        self.home = home
        self.steps: list[Step] = []
        self.last = now
        self.asked = -1e9
        self.read_by = 0
        self.written_over = 0


class Confirming:
    """A confirmation the home is delivering: the participants yet to acknowledge it."""

    __slots__ = ("tid", "awaiting", "last_sent")

    def __init__(self, tid: int, awaiting: set[int], now: float):
        self.tid = tid
        self.awaiting = awaiting
        self.last_sent = now


@mypyc_attr(allow_interpreted_subclasses=True)  # Saga, TCC and tests subclass it
class StepwiseNode(TransactionNode):
    """One partition: steps of the attempts that use its keys, and the decisions of the attempts
    homed here. Subclasses say what a step does (:meth:`take`, :meth:`confirm`, :meth:`undo`)
    and what an operation sees (:meth:`available`)."""

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: Any, options: Any,
                 store: Store | None = None):
        self.id = node_id
        self.nodes = nodes
        self.options = options
        self.store = store if store is not None else Store()
        self.idle_timeout: float = options.idle_timeout
        self.retransmit: float = options.retransmit
        self.idempotent = True
        self.empty_rollback = True
        self.anti_suspension = True
        self.parts: dict[int, Part] = {}
        self.fence: dict[int, bool] = {}         # tid -> confirmed? (its part here is settled)
        self.kept: dict[int, Part] = {}          # settled parts, kept only without `idempotent`
        self.writers: dict[int, list[int]] = {}  # key -> attempts whose unsettled step changed it
        self.decided: dict[int, int] = {}        # home: tid -> COMMITTED or FAILURE
        self.confirming: dict[int, Confirming] = {}

    # -- what a protocol defines ------------------------------------------------------------------
    def available(self, key: int) -> int:
        """The value an operation on ``key`` reads and moves from."""
        return self.store.get(key)[0]

    def take(self, ctx: Context | None, tid: int, step: Step) -> None:
        """``step`` takes effect (``ctx`` is None when the log is replayed)."""
        raise NotImplementedError

    def confirm(self, ctx: Context | None, tid: int, step: Step) -> None:
        raise NotImplementedError

    def undo(self, ctx: Context | None, tid: int, step: Step) -> None:
        raise NotImplementedError

    def held(self) -> list[str]:
        """What a protocol still holds outside any part (an amount frozen), one line each."""
        return []

    # -- shared by the protocols' steps -------------------------------------------------------------
    def move(self, ctx: Context | None, tid: int, key: int, delta: int) -> None:
        """Change the committed balance of ``key`` by ``delta`` (a new version named ``tid``)."""
        if not delta:
            return
        store = self.store
        store.install(key, store.get(key)[0] + delta, tid)
        if ctx is not None:
            ctx.observe("moved", delta)

    def expose(self, tid: int, key: int) -> None:
        """``tid``'s step changed ``key`` where others can see it, until the part is settled."""
        self.writers.setdefault(key, []).append(tid)

    # -- the Node interface ----------------------------------------------------------------------
    def start(self, ctx: Context, stable: list[Any]) -> None:
        if stable:
            self._replay(stable, ctx.now)
        ctx.set_timer("tick", TICK)

    def on_request(self, ctx: Context, request: Any) -> None:
        t = type(request)
        if t is OpRequest:
            self._operation(ctx, request)
        elif t is CommitRequest:
            self._commit_request(ctx, request)
        elif t is AbortRequest:
            self._abort_request(ctx, request)
        elif t is Inquiry:
            self._inquiry(ctx, request)
        else:
            raise TypeError(f"{type(self).__name__}: unexpected request {request!r}")

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        t = type(msg)
        if t is Settle:
            self._settle_here(ctx, msg.tid, msg.commit)
            ctx.send(src, SettleAck(msg.tid))
        elif t is SettleAck:
            self._acknowledged(ctx, src, msg.tid)
        elif t is Ask:
            self._asked(ctx, src, msg.tid)
        else:
            raise TypeError(f"{type(self).__name__}: unexpected message {msg!r}")

    def on_timer(self, ctx: Context, name: str) -> None:
        now = ctx.now
        for part in list(self.parts.values()):
            if now - part.last >= self.idle_timeout and now - part.asked >= self.retransmit:
                part.asked = now
                if part.home == self.id:
                    self._asked(ctx, self.id, part.tid)
                else:
                    ctx.send(part.home, Ask(part.tid))
        for c in self.confirming.values():
            if now - c.last_sent >= self.retransmit:
                c.last_sent = now
                settle = Settle(c.tid, True)
                for p in c.awaiting:
                    ctx.send(p, settle)
        ctx.set_timer("tick", TICK)

    # -- steps -------------------------------------------------------------------------------------
    def _operation(self, ctx: Context, req: OpRequest) -> None:
        tid, key = req.tid, req.key
        if self.anti_suspension and tid in self.fence:
            return  # settled here already: a late or duplicated operation must not take effect
        part = self.parts.get(tid)
        if part is not None:
            for s in part.steps:
                if s.index == req.index:  # a duplicate: the same answer
                    ctx.reply(req, OpReply(tid, req.index, s.value, False, req.vsize))
                    return
        self._seen(tid, key, req.kind != READ)
        if req.kind == READ:
            ctx.reply(req, OpReply(tid, req.index, self.store.get(key)[0], False, req.vsize))
            return
        value = self.available(key)
        delta = req.arg - value if req.kind == WRITE else req.arg
        if part is None:
            part = self.parts[tid] = Part(tid, req.home, ctx.now)
        step = Step(req.index, key, delta, value)
        part.steps.append(step)
        part.last = ctx.now
        ctx.persist(StepTaken(tid, req.home, req.index, key, delta, value))
        self.take(ctx, tid, step)
        ctx.reply(req, OpReply(tid, req.index, value, False, req.vsize))

    def _seen(self, tid: int, key: int, writes: bool) -> None:
        """Count a use of ``key`` by ``tid`` against every other unsettled step that changed it."""
        writers = self.writers.get(key)
        if not writers:
            return
        parts = self.parts
        for w in writers:
            if w != tid:
                part = parts.get(w)
                if part is not None:
                    if writes:
                        part.written_over += 1
                    else:
                        part.read_by += 1

    # -- settling ---------------------------------------------------------------------------------
    def _settle_here(self, ctx: Context, tid: int, commit: bool) -> None:
        if self.idempotent and tid in self.fence:
            return
        if tid not in self.parts and (self.idempotent or tid not in self.kept):
            if commit or not self.empty_rollback:
                return  # nothing here to confirm; an unguarded empty undo leaves no trace
        ctx.persist(PartSettled(tid, commit))
        self._settled(ctx, tid, commit)

    def _settled(self, ctx: Context | None, tid: int, commit: bool) -> None:
        """Confirm (in order) or undo (in reverse order) ``tid``'s steps here; fence it."""
        self.fence[tid] = commit
        part = self.parts.pop(tid, None)
        if part is None and not self.idempotent:
            part = self.kept.get(tid)
        if part is None:
            return
        steps = part.steps
        if commit:
            for s in steps:
                self.confirm(ctx, tid, s)
        else:
            for s in reversed(steps):
                self.undo(ctx, tid, s)
        writers = self.writers
        for s in steps:
            ws = writers.get(s.key)
            if ws is not None and tid in ws:
                ws.remove(tid)
                if not ws:
                    del writers[s.key]
        if not self.idempotent:
            self.kept[tid] = part
        if ctx is not None:
            ctx.observe("settled", (tid, commit))
            if not commit and (part.read_by or part.written_over):
                ctx.observe("undone_seen", (part.read_by, part.written_over))
            part.read_by = part.written_over = 0

    # -- the home's decisions ------------------------------------------------------------------------
    def _decide(self, ctx: Context, tid: int, commit: bool, participants: tuple[int, ...]) -> None:
        ctx.persist(HomeDecided(tid, commit, participants))
        self.decided[tid] = COMMITTED if commit else FAILURE
        me = self.id
        if commit:
            others = {p for p in participants if p != me}
            if others:
                self.confirming[tid] = Confirming(tid, others, ctx.now)
                settle = Settle(tid, True)
                for p in others:
                    ctx.send(p, settle)
            if me in participants:
                self._settle_here(ctx, tid, True)
        else:
            self._settle_here(ctx, tid, False)

    def _commit_request(self, ctx: Context, req: CommitRequest) -> None:
        tid = req.tid
        outcome = self.decided.get(tid)
        if outcome is None:
            self._decide(ctx, tid, True, req.participants)
            outcome = COMMITTED
        ctx.reply(req, Outcome(tid, outcome))

    def _abort_request(self, ctx: Context, req: AbortRequest) -> None:
        tid = req.tid
        part = self.parts.get(tid)
        if part is not None and part.home == self.id and tid not in self.decided:
            self._decide(ctx, tid, False, ())
        else:
            self._settle_here(ctx, tid, False)

    def _inquiry(self, ctx: Context, req: Inquiry) -> None:
        tid = req.tid
        outcome = self.decided.get(tid)
        if outcome is None:  # the commit request never arrived, or was lost in a crash
            # every step has run (the client asks only once all were answered): forward
            # recovery completes the transaction, backward recovery undoes it
            forward = self.resends_operations()
            self._decide(ctx, tid, forward, req.participants if forward else ())
            outcome = COMMITTED if forward else FAILURE
        ctx.reply(req, Outcome(tid, outcome))

    def _asked(self, ctx: Context, src: int, tid: int) -> None:
        outcome = self.decided.get(tid)
        if outcome is None:
            part = self.parts.get(tid)
            if part is not None and ctx.now - part.last < self.idle_timeout:
                return  # still in use here: the client may yet commit
            self._decide(ctx, tid, False, ())
            outcome = FAILURE
        if src == self.id:  # the home's own part (decided before a crash, settled after it)
            self._settle_here(ctx, tid, outcome == COMMITTED)
        else:
            ctx.send(src, Settle(tid, outcome == COMMITTED))

    def _acknowledged(self, ctx: Context, src: int, tid: int) -> None:
        c = self.confirming.get(tid)
        if c is not None:
            c.awaiting.discard(src)
            if not c.awaiting:
                ctx.persist(HomeEnded(tid))
                del self.confirming[tid]

    # -- recovery ------------------------------------------------------------------------------------
    def _replay(self, stable: list[Any], now: float) -> None:
        parts, me = self.parts, self.id
        for rec in stable:
            kind = type(rec)
            if kind is StepTaken:
                part = parts.get(rec.tid)
                if part is None:
                    part = parts[rec.tid] = Part(rec.tid, rec.home, now)
                step = Step(rec.index, rec.key, rec.delta, rec.value)
                part.steps.append(step)
                self.take(None, rec.tid, step)
            elif kind is PartSettled:
                self._settled(None, rec.tid, rec.commit)
            elif kind is HomeDecided:
                self.decided[rec.tid] = COMMITTED if rec.commit else FAILURE
                others = {p for p in rec.participants if p != me}
                if rec.commit and others:
                    self.confirming[rec.tid] = Confirming(rec.tid, others, -1e9)
            elif kind is HomeEnded:
                self.confirming.pop(rec.tid, None)

    # -- what the world may ask (TransactionNode) --------------------------------------------------
    def committed(self) -> Store:
        return self.store

    def isolation(self) -> str:
        return ATOMIC_IN_THE_END

    def idle(self) -> bool:
        return not self.parts and not self.confirming

    def in_doubt(self) -> list[tuple[int, int]]:
        return [(tid, part.home) for tid, part in self.parts.items()]

    def collecting_votes(self, tid: int) -> bool:
        """Asked of ``tid``'s home (another partition holds a part of it): not decided yet, so
        crashing this node now leaves that part unsettled until it is back."""
        return tid not in self.decided

    def coordinating(self) -> bool:
        return bool(self.confirming)

    def settled(self) -> bool:
        return not self.parts and not self.confirming and not self.held()

    def unsettled(self) -> list[str]:
        out = [f"{tid_str(tid)}: {len(p.steps)} step(s) neither confirmed nor undone"
               for tid, p in self.parts.items()]
        out += [f"{tid_str(tid)}: confirmation not acknowledged by partition(s) {sorted(c.awaiting)}"
                for tid, c in self.confirming.items()]
        return out + self.held()
