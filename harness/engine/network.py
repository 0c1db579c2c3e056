"""The simulated network: per-link latency distributions, loss, duplication, bandwidth, partitions.

Reordering is not injected separately: it is what jitter does when two messages on one link draw
different latencies. Partitions are checked on delivery, so a message in flight when a cut starts
is lost, as it would be on a real network. Endpoints are nodes (ids ``0..n-1``) and clients
(ids ``n..``); per-link overrides apply between nodes, clients always use the default link.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict
from typing import Any, Callable, cast

import numpy as np

from harness.engine.sim import Simulator
from harness.message import Message

INF = math.inf
BLOCK = 4096


class Latencies:
    """One-way latencies (seconds) of one link, drawn from the configured law.

    Draws come in blocks from a NumPy generator seeded from ``rng``, a pure function of the
    seed; blocks start small and double up to ``BLOCK`` so that hundreds of quiet client links
    stay cheap. The network takes a draw as ``draws.pop() if draws else refill()`` itself, on
    the hottest line of a run (a call per message measured 2-3% of a pure-Python run);
    :meth:`next` does the same for anyone else."""

    __slots__ = ("draws", "_block", "_size")

    def __init__(self, spec: Any, rng: random.Random):
        self.draws: list[float] = []
        self._size = 16
        dist = spec.dist
        self._block: Callable[[int], list[float]]
        if dist == "constant":
            value = spec.value
            self._block = lambda n: [value] * n
            return
        gen = np.random.default_rng(rng.getrandbits(64))
        if dist == "uniform":
            self._block = lambda n: gen.uniform(spec.low, spec.high, n).tolist()
        elif dist == "normal":
            def normal(n: int) -> list[float]:  # truncated at 0 by rejection, not by clamping
                x = gen.normal(spec.mean, spec.std, n)
                return x[x >= 0.0].tolist()
            self._block = normal
        elif dist == "exponential":
            self._block = lambda n: gen.exponential(spec.mean, n).tolist()
        elif dist == "lognormal":
            self._block = lambda n: gen.lognormal(math.log(spec.median), spec.sigma, n).tolist()
        elif dist == "pareto":  # classical Pareto with minimum ``scale``
            self._block = lambda n: (spec.scale * (1.0 + gen.pareto(spec.shape, n))).tolist()
        else:
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


class Link:
    __slots__ = ("latency", "draws", "loss", "duplicate", "bandwidth", "free_at", "plain")

    def __init__(self, latency: Latencies, loss: float, duplicate: float, bandwidth: float | None):
        self.latency = latency
        self.draws = latency.draws  # the same list, refilled in place
        self.loss = loss
        self.duplicate = duplicate
        self.bandwidth = bandwidth
        self.free_at = 0.0
        self.plain = not (loss or duplicate or bandwidth)  # only a latency draw per message


class Network:
    """Carries messages between endpoints. ``attach`` an endpoint's receive function first."""

    def __init__(self, sim: Simulator, cfg: Any, nodes: int, clients: int):
        self.sim = sim
        self.rng = sim.rng("network")
        self.receivers: list[Callable[[int, Any], None] | None] = [None] * (nodes + clients)
        self.ends: list[list[float]] = [[INF] for _ in range(nodes + clients)]
        self.blocked: dict[tuple[int, int], int] = {}
        self.bytes = 0
        self.by_type: defaultdict[type, int] = defaultdict(int)  # messages sent, by class
        self.dropped = 0
        # bound once: binding the method anew for every message costs an allocation
        self.deliver: Callable[[tuple], None] = self._deliver
        # table[src][dst]: node<->node links with the per-link overrides, client<->node links
        # with the defaults
        self.table: list[list[Link]] = cast("list[list[Link]]",  # None where no link can be
                                            [[None] * (nodes + clients) for _ in range(nodes + clients)])
        for src in range(nodes):
            for dst in range(nodes):
                if src != dst:
                    self.table[src][dst] = self._link(cfg, src, dst, cfg.links)
            for client in range(nodes, nodes + clients):
                self.table[src][client] = self._link(cfg, src, client, ())
                self.table[client][src] = self._link(cfg, client, src, ())

    def _link(self, cfg: Any, src: int, dst: int, overrides: Any) -> Link:
        latency, loss, dup, bw = cfg.latency, cfg.loss, cfg.duplicate, cfg.bandwidth
        for o in overrides:
            if _matches(o.src, src) and _matches(o.dst, dst):
                latency = o.latency if o.latency is not None else latency
                loss = o.loss if o.loss is not None else loss
                dup = o.duplicate if o.duplicate is not None else dup
                bw = o.bandwidth if o.bandwidth is not None else bw
        rng = self.sim.rng(f"network/link/{src}-{dst}")
        return Link(Latencies(latency, rng), loss, dup, bw)

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
        link = self.table[src][dst]
        self.bytes += msg.size
        self.by_type[type(msg)] += 1
        sim = self.sim
        if link.plain:  # the common case, with the same draws as below
            draws = link.draws
            sim._seq += 1  # inlined Simulator.at: this is the hottest call in a run
            heapq.heappush(sim._heap, (depart + (draws.pop() if draws else link.latency.refill()),
                                       sim._seq, self.deliver, (src, dst, incarnation, depart, msg)))
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

    # -- partitions ------------------------------------------------------------------------
    def cut(self, group: set[int], others: set[int], one_way: bool = False) -> list[tuple[int, int]]:
        """Block traffic from ``group`` to ``others`` (and back unless ``one_way``); returns the
        blocked pairs so the caller can ``restore`` exactly these later (cuts may overlap)."""
        pairs = [(a, b) for a in group for b in others if a != b]
        if not one_way:
            pairs += [(b, a) for a in group for b in others if a != b]
        for p in pairs:
            self.blocked[p] = self.blocked.get(p, 0) + 1
        return pairs

    def restore(self, pairs: list[tuple[int, int]]) -> None:
        for p in pairs:
            left = self.blocked.get(p, 0) - 1
            if left > 0:
                self.blocked[p] = left
            else:
                self.blocked.pop(p, None)


def _matches(selector: Any, node: int) -> bool:
    if selector == "*" or selector is None:
        return True
    if isinstance(selector, int):
        return selector == node
    return node in selector
