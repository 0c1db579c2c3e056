"""The simulated network: per-link latency distributions, loss, duplication, bandwidth, partitions.

Two transports. ``datagram``: reordering is not injected separately, it is what jitter does when
two messages on one link draw different latencies, and a lost message is gone. ``stream``: each
directed link is a TCP-like connection (:mod:`harness.engine.stream`): in order, a loss becomes
a retransmission the later messages wait behind, duplicates are discarded. Partitions are
checked on delivery, so a message in flight when a cut starts is lost, as it would be on a real
network. Endpoints are nodes (ids ``0..n-1``) and clients (ids ``n..``); per-link overrides
apply between nodes, clients always use the default link.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict
from typing import Any, Callable, cast

import numpy as np

from harness.engine.sim import Simulator
from harness.engine.stream import DUPTHRESH, RETRIES, UNSENT, Stream, backoff
from harness.message import Message

INF = math.inf
BLOCK = 4096


class Latencies:
    """One-way latencies (seconds) of one link, drawn from the configured law.

    Draws come in blocks from a NumPy generator seeded from ``rng``, a pure function of the
    seed; blocks start small and double up to ``BLOCK`` so that hundreds of quiet client links
    stay cheap. The network takes a draw as ``draws.pop() if draws else refill()`` itself, on
    the hottest line of a run (a call per message measured 2-3% of a pure-Python run);
    :meth:`next` does the same for anyone else. ``relay`` is added to every draw: the time a
    message spends in a process that relays it (see :class:`Network`)."""

    __slots__ = ("draws", "_block", "_size", "mean")

    def __init__(self, spec: Any, rng: random.Random, relay: float = 0.0):
        self.draws: list[float] = []
        self._size = 16
        self.mean = mean_latency(spec) + relay
        self._block: Callable[[int], list[float]] = self._law(spec, rng)
        if relay:
            law = self._block
            self._block = lambda n: [x + relay for x in law(n)]

    @staticmethod
    def _law(spec: Any, rng: random.Random) -> Callable[[int], list[float]]:
        """``n`` draws of the configured law at a time."""
        dist = spec.dist
        if dist == "constant":
            value = spec.value
            return lambda n: [value] * n
        gen = np.random.default_rng(rng.getrandbits(64))
        if dist == "uniform":
            return lambda n: gen.uniform(spec.low, spec.high, n).tolist()
        if dist == "normal":
            def normal(n: int) -> list[float]:  # truncated at 0 by rejection, not by clamping
                x = gen.normal(spec.mean, spec.std, n)
                return x[x >= 0.0].tolist()
            return normal
        if dist == "exponential":
            return lambda n: gen.exponential(spec.mean, n).tolist()
        if dist == "lognormal":
            return lambda n: gen.lognormal(math.log(spec.median), spec.sigma, n).tolist()
        if dist == "pareto":  # classical Pareto with minimum ``scale``
            return lambda n: (spec.scale * (1.0 + gen.pareto(spec.shape, n))).tolist()
        raise ValueError(f"unknown latency distribution {dist!r}")

    def refill(self) -> float:
        """Draw the next block and return its first draw (``draws`` is empty)."""
        draws = self.draws
        while not draws:
            draws.extend(self._block(self._size))
        self._size = min(self._size * 2, BLOCK)
        return draws.pop()

    def next(self) -> float:
        draws = self.draws
        return draws.pop() if draws else self.refill()


def mean_latency(spec: Any) -> float:
    """The mean of a latency law (the median for a Pareto law without one): the stream
    transport's round-trip estimate (SRTT) settles on the sum of two of them, and the run
    estimate (:mod:`harness.execution.estimate`) adds them up."""
    dist = spec.dist
    if dist == "constant":
        return spec.value
    if dist == "uniform":
        return (spec.low + spec.high) / 2.0
    if dist == "lognormal":
        return spec.median * math.exp(spec.sigma ** 2 / 2.0)
    if dist == "pareto":
        shape = spec.shape
        return spec.scale * (shape / (shape - 1.0) if shape > 1.0 else 2.0 ** (1.0 / shape))
    return spec.mean  # normal (its truncation at 0 ignored), exponential


class Link:
    __slots__ = ("latency", "draws", "loss", "duplicate", "bandwidth", "free_at", "stream", "plain",
                 "fifo")

    def __init__(self, latency: Latencies, loss: float, duplicate: float, bandwidth: float | None,
                 stream: Stream | None):
        self.latency = latency
        self.draws = latency.draws  # the same list, refilled in place
        self.loss = loss
        self.duplicate = duplicate
        self.bandwidth = bandwidth
        self.free_at = 0.0
        self.stream = stream  # the connection (stream transport), None for datagrams
        # only a latency draw per message
        self.plain = not (loss or duplicate or bandwidth) and stream is None
        # a stream that loses nothing (duplicates it discards) needs only to keep the order
        self.fifo = stream is not None and not (loss or bandwidth)


class Network:
    """Carries messages between endpoints. ``attach`` an endpoint's receive function first.

    ``relay`` (seconds, ``cluster.relay``) is the time a message between two nodes spends in a
    process that relays it, as a live run's harness relays every one (two pipe hops and its
    handling); a client's message crosses one pipe hop, half of it."""

    def __init__(self, sim: Simulator, cfg: Any, nodes: int, clients: int, relay: float = 0.0):
        self.sim = sim
        self.rng = sim.rng("network")
        self.receivers: list[Callable[[int, Any], None] | None] = [None] * (nodes + clients)
        self.ends: list[list[float]] = [[INF] for _ in range(nodes + clients)]
        self.blocked: dict[tuple[int, int], int] = {}
        self.bytes = 0
        self.by_type: defaultdict[type, int] = defaultdict(int)  # messages sent, by class
        self.dropped = 0
        self.streamed = cfg.transport == "stream"
        self.rto = cfg.rto
        self.retransmitted = 0  # copies the stream transport re-sent
        # told (src, dst, msg, depart) of every message sent: a fault triggered by what a node
        # says (harness.faults.trigger); it returns how long to hold the message (0: not at
        # all); None, and no cost, otherwise
        self.tap: Callable[[int, int, Message, float], float] | None = None
        # bound once: binding the method anew for every message costs an allocation
        self.deliver: Callable[[tuple], None] = self._deliver
        self.deliver_stream: Callable[[tuple], None] = self._deliver_stream
        self.deliver_fifo: Callable[[tuple], None] = self._deliver_fifo
        # table[src][dst]: node<->node links with the per-link overrides, client<->node links
        # with the defaults
        self.table: list[list[Link]] = cast("list[list[Link]]",  # None where no link can be
                                            [[None] * (nodes + clients) for _ in range(nodes + clients)])
        for src in range(nodes):
            for dst in range(nodes):
                if src != dst:
                    self.table[src][dst] = self._link(cfg, src, dst, cfg.links, relay)
            for client in range(nodes, nodes + clients):
                self.table[src][client] = self._link(cfg, src, client, (), relay / 2.0)
                self.table[client][src] = self._link(cfg, client, src, (), relay / 2.0)
        if self.streamed:
            # the table as it is, None where no link can be (compiled code checks each item read)
            for src, row in enumerate(cast("list[list[Link | None]]", self.table)):
                for dst, link in enumerate(row):
                    if link is not None and link.stream is not None:
                        link.stream.srtt = link.latency.mean + self.table[dst][src].latency.mean

    def _link(self, cfg: Any, src: int, dst: int, overrides: Any, relay: float) -> Link:
        latency, loss, dup, bw = cfg.latency, cfg.loss, cfg.duplicate, cfg.bandwidth
        for o in overrides:
            if _matches(o.src, src) and _matches(o.dst, dst):
                latency = o.latency if o.latency is not None else latency
                loss = o.loss if o.loss is not None else loss
                dup = o.duplicate if o.duplicate is not None else dup
                bw = o.bandwidth if o.bandwidth is not None else bw
        rng = self.sim.rng(f"network/link/{src}-{dst}")
        return Link(Latencies(latency, rng, relay), loss, dup, bw, Stream() if self.streamed else None)

    @property
    def messages(self) -> int:
        """Messages sent so far: counted by class only, one increment per message."""
        return sum(self.by_type.values())

    def attach(self, endpoint: int, receive: Callable[[int, Any], None], ends: list[float]) -> None:
        """``ends[k]`` is when incarnation ``k`` of the endpoint crashed (inf while it lives)."""
        self.receivers[endpoint] = receive
        self.ends[endpoint] = ends

    def send(self, src: int, dst: int, msg: Message, depart: float, incarnation: int) -> None:
        """Put ``msg`` on the wire at time ``depart``; it arrives after the link's delay unless lost."""
        self.bytes += msg.size
        self.by_type[type(msg)] += 1
        if self.tap is not None:
            hold = self.tap(src, dst, msg, depart)
            if hold > 0.0:  # a fault holds it (harness.faults.delay): it leaves that much later
                self.sim.at(depart + hold, self._release, (src, dst, msg, incarnation))
                return
        self._transmit(src, dst, msg, depart, incarnation)

    def _release(self, item: tuple[int, int, Message, int]) -> None:
        """A held message leaves now, after whatever its sender sent meanwhile (unless its
        sender crashed meanwhile: its output is lost with it)."""
        src, dst, msg, incarnation = item
        self._transmit(src, dst, msg, self.sim.now, incarnation)

    def _transmit(self, src: int, dst: int, msg: Message, depart: float, incarnation: int) -> None:
        link = self.table[src][dst]
        sim = self.sim
        if link.plain:  # the common case, with the same draws as below
            draws = link.draws
            sim._seq += 1  # inlined Simulator.at: this is the hottest call in a run
            heapq.heappush(sim._heap, (depart + (draws.pop() if draws else link.latency.refill()),
                                       sim._seq, self.deliver, (src, dst, incarnation, depart, msg)))
            return
        stream = link.stream
        if stream is not None:
            if link.fifo:  # the common stream: in order, nothing to re-send
                draws = link.draws
                t = depart + (draws.pop() if draws else link.latency.refill())
                if t < stream.last:
                    t = stream.last
                stream.last = t
                sim._seq += 1
                heapq.heappush(sim._heap, (t, sim._seq, self.deliver_fifo,
                                           (src, dst, incarnation, depart, msg, stream.epoch)))
            else:
                self._send_stream(src, dst, link, stream, msg, depart, incarnation)
            return
        if link.loss and self.rng.random() < link.loss:
            self.dropped += 1
            return
        copies = 2 if link.duplicate and self.rng.random() < link.duplicate else 1
        for _ in range(copies):
            t = depart
            if link.bandwidth:
                t = max(t, link.free_at) + msg.size / link.bandwidth
                link.free_at = t
            sim._seq += 1
            heapq.heappush(sim._heap, (t + link.latency.next(), sim._seq, self.deliver,
                                       (src, dst, incarnation, depart, msg)))

    def _deliver(self, item: tuple) -> None:
        src, dst, incarnation, depart, msg = item
        if self.ends[src][incarnation] < depart:
            return  # the sender crashed before this output left it
        if self.blocked and (src, dst) in self.blocked:
            self.dropped += 1
            return
        self.receivers[dst](src, msg)

    # -- the stream transport ----------------------------------------------------------------
    def _send_stream(self, src: int, dst: int, link: Link, stream: Stream, msg: Message,
                     depart: float, incarnation: int) -> None:
        """Number ``msg`` on its connection; a message lost on its first try arrives with the
        copy the retransmission timeout sends (unless a fast retransmit repairs it first)."""
        seq = stream.sent
        stream.sent = seq + 1
        t = depart
        if link.bandwidth:
            t = max(t, link.free_at) + msg.size / link.bandwidth
            link.free_at = t
        stream.prev_sent_at, stream.sent_at = stream.sent_at, t
        item = (src, dst, incarnation, depart, msg, stream.epoch, seq, 0)
        if link.loss and self.rng.random() < link.loss:
            wait, tries = backoff(self.rto, link.loss, self.rng.random)
            if tries > RETRIES:  # the connection times out: it breaks then
                self.dropped += 1
                self.sim.at(t + wait, self._timed_out, (stream, stream.epoch))
                return
            stream.lost[seq] = [item, t + self.rto, UNSENT, seq + 1]
            probe = stream.probe_due(self.rto)
            if probe < t + self.rto:
                self.sim.at(probe, self._probe, (src, dst, stream.epoch, seq))
            item = (src, dst, incarnation, depart, msg, stream.epoch, seq, tries)
            t += wait
        self.sim.at(t + link.latency.next(), self.deliver_stream, item)

    def _deliver_fifo(self, item: tuple) -> None:
        """A message of a stream that loses nothing arrives (in order: it was sent so)."""
        src, dst, incarnation, depart, msg, epoch = item
        stream = self.table[src][dst].stream
        assert stream is not None
        if epoch != stream.epoch or self.ends[src][incarnation] < depart:
            self.dropped += 1
            return
        if self.blocked and (src, dst) in self.blocked:
            self.dropped += 1
            return
        self.receivers[dst](src, msg)

    def _deliver_stream(self, item: tuple) -> None:
        """A message (or a copy) arrives: handed over in sequence order, held if early,
        discarded if its connection broke or it was delivered already."""
        src, dst, incarnation, depart, msg, epoch, seq, tries = item
        stream = self.table[src][dst].stream
        assert stream is not None
        if epoch != stream.epoch or self.ends[src][incarnation] < depart:
            self.dropped += 1
            return
        if self.blocked and (src, dst) in self.blocked:
            self.dropped += 1
            return
        expected = stream.expected
        lost = stream.lost
        if seq != expected:
            if seq > expected:
                stream.held[seq] = msg
                if lost and expected in lost:
                    self._rack(src, dst, stream, lost[expected], seq)
            return  # (below: the slower copy of a message delivered already)
        if tries:
            self.retransmitted += tries
        held, receive = stream.held, self.receivers[dst]
        if lost:
            lost.pop(seq, None)
        stream.expected = expected = seq + 1
        receive(src, msg)
        while held and expected in held:
            msg = held.pop(expected)
            stream.expected = expected = expected + 1
            receive(src, msg)
        if held and expected in lost:
            self._rack(src, dst, stream, lost[expected], max(held))

    def _rack(self, src: int, dst: int, stream: Stream, entry: list, arrived: int) -> None:
        """Message ``arrived``, held behind a lost one, was sent after the lost one (or after
        its latest copy, ``entry[3]``): its acknowledgement reaches the sender a reverse latency
        later, which re-sends the lost one after RACK's reordering window, or at once once
        ``DUPTHRESH`` have arrived. (The reverse latency is drawn only when the plan may change:
        the first such arrival, and the ``DUPTHRESH``-th.)"""
        planned = entry[2]
        if (planned < 0.0 or arrived < entry[3]
                or (planned < UNSENT and len(stream.held) != DUPTHRESH)):
            return
        window = 0.0 if len(stream.held) >= DUPTHRESH else stream.srtt / 4.0
        self._plan_repair(src, dst, stream, entry,
                          self.sim.now + self.table[dst][src].latency.next() + window)

    def _probe(self, item: tuple[int, int, int, int]) -> None:
        """The tail-loss probe of the loss ``seq`` fires, unless a later send re-armed it, the
        loss was repaired or its repair is planned, or the timeout comes first."""
        src, dst, epoch, seq = item
        stream = self.table[src][dst].stream
        assert stream is not None
        entry = stream.lost.get(seq)
        if entry is None or stream.epoch != epoch or entry[2] < UNSENT:
            return
        now, timeout_at = self.sim.now, entry[1]
        due = stream.probe_due(self.rto)
        if due > now:
            if due < timeout_at:
                self.sim.at(due, self._probe, item)
            return
        if seq == stream.sent - 1:  # the probe is the lost message itself
            self._plan_repair(src, dst, stream, entry, now)
            return
        self.retransmitted += 1  # a copy of the latest message, whose acknowledgement shows the hole
        link = self.table[src][dst]
        if self.rng.random() >= link.loss:
            self._plan_repair(src, dst, stream, entry,
                              now + link.latency.next() + self.table[dst][src].latency.next())

    def _plan_repair(self, src: int, dst: int, stream: Stream, entry: list, at: float) -> None:
        """Re-send a lost message at ``at`` (unless the timeout's copy leaves first, or an
        earlier repair is planned)."""
        if at >= entry[1] or at >= entry[2]:
            return
        entry[2] = at
        self.sim.at(at, self._resend, (src, dst, stream.epoch, entry))

    def _resend(self, item: tuple[int, int, int, list]) -> None:
        """A planned repair leaves (unless an earlier one did). If it is lost too, a message
        sent after it reveals that as the first loss was revealed (RACK detects lost
        retransmissions by their send time, RFC 8985 §6.2); the timeout remains the backstop."""
        src, dst, epoch, entry = item
        link = self.table[src][dst]
        stream = link.stream
        if (stream is None or stream.epoch != epoch or entry[2] != self.sim.now
                or stream.lost.get(entry[0][6]) is not entry):  # delivered meanwhile
            return
        entry[2] = -1.0
        self.retransmitted += 1
        if self.rng.random() < link.loss:  # RACK sees it lost once a later send arrives
            entry[2], entry[3] = UNSENT, stream.sent
            return
        self.sim.at(self.sim.now + link.latency.next(), self.deliver_stream, entry[0])

    def _timed_out(self, item: tuple[Stream, int]) -> None:
        stream, epoch = item
        if stream.epoch == epoch:
            stream.reset()

    def reset(self, node: int) -> None:
        """``node`` crashed or restarted: its connections break (stream transport). (A node has
        a link to and from every other endpoint; ``table`` holds None only where none can be.)"""
        if not self.streamed:
            return
        table = self.table
        for other in range(len(table)):
            if other != node:
                for stream in (table[node][other].stream, table[other][node].stream):
                    if stream is not None:
                        stream.reset()

    # -- partitions ------------------------------------------------------------------------
    def cut(self, group: set[int], others: set[int], one_way: bool = False) -> list[tuple[int, int]]:
        """Block traffic from ``group`` to ``others`` (and back unless ``one_way``); returns the
        blocked pairs so the caller can ``restore`` exactly these later (cuts may overlap)."""
        pairs = [(a, b) for a in group for b in others if a != b]
        if not one_way:
            pairs += [(b, a) for a in group for b in others if a != b]
        for p in pairs:
            self.blocked[p] = self.blocked.get(p, 0) + 1
        self._break(pairs)
        return pairs

    def restore(self, pairs: list[tuple[int, int]]) -> None:
        for p in pairs:
            left = self.blocked.get(p, 0) - 1
            if left > 0:
                self.blocked[p] = left
            else:
                self.blocked.pop(p, None)
        self._break(pairs)

    def _break(self, pairs: list[tuple[int, int]]) -> None:
        """A cut, or its heal, breaks the connections on these links: what was in flight on them
        is lost and the next message opens a new connection (stream transport)."""
        if self.streamed:
            for a, b in pairs:
                stream = self.table[a][b].stream
                if stream is not None:
                    stream.reset()


def _matches(selector: Any, node: int) -> bool:
    if selector == "*" or selector is None:
        return True
    if isinstance(selector, int):
        return selector == node
    return node in selector
