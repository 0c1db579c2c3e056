"""How clients pace their work, shared by every workload's clients.

Closed loop: each client runs one operation at a time and starts the next one ``think_time``
after the previous finished (the first starts at a random instant in the first millisecond, so
clients are not in lockstep). Open loop: Poisson arrivals at ``rate`` per client, whatever is
still in flight.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

from mypy_extensions import mypyc_attr

from harness.engine.sim import Simulator


@mypyc_attr(allow_interpreted_subclasses=True)  # workload clients subclass it
class PacedClient:
    """Subclasses set ``sim``, ``rng``, ``rate`` (None: closed loop) and ``w`` (the workload
    config, for ``think_time``), implement ``_issue`` and call ``_next`` when an operation ends."""

    sim: Simulator
    rng: Any
    rate: float | None
    w: Any
    stopped = False

    def start(self) -> None:
        if self.rate:
            self.sim.at(self.rng.expovariate(self.rate), self._arrival)
        else:
            self.sim.at(self.rng.uniform(0.0, 0.001), self._issue)

    def stop(self) -> None:
        """No new operations from now on."""
        self.stopped = True

    def _arrival(self, _: Any = None) -> None:
        if self.stopped:
            return
        self._issue()
        self.sim.at(self.sim.now + self.rng.expovariate(self.rate), self._arrival)

    def _next(self) -> None:
        """An operation ended: in closed loop, start the next one."""
        if self.rate is None and not self.stopped:
            if self.w.think_time:
                self.sim.at(self.sim.now + self.w.think_time, self._issue)
            else:
                self._issue()

    def _issue(self, _: Any = None) -> None:
        raise NotImplementedError


class Timeouts:
    """The re-send timeouts of one client: ``add(key)`` calls ``expire(key)`` ``delay`` seconds
    from now if ``live(key)`` still holds then.

    An attempt's timeout almost never fires, so rather than one event per attempt in the
    simulator's queue the client keeps one timer, armed at its earliest deadline still live.
    The delay is fixed, so deadlines come in order and a FIFO holds them; each fires at exactly
    the time its own event would have."""

    __slots__ = ("sim", "delay", "expire", "live", "queue", "armed")

    def __init__(self, sim: Simulator, delay: float, expire: Callable[[Any], None],
                 live: Callable[[Any], bool]):
        self.sim = sim
        self.delay = delay
        self.expire = expire
        self.live = live
        self.queue: deque[tuple[float, Any]] = deque()
        self.armed = False

    def add(self, key: Any) -> None:
        deadline = self.sim.now + self.delay
        self.queue.append((deadline, key))
        if not self.armed:
            self.armed = True
            self.sim.at(deadline, self._fire)

    def _fire(self, _: Any = None) -> None:
        queue, live = self.queue, self.live
        now = self.sim.now
        while queue and queue[0][0] <= now:
            key = queue.popleft()[1]
            if live(key):
                self.expire(key)
        while queue and not live(queue[0][1]):
            queue.popleft()
        if queue:
            self.sim.at(queue[0][0], self._fire)
        else:
            self.armed = False
