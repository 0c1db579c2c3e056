"""The batching window both consensus leaders propose through (``ReplicationOptions``:
``batch_size``, ``batch_delay``, ``pipeline``), so that equal knobs mean equal batching.

Client commands wait in a queue and leave it, oldest first, as *batches* of at most
``batch_size`` commands, proposed while fewer than ``pipeline`` proposed batches are
uncommitted (the leader counts them: what occupies the window is the protocol's to say). With
``batch_delay == 0`` whatever is queued is proposed as soon as the window has room. With
``batch_delay > 0`` a full batch goes as soon as the window has room, a partial one once its
first (oldest) command has waited ``batch_delay``: the "batch" timer is kept set for that
moment. This is the rule of Kafka's producer (``linger.ms`` with ``batch.size``: in
``RecordAccumulator.ready`` a batch is sendable when full or when it has waited ``linger.ms``
since it was opened) and of the batch timeout in Santos and Schiper, "Tuning Paxos for
high-throughput with batching and pipelining" (JPaxos): ``batch_delay`` bounds how long a command
waits for company, never how long it waits for the window. While the window is full, commands
accumulate and form the next batches (natural batching). A command already queued or proposed
and not yet answered in this term is not queued again when retried (its reply is on its way).
"""

from __future__ import annotations

from harness.contract import Context

__all__ = ["BatchWindow"]


class BatchWindow:
    """A leader's queue of client commands and the rule for when a batch of them is proposed.
    The leader asks :meth:`admit` for each request, then proposes every batch :meth:`take`
    gives while it returns one, then calls :meth:`settle`."""

    __slots__ = ("queue", "deadlines", "pending", "size", "delay", "limit", "armed", "due")

    def __init__(self, batch_size: int, batch_delay: float, pipeline: int):
        self.queue: list = []
        self.deadlines: list[float] = []  # with a delay: when each queued command has waited it
        self.pending: set[int] = set()  # uids queued or proposed, unanswered, this term: the
        # leader discards a uid when it answers the request
        self.size = max(1, batch_size)
        self.delay = batch_delay
        self.limit = max(1, pipeline)
        self.armed: float | None = None  # the deadline the "batch" timer is set for
        self.due = False  # the timer fired: the oldest queued command has waited its delay

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
        if not self.delay:
            return inflight < self.limit
        self.deadlines.append(ctx.now + self.delay)
        if inflight < self.limit and (len(q) >= self.size or self._waited(ctx)):
            return True
        self.settle(ctx)
        return False

    def take(self, ctx: Context, inflight: int) -> list | None:
        """The next batch to propose, or None: nothing queued, the window full, or a partial
        batch whose oldest command has not yet waited ``batch_delay``."""
        q = self.queue
        if not q or inflight >= self.limit:
            return None
        size = self.size
        delay = self.delay
        if len(q) <= size:
            if len(q) < size and delay and not self._waited(ctx):
                return None
            self.queue = []
            batch = q
        else:
            batch = q[:size]
            del q[:size]
        if delay:
            del self.deadlines[:len(batch)]
            self.due = False  # the next oldest command has a deadline of its own
        return batch

    def settle(self, ctx: Context) -> None:
        """Keep the timer set for the oldest queued command's deadline; none when nothing waits
        for it (the queue empty, or that command may go as soon as the window has room)."""
        if not self.delay:
            return
        if not self.queue or self._waited(ctx):
            if self.armed is not None:
                self.armed = None
                ctx.cancel_timer("batch")
            return
        deadline = self.deadlines[0]
        if self.armed != deadline:
            self.armed = deadline
            ctx.set_timer("batch", deadline - ctx.now)

    def fired(self) -> bool:
        """The "batch" timer fired: True if a partial batch may now be proposed."""
        self.armed = None
        if not self.queue:
            return False
        self.due = True
        return True

    def _waited(self, ctx: Context) -> bool:
        """The oldest queued command has waited ``batch_delay``."""
        return self.due or ctx.now >= self.deadlines[0]

    def clear(self, ctx: Context) -> list:
        """Leadership ends (or begins): forget everything; return the commands never proposed."""
        if self.armed is not None:
            ctx.cancel_timer("batch")
        self.armed = None
        self.due = False
        self.pending.clear()
        self.deadlines.clear()
        dropped, self.queue = self.queue, []
        return dropped
