"""One protocol replica as a real process: Maelstrom's node protocol on stdin/stdout, real time.

The replica is the same object the simulator hosts; this is a third :class:`Context` for it (see
:mod:`harness.protocol`). Time is the monotonic clock, timers are the asyncio loop's, ``random``
is the node's seeded stream (named as in the simulator), ``charge`` is free (the CPU is real).
``persist`` appends a JSON line to ``DATA/<node id>.log``, and the contract's write-ahead rule is
kept literally: an output issued after a persist leaves only once the file is fsynced; what the
handler issued before it is written out first, so a leader's disk write overlaps its sends. What
is still unsynced when a handler returns is synced then (group commit per handler). A restarted
process reads its log back (a torn last line, from a kill mid-write, is dropped) and boots from it.

The first message must be ``init``; lin-kv ``read``/``write``/``cas`` from clients become client
requests (:mod:`harness.live.linkv`), bodies from other nodes protocol messages
(:mod:`harness.live.codec`). With ``observe`` the node also writes its observations (elected,
applied, and the protocol's own) to stderr as ``distbench:observe {...}`` lines, after the same
fsync as any output, so the harness can check agreement and time failovers; every other stderr
line is a log. The process exits when its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any, BinaryIO

from harness.contract import Context, Node
from harness.engine.sim import derive_seed
from harness.live import linkv
from harness.live.codec import Codec, CodecError
from harness.message import Message
from workloads.kv import KVStateMachine, Reply, Request

OBSERVE = "distbench:observe "
FOREIGN = 1 << 40  # client ids given to client names of another shape than cK


def log(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class LiveHost(Context):
    """Hosts one replica; :meth:`deliver` is called with every envelope read from stdin."""

    def __init__(self, spec: Any, options: Any, replication: Any, data: Path, seed: int,
                 observe: bool, out: BinaryIO, loop: asyncio.AbstractEventLoop):
        self.spec, self.options, self.replication = spec, options, replication
        self.codec = Codec.of(spec.name)
        self.data, self.seed, self.observing = data, seed, observe
        self.out, self.loop = out, loop
        self.t0 = loop.time()
        self.now = 0.0
        self.name = ""
        self.names: list[str] = []
        self.replica: Node | None = None
        self._msg_id = 0
        self._asked: dict[tuple[int, int], tuple[str, int]] = {}  # (client, seq) -> who, msg_id
        self._clients: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._lines: list[bytes] = []   # outputs issued, not yet written
        self._unsynced: list[str] = []  # records persisted, not yet fsynced
        self._log: Any = None

    # -- the Context the replica sees ------------------------------------------------------------
    def send(self, dst: int, msg: Message) -> None:
        self._emit(self.names[dst], self.codec.body(msg))

    def reply(self, request: Any, result: Message) -> None:
        asked = self._asked.pop((request.client, request.seq), None)
        if asked is None:
            return  # not asked here (a command this node learnt from another): nobody to answer
        who, msg_id = asked
        assert isinstance(result, Reply)
        self._emit(who, {**linkv.reply_body(result, self.names), "in_reply_to": msg_id})

    def set_timer(self, name: str, delay: float) -> None:
        self.cancel_timer(name)
        self._timers[name] = self.loop.call_later(max(delay, 0.0), self._fire, name)

    def cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def persist(self, record: Any) -> None:
        self._unsynced.append(self.codec.record(record))

    def random(self) -> float:
        return self.rng.random()

    def became_leader(self, term: int) -> None:
        if self.observing:
            self._observe({"leader": term})

    def applied(self, index: int, command: Any) -> None:
        self.applied_many(index, [command])

    def applied_many(self, first: int, commands: Any) -> None:
        if self.observing:
            self._observe({"applied": first, "uids": [-1 if c is None else c.uid for c in commands]})

    def observe(self, event: str, value: Any) -> None:
        if self.observing and (value is None or isinstance(value, (bool, int, float, str))):
            self._observe({"event": event, "value": value})

    # -- outputs ---------------------------------------------------------------------------------
    def _emit(self, dest: str, body: dict[str, Any]) -> None:
        if self._unsynced:
            self._sync()
        self._msg_id += 1
        body["msg_id"] = self._msg_id
        self._lines.append(json.dumps({"src": self.name, "dest": dest, "body": body},
                                      separators=(",", ":")).encode() + b"\n")

    def _observe(self, what: dict[str, Any]) -> None:
        if self._unsynced:
            self._sync()
        self._write()
        log(OBSERVE + json.dumps(what, separators=(",", ":")))

    def _sync(self) -> None:
        """Write what was issued so far, then make every record persisted so far durable."""
        self._write()
        self._log.write("".join(line + "\n" for line in self._unsynced))
        self._log.flush()
        os.fsync(self._log.fileno())
        self._unsynced.clear()

    def _write(self) -> None:
        if self._lines:
            self.out.write(b"".join(self._lines))
            self.out.flush()
            self._lines.clear()

    def _handled(self) -> None:
        if self._unsynced:
            self._sync()
        self._write()

    # -- inputs ----------------------------------------------------------------------------------
    def _tick(self) -> None:
        self.now = self.loop.time() - self.t0

    def _fire(self, name: str) -> None:
        self._timers.pop(name, None)
        if self.replica is not None:
            self._tick()
            self.replica.on_timer(self, name)
            self._handled()

    def deliver(self, envelope: Any) -> None:
        """Handle one envelope; a malformed one is logged (and answered with error 12 when it
        asks for an answer), never fatal."""
        src = envelope.get("src") if isinstance(envelope, dict) else None
        body = envelope.get("body") if isinstance(envelope, dict) else None
        if not isinstance(src, str) or not isinstance(body, dict) or not isinstance(body.get("type"), str):
            log(f"distbench node: ignored a message without src and body.type: {envelope!r:.200}")
            return
        kind = body["type"]
        if kind == "init":
            self._init(src, body)
        elif self.replica is None:
            log(f"distbench node: ignored {kind!r} from {src}: no init yet")
        else:
            try:
                self._input(src, kind, body)
            except CodecError as exc:
                log(f"distbench node: ignored {kind!r} from {src}: {exc}")
                if "msg_id" in body:
                    self._emit(src, {"type": "error", "code": linkv.MALFORMED, "text": str(exc),
                                     "in_reply_to": body["msg_id"]})
            self._handled()

    def _input(self, src: str, kind: str, body: dict[str, Any]) -> None:
        assert self.replica is not None
        self._tick()
        if src in self.names:
            self.replica.on_message(self, self.names.index(src), self.codec.message(body))
        elif kind in linkv.OPS:
            client = linkv.client_endpoint(src, len(self.names))
            if client is None:
                client = self._clients.setdefault(src, FOREIGN + len(self._clients))
            request: Request = linkv.request_from(body, client)
            self._asked[(client, request.seq)] = (src, body.get("msg_id", 0))
            self.replica.on_request(self, request)
        elif "msg_id" in body:
            self._emit(src, {"type": "error", "code": 10, "text": f"{kind} is not supported",
                             "in_reply_to": body["msg_id"]})

    def _init(self, src: str, body: dict[str, Any]) -> None:
        name, names = body.get("node_id"), body.get("node_ids")
        if self.replica is not None or not isinstance(name, str) or not isinstance(names, list) \
                or name not in names:
            log(f"distbench node: ignored an init ({'already initialised' if self.replica else 'bad node ids'})")
            return
        self.name, self.names = name, [str(n) for n in names]
        self.node_id = i = self.names.index(name)
        self.nodes = tuple(range(len(names)))
        self.rng = random.Random(derive_seed(self.seed, f"node/{i}/protocol"))
        self.data.mkdir(parents=True, exist_ok=True)
        path = self.data / f"{name}.log"
        stable = self._recover(path)
        self._log = path.open("a")
        self.replica = self.spec.factory(i, self.nodes, self.replication, self.options, KVStateMachine())
        self._emit(src, {"type": "init_ok", "in_reply_to": body.get("msg_id", 0)})
        self._tick()
        self.replica.start(self, stable)
        self._handled()
        log(f"distbench node: {name} of {len(names)} running {self.spec.name} "
            f"({len(stable)} durable records)")

    def _recover(self, path: Path) -> list[Any]:
        if not path.exists():
            return []
        records = []
        text = path.read_text()
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # torn by a kill mid-write: never synced, never acknowledged
            records.append(self.codec.unrecord(line))
        if text and not text.endswith("\n"):
            path.write_text(text[:text.rfind("\n") + 1])
        return records

    def close(self) -> None:
        for name in list(self._timers):
            self.cancel_timer(name)
        if self._log is not None:
            self._log.close()


async def serve(host: LiveHost, stdin: Any) -> None:
    """Feed ``host`` every line of ``stdin`` until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        if not line.strip():
            continue
        try:
            envelope = json.loads(line)
        except ValueError:
            log(f"distbench node: ignored a line that is not JSON: {line[:200]!r}")
            continue
        host.deliver(envelope)
