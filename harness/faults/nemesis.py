"""The nemesis: runs the suite's fault rates and schedule, dispatching each to its fault kind.

Rates are renewal processes drawn from the run's ``faults`` random stream (exponential by
default, so "mtbf: 10s" means a fault every 10 s on average); kinds start theirs in the order of
:data:`harness.faults.KINDS`, so a suite draws the same numbers whatever kinds are added. A
schedule is a timeline in simulated time. Every fault is an event (time, node, kind, detail,
duration) told to the world's listener; a fault that cuts nodes off from a majority or stops
them is told as well (``silenced``), so the world can time a failover when one was its leader.

The nemesis knows no kind of run: whom ``leader`` or ``coordinator`` names comes from the
:class:`Role` holders the world provides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from harness.faults import KINDS
from harness.faults.trigger import Triggers

ROLE_POLL, ROLE_WAIT = 0.0005, 1.0  # a fault aimed at a passing role waits up to 1 s for a holder
SKIPPED = "skipped: "  # the detail of the event of a fault that found no node to hit
_FAULT_EVENTS = {event: kind for kind in KINDS for event, cause in kind.events.items() if cause == "fault"}


def as_step(t: float, node: int | str, kind: str, detail: str, duration_ms: float | None
            ) -> dict[str, Any] | None:
    """The ``faults.schedule`` step that injects again, at ``t``, the fault an event of a run
    records -- whether a rate drew it or a schedule named it -- or None for an event that
    injected nothing (a heal, a skipped fault, an event of the world's own)."""
    owner = _FAULT_EVENTS.get(kind)
    if owner is None or detail.startswith(SKIPPED):
        return None
    length = None if duration_ms is None else duration_ms / 1000
    return {"at": t, **owner.step_of(kind, node, detail, length)}


@dataclass(frozen=True)
class Role:
    """A named target a world provides: ``holders()`` are the nodes holding it now. ``single``: at
    most one node holds it (the leader) and it is hit without a draw; otherwise one live holder
    is drawn. ``passing``: it is held only at moments (a 2PC coordinator between prepare and
    decision), so a fault that finds no holder waits up to ``ROLE_WAIT`` for one before it is
    skipped; otherwise it is skipped at once."""

    holders: Callable[[], list[int]]
    single: bool = False
    passing: bool = False


class Listener(Protocol):
    """What the world hears from the nemesis."""

    def on_silenced(self, t: float, nodes: list[int], why: str) -> None:
        """``nodes`` are about to stop or lose two-way contact with a majority (fault ``why``)."""

    def on_fault(self, t: float, node: int | str, kind: str, detail: str,
                 duration_ms: float | None) -> None:
        """A fault event for ``events.csv``."""


class Nemesis:
    def __init__(self, sim: Any, net: Any, hosts: list[Any], faults: Any, roles: dict[str, Role],
                 listener: Listener):
        self.sim = sim
        self.net = net
        self.hosts = hosts
        self.n = len(hosts)
        self.cfg = faults
        self.rng = sim.rng("faults")
        self.roles = roles
        self.listener = listener
        self.stopped = False
        self.kinds = [kind(self) for kind in KINDS]
        self._by_action = {action: kind for kind in self.kinds for action in kind.actions}
        self._role_since: dict[str, float] = {}

    def start(self) -> None:
        triggers = Triggers(self.net, self.n, self.sim.at, self._triggered)
        for step in self.cfg.schedule:
            if step.after is not None:
                triggers.add(step)
            else:
                self.sim.at(step.at, self._scheduled, step)
        for kind in self.kinds:
            rate = getattr(self.cfg, kind.name)
            if rate is not None:
                kind.start(rate)
        if self.cfg.until is not None:
            self.sim.at(self.cfg.until, self._until)

    def _until(self, _: Any = None) -> None:
        """``faults.until``: the end of the faults; the run goes on, for the protocol to recover."""
        self.stop()

    def stop(self) -> None:
        """No new faults from now on; heal, restore and restart everything (a run's drain)."""
        self.stopped = True
        for kind in sorted(self.kinds, key=lambda k: k.drain_rank):
            kind.drain()

    # -- what the kinds use ----------------------------------------------------------------
    def gap(self, mean: float, dist: str = "exponential") -> float:
        """A time between faults (or a repair time) with the given mean."""
        return self.rng.expovariate(1.0 / mean) if dist == "exponential" else mean

    def later(self, delay: float, fn: Any, arg: Any = None) -> None:
        self.sim.at(self.sim.now + delay, fn, arg)

    def resolve(self, target: Any) -> list[int]:
        """Node ids for a target: any, a role's holder, an id or a list of ids."""
        if isinstance(target, int):
            return [target]
        if isinstance(target, (list, tuple)):
            return list(target)
        if target == "any":
            pool = [h.node_id for h in self.hosts if h.alive]
        else:
            role = self.roles.get(target)
            if role is None:
                return []
            pool = [n for n in role.holders() if self.hosts[n].alive]
            if role.single:
                return pool
        return [self.rng.choice(pool)] if pool else []

    def await_role(self, process: str, target: Any, found: list[int], fn: Any, arg: Any) -> bool:
        """A rate's turn came while no node holds the passing role it targets: poll for one (up
        to ROLE_WAIT) rather than skip the fault. True when a retry was scheduled; when the wait
        is over the turn is skipped, and an event says so."""
        role = self.roles.get(target) if isinstance(target, str) else None
        if found or role is None or not role.passing:
            self._role_since.pop(process, None)
            return False
        since = self._role_since.setdefault(process, self.sim.now)
        if self.sim.now - since < ROLE_WAIT:
            self.later(ROLE_POLL, fn, arg)
            return True
        self._role_since.pop(process, None)
        if not self.stopped:
            self.event("-", process, f"{SKIPPED}no {target} to target", None)
        return False

    def silenced(self, nodes: list[int], why: str) -> None:
        if nodes:
            self.listener.on_silenced(self.sim.now, nodes, why)

    def event(self, node: Any, kind: str, detail: str, length: float | None) -> None:
        self.listener.on_fault(self.sim.now, node, kind, detail,
                               length * 1000 if length is not None else None)

    # -- the schedule ----------------------------------------------------------------------
    def _triggered(self, step: Any, sender: int) -> None:
        """A step's ``after`` message left ``sender``: hit it, or the step's named target."""
        if self.stopped:
            return
        nodes = [sender] if step.target == "any" else self.resolve(step.target)
        if not nodes:
            self.event("-", step.action, f"{SKIPPED}no {step.target} to target", None)
            return
        self._by_action[step.action].inject(step.action, nodes, step)

    def _scheduled(self, step: Any) -> None:
        kind = self._by_action[step.action]
        if kind.actions[step.action].heals:
            kind.heal(step.action, step)
            return
        nodes = self.resolve(step.target)
        role = self.roles.get(step.target) if isinstance(step.target, str) else None
        if not nodes and role is not None and role.passing and self.sim.now < step.at + ROLE_WAIT:
            self.later(ROLE_POLL, self._scheduled, step)  # a passing role: wait for a holder
            return
        if not nodes:
            self.event("-", step.action, f"{SKIPPED}no {step.target} to target", None)
            return
        kind.inject(step.action, nodes, step)
