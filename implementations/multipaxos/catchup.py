"""How a Multi-Paxos replica fills the slots it lacks.

Gaps (``replication.reorder_wait``, the same rule as the Raft follower)
    A replica that lacks a slot below one it has accepted in the current ballot, or below the
    leader's commit index, waits ``reorder_wait`` for it (the network reorders), then asks the
    leader with a ``CatchupReq`` for the missing run of slots, again every retransmission
    interval while it is missing. The leader answers with the chosen ones (catch-up) and
    re-sends the accepts of those not yet chosen. An acceptor still accepts and acknowledges
    every later slot meanwhile: a gap costs Multi-Paxos no acknowledgements, where a Raft
    follower, which accepts in log order only, acknowledges nothing past it.

Catch-up
    One chosen slot per ``Catchup`` message, at most ``pipeline`` of them per request, as the
    Raft leader catches a follower up (``batch_size: 1`` batches no catch-up either). A replica
    keeps asking for the next transfer while it is still behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.contract import Context
from implementations.multipaxos.messages import Accept, Catchup, CatchupReq

from implementations.multipaxos.roles import FOLLOWER, LEADER

if TYPE_CHECKING:
    from implementations.multipaxos.node import MultiPaxosNode

__all__ = ["CatchUp"]

INF = float("inf")


class CatchUp:
    """A replica's requests for the slots it lacks, and its answers to others' requests."""

    __slots__ = ("node", "asked_from", "asked_until", "ask_whom", "gap_due", "gap_slot")

    def __init__(self, node: MultiPaxosNode):
        self.node = node
        self.asked_from = -1  # first slot of the last catch-up request ...
        self.asked_until = -1  # ... and the end of its range
        self.ask_whom = -1  # whom to ask for a missing chosen slot
        self.gap_due = INF  # when the "gap" timer fires ...
        self.gap_slot = -1  # ... for this missing slot (-1: a retry, for the first one missing)

    def wait_for_gap(self, ctx: Context, src: int, missing: int) -> None:
        """Slot ``missing`` is missing: ask after ``reorder_wait`` unless it was asked for
        already (then the retry follows every retransmission interval)."""
        if self.asked_from <= missing < self.asked_until:
            return
        wait = self.node.reorder_wait
        due = ctx.now + wait
        if due < self.gap_due:
            self.ask_whom = src
            self.gap_due = due
            self.gap_slot = missing
            ctx.set_timer("gap", wait)

    def on_gap_timer(self, ctx: Context) -> None:
        """Ask for the first slot missing below the leader's commit or below a slot accepted
        in the current ballot, again every retransmission interval while one is missing."""
        node = self.node
        self.gap_due = INF
        if node.leadership is not None:
            return
        held = node._held
        s = first = node._apply_known(ctx)
        top = max(node.leader_commit, max(node.accepted, default=-1))
        retry, target = self.gap_slot < 0, self.gap_slot
        self.gap_slot = -1
        if not retry and target >= s and not held(target):  # the gap the timer is for
            s = target
            while s > first and not held(s - 1):
                s -= 1
        while s < top and held(s):
            s += 1
        if s < top and not retry and (target < first or held(target)):
            # the gap the timer was for filled in time; one opened since gets its own wait
            self.gap_slot, self.gap_due = s, ctx.now + node.reorder_wait
            ctx.set_timer("gap", node.reorder_wait)
            return
        if s < top:
            if retry or not self.asked_from <= s < self.asked_until:  # (else asked already)
                self.ask(ctx, self.ask_whom, self.request(s, top))
            self.gap_due = ctx.now + node.rto
            ctx.set_timer("gap", node.rto)

    def ask(self, ctx: Context, dst: int, req: CatchupReq) -> None:
        self.asked_from = req.start
        self.asked_until = req.end if req.end is not None else req.start + self.node.pipeline
        ctx.send(dst, req)

    def request(self, s: int, top: int) -> CatchupReq:
        """The request for the missing slot ``s`` and those after it up to the first one held
        (or up to ``top``, or open-ended when ``s`` is beyond it)."""
        if s >= top:
            return CatchupReq(s)
        held = self.node._held
        n = s + 1
        while n < top and not held(n):
            n += 1
        return CatchupReq(s, n)

    def on_catchup(self, ctx: Context, src: int, m: Catchup) -> None:
        """Learn the chosen slots ``m`` carries; ask for the next transfer while behind."""
        node = self.node
        if node.role != FOLLOWER:
            if node.role == LEADER:
                return  # a leader learns every slot from its own proposals and phase 1
            # A refused prepare: someone is far ahead. Do not take office with a long stretch
            # of the log to re-propose; catch up and let that node (or us, later) lead. The
            # abandoned ballot will never propose, so its promise to ourselves is void: keep
            # following the current leader instead of rejecting it (never reuse the ballot).
            if node.ballot > node.max_seen:
                node.max_seen = node.ballot
            node.promised = node.pre_promised
            node._step_down(ctx, None)
        log = node.log
        chosen = node.chosen
        before = len(log)
        s = m.start
        for v in m.values:
            if s == len(log):
                if chosen:
                    chosen.pop(s, None)
                node._apply_slot(ctx, s, v)
            elif s > len(log):  # overtook an earlier slot of the transfer
                chosen[s] = v
            s += 1
        node._apply_chosen(ctx)
        if len(log) == before:
            return  # stale, duplicate or early
        if m.ballot == node.leader_commit_ballot and m.commit > node.leader_commit:
            node.leader_commit = m.commit
        if node.leader_commit > len(log):
            node._learn(ctx, src)  # applies what it can, asks for the next gap
        s = len(log)
        if m.commit > s and s >= self.asked_from + node.pipeline and not node._held(s):
            # the whole transfer arrived and the sender has more: ask for the next one
            self.ask(ctx, src, self.request(s, node.leader_commit))

    def on_catchup_req(self, ctx: Context, src: int, m: CatchupReq) -> None:
        """Repair a replica's gap: chosen slots go as catch-up; a leader re-sends the accepts
        of the slots not yet chosen."""
        node = self.node
        sent = self.send(ctx, src, m.start, m.end)
        lead = node.leadership
        if lead is not None and m.end is not None:
            b, commit = lead.ballot, len(node.log)
            for s in range(max(m.start, commit), m.end):
                if (p := lead.proposals.get(s)) is not None:
                    ctx.send(src, Accept(b, s, p.value, commit, p.size))
                elif s in node.chosen:
                    ctx.send(src, Catchup(b, s, (node.chosen[s],), commit))
                else:
                    continue
                sent += 1
        if sent:
            ctx.observe("repair", sent)

    def send(self, ctx: Context, dst: int, start: int, end: int | None = None) -> int:
        """Send ``dst`` the chosen slots ``start .. end - 1``, one slot (one batch) per message and
        at most ``pipeline`` of them. Return how many were sent."""
        node = self.node
        log = node.log
        end = min(start + node.pipeline, len(log), len(log) if end is None else end)
        ballot = node.leadership.ballot if node.leadership is not None else -1
        for s in range(start, end):
            ctx.send(dst, Catchup(ballot, s, (log[s],), len(log)))
        return max(end - start, 0)
