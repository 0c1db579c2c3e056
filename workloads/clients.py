"""Key-value clients: closed loop (N clients, optional think time) or open loop (Poisson arrivals).

A client is a network endpoint with no CPU cost of its own. Each operation is one logical
request (client id + sequence number) however often it is re-sent, so the state machine applies
it at most once. Latency runs from the operation's *intended* start (its Poisson arrival in open
loop) to the OK reply, whatever happened in between: no coordinated omission.

Routing: a client sends to the node it believes leads; a REDIRECT with a hint is followed at
once, a REDIRECT without one (no leader known) is retried on the next node after a short
back-off (``min(timeout, 10ms)``), and an attempt that times out is re-sent to the next node.
Every send is an attempt; timed-out attempts count as aborts; after ``retries`` re-sends the
operation is given up and recorded as indeterminate (``info``) in the history.

With ``routing: any`` the first attempt of every operation goes to a node drawn at random (from
a stream of its own, so the operations drawn are the same as with ``leader``) and the client
follows redirects and time-outs from there, as Jepsen's clients bound to every node do: a
leader cut off from its peers still receives some of the operations while the others reach the
new leader, so a deposed leader that answers is seen to answer.

A client whose server answers from its own state (ZAB) stays with it until it fails, then moves
on; it tells the next server how far it has seen (``Request.seen``, the largest ``Reply.index``
it received), so that a server further behind does not answer from an older state.
"""

from __future__ import annotations

from typing import Any, Callable

from harness.engine.network import Network
from harness.engine.sim import Simulator
from harness.history import History
from harness.metrics import Metrics
from workloads.keys import KeyChooser
from workloads.pacing import PacedClient, Timeouts
from workloads.kv import CAS, GET, OK, PUT, Reply, Request


class _Op:
    __slots__ = ("index", "request", "invoke", "attempt", "retries", "target")

    def __init__(self, index: int, request: Request, invoke: float):
        self.index = index
        self.request = request
        self.invoke = invoke
        self.attempt = 0
        self.retries = 0
        self.target = -1


class KVClient(PacedClient):
    def __init__(self, sim: Simulator, net: Network, endpoint: int, nodes: int, workload: Any,
                 keys: KeyChooser, recorder: Metrics, history: History, rate: float | None,
                 acked: Callable[[int], None]):
        self.sim = sim
        self.net = net
        self.endpoint = endpoint
        self.nodes = nodes
        self.w = workload
        # the mix, read once per operation: plain attributes rather than the config model's
        self.read_ratio: float = workload.read_ratio
        self.cas_ratio: float = workload.cas_ratio
        self.value_size: int = workload.value_size
        self.keys = keys
        self.recorder = recorder
        self.history = history
        self.acked = acked  # every acknowledged write, for the durability checker
        self.rate = rate  # this client's Poisson arrival rate (open loop), else None
        self.rng = sim.rng(f"client/{endpoint}")
        self.seq = 0
        self.outstanding: dict[int, _Op] = {}
        self.leader = self.rng.randrange(nodes)
        self.anywhere: bool = workload.routing == "any"
        self.route = sim.rng(f"client/{endpoint}/route")  # drawn from only with routing any
        self.seen: dict[int, int] = {}
        self.position = 0  # the largest Reply.index received
        self.backoff = min(workload.timeout, 0.010)
        self.timeouts = Timeouts(sim, workload.timeout, self._timeout, self._current)
        net.attach(endpoint, self._receive, [float("inf")])

    # -- generating operations ---------------------------------------------------------------
    def _issue(self, _: Any = None) -> None:
        rng = self.rng
        r = rng.random()
        read = self.read_ratio
        op = GET if r < read else CAS if r < read + self.cas_ratio else PUT
        key = self.keys.next(rng)
        self.seq += 1
        seq = self.seq
        ack = next(iter(self.outstanding), seq)  # keys are increasing: the first is the lowest
        value = (self.endpoint << 32) | seq if op != GET else 0
        expected = self.seen.get(key, 0) if op == CAS else 0
        now = self.sim.now
        request = Request(self.endpoint, seq, op, key, value, expected, ack, self.value_size,
                          self.position, ts=now)
        index = self.history.invoke(self.endpoint, op, key, value, expected, now)
        self.outstanding[seq] = entry = _Op(index, request, now)
        self._send(entry)

    def _send(self, entry: _Op) -> None:
        if self.anywhere and not entry.attempt:
            self.leader = self.route.randrange(self.nodes)
        entry.attempt += 1
        now = self.sim.now
        self.recorder.attempt(now)
        entry.target = self.leader
        self.net.send(self.endpoint, self.leader, entry.request, now, 0)
        self.timeouts.add((entry.request.seq, entry.attempt))

    # -- outcomes ------------------------------------------------------------------------------
    def _receive(self, src: int, reply: Reply) -> None:
        entry = self.outstanding.get(reply.request.seq)
        if entry is None or reply.request is not entry.request:
            return  # a late or duplicated answer to an operation already finished
        if reply.status == OK:
            if reply.index > self.position:
                self.position = reply.index
            self._finish(entry, reply.value)
            return
        if src != entry.target:
            return  # a redirect for an attempt already superseded
        if reply.leader is not None and reply.leader != src:
            self.leader = reply.leader
            self._send(entry)
        else:
            self.leader = (src + 1) % self.nodes
            self.sim.at(self.sim.now + self.backoff, self._retry, (entry.request.seq, entry.attempt))

    def _current(self, item: tuple[int, int]) -> bool:
        """Is attempt ``item`` (seq, attempt) still the one awaited?"""
        entry = self.outstanding.get(item[0])
        return entry is not None and entry.attempt == item[1]

    def _timeout(self, item: tuple[int, int]) -> None:
        self.recorder.timed_out(self.sim.now - self.w.timeout)
        self.leader = (self.leader + 1) % self.nodes
        self._retry(item)

    def _retry(self, item: tuple[int, int]) -> None:
        seq, attempt = item
        entry = self.outstanding.get(seq)
        if entry is None or entry.attempt != attempt:
            return
        if entry.retries >= self.w.retries:
            del self.outstanding[seq]
            self.history.info(entry.index)
            self.recorder.gave_up(entry.invoke)
            self._next()
            return
        entry.retries += 1
        self._send(entry)

    def _finish(self, entry: _Op, value: Any) -> None:
        request = entry.request
        del self.outstanding[request.seq]
        now = self.sim.now
        if request.op == GET:
            result = int(value or 0)
            if self.cas_ratio:
                self.seen[request.key] = result
        else:
            result = 1 if value else 0
            if request.op == PUT or result:
                self.keys.wrote(request.key)
                if self.cas_ratio:
                    self.seen[request.key] = request.value
                self.acked(request.uid)
        self.history.ok(entry.index, now, result)
        self.recorder.completed(entry.invoke, now)
        self._next()

    def unanswered(self) -> list[float]:
        """Intended start times of the operations still waiting for an answer."""
        return [entry.invoke for entry in self.outstanding.values()]
