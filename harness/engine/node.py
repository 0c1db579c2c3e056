"""A simulated machine hosting one protocol replica: the cost model, stable storage, crashes.

Each node is a single-server FIFO queue. Every input (message, client request, timer) occupies
the CPU for ``cpu_per_message + size * cpu_per_byte`` (times the slow-down factor), every output
for ``cpu_per_send + size * cpu_per_byte``; persists go to a disk that takes ``fsync`` per flush,
and with group commit every persist issued while a flush is running shares the next one. Outputs
issued after a persist -- in the same handler or any later one -- leave only once it is durable
(as etcd's Ready loop does), so a protocol that replies before its write is on disk is simply
impossible to express. Observations for the checkers (``applied``, ``became_leader``) obey the
same rule.

With ``cluster.queue: fifo`` (the default) handlers run when their input arrives, in arrival
(= FIFO service) order, and see ``now`` equal to their service start, ``max(arrival,
busy_until)``; their outputs are stamped with the time the CPU (and disk) finish them. With
``peer_first`` inputs that find the CPU busy wait in two queues, protocol work (messages from
other nodes, and timers) and client requests; whenever the CPU frees, the next protocol input
is served before any client request (non-preemptive priority), so an overloaded leader still
hears its followers and sends its heartbeats on time. Real servers separate peer traffic the
same way: etcd serves peers on their own port (2380, clients on 2379) and Kafka gives
controller requests their own listener and queue, ahead of data requests (KIP-291). A crash at ``c`` therefore voids every output stamped after ``c``
(the network checks the sender's incarnation), drops persists whose flush ends after ``c``,
and throws the replica's memory away; a restart rebuilds it from the durable records only. A
pause holds every input until it ends and changes nothing else.

A node reads time only as ``ctx.now``, its own clock: the true (simulated) time of its service
start unless a clock fault (:mod:`harness.faults.clock`) has set it off, by a skew and a drift
rate that also scales its timers. Everything recorded -- outputs, observations, the history --
carries true time.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable

from harness.contract import Context, Node
from harness.engine.network import Network
from harness.engine.sim import Simulator
from harness.message import Message

CRASHED = Node()  # the replica of a crashed node: nothing calls it (the host checks ``alive``)

INF = math.inf
NO_TERM = -(1 << 63)  # no leadership claimed since the node (re)started


class NodeHost(Context):
    def __init__(self, sim: Simulator, net: Network, node_id: int, nodes: tuple[int, ...], cluster: Any,
                 make_replica: Callable[[], Node], observer: Any, leader_only: dict[type, str] | None = None):
        self.sim = sim
        self.net = net
        self.node_id = node_id
        self.nodes = nodes
        self.n = len(nodes)
        self.make_replica = make_replica
        self.observer = observer
        # the protocol's leader-only messages (ProtocolSpec.leader_only) and the last term this
        # node's sends of them claimed: each new claim is an observation (election safety)
        self.leader_only: dict[type, str] = leader_only or {}
        self._claimed = NO_TERM
        self.rng = sim.rng(f"node/{node_id}/protocol")
        self.cost_rng = sim.rng(f"node/{node_id}/cpu")
        self.cpu_message = cluster.cpu_per_message
        self.cpu_send = cluster.cpu_per_send
        self.cpu_byte = cluster.cpu_per_byte
        self.exponential = cluster.cpu_dist == "exponential"
        self.fsync = cluster.fsync
        self.group_commit = cluster.group_commit
        self.slow = 1.0
        self.now = 0.0     # what the replica reads: the node's clock at its service start
        self._start = 0.0  # the true time of that service start
        self.clocked = False  # a clock fault sets the node's clock off (set_clock)
        self.skew = self.drift = self._clock_from = 0.0
        self.alive = True
        self.incarnation = 0
        self.ends: list[float] = [INF]
        self.busy_until = 0.0
        self.busy_time = 0.0
        self.fsyncs = 0
        self._t = 0.0      # when the CPU is done with what the running handler has issued so far
        self._hold = 0.0   # no output leaves before this: the end of the last persist's flush
        self._seen: deque[tuple[float, Callable[..., None], tuple]] = deque()  # held observations
        self.stable: list[Any] = []
        self.pending: deque[tuple[float, Any]] = deque()
        self._disk_end = 0.0
        self._disk_start = 0.0
        self.timers: dict[str, int] = {}
        self._due: dict[str, float] = {}  # when each armed timer fires (true time)
        self._timer_gen = 0
        # peer_first: inputs waiting for the CPU, and whether a _serve_next event is pending
        self.peer_first = cluster.queue == "peer_first"
        self._peers: deque[tuple[float, Callable[..., None], tuple]] = deque()
        self._clients: deque[tuple[float, Callable[..., None], tuple]] = deque()
        self._serving = False
        # paused: the inputs held until resume, with what serves each
        self._held: list[tuple[Callable[..., None], tuple]] | None = None
        self._stalled = False  # peer_first: the next input waits for resume
        self._receiver = self._receive_queued if self.peer_first else self._receive
        net.attach(node_id, self._receiver, self.ends)
        self.replica: Node = make_replica()  # CRASHED while crashed
        self._run(0.0, self.replica.start, (self, []))  # booting is free

    # -- the Context the replica sees ------------------------------------------------------
    def send(self, dst: int, msg: Message) -> None:
        self._t += (self.cpu_send + msg.size * self.cpu_byte) * self.slow
        depart = self._t if self._t > self._hold else self._hold
        if self.leader_only:
            field = self.leader_only.get(type(msg))
            if field is not None:
                self._claim(msg, field)
        self.net.send(self.node_id, dst, msg, depart, self.incarnation)

    def _claim(self, msg: Message, field: str) -> None:
        """``msg`` is one only a leader sends: the term in its ``field`` is a leadership claim,
        observed (once per term) for election safety to hold against the node's reports."""
        term = getattr(msg, field)
        if term != self._claimed:
            self._claimed = term
            self._observe(self.observer.claimed, (term, type(msg).__name__))

    def reply(self, request: Any, result: Message) -> None:
        self.send(request.client, result)

    def set_timer(self, name: str, delay: float) -> None:
        self._timer_gen += 1
        self.timers[name] = self._timer_gen
        if self.clocked:  # a clock running at rate 1 + drift reaches the deadline sooner or later
            delay /= 1.0 + self.drift
        due = self._due[name] = self._start + delay
        self.sim.at(due, self._fire, (name, self._timer_gen, self.incarnation))

    def cancel_timer(self, name: str) -> None:
        self.timers.pop(name, None)

    def charge(self, seconds: float) -> None:
        self._t += seconds * self.slow

    def persist(self, record: Any) -> None:
        t, fsync = self._t, self.fsync
        if t >= self._disk_end:            # disk idle: flush now
            self._disk_start, self._disk_end = t, t + fsync
            self.fsyncs += 1
        elif self.group_commit and t < self._disk_start:
            pass                           # a flush is queued but not started: ride along
        else:                              # queue a flush behind the running one
            self._disk_start = self._disk_end
            self._disk_end += fsync
            self.fsyncs += 1
        end = self._disk_end
        self.pending.append((end, record))
        if end > self._hold:
            self._hold = end

    def random(self) -> float:
        return self.rng.random()

    def became_leader(self, term: int) -> None:
        self._observe(self.observer.leader, (term,))

    def applied(self, index: int, command: Any) -> None:
        self._observe(self.observer.applied, (index, command))

    def applied_many(self, first: int, commands: Any) -> None:
        self._observe(self.observer.applied_many, (first, commands))

    def observe(self, event: str, value: Any) -> None:
        self._observe(self.observer.observe, (event, value))

    def _observe(self, fn: Callable[..., None], args: tuple) -> None:
        """Observations are outputs too: visible only once every earlier persist is durable,
        and voided by a crash before that (else a checker could see what no client ever can)."""
        if self._seen or self._hold > self._t:
            self._seen.append((max(self._hold, self._t), fn, args))
        else:
            fn(self.node_id, *args, self._t)

    def settle(self, t: float) -> None:
        """Release the held observations that became visible by ``t``."""
        seen = self._seen
        while seen and seen[0][0] <= t:
            when, fn, args = seen.popleft()
            fn(self.node_id, *args, when)

    # -- inputs ------------------------------------------------------------------------------
    def _run(self, cost: float, handler: Callable[..., None], args: tuple) -> None:
        """Serve one input: queue for the CPU, charge ``cost``, run the replica's handler."""
        self._begin(cost)
        handler(*args)
        self._end()

    def _begin(self, cost: float) -> None:
        """An input's service starts (at ``now``) and is charged ``cost``; what became durable
        or visible by then is released. Messages, the hot path, call the handler after this
        themselves (a direct call instead of ``handler(*args)``), and end as :meth:`_end` does."""
        now = self.sim.now
        start = now if now > self.busy_until else self.busy_until
        if self.exponential and cost > 0.0:
            cost = self.cost_rng.expovariate(1.0 / cost)
        self._start = start
        self.now = self.local(start) if self.clocked else start
        self._t = start + cost * self.slow
        if self.pending and self.pending[0][0] <= start:
            self._flush(start)
        if self._seen and self._seen[0][0] <= start:
            self.settle(start)

    def _end(self) -> None:
        """The handler of the input served from ``now`` returned: the CPU is busy until ``_t``.
        (:meth:`_receive` does the same inline.)"""
        self.busy_time += self._t - self._start
        self.busy_until = self._t

    def busy_at(self, t: float) -> float:
        """CPU seconds spent by time ``t`` (work queued beyond ``t`` is not spent yet)."""
        return self.busy_time - max(0.0, self.busy_until - t)

    def _flush(self, t: float) -> None:
        """Move the persists whose flush completed by ``t`` to durable storage."""
        pending, stable = self.pending, self.stable
        while pending and pending[0][0] <= t:
            stable.append(pending.popleft()[1])

    def _receive(self, src: int, msg: Message) -> None:
        if not self.alive:
            return
        self._begin(self.cpu_message + msg.size * self.cpu_byte)
        if src < self.n:
            self.replica.on_message(self, src, msg)
        else:
            self.replica.on_request(self, msg)
        t = self._t  # _end, inlined on the hottest path (a call per message, ~1% of a run)
        self.busy_time += t - self._start
        self.busy_until = t

    def _fire(self, item: tuple[str, int, int]) -> None:
        name, gen, incarnation = item
        if incarnation != self.incarnation or self.timers.get(name) != gen:
            return
        if self._held is not None:
            self._held.append((self._fire, (item,)))
            return
        if self.peer_first:
            self._admit(self._peers, self.cpu_message, self._timer_due, (name, gen))
            return
        del self.timers[name]
        self._begin(self.cpu_message)
        self.replica.on_timer(self, name)
        self._end()

    # -- peer_first: two queues in front of the CPU ------------------------------------------
    def _receive_queued(self, src: int, msg: Message) -> None:
        if not self.alive:
            return
        cost = self.cpu_message + msg.size * self.cpu_byte
        if src < self.n:
            self._admit(self._peers, cost, self.replica.on_message, (self, src, msg))
        else:
            self._admit(self._clients, cost, self.replica.on_request, (self, msg))

    def _timer_due(self, name: str, gen: int) -> None:
        """A timer that waited for the CPU runs only if nothing served meanwhile re-armed or
        cancelled it (as a real event loop checks its deadline when it gets to it)."""
        if self.timers.get(name) == gen:
            del self.timers[name]
            self.replica.on_timer(self, name)

    def _admit(self, queue: deque, cost: float, handler: Callable[..., None], args: tuple) -> None:
        """Serve at once if the CPU is idle, else queue behind the inputs of the same class."""
        if not self._serving and self.sim.now >= self.busy_until:
            self._run(cost, handler, args)
            return
        queue.append((cost, handler, args))
        if not self._serving:
            self._serving = True
            self.sim.at(self.busy_until, self._serve_next, self.incarnation)

    def _serve_next(self, incarnation: int) -> None:
        """The CPU is free: serve the oldest protocol input, else the oldest client request."""
        if incarnation != self.incarnation or not self._serving:
            return  # scheduled before a crash; the queues died with it
        if self._held is not None:  # paused: serve again on resume
            self._stalled = True
            return
        queue = self._peers or self._clients
        self._run(*queue.popleft())
        if self._peers or self._clients:
            self.sim.at(self.busy_until, self._serve_next, incarnation)
        else:
            self._serving = False

    # -- faults --------------------------------------------------------------------------------
    def set_clock(self, skew: float, drift: float) -> None:
        """From now on the node's clock reads ``t + skew + drift * (t - now)`` at true time
        ``t`` and its timers run at rate ``1 + drift`` (``drift`` > -1); ``(0, 0)`` sets it right.
        Armed timers keep the time they have left on the node's clock: a changed rate re-times
        them (a skew does not: timers count elapsed time, as on a monotonic clock)."""
        now = self.sim.now
        stretch = (1.0 + self.drift) / (1.0 + drift)
        if stretch != 1.0:
            for name in list(self.timers):
                due = self._due[name]
                if due > now:
                    self._timer_gen += 1
                    self.timers[name] = self._timer_gen
                    due = self._due[name] = now + (due - now) * stretch
                    self.sim.at(due, self._fire, (name, self._timer_gen, self.incarnation))
        self.skew, self.drift, self._clock_from = skew, drift, now
        self.clocked = bool(skew or drift)

    def local(self, t: float) -> float:
        """The node's clock at true time ``t``."""
        return t + self.skew + self.drift * (t - self._clock_from)

    def crash(self) -> None:
        """Lose memory, timers and every persist not yet flushed; void outputs not yet sent."""
        if not self.alive:
            return
        now = self.sim.now
        self.alive = False
        self.ends[self.incarnation] = now
        self.busy_time -= max(0.0, self.busy_until - now)  # queued work dies with the node
        self.busy_until = now
        self._flush(now)
        self.pending.clear()
        self.settle(now)
        self._seen.clear()
        self._claimed = NO_TERM
        self._hold = now
        self.timers.clear()
        self._peers.clear()
        self._clients.clear()
        self._serving = False
        if self._held is not None:  # held inputs die with the process
            self._held, self._stalled = None, False
            self.net.attach(self.node_id, self._receiver, self.ends)
        self.replica = CRASHED
        self._disk_start = self._disk_end = now
        self.net.reset(self.node_id)

    def pause(self) -> None:
        """Stop serving until :meth:`resume` (a GC pause, a SIGSTOP; see
        :mod:`harness.faults.pause`): inputs that arrive and timers that come due are held, in
        arrival order; the disk carries on; the input in service, and those the CPU had already
        accepted, complete (handlers are not pre-empted)."""
        if self._held is None and self.alive:
            self._held = []
            self.net.attach(self.node_id, self._hold_input, self.ends)

    @property
    def paused(self) -> bool:
        """Between :meth:`pause` and :meth:`resume`."""
        return self._held is not None

    def resume(self) -> None:
        """Serve again: first the inputs queued before the pause (``peer_first``), then the held
        ones in arrival order, as if they had all just arrived."""
        held, self._held = self._held, None
        if held is None:
            return
        self.net.attach(self.node_id, self._receiver, self.ends)
        if self._stalled:
            self._stalled = False
            self.sim.at(max(self.sim.now, self.busy_until), self._serve_next, self.incarnation)
        for fn, args in held:
            fn(*args)

    def _hold_input(self, src: int, msg: Message) -> None:
        held = self._held
        if held is not None:
            held.append((self._receiver, (src, msg)))

    def restart(self) -> None:
        """Boot a fresh replica from the durable records."""
        if self.alive:
            return
        self.alive = True
        self.incarnation += 1
        self.ends.append(INF)
        self.busy_until = self.sim.now
        self.net.reset(self.node_id)
        self.observer.restarted(self.node_id)
        self.replica = self.make_replica()
        self._run(0.0, self.replica.start, (self, list(self.stable)))
