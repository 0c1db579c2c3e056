"""The sans-I/O contract between a protocol and whatever runs it.

A protocol node never touches sockets, clocks, threads or random numbers of its own: it reacts to
inputs (``start``, ``on_message``, ``on_timer``, ``on_request``) and acts only through the
:class:`Context` it is handed. The simulator (``harness.engine.node.NodeHost``) and the scripted test
network (``harness.engine.scripted.ScriptedCluster``) are two such contexts; a real network runtime would
be a third. Protocols register themselves by name with :func:`register`, which is all it takes to
make one selectable from a suite (``protocol: <name>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from pydantic import BaseModel, ConfigDict

from harness.contract import Context, Node  # noqa: F401  (the contract; its own module, see there)
from harness.message import Message  # noqa: F401  (part of the contract; its own module, see there)


class Options(BaseModel):
    """Base for a protocol's own options (the ``protocols.<name>:`` section of a suite)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplicationOptions(BaseModel):
    """Knobs every replication protocol honours identically, so comparisons are like with like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = 64
    batch_delay: float = 0.0
    pipeline: int = 8
    election_timeout: float = 0.150
    election_timeout_max: float | None = None  # None: 2 x election_timeout
    heartbeat: float = 0.050
    retransmit: float | None = None  # None: the heartbeat interval
    reorder_wait: float = 0.001  # a missing earlier replication message is asked for after this

    @property
    def election_range(self) -> tuple[float, float]:
        """The interval a randomised election timeout is drawn from."""
        return self.election_timeout, self.election_timeout_max or 2 * self.election_timeout


@dataclass(frozen=True)
class ProtocolSpec:
    """A registered protocol: how to build a replica and which options it accepts."""

    name: str
    kind: str  # "consensus" or "transactions"
    factory: Callable[..., Node]
    options: type[Options] = Options
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


_REGISTRY: dict[str, ProtocolSpec] = {}


def register(name: str, *, kind: str, options: type[Options] = Options,
             description: str = "", aliases: tuple[str, ...] = ()) -> Callable[[type], type]:
    """Class decorator: make ``cls`` available to suites as ``protocol: <name>`` (or an alias).

    ``cls(node_id, nodes, replication, options, state_machine)`` must build a :class:`Node`.
    """

    def wrap(cls: type) -> type:
        _REGISTRY[name] = ProtocolSpec(name, kind, cls, options,
                                       description or (cls.__doc__ or "").strip().split("\n")[0], aliases)
        cls.protocol_name = name
        return cls

    return wrap


def registry() -> dict[str, ProtocolSpec]:
    """All registered protocols, loading the built-in implementations first."""
    import implementations  # noqa: F401  (registers the built-ins on import)

    return _REGISTRY


def get(name: str) -> ProtocolSpec:
    return registry()[name]
