"""Primary-backup replication with a fixed primary (node 0), as a sans-I/O distbench node.

The primary puts every client command, reads included, in one log, sends each new entry to
the backups and answers a command once enough nodes hold it on disk (``acks``: a majority, or
every node). There is no election: while the primary is down or cut off nobody serves, and
after a crash it carries on from its own disk.

The rule everything rests on: **every entry a backup holds is already on the primary's disk.**
The primary persists an entry before sending it (``Context.persist`` holds every later output
until the write is durable), so a restarted primary's log extends every backup's, backups
never need to truncate, and an index means the same command everywhere.

Stable records, replayed by :meth:`PrimaryBackupNode.start`: ``("append", first, commands)``,
the log from index ``first`` on (1-based) extended by ``commands``.
"""

from __future__ import annotations

from typing import Any, Literal

from harness.protocol import Context, Node, Options, ReplicationOptions
from workloads.kv import REDIRECT, KVStateMachine, Reply, Request

from primary_backup.messages import Ack, Replicate

PRIMARY = 0


class PrimaryBackupOptions(Options):
    """``protocols.primary-backup:`` in a suite."""

    acks: Literal["majority", "all"] = "majority"  # how many nodes must hold an entry to commit it


class PrimaryBackupNode(Node):
    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: ReplicationOptions,
                 options: PrimaryBackupOptions, state_machine: KVStateMachine):
        self.id = node_id
        self.backups = tuple(n for n in nodes if n != PRIMARY)
        self.needed = len(nodes) if options.acks == "all" else len(nodes) // 2 + 1
        self.sync_interval = replication.retransmit or replication.heartbeat
        self.batch_size = max(1, replication.batch_size)
        self.sm = state_machine
        self.log: list[Request] = []   # entry i is self.log[i - 1]
        self.commit = 0                # entries 1..commit are committed (and applied here)
        # primary: how much of the log each backup holds; uid -> request awaiting its answer
        self.match = {b: 0 for b in self.backups}
        self.waiting: dict[int, Request] = {}
        # backup: replicates that arrived ahead of an earlier one, by their first index
        self.held: dict[int, Replicate] = {}

    def start(self, ctx: Context, stable: list[Any]) -> None:
        for _, first, commands in stable:
            del self.log[first - 1:]
            self.log.extend(commands)
        if self.id == PRIMARY:
            ctx.became_leader(1)  # one primary, one term, for good
            self._sync(ctx)       # the backups' answers tell it how much they hold

    def on_request(self, ctx: Context, request: Request) -> None:
        if self.id != PRIMARY:
            ctx.reply(request, Reply(request, REDIRECT, leader=PRIMARY))
            return
        if request.uid in self.waiting:  # a retry of an entry not committed yet
            self.waiting[request.uid] = request
            return
        self.waiting[request.uid] = request
        self.log.append(request)
        index = len(self.log)
        ctx.persist(("append", index, (request,)))
        message = Replicate(index, (request,), self.commit)
        for backup in self.backups:
            ctx.send(backup, message)  # leaves once the entry is on the primary's disk
        self._advance_commit(ctx)

    def on_message(self, ctx: Context, src: int, msg: Any) -> None:
        if isinstance(msg, Replicate):
            self._on_replicate(ctx, msg)
        elif isinstance(msg, Ack):
            if msg.length > self.match[src]:
                self.match[src] = msg.length
                self._advance_commit(ctx)
        else:
            raise TypeError(f"primary-backup: unexpected message {msg!r}")

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "sync":
            self._sync(ctx)

    # -- primary -----------------------------------------------------------------------------
    def _sync(self, ctx: Context) -> None:
        """Send each backup what it lacks (a lost message, a restart), or a heartbeat carrying
        the commit index; again every sync interval."""
        for backup in self.backups:
            have = self.match[backup]
            ctx.send(backup, Replicate(have + 1, tuple(self.log[have:have + self.batch_size]), self.commit))
        ctx.set_timer("sync", self.sync_interval)

    def _advance_commit(self, ctx: Context) -> None:
        """Commit what ``needed`` nodes hold (the primary holds its whole log), apply it and
        answer the clients waiting for it."""
        held = sorted([len(self.log), *self.match.values()], reverse=True)
        commit = held[self.needed - 1]
        if commit <= self.commit:
            return
        first, commands = self.commit + 1, self.log[self.commit:commit]
        self.commit = commit
        ctx.applied_many(first, commands)
        for command in commands:
            result = self.sm.apply(command)
            request = self.waiting.pop(command.uid, None)
            if request is not None:
                ctx.reply(request, self.sm.answer(request, result))

    # -- backup ------------------------------------------------------------------------------
    def _on_replicate(self, ctx: Context, msg: Replicate) -> None:
        if msg.first > len(self.log) + 1:
            self.held[msg.first] = msg  # an earlier one is late or lost: keep this for then
        else:
            self._append(ctx, msg)
            while ready := [first for first in self.held if first <= len(self.log) + 1]:
                for first in sorted(ready):
                    self._append(ctx, self.held.pop(first))
        applied = self.commit
        self.commit = max(applied, min(msg.commit, len(self.log)))
        if self.commit > applied:
            commands = self.log[applied:self.commit]
            self.sm.defer(commands)  # nobody reads a backup: applied when (if ever) it is read
            ctx.applied_many(applied + 1, commands)
        ctx.send(PRIMARY, Ack(len(self.log)))

    def _append(self, ctx: Context, msg: Replicate) -> None:
        new = msg.commands[len(self.log) + 1 - msg.first:]
        if new:
            ctx.persist(("append", len(self.log) + 1, new))
            self.log.extend(new)
