"""The clients a ZAB server serves (ZooKeeper's ``FollowerRequestProcessor``,
``CommitProcessor`` and ``FinalRequestProcessor``): every server accepts clients; writes go to
the leader and are answered by the server the client sent them to once it has applied them;
reads are answered from that server's state machine.

Sessions
    A client's operations take effect in the order it sent them (ZooKeeper's FIFO client order):
    a read waits while a write the same client sent to this server is not yet applied here
    (CommitProcessor holds a session's reads behind its pending writes), which also gives
    read-your-writes on one server. Every answer carries the position applied here
    (``Reply.index``); a read from a client that has seen further (``Request.seen``, after it
    moved from a failed server) waits until this server has applied as far, as ZooKeeper
    refuses a session whose lastZxidSeen is ahead of the server.

Reads (``ZabOptions.read``)
    ``local``: answered at once from the local state machine (sequentially consistent: possibly
    behind the leader). ``sync``: the server first sends a SYNC to the leader (reads arriving
    while one is outstanding wait for the next) and answers them once it has applied what the
    leader's answer names (``implementations.zab.leader``): linearizable.

A server that stops serving (it starts an election) answers everything pending REDIRECT with no
leader, as ZooKeeper closes its clients' connections: the client moves on to another server, and
a write that did commit is not applied twice (the state machine's sessions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.contract import Context
from implementations.zab.messages import Forward, SyncRequest
from workloads.kv import GET, OK, REDIRECT, Reply, Request

if TYPE_CHECKING:
    from implementations.zab.node import ZabNode

__all__ = ["Sessions"]


class Sessions:
    """One server's clients: writes awaiting their commit, reads awaiting a sync or a write."""

    __slots__ = ("node", "sync", "writes", "inflight", "blocked", "seq", "outstanding",
                 "syncing", "unsynced", "synced_reads")

    def __init__(self, node: ZabNode, sync: bool):
        self.node = node
        self.sync = sync
        self.writes: dict[int, Request] = {}  # uid -> write sent here, not yet applied here
        self.inflight: dict[int, int] = {}  # client -> how many of those
        self.blocked: list[Request] = []  # reads waiting behind their session's writes
        self.seq = 0  # the last SYNC sent
        self.outstanding = False  # a SYNC is on its way ...
        self.syncing: list[Request] = []  # ... for these reads, which arrived before it left
        self.unsynced: list[Request] = []  # sync reads for the next SYNC
        self.synced_reads: list[tuple[int, list[Request]]] = []  # (index, reads) after a SYNC

    def request(self, ctx: Context, req: Request) -> None:
        node = self.node
        if req.op != GET:
            uid = req.uid
            if uid not in self.writes:
                self.writes[uid] = req
                self.inflight[req.client] = self.inflight.get(req.client, 0) + 1
            lead = node.leadership
            leader = node.leader
            if lead is not None:
                lead.submit(ctx, req)
            elif leader is not None:  # (a server serves only while it has a leader)
                ctx.send(leader, Forward(node.current_epoch, req))
        elif not self.sync:
            if self.inflight.get(req.client) or req.seen > node.applied:
                self.blocked.append(req)
            else:
                self._read(ctx, req)
        else:
            self.unsynced.append(req)
            if not self.outstanding:
                self._send_sync(ctx)

    def _send_sync(self, ctx: Context) -> None:
        node = self.node
        self.seq += 1
        self.outstanding = True
        self.syncing, self.unsynced = self.unsynced, []
        lead = node.leadership
        leader = node.leader
        if lead is not None:
            lead.on_sync(ctx, node.id, self.seq)
        elif leader is not None:
            ctx.send(leader, SyncRequest(node.current_epoch, self.seq))

    def synced(self, ctx: Context, seq: int, index: int) -> None:
        """The leader answered SYNC ``seq``: its reads may be served once ``index`` is
        applied here."""
        if seq != self.seq or not self.outstanding:
            return
        self.outstanding = False
        reads, self.syncing = self.syncing, []
        self.synced_reads.append((index, reads))
        self.serve(ctx)

    def applied(self, ctx: Context, cmd: Request, result: object) -> None:
        """``cmd`` was applied here with ``result``: answer it if it was sent here."""
        req = self.writes.pop(cmd.uid, None)
        if req is not None:
            reply = self.node.sm.answer(req, result)
            reply.index = self.node.applied
            ctx.reply(req, reply)
            n = self.inflight[req.client] - 1
            if n:
                self.inflight[req.client] = n
            else:
                del self.inflight[req.client]

    def serve(self, ctx: Context) -> None:
        """Answer the reads no longer waiting: their SYNC's index applied, their session's
        writes applied."""
        applied = self.node.applied
        ready = self.synced_reads
        while ready and ready[0][0] <= applied:
            self.blocked.extend(ready.pop(0)[1])
        if self.blocked:
            inflight = self.inflight
            waiting = []
            for req in self.blocked:
                if inflight.get(req.client) or req.seen > applied:
                    waiting.append(req)
                else:
                    self._read(ctx, req)
            self.blocked = waiting
        if self.unsynced and not self.outstanding:
            self._send_sync(ctx)

    def _read(self, ctx: Context, req: Request) -> None:
        sm = self.node.sm
        reply = Reply(req, OK, sm.read(req.key), None, sm.sizes.get(req.key, 0))
        reply.index = self.node.applied
        ctx.reply(req, reply)

    def drop(self, ctx: Context) -> None:
        """This server stops serving: everything pending is answered REDIRECT."""
        pending = list(self.writes.values()) + self.blocked + self.syncing + self.unsynced
        for _, reads in self.synced_reads:
            pending += reads
        self.writes.clear()
        self.inflight.clear()
        self.blocked = []
        self.syncing = []
        self.unsynced = []
        self.synced_reads = []
        self.outstanding = False
        for req in pending:
            ctx.reply(req, Reply(req, REDIRECT, None, None))
