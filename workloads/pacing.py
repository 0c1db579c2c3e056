"""How clients pace their work, shared by every workload's clients.

Closed loop: each client runs one operation at a time and starts the next one ``think_time``
after the previous finished (the first starts at a random instant in the first millisecond, so
clients are not in lockstep). Open loop: Poisson arrivals at ``rate`` per client, whatever is
still in flight.
"""

from __future__ import annotations

from typing import Any


class PacedClient:
    """Subclasses set ``sim``, ``rng``, ``rate`` (None: closed loop) and ``w`` (the workload
    config, for ``think_time``), implement ``_issue`` and call ``_next`` when an operation ends."""

    sim: Any
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
