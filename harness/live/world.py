"""A live run: the harness as the network and the clients of real node processes, in real time.

:func:`live` mixes :class:`LiveMode` into a kind's world (consensus: lin-kv), so the clients,
the history, the metrics, the nemesis and the checkers are the simulated run's own, unchanged.
Only the nodes and the clock differ. The world's :class:`~harness.engine.sim.Simulator` is
driven by the wall clock (its ``now`` is seconds since every node answered ``init``), and between
its due events the harness waits on the node processes' pipes. The network model is the
simulated network's too: every message a node writes is parsed for its destination and sent
through :class:`~harness.engine.network.Network`, which applies the suite's latency
distributions, loss, duplication and partitions in real time before the line is written to the
destination's stdin (or, for a client, decoded from lin-kv into the reply it awaits).

What only the simulator knows (CPU busy time, simulator events) is absent from a live run's
row, not invented; with ``protocol: external`` so is what needs a node's own observations
(elections, failovers, retransmissions, applied logs), and the checker is linearizability on
the client history alone. A distbench node reports its observations on
stderr (``distbench node --observe``). Lines that are not JSON envelopes and messages to unknown
endpoints are counted (``malformed_messages``, ``misaddressed_messages``) and the run goes on.
"""

from __future__ import annotations

import json
import os
import selectors
import sys
import tempfile
import time
from typing import Any

from harness.engine.network import Network
from harness.faults.nemesis import Nemesis, Role
from harness.live import linkv
from harness.live.codec import CodecError
from harness.live.host import OBSERVE
from harness.live.options import EXTERNAL
from harness.live.processes import LiveError, NodeProcess
from harness.message import Message
from workloads.kv import OK, Request

SIMULATOR_ONLY = ("leader_cpu_utilization", "sim_events")
OBSERVED = ("leader_changes", "failover_ms_mean", "failover_ms_max", "failover_heard_ms_mean",
            "failover_commit_ms_mean", "failover_commit_ms_max", "retransmissions_per_op",
            "repairs_per_op", "loss_blocked_share")
MAX_TYPES = 64  # distinct message types counted by name; an external node's others are "other"

_WIRE: dict[str, type] = {}


def wire(kind: str, line: bytes) -> Message:
    """A node's message on its way, as the network carries it: a Message subclass named by its
    body's type (so ``messages_per_op_by_type`` names the protocol's messages), sized in bytes."""
    cls = _WIRE.get(kind)
    if cls is None:
        if len(_WIRE) >= MAX_TYPES:
            return wire("other", line)
        cls = _WIRE[kind] = type(kind, (Message,), {"__slots__": ("line",)})
    msg = cls()
    msg.line = line
    msg.size = len(line)
    return msg


def live(world: type) -> type:
    """``world`` (a kind's world class) running real node processes in real time."""
    return type(f"Live{world.__name__}", (LiveMode, world), {})


def node_command(cfg: Any) -> list[str]:
    if cfg.protocol == EXTERNAL:
        return list(cfg.live.command)
    return [sys.executable, "-m", "harness", "node", cfg.protocol]


class LiveMode:
    """Mixed in before a world class: replaces its simulated nodes with processes and its
    ``run`` with one in real time (see the module)."""

    cfg: Any
    sim: Any
    net: Any
    metrics: Any
    clients: list[Any]

    def _build(self, n: int, clients: int, make_state: Any, observer: Any) -> None:
        cfg = self.cfg
        self.net = Network(self.sim, cfg.network, n, clients)
        self.observer = observer
        self.names = [linkv.node_name(i) for i in range(n)]
        self.external = cfg.protocol == EXTERNAL
        self.serving: int | None = None  # the node that last answered a client: an external leader
        self.malformed = self.misaddressed = 0
        self._asked: dict[tuple[int, int], Request] = {}
        self._msg_id = 0
        self._t0: float | None = None
        self.selector = selectors.DefaultSelector()
        self._scratch = tempfile.TemporaryDirectory(prefix="distbench-live-")
        options = {"replication": cfg.replication_options().model_dump(),
                   "protocol": cfg.options_for(cfg.protocol).model_dump(mode="json")}
        env = {**os.environ, "DISTBENCH_DATA": self._scratch.name, "DISTBENCH_SEED": str(self.sim.seed),
               "DISTBENCH_OBSERVE": "1", "DISTBENCH_OPTIONS": json.dumps(options)}
        command = node_command(cfg)
        self.hosts = [NodeProcess(i, self.names, command, env, self.selector, self) for i in range(n)]
        for host in self.hosts:
            self.net.attach(host.node_id, self._receiver(host), host.ends)
        self.nemesis = Nemesis(self.sim, self.net, self.hosts, cfg.faults, self.fault_roles(), self)

    def fault_roles(self) -> dict[str, Role]:
        roles = super().fault_roles()  # type: ignore[misc]
        if self.external:  # no elections observed: the leader is the node that last served
            n = len(self.names)
            roles["leader"] = Role(lambda: [] if self.serving is None else [self.serving], single=True)
            roles["follower"] = Role(lambda: [i for i in range(n) if i != self.serving])
        return roles

    # -- a run -----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        try:
            self._launch()
            self._t0 = time.monotonic()
            self._start()  # type: ignore[attr-defined]
            self._pump(self.cfg.duration)
        finally:
            for host in self.hosts:
                host.close()
            self.selector.close()
            self._scratch.cleanup()
        row = self._judge(observed=not self.external)  # type: ignore[attr-defined]
        gone = SIMULATOR_ONLY + (OBSERVED if self.external else ())
        row = {k: v for k, v in row.items() if k not in gone}
        if self.external and not row["safety_detail"]:
            row["safety_detail"] = "linearizability only (an external node reports no observations)"
        row["malformed_messages"], row["misaddressed_messages"] = self.malformed, self.misaddressed
        return row

    def now(self) -> float:
        return 0.0 if self._t0 is None else time.monotonic() - self._t0

    def _launch(self) -> None:
        """Start every node and wait for each to answer ``init`` (one line if one does not)."""
        timeout = self.cfg.live.init_timeout
        for host in self.hosts:
            host.spawn()
        deadline = time.monotonic() + timeout
        while not all(h.initialised for h in self.hosts):
            dead = next((h for h in self.hosts if not h.alive), None)
            if dead is not None:
                raise LiveError(f"node {dead.name} ({' '.join(dead.command)}) exited before answering "
                                f"init{_said(dead)}")
            left = deadline - time.monotonic()
            if left <= 0:
                late = next(h for h in self.hosts if not h.initialised)
                raise LiveError(f"node {late.name} ({' '.join(late.command)}) did not answer init within "
                                f"{timeout:g}s{_said(late)}")
            self._serve(left)

    def _pump(self, until: float) -> None:
        """Run the world's events as their real time comes, serving the pipes in between."""
        sim = self.sim
        while True:
            now = self.now()
            sim.run(min(now, until))
            if now >= until:
                return
            self._serve(max(0.0, min(sim.next_at(), until) - self.now()))

    def _serve(self, timeout: float) -> None:
        ready = self.selector.select(timeout)
        if self._t0 is not None:
            self.sim.run(min(self.now(), self.cfg.duration))
        for key, _ in ready:
            host, fd = key.data
            if not host.alive:
                continue
            if fd == 0:
                host.writable()
            else:
                host.readable(fd)

    # -- what the processes say ----------------------------------------------------------------
    def node_line(self, node: int, incarnation: int, line: bytes) -> None:
        """A line node ``node`` wrote on stdout: route it, or count it as malformed."""
        if not line.strip():
            return
        try:
            envelope = json.loads(line)
            dest, body = envelope["dest"], envelope["body"]
            kind = body["type"]
            if not isinstance(dest, str) or not isinstance(kind, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self.malformed += 1
            return
        host = self.hosts[node]
        if kind == "init_ok":
            host.initialised = True
            return
        if dest in self.names:
            self.net.send(node, self.names.index(dest), wire(kind, line + b"\n"), self.sim.now, incarnation)
            return
        client = linkv.client_endpoint(dest, len(self.names))
        if client is None or not len(self.names) <= client < len(self.net.receivers):
            self.misaddressed += 1
            return
        request = self._asked.pop((client, body.get("in_reply_to")), None)  # type: ignore[arg-type]
        if request is None:
            return  # a second answer to one message, or an answer to nothing asked
        try:
            reply = linkv.reply_from(body, request, self.names)
        except CodecError:
            self.malformed += 1
            return
        if reply.status == OK:
            self.serving = node
        self.net.send(node, client, reply, self.sim.now, incarnation)

    def node_log(self, node: int, text: str) -> None:
        """A line node ``node`` wrote on stderr: an observation of a distbench node, else a log."""
        if self.external or not text.startswith(OBSERVE):
            return
        what = json.loads(text[len(OBSERVE):])
        t = self.sim.now
        if "leader" in what:
            self.observer.leader(node, what["leader"], t)
        elif "event" in what:
            self.observer.observe(node, what["event"], what["value"], t)
        elif "applied" in what:
            uids = what["uids"]
            if len(uids) == 1:
                self.observer.log.applied(node, what["applied"], uids[0], t)
            else:
                self.observer.log.applied_run(node, what["applied"], uids, t)

    def node_restarted(self, node: int) -> None:
        self.observer.restarted(node)

    def _receiver(self, host: NodeProcess) -> Any:
        n = len(self.names)

        def receive(src: int, msg: Any) -> None:
            if isinstance(msg, Request):  # a client's: as lin-kv, answered by its msg_id
                self._msg_id += 1
                self._asked[(src, self._msg_id)] = msg
                host.write({"src": linkv.client_name(src, n), "dest": host.name,
                            "body": {**linkv.request_body(msg), "msg_id": self._msg_id}})
            else:
                host.write(msg.line)

        return receive


def _said(host: NodeProcess) -> str:
    return f" (its last words: {host.tail[-1]!r})" if host.tail else ""
