"""The batching window both consensus leaders propose through (``ReplicationOptions``:
``batch_size``, ``batch_delay``, ``pipeline``), so that equal knobs mean equal batching.

Client commands wait in a queue. A *batch* of at most ``batch_size`` commands is proposed while
fewer than ``pipeline`` proposed batches are uncommitted (the leader counts them: what occupies
the window is the protocol's to say). With ``batch_delay == 0`` whatever is queued is proposed
as soon as the window has room. With ``batch_delay > 0`` a partial batch is proposed only once
the "batch" timer -- armed when a command finds no batch it can join at once -- has fired (a full
batch goes at once). While the window is full, commands accumulate and form the next batches
(natural batching). A command already queued or proposed and not yet answered in this term is
not queued again when retried (its reply is on its way).

How long a fired timer counts differs between the two protocols, and ``drain_when_due`` keeps
each one's rule so that results stay as they were: with it (Raft) the queue drains without
further waiting until it is empty once the timer has fired, and a command arriving while the
window is full re-arms the timer; without it (Multi-Paxos) every partial batch waits for a
timer of its own. With ``batch_delay == 0`` the two rules are the same.
"""

from __future__ import annotations

from harness.contract import Context

__all__ = ["BatchWindow"]


class BatchWindow:
    """A leader's queue of client commands and the rule for when a batch of them is proposed.
    The leader asks :meth:`admit` for each request, then proposes every batch :meth:`take`
    gives while it returns one, then calls :meth:`settle`."""

    __slots__ = ("queue", "pending", "size", "delay", "limit", "armed", "due", "drain_when_due")

    def __init__(self, batch_size: int, batch_delay: float, pipeline: int, drain_when_due: bool):
        self.queue: list = []
        self.pending: set[int] = set()  # uids queued or proposed, unanswered, this term: the
        # leader discards a uid when it answers the request
        self.size = max(1, batch_size)
        self.delay = batch_delay
        self.limit = max(1, pipeline)
        self.armed = False  # the "batch" timer is set
        self.due = False  # it has fired: a partial batch may go
        self.drain_when_due = drain_when_due

    def admit(self, ctx: Context, request, inflight: int) -> bool:
        """Queue ``request`` (unless it is a retry of one not yet answered); True when a batch
        may be proposed now, ``inflight`` batches being proposed and uncommitted."""
        uid = request.uid
        pending = self.pending
        if uid in pending:
            return False  # already queued or proposed: its reply will come
        pending.add(uid)
        q = self.queue
        q.append(request)
        if inflight < self.limit and (not self.delay or self.due or len(q) >= self.size):
            return True
        if self.delay and not self.armed and (self.drain_when_due or not self.due):
            self.armed = True
            ctx.set_timer("batch", self.delay)
        return False

    def take(self, inflight: int) -> list | None:
        """The next batch to propose, or None: nothing queued, the window full, or a partial
        batch waiting for the timer."""
        q = self.queue
        if not q or inflight >= self.limit:
            return None
        size = self.size
        if len(q) <= size:
            if len(q) < size and self.delay and not self.due:
                return None
            self.queue = []
            batch = q
        else:
            batch = q[:size]
            del q[:size]
        if not self.drain_when_due:
            self.due = False
        return batch

    def settle(self, ctx: Context) -> None:
        """After proposing: arm the timer for what is left, or cancel it when nothing is."""
        if self.queue:
            if self.delay and not self.due and not self.armed:
                self.armed = True
                ctx.set_timer("batch", self.delay)
        else:
            self.due = False
            if self.armed:
                self.armed = False
                ctx.cancel_timer("batch")

    def fired(self) -> bool:
        """The "batch" timer fired: True if a partial batch may now be proposed."""
        self.armed = False
        if not self.queue:
            return False
        self.due = True
        return True

    def clear(self, ctx: Context) -> list:
        """Leadership ends (or begins): forget everything; return the commands never proposed."""
        if self.armed:
            ctx.cancel_timer("batch")
        self.armed = self.due = False
        self.pending.clear()
        dropped, self.queue = self.queue, []
        return dropped
